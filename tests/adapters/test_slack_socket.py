"""Socket Mode: the real AsyncSocketModeHandler connects to FakeSlack's websocket.

apps.connections.open (with the app-level token) returns the fake's ws:// URL; the fake
says hello, pushes envelopes and records the acks the app sends back.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from adapters.base import ConversationKey
from adapters.slack.app import build_slack_bot
from adapters.slack.runner import run_slack, socket_mode_handler
from engine.errors import ConfigError
from tests.adapters.test_slack_support import (  # noqa: F401 - fake_fixture provides `fake`
    ScriptedHandler,
    event_callback,
    fake_fixture,
    slack_settings,
)
from tests.fakes.slack_server import FakeSlack


async def test_socket_mode_slash_command_is_acked_and_answered(fake: FakeSlack, tmp_path: Path) -> None:
    handler = ScriptedHandler(tmp_path)
    bot = build_slack_bot(slack_settings(fake, mode="socket"), handler, fake.bot_token)
    socket = socket_mode_handler(bot, fake.app_token)
    try:
        await socket.connect_async()
        [opened] = await fake.wait_for_calls("apps.connections.open")
        assert opened.token == fake.app_token
        command = {
            "team_id": fake.team_id,
            "channel_id": "C0001",
            "user_id": "U0001",
            "command": "/hugginggpt",
            "text": "draw a boat",
            "response_url": fake.response_url(),
            "trigger_id": "1.2.3",
            "api_app_id": "A0001",
        }
        envelope = await fake.send_envelope("slash_commands", command)
        ack = await fake.wait_for_ack(envelope)
        assert "Working on it" in ack["payload"]["text"]

        await fake.wait_for(lambda: handler.messages)
        await bot.drain()
        assert handler.messages[0].key == ConversationKey("slack", fake.team_id, "C0001", "")
        texts = [c.params.get("text", "") for c in fake.calls_to("chat.postMessage")]
        assert any(t.startswith("Made image-1.png for: draw a boat") for t in texts)
        assert len(fake.calls_to("files.completeUploadExternal")) == 1

        # an events_api envelope redelivered (retry_attempt 1) is handled once
        dm = {
            "type": "message",
            "channel_type": "im",
            "user": "U0001",
            "text": "hi",
            "ts": "1.1",
            "channel": "D1",
        }
        body = event_callback(fake, dm, "EvSock")
        first = await fake.send_envelope("events_api", body)
        again = await fake.send_envelope("events_api", body, retry_attempt=1)
        await fake.wait_for_ack(first)
        await fake.wait_for_ack(again)
        await bot.drain()
        assert [m.text for m in handler.messages] == ["draw a boat", "hi"]
    finally:
        await socket.close_async()
        await bot.aclose()


async def test_run_slack_names_missing_or_wrong_tokens(fake: FakeSlack, tmp_path: Path) -> None:
    handler = ScriptedHandler(tmp_path)
    settings = slack_settings(fake, mode="socket")
    with pytest.raises(ConfigError, match="SLACK_BOT_TOKEN"):
        await run_slack(settings, handler, {})
    with pytest.raises(ConfigError, match="SLACK_APP_TOKEN.*xapp-"):
        await run_slack(
            settings, handler, {"SLACK_BOT_TOKEN": fake.bot_token, "SLACK_APP_TOKEN": "xoxb-oops"}
        )
    with pytest.raises(ConfigError, match="SLACK_SIGNING_SECRET"):
        await run_slack(slack_settings(fake, mode="http"), handler, {"SLACK_BOT_TOKEN": fake.bot_token})
    with pytest.raises(ConfigError, match="refused SLACK_BOT_TOKEN.*invalid_auth"):
        await run_slack(
            settings, handler, {"SLACK_BOT_TOKEN": "xoxb-revoked", "SLACK_APP_TOKEN": fake.app_token}
        )


async def test_run_slack_connects_answers_and_stops_cleanly(fake: FakeSlack, tmp_path: Path) -> None:
    handler = ScriptedHandler(tmp_path)
    env = {"SLACK_BOT_TOKEN": fake.bot_token, "SLACK_APP_TOKEN": fake.app_token}
    running = asyncio.create_task(run_slack(slack_settings(fake, mode="socket"), handler, env))
    try:
        await fake.wait_for_socket()
        body = event_callback(
            fake,
            {
                "type": "message",
                "channel_type": "im",
                "user": "U1",
                "text": "hi",
                "ts": "1.1",
                "channel": "D1",
            },
            "EvRun",
        )
        await fake.wait_for_ack(await fake.send_envelope("events_api", body))
        await fake.wait_for(lambda: any(c.params.get("text", "").startswith("Made") for c in fake.calls))
    finally:
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
    assert [c.method for c in fake.calls[:2]] == ["auth.test", "apps.connections.open"]

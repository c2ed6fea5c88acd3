"""Shared pieces of the Slack tests (a scripted TurnHandler, a rig, signing), plus unit tests
of the adapter's small parts: de-duplication, access rules, downloads, error sentences."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import inspect
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
import yaml
from slack_sdk.errors import SlackApiError

from adapters.base import ConversationKey, IncomingMessage
from adapters.slack.access import AccessRules
from adapters.slack.app import SlackBot, build_slack_bot
from adapters.slack.dedup import RecentIds
from adapters.slack.files import FileFetcher
from adapters.slack.replies import explain
from adapters.slack.runner import serve_http
from adapters.slack.settings import SlackSettings
from engine.events import Done, EventCallback, PlanReady, Responding, Started, TaskFinished, TaskStarted
from engine.types import ModelCard, Outcome, Plan, Reply, Resource, Task, TaskResult
from tests.fakes.slack_server import FakeSlack

SECRET = "test-signing-secret"
# a valid 1x1 PNG
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201e2b7ad3a0000000049454e44ae426082"
)
CARD = ModelCard(id="fake/painter", task="text-to-image", backend="builtin")


class ScriptedHandler:
    """A TurnHandler that emits engine events, writes an image and remembers each conversation.

    ``gate``, when set, holds every turn until it is released; ``reply_text`` overrides
    the reply; ``fail`` makes ``handle`` raise (a bug on our side); ``task_count`` sets
    the plan's size (only task 1 runs). Like the engine, a turn holds its conversation's
    lock from start to end, and ``forget`` waits for that lock.
    """

    def __init__(self, out_dir: Path, gate: asyncio.Event | None = None):
        self.out_dir = out_dir
        self.gate = gate
        self.messages: list[IncomingMessage] = []
        self.forgotten: list[ConversationKey] = []
        self.history: dict[ConversationKey, list[str]] = {}
        self.reply_text: str | None = None
        self.fail = False
        self.task_count = 1
        self.locks: dict[ConversationKey, asyncio.Lock] = {}

    async def handle(self, message: IncomingMessage, on_event: EventCallback | None = None) -> Outcome:
        async with self.locks.setdefault(message.key, asyncio.Lock()):
            return await self._handle(message, on_event)

    async def _handle(self, message: IncomingMessage, on_event: EventCallback | None) -> Outcome:
        self.messages.append(message)

        async def emit(event: Any) -> None:
            if on_event is not None:
                result = on_event(event)
                if inspect.isawaitable(result):
                    await result

        task = Task(1, "text-to-image", {"text": message.text})
        more = (
            Task(i, "image-to-text", {"image": "<GENERATED>-1"}, dep=(1,))
            for i in range(2, self.task_count + 1)
        )
        plan = Plan((task, *more))
        await emit(Started(message.text))
        await emit(PlanReady(plan))
        await emit(TaskStarted(task, CARD))
        if self.gate is not None:
            await self.gate.wait()
        if self.fail:
            raise RuntimeError("scripted failure")
        path = self.out_dir / f"image-{len(self.messages)}.png"
        path.write_bytes(PNG)
        earlier = self.history.setdefault(message.key, [])
        text = f"Made {path.name} for: {message.text}"
        if earlier:
            text += f" (your previous result was {earlier[-1]})"
        if message.files:
            text += "; I got " + ", ".join(f"{f.name} ({len(f.data)} bytes)" for f in message.files)
        earlier.append(path.name)
        image = Resource("image", path=path, name=path.name)
        result = TaskResult(task, "ok", CARD, outputs=(image,))
        await emit(TaskFinished(result))
        await emit(Responding())
        reply = Reply(self.reply_text if self.reply_text is not None else text, media=(image,))
        await emit(Done(reply))
        return Outcome(reply=reply, plan=plan, results=(result,))

    async def forget(self, key: ConversationKey) -> None:
        async with self.locks.setdefault(key, asyncio.Lock()):
            self.forgotten.append(key)
            self.history.pop(key, None)

    async def knows(self, key: ConversationKey) -> bool:
        return key in self.history


def sign(body: str, secret: str = SECRET, timestamp: int | None = None) -> dict[str, str]:
    """Headers as Slack signs a request: v0=HMAC_SHA256(secret, "v0:{ts}:{body}")."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


class Rig:
    """The fake Slack, a SlackBot on it served over HTTP on 127.0.0.1, and a signed poster."""

    def __init__(
        self,
        fake: FakeSlack,
        bot: SlackBot,
        handler: ScriptedHandler,
        url: str,
        session: aiohttp.ClientSession,
    ):
        self.fake, self.bot, self.handler, self.url, self.session = fake, bot, handler, url, session

    async def post(
        self, body: str, content_type: str, headers: dict[str, str] | None = None
    ) -> tuple[int, str, float]:
        """POST to the app's endpoint; returns status, body and seconds taken (3 s timeout, as Slack)."""
        start = time.monotonic()
        all_headers = {"Content-Type": content_type, **sign(body), **(headers or {})}
        async with self.session.post(self.url, data=body.encode(), headers=all_headers) as resp:
            return resp.status, await resp.text(), time.monotonic() - start

    async def command(
        self, text: str, channel: str = "C0001", user: str = "U0001", **extra: str
    ) -> tuple[int, str, float]:
        form = {
            "token": "legacy",
            "team_id": self.fake.team_id,
            "team_domain": "fake",
            "channel_id": channel,
            "channel_name": "general",
            "user_id": user,
            "user_name": "alice",
            "command": "/hugginggpt",
            "text": text,
            "api_app_id": "A0001",
            "response_url": self.fake.response_url(),
            "trigger_id": "13345224609.738474920.8088930838d88f008e0",
            **extra,
        }
        return await self.post(urlencode(form), "application/x-www-form-urlencoded")

    async def event(
        self, event: dict[str, Any], event_id: str, headers: dict[str, str] | None = None
    ) -> tuple[int, str, float]:
        return await self.post(
            json.dumps(event_callback(self.fake, event, event_id)), "application/json", headers
        )


def event_callback(fake: FakeSlack, event: dict[str, Any], event_id: str) -> dict[str, Any]:
    return {
        "token": "legacy",
        "team_id": fake.team_id,
        "api_app_id": "A0001",
        "event": event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(time.time()),
        "authorizations": [{"team_id": fake.team_id, "user_id": fake.bot_user_id, "is_bot": True}],
    }


def slack_settings(fake: FakeSlack, **overrides: Any) -> SlackSettings:
    values: dict[str, Any] = {
        "api_base_url": fake.api_url,
        "status_edit_interval": 0.0,
        "mode": "http",
        "http_port": 0,
    }
    values.update(overrides)
    return SlackSettings(**values)


@pytest.fixture(name="fake")
async def fake_fixture() -> AsyncIterator[FakeSlack]:
    """A running FakeSlack; test modules import ``fake_fixture`` to use it as ``fake``."""
    server = await FakeSlack().start()
    try:
        yield server
    finally:
        await server.close()


async def make_rig(fake: FakeSlack, handler: ScriptedHandler, **overrides: Any) -> tuple[Rig, Any]:
    settings = slack_settings(fake, **overrides)
    bot = build_slack_bot(settings, handler, fake.bot_token, signing_secret=SECRET)
    runner = await serve_http(bot, "127.0.0.1", 0)
    port = runner.addresses[0][1]
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=3))
    rig = Rig(fake, bot, handler, f"http://127.0.0.1:{port}{settings.http_path}", session)

    async def close() -> None:
        await session.close()
        await runner.cleanup()
        await bot.aclose()

    return rig, close


# ---------------------------------------------------------------- unit tests


def test_recent_ids_remember_expire_and_stay_bounded() -> None:
    now = [0.0]
    ids = RecentIds(capacity=2, ttl=10.0, clock=lambda: now[0])
    assert not ids.seen("Ev1") and ids.seen("Ev1")
    assert not ids.seen("")  # no id: never a duplicate
    assert not ids.seen("")
    ids.seen("Ev2"), ids.seen("Ev3")
    assert "Ev1" not in ids  # pushed out by capacity
    now[0] = 11.0
    assert not ids.seen("Ev3")  # expired, so new again


def test_access_rules() -> None:
    open_rules = AccessRules()
    assert open_rules.allows("T1", "C1", "U1")
    rules = AccessRules(workspaces=frozenset({"T1"}), channels=frozenset({"C1"}), users=frozenset({"U1"}))
    assert rules.allows("T1", "C1", "U1")
    assert not rules.allows("T2", "C1", "U1")
    assert not rules.allows("T1", "C2", "U1")
    assert not rules.allows("T1", "C1", "U2")
    assert rules.allows("T1", "D9", "U1", is_dm=True)  # a channel list does not lock out DMs


def test_explain_names_the_fix() -> None:
    def err(code: str, **extra: Any) -> SlackApiError:
        return SlackApiError("boom", {"ok": False, "error": code, **extra})  # type: ignore[arg-type]

    assert "/invite" in explain(err("not_in_channel"))
    assert "files:write" in explain(err("missing_scope", needed="files:write"))
    assert "weird_error" in explain(err("weird_error"))


async def test_file_fetcher_caps_and_refuses_sign_in_pages(fake: FakeSlack) -> None:
    small = fake.add_file("a.png", PNG, "image/png")
    lying = fake.add_file("b.png", PNG * 10, "image/png", size=10)  # declares 10 bytes, sends more
    big = fake.add_file("c.bin", b"x" * 10, "application/octet-stream", size=10_000)
    fetcher = FileFetcher(fake.bot_token, max_bytes=len(PNG) * 2, max_files=3)
    wrong_token = FileFetcher("xoxb-wrong", max_bytes=1000, max_files=3)
    try:
        files, warnings = await fetcher.fetch([small, lying, big, small])
        assert [f.name for f in files] == ["a.png"] and files[0].data == PNG
        assert files[0].declared_mime == "image/png"
        assert len(warnings) == 3
        assert warnings[0].startswith("b.png:") and "limit" in warnings[0]
        assert warnings[1].startswith("c.bin:") and "limit" in warnings[1]
        assert "first 3 files" in warnings[2]
        files, warnings = await wrong_token.fetch([small])
        assert files == () and "sign-in page" in warnings[0]
    finally:
        await fetcher.aclose()
        await wrong_token.aclose()


def test_manifest_matches_what_the_bot_listens_to() -> None:
    manifest = yaml.safe_load((Path(__file__).parents[2] / "adapters/slack/manifest.yaml").read_text())
    [command] = manifest["features"]["slash_commands"]
    assert command["command"] == SlackSettings.model_validate({}).command_name
    assert set(manifest["settings"]["event_subscriptions"]["bot_events"]) == {
        "app_mention",
        "message.channels",
        "message.groups",
        "message.im",
    }
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {
        "chat:write",
        "commands",
        "files:read",
        "files:write",
        "app_mentions:read",
        "im:history",
    } <= scopes
    assert manifest["settings"]["socket_mode_enabled"] is True

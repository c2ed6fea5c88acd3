"""Slack answers 5xx when the reply is posted or its file uploaded: the user gets the
reply once (the call is retried), and the turn is stored.

The real slack_bolt/slack_sdk talk to tests/fakes/slack_server.py; the bot side is
the real ConversationService with the SQLite store and the scripted controller."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.conversations import ConversationService
from bot.store import Store
from tests.adapters.test_slack_support import fake_fixture, make_rig  # noqa: F401 - fixture
from tests.engine.helpers import router
from tests.fakes.slack_server import FakeSlack
from tests.faults.platform import Quiet, stored_turns

pytestmark = pytest.mark.timeout(60)

SPEAK = json.dumps([{"task": "text-to-speech", "id": 0, "dep": [-1], "args": {"text": "hi"}}])


@pytest.mark.parametrize("where", ["post", "upload"])
async def test_slack_retries_a_server_error_and_delivers_once(
    fake: FakeSlack, openai_server, make, tmp_path: Path, where: str
) -> None:
    openai_server.responder = router([SPEAK], respond="Spoken: {results}")
    engine, _ = make(openai_server.base_url)
    store = await Store.open(tmp_path / "db.sqlite3")
    service = ConversationService(engine, store, tmp_path / "data")
    rig, close = await make_rig(fake, Quiet(service))  # type: ignore[arg-type]
    if where == "post":
        fake.fail_next("chat.postMessage", "internal_error", status=500, after=1)  # the reply, not the status
    else:
        fake.fail_upload_next(503)
    try:
        await rig.event(
            {
                "type": "message",
                "channel_type": "im",
                "user": "U0001",
                "text": "say hi",
                "ts": "1700000000.1",
                "channel": "D0001",
                "event_ts": "1700000000.1",
            },
            "EvFault1",
        )
        await rig.bot.drain()
        posted = [c for c in fake.calls_to("chat.postMessage") if c.params.get("text")]
        answers = [c.params["text"] for c in posted]
        turns = await stored_turns(store)
    finally:
        await close()
        await store.close()
    spoken = [a for a in answers if a.startswith("Spoken:")]
    assert len(spoken) == (2 if where == "post" else 1), answers  # the failed try, then the delivery
    if where == "post":
        assert [
            c.params.get("text", "").startswith("Spoken:") for c in fake.calls_to("chat.postMessage")
        ] == [
            False,
            True,
            True,
        ]
    assert not [a for a in answers if "couldn't upload" in a]
    assert len(fake.uploads) == 1  # the file arrived
    assert turns[0] == ("user", "say hi") and turns[1][0] == "assistant" and turns[2][0] == "log"

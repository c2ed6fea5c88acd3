"""Discord answers 429 or 5xx when the reply is posted or its file uploaded: the user
gets the reply once (discord.py retries), and the turn is stored.

The real discord.py talks to tests/fakes/discord_server.py; the bot side is the real
ConversationService with the SQLite store and the scripted controller."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.conversations import ConversationService
from bot.store import Store
from tests.adapters.test_discord import ALICE, DM, fake, running, wait_for_reply  # noqa: F401 - fixture
from tests.engine.helpers import router
from tests.fakes.discord_server import FakeDiscord
from tests.faults.platform import Quiet, stored_turns

pytestmark = pytest.mark.timeout(60)

SPEAK = json.dumps([{"task": "text-to-speech", "id": 0, "dep": [-1], "args": {"text": "hi"}}])


@pytest.mark.parametrize(("status", "media"), [(500, False), (503, True), (429, True)])
async def test_discord_retries_a_failed_post_or_upload_and_delivers_once(
    fake: FakeDiscord,  # noqa: F811
    openai_server,
    make,
    tmp_path: Path,
    status: int,
    media: bool,
) -> None:
    openai_server.responder = router([SPEAK if media else "[]"], respond="Spoken: {results}")
    engine, _ = make(openai_server.base_url)
    store = await Store.open(tmp_path / "db.sqlite3")
    service = ConversationService(engine, store, tmp_path / "data")
    if status == 429:
        fake.rate_limit_next("POST", rf"/channels/{DM}/messages$", retry_after=0.05)
    else:
        fake.fail("POST", rf"/channels/{DM}/messages$", status, {"message": "upstream failure", "code": 0})
    try:
        async with running(fake, Quiet(service)) as bot:
            await fake.push_message(DM, ALICE, "say hi")
            (reply,) = await wait_for_reply(fake, DM, files=media)
            await bot.wait_idle()
        attempts = fake.calls_to("POST", rf"/channels/{DM}/messages$")
        assert [c.status for c in attempts][:1] == [status] and len(attempts) == 2
        delivered = [c for c in fake.bot_messages(DM) if c.status == 200]
        assert len(delivered) == 1 and (bool(delivered[0].files) == media)
        turns = await stored_turns(store)
    finally:
        await store.close()
    text = reply.json["content"]
    assert turns == [("user", "say hi"), ("assistant", text), ("log", text)]

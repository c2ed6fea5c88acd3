"""Discord with the real bot stack: discord.py vs the fake Discord, the conversation
service and SQLite store, the engine with the scripted LLM server and experts."""

from __future__ import annotations

import json

import pytest

from bot.conversations import ConversationService
from bot.store import Store
from tests.adapters.test_discord import ALICE, DM, contents, fake, png_bytes, running, wait_for_reply  # noqa: F401
from tests.engine.helpers import router, stage_of

pytestmark = pytest.mark.timeout(30)


async def test_dm_session_uses_the_earlier_image_and_survives_a_restart(fake, openai_server, make, tmp_path):  # noqa: F811
    first = json.dumps([{"task": "image-classification", "id": 0, "dep": [-1], "args": {"image": "cat.png"}}])
    second = json.dumps(
        [
            {"task": "image-to-text", "id": 0, "dep": [-1], "args": {"image": "cat.png"}},
            {"task": "text-to-speech", "id": 1, "dep": [0], "args": {"text": "<GENERATED>-0"}},
        ]
    )
    openai_server.responder = router([first, second, "[]"], respond="Result: {results}")
    engine, backend = make(openai_server.base_url)

    store = await Store.open(tmp_path / "db.sqlite3")
    service = ConversationService(engine, store, tmp_path)
    async with running(fake, service) as bot:
        await fake.push_message(
            DM, ALICE, "what is this?", attachments=[fake.add_attachment("cat.png", png_bytes(), "image/png")]
        )
        await wait_for_reply(fake, DM)
        await bot.wait_idle()
        await fake.push_message(DM, ALICE, "read the text of the image above aloud")
        await wait_for_reply(fake, DM, files=True)
        await bot.wait_idle()
    await store.close()

    assert backend.seen_inputs[0]["image"].name == "cat.png"  # turn 2 used turn 1's image
    answer = [c for c in fake.bot_messages(DM) if c.files][-1]
    assert [name.split(".")[-1] for name, _ in answer.files] == ["wav"]

    # restart: a new store connection and a new client; the DM's context is still there
    store = await Store.open(tmp_path / "db.sqlite3")
    service = ConversationService(engine, store, tmp_path)
    before = len(await wait_for_reply(fake, DM))
    async with running(fake, service) as bot:
        await fake.push_message(DM, ALICE, "thanks, what did we do?")
        await wait_for_reply(fake, DM, count=before + 1)
        await bot.wait_idle()
    await store.close()
    chat = [r for r in openai_server.requests if stage_of(r) == "chat"][-1]
    assert "read the text of the image above aloud" in json.dumps(chat["messages"])

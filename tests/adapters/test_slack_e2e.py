"""Slack with the real bot stack: slack_bolt vs the fake Slack, the conversation service
and SQLite store, the engine with the scripted LLM server and experts."""

from __future__ import annotations

import json

from bot.conversations import ConversationService
from bot.store import Store
from tests.adapters.test_slack_http import dm, mention, texts
from tests.adapters.test_slack_support import PNG, fake_fixture, make_rig  # noqa: F401
from tests.engine.helpers import router


async def test_mention_with_image_then_dm_session_through_the_real_engine(
    fake, openai_server, make, tmp_path
):
    caption = json.dumps([{"task": "image-to-text", "id": 0, "dep": [-1], "args": {"image": "cat.png"}}])
    draw = json.dumps([{"task": "text-to-image", "id": 0, "dep": [-1], "args": {"text": "a cat"}}])
    speak = json.dumps(
        [
            {"task": "image-classification", "id": 0, "dep": [-1], "args": {"image": "task0-0.png"}},
            {"task": "text-to-speech", "id": 1, "dep": [0], "args": {"text": "<GENERATED>-0"}},
        ]
    )
    openai_server.responder = router([caption, draw, speak], respond="Result: {results}")
    engine, backend = make(openai_server.base_url)
    store = await Store.open(tmp_path / "db.sqlite3")
    rig, close = await make_rig(fake, ConversationService(engine, store, tmp_path))
    try:
        photo = fake.add_file("cat.png", PNG, "image/png")
        ts = "1700000000.000100"
        await rig.event(mention(ts, f"<@{fake.bot_user_id}> what is in this picture?", files=[photo]), "Ev1")
        await rig.bot.drain()
        assert backend.seen_inputs[0]["image"].name == "cat.png"
        assert any(t.startswith('Result: "image-to-text(') for t in texts(fake))
        assert all(c.params.get("thread_ts") == ts for c in fake.calls_to("chat.postMessage"))

        # a DM session: the second turn works on the first turn's generated image
        await rig.event(dm("1700000010.000100", "draw a cat"), "Ev2")
        await rig.bot.drain()
        await rig.event(dm("1700000020.000100", "what is in the picture you made? say it aloud"), "Ev3")
        await rig.bot.drain()
        classified = backend.seen_inputs[0]["image"]
        assert classified.path.name == "task0-0.png" and "out" in classified.path.parts
        uploads = fake.calls_to("files.completeUploadExternal")
        assert len(uploads) == 2  # the drawn image, then the spoken answer
        assert len(fake.uploads) == 2
    finally:
        await close()
        await store.close()


async def test_thread_follow_up_without_mention_continues_after_a_restart(
    fake, openai_server, make, tmp_path
):
    from tests.adapters.test_slack_http import CHANNEL, USER

    openai_server.responder = router(["[]", "[]"])
    engine, _ = make(openai_server.base_url)
    ts = "1700000000.000100"
    store = await Store.open(tmp_path / "db.sqlite3")
    rig, close = await make_rig(fake, ConversationService(engine, store, tmp_path))
    try:
        await rig.event(mention(ts, f"<@{fake.bot_user_id}> my name is Ada"), "EvA")
        await rig.bot.drain()
    finally:
        await close()
        await store.close()

    # a new process: the adapter's memory of threads is gone, the store still knows this one
    store = await Store.open(tmp_path / "db.sqlite3")
    rig, close = await make_rig(fake, ConversationService(engine, store, tmp_path))
    follow = {
        "type": "message",
        "channel_type": "channel",
        "user": USER,
        "text": "what is my name?",
        "ts": "1700000009.000100",
        "thread_ts": ts,
        "channel": CHANNEL,
    }
    try:
        await rig.event(follow, "EvB")
        await rig.event({**follow, "thread_ts": "1600000000.000001", "ts": "1700000010.1"}, "EvC")
        await rig.bot.drain()
    finally:
        await close()
        await store.close()
    chats = [
        r
        for r in openai_server.requests
        if r["messages"][0]["content"].startswith("You are HuggingGPT, a helpful")
    ]
    assert len(chats) == 2  # the unknown thread was left alone
    assert "my name is Ada" in json.dumps(chats[-1]["messages"])

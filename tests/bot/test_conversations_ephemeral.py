"""``ConversationService.handle_ephemeral``: a turn over the history the caller gives,
with no stored context read or kept; the request log still records it."""

from __future__ import annotations

import json

from adapters.base import ConversationKey, IncomingFile, IncomingMessage
from bot.conversations import ConversationService
from bot.store import Store
from engine.events import Received
from engine.types import Turn
from tests.bot.test_conversations import png_bytes
from tests.engine.helpers import router, stage_of

KEY = ConversationKey("http", "ws", "ephemeral")
CAPTION = json.dumps([{"task": "image-to-text", "id": 0, "dep": [-1], "args": {"image": "cat.png"}}])


async def test_an_ephemeral_turn_uses_the_given_history_and_keeps_nothing(openai_server, tmp_path, make):
    openai_server.responder = router([CAPTION, CAPTION])
    engine, backend = make(openai_server.base_url)
    store = await Store.open(tmp_path / "db.sqlite3")
    service = ConversationService(engine, store, tmp_path)
    try:
        await service.handle(IncomingMessage(KEY, "u", "a stored turn nobody should see"))
        history = (Turn("user", "my cat is called Tom"), Turn("assistant", "Nice name!"))
        events = []
        message = IncomingMessage(
            KEY, "u", "what is in this picture?", (IncomingFile("cat.png", png_bytes()),)
        )
        out = await service.handle_ephemeral(message, history, events.append)
        assert [r.status for r in out.results] == ["ok"]
        assert isinstance(events[0], Received)
        plan = [r for r in openai_server.requests if stage_of(r) == "plan"][-1]
        sent = json.dumps(plan["messages"])
        assert "my cat is called Tom" in sent and "a stored turn nobody should see" not in sent
        assert backend.seen_inputs[0]["image"].path.is_relative_to(tmp_path / "artifacts" / KEY.slug())
        conv = await store.conversation_id(KEY)
        assert [t.text for t in await store.recent_turns(conv)][0] == "a stored turn nobody should see"
        assert len(await store.recent_turns(conv)) == 2  # the ephemeral turn added no message
        assert [r["text"] for r in await store.requests(conv)][-1] == "what is in this picture?"
    finally:
        await store.close()


async def test_an_ephemeral_turn_can_stop_after_the_plan(openai_server, tmp_path, make):
    openai_server.responder = router([CAPTION])
    engine, backend = make(openai_server.base_url)
    store = await Store.open(tmp_path / "db.sqlite3")
    service = ConversationService(engine, store, tmp_path)
    try:
        message = IncomingMessage(KEY, "u", "caption it", (IncomingFile("cat.png", png_bytes()),))
        out = await service.handle_ephemeral(message, (), stop_after="plan")
        assert [t.task for t in out.plan.tasks] == ["image-to-text"] and backend.log == []
    finally:
        await store.close()

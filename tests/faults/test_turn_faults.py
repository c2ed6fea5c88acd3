"""Faults inside a turn: the controller answers 500, too late or with garbage; an
expert crashes or hangs; the database refuses a write. Each case checks what the user
is told and what is stored."""

from __future__ import annotations

import json
import sqlite3

import pytest

from adapters.base import ConversationKey, IncomingMessage
from bot.conversations import ConversationService
from bot.store import Store
from engine.llm.openai_backend import OpenAILLM
from engine.types import Outcome
from tests.engine.helpers import router, stage_of
from tests.fakes.experts import Script, ScriptedBackend
from tests.fakes.openai_server import Reply

pytestmark = pytest.mark.timeout(60)

KEY = ConversationKey("terminal", "local", "faults")
SPEAK = json.dumps([{"task": "text-to-speech", "id": 0, "dep": [-1], "args": {"text": "hi"}}])


async def run_turn(tmp_path, make, base_url, backend=None, **engine_kwargs):
    engine, backend = make(base_url, backend, **engine_kwargs)
    store = await Store.open(tmp_path / "db.sqlite3")
    service = ConversationService(engine, store, tmp_path / "data")
    try:
        out = await service.handle(IncomingMessage(KEY, "u", "say hi"))
        conv = await store.conversation_id(KEY)
        turns, logged = await store.recent_turns(conv), await store.requests(conv)
    finally:
        await store.close()
    return out, turns, logged


def assert_stored(out: Outcome, turns, logged) -> None:
    """The turn is kept as the user saw it: question, reply and one log row."""
    assert [(t.role, t.text) for t in turns] == [("user", "say hi"), ("assistant", out.reply.text)]
    assert len(logged) == 1 and logged[0]["reply"] == out.reply.text and logged[0]["error"] == out.error


async def test_controller_500_is_explained_and_stored(openai_server, tmp_path, make):
    openai_server.responder = lambda body: Reply.error(500, "upstream exploded")
    out, turns, logged = await run_turn(tmp_path, make, openai_server.base_url)
    assert out.reply.text.startswith("Sorry, I couldn't use the language model") and "500" in out.reply.text
    assert out.error and "500" in out.error
    assert_stored(out, turns, logged)


async def test_controller_timeout_is_explained_and_stored(openai_server, tmp_path, make):
    openai_server.responder = lambda body: Reply.text("[]", delay=3)
    engine, _ = make(openai_server.base_url)
    engine.llm = OpenAILLM(
        base_url=openai_server.base_url, model="fake-model", api_key="k", timeout=0.3, max_retries=0
    )
    store = await Store.open(tmp_path / "db.sqlite3")
    service = ConversationService(engine, store, tmp_path / "data")
    try:
        out = await service.handle(IncomingMessage(KEY, "u", "say hi"))
        conv = await store.conversation_id(KEY)
        assert_stored(out, await store.recent_turns(conv), await store.requests(conv))
    finally:
        await store.close()
    assert "took too long" in out.reply.text


async def test_a_garbage_plan_still_gets_an_answer_and_is_stored(openai_server, tmp_path, make):
    def garbage(body: dict) -> Reply:
        if stage_of(body) == "plan":
            return Reply("Sure!! {{{ task: maybe ]] \x00 not json")
        return Reply("Hello! How can I help?")

    openai_server.responder = garbage
    out, turns, logged = await run_turn(tmp_path, make, openai_server.base_url)
    assert out.reply.text
    assert_stored(out, turns, logged)


class CrashingBackend(ScriptedBackend):
    async def run(self, card, task, inputs, ctx):  # type: ignore[override]
        raise RuntimeError("the expert process died")


async def test_an_expert_crash_is_a_failed_task_not_a_failed_turn(openai_server, tmp_path, make):
    openai_server.responder = router([SPEAK], respond="Result: {results}")
    backend = CrashingBackend.for_all_tasks()
    out, turns, logged = await run_turn(tmp_path, make, openai_server.base_url, backend)
    (result,) = out.results
    assert result.status == "failed" and "the expert process died" in (result.error or "")
    assert "the expert process died" in out.reply.text
    assert_stored(out, turns, logged)
    assert logged[0]["results"][0]["status"] == "failed"


async def test_a_hanging_expert_times_out_and_the_turn_is_stored(openai_server, tmp_path, make):
    openai_server.responder = router([SPEAK], respond="Result: {results}")
    backend = ScriptedBackend.for_all_tasks(text_to_speech=Script(sleep=3600))
    out, turns, logged = await run_turn(tmp_path, make, openai_server.base_url, backend, task_timeout=0.3)
    (result,) = out.results
    assert result.status == "failed" and "timed out" in (result.error or "")
    assert "timed out" in out.reply.text
    assert_stored(out, turns, logged)


class RefusingWrites:
    """The store's connection refuses the ``nth`` and later INSERTs into a table, as a
    full disk answers."""

    def __init__(self, store: Store, table: str, nth: int = 1) -> None:
        self.table, self.nth, self.seen = table, nth, 0
        self._real = store._db.execute_fetchall
        store._db.execute_fetchall = self._call  # type: ignore[method-assign]

    async def _call(self, sql, params=None):
        if sql.startswith(f"INSERT INTO {self.table}"):
            self.seen += 1
            if self.seen >= self.nth:
                raise sqlite3.OperationalError("database or disk is full")
        return await self._real(sql, params)


async def test_a_store_that_cannot_take_the_message_says_so_and_runs_nothing(openai_server, tmp_path, make):
    openai_server.responder = router([SPEAK])
    engine, backend = make(openai_server.base_url)
    store = await Store.open(tmp_path / "db.sqlite3")
    service = ConversationService(engine, store, tmp_path / "data")
    RefusingWrites(store, "messages")
    try:
        out = await service.handle(IncomingMessage(KEY, "u", "say hi"))
    finally:
        await store.close()
    assert "cannot save our conversation" in out.reply.text and "disk is full" in out.reply.text
    assert openai_server.calls == 0 and not backend.log  # nothing ran that could not be kept


async def test_a_reply_the_store_cannot_keep_carries_a_warning(openai_server, tmp_path, make):
    openai_server.responder = router(["[]"])
    engine, _ = make(openai_server.base_url)
    store = await Store.open(tmp_path / "db.sqlite3")
    service = ConversationService(engine, store, tmp_path / "data")
    RefusingWrites(store, "requests")
    try:
        out = await service.handle(IncomingMessage(KEY, "u", "hello"))
    finally:
        await store.close()
    assert out.reply.text == "Hello! How can I help?"
    assert any("could not be saved" in w and "will not remember" in w for w in out.reply.warnings)

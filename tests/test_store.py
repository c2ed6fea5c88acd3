"""The conversation store on real SQLite files in tmp_path."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
from pathlib import Path

import aiosqlite
import pytest

from adapters.base import ConversationKey
from bot.migrations import MIGRATIONS, Migration, applied, migrate
from bot.store import Store
from engine.types import (
    ModelCard,
    Outcome,
    Plan,
    Reply,
    Resource,
    Selection,
    Task,
    TaskResult,
)

KEY = ConversationKey("discord", "guild-1", "chan-1")


@pytest.fixture
async def store(tmp_path: Path):
    s = await Store.open(tmp_path / "nested" / "bot.sqlite3")
    yield s
    await s.close()


def _ledger(path: Path) -> list[str]:
    with sqlite3.connect(path) as db:
        return [r[0] for r in db.execute("SELECT name FROM migrations ORDER BY rowid")]


class FailingStatements:
    """Makes the store's connection raise ``error`` on statements that start with
    ``prefix`` (the first ``times`` of them, or until ``heal``), as a locked or full
    database answers."""

    def __init__(self, store: Store, method: str, prefix: str, error: str, times: int | None = None) -> None:
        self.prefix, self.error, self.times, self.failed = prefix, error, times, 0
        self._real = getattr(store._db, method)
        setattr(store._db, method, self._call)

    async def _call(self, sql, params=None):
        if sql.startswith(self.prefix) and (self.times is None or self.failed < self.times):
            self.failed += 1
            raise sqlite3.OperationalError(self.error)
        return await self._real(sql, params)

    def heal(self) -> None:
        self.times = self.failed


async def _until_written(queued, seconds: float = 2.0) -> None:
    for _ in range(int(seconds / 0.01)):
        if queued.id is not None:
            return
        await asyncio.sleep(0.01)


async def test_open_creates_folders_wal_and_applies_migrations_once(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "bot.sqlite3"
    async with await Store.open(path):
        pass
    names = [m.name for m in MIGRATIONS]
    assert _ledger(path) == names
    async with await Store.open(path):  # reopen: nothing applied again, nothing fails
        pass
    assert _ledger(path) == names
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"conversations", "messages", "requests", "migrations"} <= tables


async def test_reads_see_other_connections_writes_through_the_mapped_file(tmp_path: Path) -> None:
    """The store maps the file (``mmap_size``); a row another connection commits, and
    one the store writes itself, are both read back."""
    from bot.store import MAPPED_BYTES

    store = await Store.open(tmp_path / "bot.sqlite3")
    try:
        async with store._db.execute("PRAGMA mmap_size") as cursor:
            assert (await cursor.fetchone())[0] == MAPPED_BYTES
        conv = await store.conversation_id(KEY)
        await store.add_message(conv, "user", "mine")
        with contextlib.closing(sqlite3.connect(store.path)) as other, other:  # a second writer
            other.execute(
                "INSERT INTO messages (conversation_id, generation, role, text, resources, created_at)"
                " VALUES (?, 0, 'assistant', 'theirs', '[]', 0)",
                (conv,),
            )
        store._recent.clear()
        assert [t.text for t in await store.recent_turns(conv)] == ["mine", "theirs"]
    finally:
        await store.close()


async def test_named_migrations_apply_in_order_and_only_new_ones(tmp_path: Path) -> None:
    first = (
        Migration("m1", ("CREATE TABLE t (a INTEGER)",)),
        Migration("m2", ("ALTER TABLE t ADD COLUMN b TEXT",)),
    )
    second = (*first, Migration("m3", ("CREATE INDEX t_b ON t (b)",)))
    async with aiosqlite.connect(tmp_path / "m.sqlite3", isolation_level=None) as db:
        assert await migrate(db, first) == ["m1", "m2"]
        assert await migrate(db, first) == []
        assert await migrate(db, second) == ["m3"]
        assert await applied(db) == ["m1", "m2", "m3"]


async def test_failed_migration_rolls_back_and_is_not_recorded(tmp_path: Path) -> None:
    broken = (Migration("ok", ("CREATE TABLE t (a)",)), Migration("bad", ("CREATE TABLE u (a)", "NOT SQL")))
    async with aiosqlite.connect(tmp_path / "m.sqlite3", isolation_level=None) as db:
        with pytest.raises(sqlite3.OperationalError):
            await migrate(db, broken)
        assert await applied(db) == ["ok"]
        rows = await db.execute_fetchall("SELECT name FROM sqlite_master WHERE name = 'u'")
        assert list(rows) == []


async def test_migration_names_are_unique() -> None:
    names = [m.name for m in MIGRATIONS]
    assert len(names) == len(set(names))


async def test_conversation_id_is_get_or_create(store: Store) -> None:
    a = await store.conversation_id(KEY)
    assert await store.conversation_id(KEY) == a
    thread = await store.conversation_id(ConversationKey("discord", "guild-1", "chan-1", "thread-9"))
    other = await store.conversation_id(ConversationKey("slack", "guild-1", "chan-1"))
    assert len({a, thread, other}) == 3
    racing = await asyncio.gather(*(store.conversation_id(ConversationKey("x", "w", "c")) for _ in range(20)))
    assert len(set(racing)) == 1


async def test_recent_turns_oldest_first_and_limited(store: Store) -> None:
    conv = await store.conversation_id(KEY)
    for i in range(6):
        await store.add_message(conv, "user" if i % 2 == 0 else "assistant", f"m{i}")
    turns = await store.recent_turns(conv)
    assert [t.text for t in turns] == [f"m{i}" for i in range(6)]
    assert [t.role for t in turns] == ["user", "assistant"] * 3
    assert [t.text for t in await store.recent_turns(conv, limit=2)] == ["m4", "m5"]
    assert await store.message_count() == 6


async def test_resources_round_trip(store: Store, tmp_path: Path) -> None:
    conv = await store.conversation_id(KEY)
    resources = (
        Resource("image", path=tmp_path / "cat.png", name="cat.png", text="a cat"),
        Resource("text", text="héllo"),
        Resource("json", data={"labels": ["cat"], "scores": [0.9]}),
    )
    await store.add_message(conv, "assistant", "here", resources)
    (turn,) = await store.recent_turns(conv)
    assert turn.resources == resources


async def test_bad_role_and_unknown_conversation_are_refused(store: Store) -> None:
    conv = await store.conversation_id(KEY)
    with pytest.raises(ValueError):
        await store.add_message(conv, "system", "x")  # type: ignore[arg-type]
    with pytest.raises(KeyError):
        await store.add_message(conv + 999, "user", "x")


async def test_forget_clears_context_only_of_that_conversation(store: Store) -> None:
    conv = await store.conversation_id(KEY)
    other = await store.conversation_id(ConversationKey("discord", "guild-1", "chan-2"))
    await store.add_message(conv, "user", "old")
    await store.add_message(other, "user", "kept")
    await store.forget(conv)
    assert await store.recent_turns(conv) == []
    assert [t.text for t in await store.recent_turns(other)] == ["kept"]
    assert await store.message_count() == 1  # old rows deleted
    await store.add_message(conv, "user", "new")
    assert [t.text for t in await store.recent_turns(conv)] == ["new"]


async def test_concurrent_writers_keep_per_conversation_order(store: Store) -> None:
    async def talk(n: int) -> int:
        conv = await store.conversation_id(ConversationKey("slack", "T1", f"C{n}"))
        for i in range(10):
            await store.add_message(conv, "user" if i % 2 == 0 else "assistant", f"{n}:{i}")
            await asyncio.sleep(0)
        return conv

    convs = await asyncio.gather(*(talk(n) for n in range(50)))
    assert len(set(convs)) == 50
    for n, conv in enumerate(convs):
        assert [t.text for t in await store.recent_turns(conv)] == [f"{n}:{i}" for i in range(10)]
    assert await store.message_count() == 500


async def test_reopen_keeps_context(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    async with await Store.open(path) as s:
        conv = await s.conversation_id(KEY)
        await s.add_message(conv, "user", "remember me")
    async with await Store.open(path) as s:
        assert await s.conversation_id(KEY) == conv
        assert [t.text for t in await s.recent_turns(conv)] == ["remember me"]


def _outcome(tmp_path: Path) -> Outcome:
    task = Task(1, "image-to-text", {"image": "cat.png"})
    card = ModelCard("Salesforce/blip-image-captioning-base", "image-to-text", "local", downloads=10)
    return Outcome(
        reply=Reply("A cat.", media=(Resource("image", path=tmp_path / "out.png"),), warnings=("slow",)),
        plan=Plan(
            (task,), source="picker", note="the LLM failed (cannot reach it); the picker's plan was used"
        ),
        selections=(Selection(1, card, "most downloads"),),
        results=(TaskResult(task, "ok", card, outputs=(Resource("text", text="a cat"),), seconds=0.5),),
        llm_calls=2,
        timings={"plan": 0.1, "execute": 0.5},
    )


async def test_request_log_round_trip(store: Store, tmp_path: Path) -> None:
    conv = await store.conversation_id(KEY)
    msg = await store.add_message(conv, "user", "what is in cat.png?")
    outcome = _outcome(tmp_path)
    store.log_request(conv, msg, "what is in cat.png?", outcome)
    store.log_request(conv, None, "oops", Outcome(Reply("sorry"), error="LLM down"))
    rows = await store.requests(conv)
    assert [r["text"] for r in rows] == ["what is in cat.png?", "oops"]
    first, second = rows
    public = outcome.to_public()
    for key in (
        "plan",
        "plan_source",
        "plan_note",
        "selections",
        "results",
        "reply",
        "media",
        "warnings",
        "llm_calls",
        "timings",
        "error",
    ):
        assert first[key] == public[key], key
    assert first["message_id"] == msg and first["text"] == "what is in cat.png?"
    assert second["error"] == "LLM down" and second["plan"] == [] and second["plan_source"] is None
    await store.forget(conv)  # the request log outlives /forget; its message link does not
    rows = await store.requests(conv)
    assert len(rows) == 2 and rows[0]["message_id"] is None


async def test_recent_turns_cache_stays_exact(tmp_path):
    """The in-memory context must always equal what SQLite holds."""
    from engine.types import Outcome, Reply

    store = await Store.open(tmp_path / "db.sqlite3")
    key = ConversationKey("terminal", "local", "cache")
    conv = await store.conversation_id(key)
    for i in range(70):
        await store.add_message(conv, "user" if i % 2 == 0 else "assistant", f"m{i}")
    cached = await store.recent_turns(conv, limit=50)
    store._recent.clear()
    fresh = await store.recent_turns(conv, limit=50)
    assert [t.text for t in cached] == [t.text for t in fresh] == [f"m{i}" for i in range(20, 70)]
    # a limit larger than the cache falls back to SQLite
    assert len(await store.recent_turns(conv, limit=70)) == 70
    msg = await store.add_message(conv, "user", "last")
    store.log_request(conv, msg, "last", Outcome(Reply("ok")))
    await store.forget(conv)  # flushes the pending log row before deleting its message
    assert await store.recent_turns(conv) == []
    await store.add_message(conv, "user", "after")
    assert [t.text for t in await store.recent_turns(conv)] == ["after"]
    rows = await store.requests(conv)
    assert rows[-1]["text"] == "last" and rows[-1]["message_id"] is None
    await store.close()


async def test_cache_is_not_taken_as_complete_once_old_turns_fall_out(tmp_path):
    store = await Store.open(tmp_path / "db.sqlite3")
    conv = await store.conversation_id(ConversationKey("terminal", "local", "long"))  # new: cached as empty
    for i in range(70):
        await store.add_message(conv, "user", f"m{i}")
    assert len(await store.recent_turns(conv, limit=100)) == 70
    await store.close()


async def test_forget_leaves_other_conversations_writes_alone(tmp_path):
    store = await Store.open(tmp_path / "db.sqlite3")
    a = await store.conversation_id(ConversationKey("terminal", "local", "a"))
    b = await store.conversation_id(ConversationKey("terminal", "local", "b"))
    await store.add_message(a, "user", "old")
    await asyncio.gather(store.forget(a), *(store.add_message(b, "user", f"b{i}") for i in range(20)))
    await store.close()
    store = await Store.open(tmp_path / "db.sqlite3")
    assert await store.recent_turns(a) == []
    assert [t.text for t in await store.recent_turns(b)] == [f"b{i}" for i in range(20)]
    await store.close()


async def test_queued_messages_are_context_at_once_and_written_behind(tmp_path):
    """A turn does not wait for its rows: the next turn sees them, SQLite gets them
    shortly after, with ids in the order they were queued."""
    store = await Store.open(tmp_path / "db.sqlite3")
    conv = await store.conversation_id(ConversationKey("terminal", "local", "behind"))
    asked = store.append_message(conv, "user", "first")
    answered = store.append_message(conv, "assistant", "second")
    assert asked.id is None  # not written yet: nothing was awaited
    assert [t.text for t in await store.recent_turns(conv)] == ["first", "second"]
    assert await store.has_context(ConversationKey("terminal", "local", "behind"))
    store.log_request(conv, asked, "first", Outcome(Reply("second")))
    await store.flush()
    assert asked.id is not None and answered.id == asked.id + 1
    assert (await store.requests(conv))[0]["message_id"] == asked.id
    store.append_message(conv, "user", "third")
    await store.close()  # close writes what is still queued
    with sqlite3.connect(tmp_path / "db.sqlite3") as db:
        assert [r[0] for r in db.execute("SELECT text FROM messages ORDER BY id")] == [
            "first",
            "second",
            "third",
        ]


async def test_a_burst_of_turns_shares_a_few_statements_and_keeps_each_conversations_order(tmp_path):
    store = await Store.open(tmp_path / "db.sqlite3")
    convs = [await store.conversation_id(ConversationKey("terminal", "local", f"c{i}")) for i in range(300)]
    statements = []
    real = store._db.execute_fetchall

    async def counting(sql, params=None):
        statements.append(sql)
        return await real(sql, params)

    store._db.execute_fetchall = counting  # type: ignore[method-assign]
    for n in range(3):
        for conv in convs:
            store.append_message(conv, "user" if n % 2 == 0 else "assistant", f"{conv}:{n}")
    await store.flush()
    assert 1 <= len(statements) <= 3  # 900 rows, at most 400 a statement
    store._recent.clear()  # read back from SQLite, not the cache
    for conv in convs:
        assert [t.text for t in await store.recent_turns(conv)] == [f"{conv}:{n}" for n in range(3)]
    await store.close()


async def test_a_failed_write_keeps_its_rows_and_is_retried(tmp_path, monkeypatch):
    import bot.store_writer as store_module

    monkeypatch.setattr(store_module, "RETRY_SECONDS", (0.01, 0.05))
    store = await Store.open(tmp_path / "db.sqlite3")
    conv = await store.conversation_id(ConversationKey("terminal", "local", "retry"))
    full = FailingStatements(store, "execute_fetchall", "INSERT INTO messages", "database or disk is full", 1)
    queued = store.append_message(conv, "user", "keep me")
    await _until_written(queued)
    assert full.failed == 1 and queued.id is not None
    store._recent.clear()
    assert [t.text for t in await store.recent_turns(conv)] == ["keep me"]
    await store.close()


async def test_shard_processes_share_one_file(tmp_path):
    """Each shard process has its own Store on the same SQLite file and its own
    conversations: bursts from both land, every conversation in its own order."""
    path = tmp_path / "db.sqlite3"
    await (await Store.open(path)).close()  # migrated once, before the shards start
    shards = [await Store.open(path) for _ in range(2)]

    async def serve(store: Store, shard: int) -> list[int]:
        convs = [
            await store.conversation_id(ConversationKey("discord", f"guild-{shard}", f"c{i}"))
            for i in range(50)
        ]
        for n in range(4):
            for conv in convs:
                store.append_message(conv, "user" if n % 2 == 0 else "assistant", f"{conv}:{n}")
            await asyncio.sleep(0)
        await store.flush()
        return convs

    convs = await asyncio.gather(*(serve(store, i) for i, store in enumerate(shards)))
    for store in shards:
        await store.close()
    reader = await Store.open(path)
    assert await reader.message_count() == 2 * 50 * 4
    for conv in [c for part in convs for c in part]:
        assert [t.text for t in await reader.recent_turns(conv)] == [f"{conv}:{n}" for n in range(4)]
    await reader.close()


async def test_a_failed_conversation_upsert_reaches_every_waiter(tmp_path):
    store = await Store.open(tmp_path / "db.sqlite3")
    locked = FailingStatements(store, "execute_fetchall", "INSERT INTO conversations", "database is locked")
    keys = [ConversationKey("terminal", "local", f"k{i}") for i in range(5)]
    outcomes = await asyncio.gather(*(store.conversation_id(k) for k in keys), return_exceptions=True)
    assert all(isinstance(o, sqlite3.OperationalError) for o in outcomes)
    locked.heal()
    assert await store.conversation_id(keys[0]) > 0  # the next ask tries again
    await store.close()


async def test_shards_opening_a_new_file_at_once_apply_each_migration_once(tmp_path):
    """Two processes starting together on a fresh data dir: the one that waited for the
    write lock finds the migration applied and skips it instead of failing."""
    for attempt in range(5):
        path = tmp_path / f"db{attempt}.sqlite3"
        stores = await asyncio.gather(*(Store.open(path) for _ in range(3)))
        for s in stores:
            await s.close()
        assert _ledger(path) == [m.name for m in MIGRATIONS]


async def test_a_lone_surrogate_is_stored_as_a_question_mark_and_blocks_nothing(tmp_path):
    """JSON from a platform can decode to a lone surrogate, which SQLite cannot take:
    it must not fail the batch (and every batch after it) forever."""
    store = await Store.open(tmp_path / "db.sqlite3")
    conv = await store.conversation_id(ConversationKey("discord", "g", "surrogate"))
    asked = store.append_message(conv, "user", "bad \ud800 text")
    store.append_message(conv, "assistant", "fine")
    store.log_request(conv, asked, "bad \ud800 text", Outcome(Reply("reply \udfff"), error="err \ud800"))
    await store.flush()
    store._recent.clear()
    assert [t.text for t in await store.recent_turns(conv)] == ["bad ? text", "fine"]
    logged = (await store.requests(conv))[0]
    assert (logged["text"], logged["reply"], logged["error"]) == ("bad ? text", "reply ?", "err ?")
    await store.close()


def test_json_columns_take_what_the_fast_encoder_refuses():
    """orjson writes the JSON columns; a lone surrogate or an integer past 64 bits
    (which it refuses) goes through the standard encoder, so nothing is lost."""
    from bot.store_writer import dumps

    assert json.loads(dumps({"path": Path("/a/b.png"), 3: [1.5, None]})) == {
        "path": "/a/b.png",
        "3": [1.5, None],
    }
    assert json.loads(dumps([2**70])) == [2**70]
    assert json.loads(dumps(["bad \ud800 text"])) == ["bad ? text"]
    assert dumps([]) == "[]" and dumps({}) == "{}"


async def test_a_lone_surrogate_in_a_json_column_is_stored_as_a_question_mark(tmp_path):
    store = await Store.open(tmp_path / "db.sqlite3")
    conv = await store.conversation_id(ConversationKey("discord", "g", "surrogate-json"))
    asked = store.append_message(conv, "user", "hi", [Resource(kind="text", text="x", name="n\ud800.txt")])
    store.log_request(conv, asked, "hi", Outcome(Reply("ok", warnings=("warn \udfff",))))
    await store.flush()
    store._recent.clear()
    assert [r.name for r in (await store.recent_turns(conv))[0].resources] == ["n?.txt"]
    assert (await store.requests(conv))[0]["warnings"] == ["warn ?"]
    await store.close()


async def test_reads_go_on_while_the_disk_refuses_writes(tmp_path, monkeypatch):
    import bot.store_writer as store_module

    monkeypatch.setattr(store_module, "RETRY_SECONDS", (0.01, 0.02))
    store = await Store.open(tmp_path / "db.sqlite3")
    key = ConversationKey("terminal", "local", "full-disk")
    conv = await store.conversation_id(key)
    await store.add_message(conv, "user", "written before the disk filled")
    full = FailingStatements(store, "execute_fetchall", "INSERT INTO messages", "database or disk is full")
    queued = store.append_message(conv, "assistant", "waits in memory")
    store._recent.clear()  # force a read from SQLite: what is still queued is added
    assert [t.text for t in await store.recent_turns(conv)] == [
        "written before the disk filled",
        "waits in memory",
    ]
    assert await store.has_context(key)
    other = ConversationKey("terminal", "local", "only-queued")
    store.append_message(await store.conversation_id(other), "user", "nothing on disk yet")
    assert await store.has_context(other)
    full.heal()  # space again: the writer's retry puts the row in
    await _until_written(queued)
    assert queued.id is not None
    store._recent.clear()
    assert [t.text for t in await store.recent_turns(conv)][-1] == "waits in memory"
    await store.close()


def _reply(text: str = "ok") -> Outcome:
    return Outcome(Reply(text))


async def test_a_turn_finishing_while_log_rows_are_written_keeps_its_message_id(tmp_path):
    store = await Store.open(tmp_path / "db.sqlite3")
    conv = await store.conversation_id(KEY)
    first = store.append_message(conv, "user", "first")
    store.log_request(conv, first, "first", _reply())
    real = store._db.execute
    late: list = []

    async def turn_finishes_meanwhile(sql, params=None):
        result = await real(sql, params)
        if sql.startswith("INSERT INTO requests") and not late:  # no await between these appends
            late.append(store.append_message(conv, "user", "second"))
            store.append_message(conv, "assistant", "answer")
            store.log_request(conv, late[0], "second", _reply())
        return result

    store._db.execute = turn_finishes_meanwhile  # type: ignore[method-assign]
    await store.flush()
    logged = await store.requests(conv)
    assert [(r["text"], r["message_id"]) for r in logged] == [("first", first.id), ("second", late[0].id)]
    assert late[0].id is not None
    await store.close()


async def test_a_transient_failure_retries_the_log_rows_once_each(tmp_path):
    store = await Store.open(tmp_path / "db.sqlite3")
    conv = await store.conversation_id(KEY)
    FailingStatements(store, "execute", "INSERT INTO requests", "database is locked", 1)
    for text in ("one", "two", "three"):
        store.log_request(conv, store.append_message(conv, "user", text), text, _reply())
    with pytest.raises(sqlite3.OperationalError):
        await store.flush()
    await store.flush()
    assert [r["text"] for r in await store.requests(conv)] == ["one", "two", "three"]
    await store.close()


async def test_a_row_sqlite_will_never_take_is_dropped_alone(tmp_path):
    """A log row for a conversation that does not exist breaks the foreign key every
    time: it must not hold back the rows queued with it or after it."""
    store = await Store.open(tmp_path / "db.sqlite3")
    conv = await store.conversation_id(KEY)
    store.log_request(conv, None, "before", _reply())
    store.log_request(conv + 999, None, "nowhere", _reply())
    store.log_request(conv, None, "after", _reply())
    await store.flush()
    assert [r["text"] for r in await store.requests(conv)] == ["before", "after"]
    await store.close()


async def test_a_reader_cancelled_mid_write_loses_no_ids(tmp_path):
    """Turns are cancelled at shutdown while their read is writing the queue: the write
    finishes anyway and every message gets its id."""
    store = await Store.open(tmp_path / "db.sqlite3")
    a = await store.conversation_id(KEY)
    b = await store.conversation_id(ConversationKey("discord", "guild-1", "chan-2"))
    asked = store.append_message(a, "user", "hello")
    store.log_request(a, asked, "hello", _reply())
    store._recent.clear()
    reader = asyncio.ensure_future(store.recent_turns(b))  # writes the queue first
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    reader.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await reader
    await store.flush()
    assert asked.id is not None
    assert (await store.requests(a))[0]["message_id"] == asked.id
    await store.close()


async def test_the_retry_wait_starts_over_after_a_write_succeeds(tmp_path, monkeypatch):
    """On a busy bot the writer never runs dry: an occasional failure must not make
    every later retry wait longer (up to a minute of turns held in memory)."""
    import bot.store_writer as store_module

    waits: list[float] = []

    class RecordingClock:
        def __getattr__(self, name):
            return getattr(asyncio, name)

        async def sleep(self, seconds: float) -> None:
            if seconds:
                waits.append(seconds)
            await asyncio.sleep(0)

    monkeypatch.setattr(store_module, "asyncio", RecordingClock())
    store = await Store.open(tmp_path / "db.sqlite3")
    conv = await store.conversation_id(KEY)
    real = store._db.execute_fetchall
    calls = [0]
    queued = [store.append_message(conv, "user", "m0")]

    async def every_other_write_fails(sql, params=None):
        if sql.startswith("INSERT INTO messages"):
            calls[0] += 1
            if calls[0] % 2:
                raise sqlite3.OperationalError("database is locked")
            if len(queued) < 4:  # the next turn's message arrives before the writer is done
                queued.append(store.append_message(conv, "user", f"m{len(queued)}"))
        return await real(sql, params)

    store._db.execute_fetchall = every_other_write_fails  # type: ignore[method-assign]
    for _ in range(400):
        await asyncio.sleep(0.005)
        if len(queued) == 4 and all(q.id is not None for q in queued):
            break
    assert len(queued) == 4 and all(q.id is not None for q in queued)
    assert waits == [store_module.RETRY_SECONDS[0]] * 4  # never doubled: each failure followed a success
    await store.close()


async def test_forget_clears_the_context_even_if_deleting_old_messages_fails(tmp_path):
    store = await Store.open(tmp_path / "db.sqlite3")
    conv = await store.conversation_id(KEY)
    await store.add_message(conv, "user", "private")
    FailingStatements(store, "execute", "DELETE FROM messages", "disk I/O error")
    with pytest.raises(sqlite3.OperationalError):
        await store.forget(conv)
    assert await store.recent_turns(conv) == []
    await store.close()


async def test_uncached_read_of_a_few_turns_is_not_taken_for_the_whole_context(tmp_path):
    """An uncached read fetches only ``limit`` rows; a later, larger limit must still see
    the older messages, and appends after the small read keep the order."""
    store = await Store.open(tmp_path / "db.sqlite3")
    conv = await store.conversation_id(ConversationKey("terminal", "local", "few"))
    for i in range(10):
        await store.add_message(conv, "user", f"m{i}")
    store._recent.clear()  # as after a restart
    assert [t.text for t in await store.recent_turns(conv, limit=3)] == ["m7", "m8", "m9"]
    await store.add_message(conv, "assistant", "m10")
    assert [t.text for t in await store.recent_turns(conv, limit=4)] == ["m7", "m8", "m9", "m10"]
    assert [t.text for t in await store.recent_turns(conv, limit=6)] == [f"m{i}" for i in range(5, 11)]
    assert await store.recent_turns(conv, limit=0) == []
    assert len(await store.recent_turns(conv, limit=100)) == 11
    await store.close()

"""The conversation store on real SQLite files in tmp_path."""

from __future__ import annotations

import asyncio
import contextlib
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
    await store.log_request(conv, msg, "what is in cat.png?", outcome)
    await store.log_request(conv, None, "oops", Outcome(Reply("sorry"), error="LLM down"))
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


async def test_shard_processes_share_one_file(tmp_path):
    """Each shard process has its own Store on the same SQLite file and its own
    conversations: turns from both land, every conversation in its own order."""
    path = tmp_path / "db.sqlite3"
    await (await Store.open(path)).close()  # migrated once, before the shards start
    shards = [await Store.open(path) for _ in range(2)]

    async def serve(store: Store, shard: int) -> list[int]:
        convs = [
            await store.conversation_id(ConversationKey("discord", f"guild-{shard}", f"c{i}"))
            for i in range(20)
        ]

        async def talk(conv: int) -> None:
            for n in range(4):
                await store.add_message(conv, "user" if n % 2 == 0 else "assistant", f"{conv}:{n}")

        await asyncio.gather(*(talk(conv) for conv in convs))
        return convs

    convs = await asyncio.gather(*(serve(store, i) for i, store in enumerate(shards)))
    for store in shards:
        await store.close()
    reader = await Store.open(path)
    assert await reader.message_count() == 2 * 20 * 4
    for conv in [c for part in convs for c in part]:
        assert [t.text for t in await reader.recent_turns(conv)] == [f"{conv}:{n}" for n in range(4)]
    await reader.close()


async def test_shards_opening_a_new_file_at_once_apply_each_migration_once(tmp_path):
    """Two processes starting together on a fresh data dir: the one that waited for the
    write lock finds the migration applied and skips it instead of failing."""
    for attempt in range(5):
        path = tmp_path / f"db{attempt}.sqlite3"
        stores = await asyncio.gather(*(Store.open(path) for _ in range(3)))
        for s in stores:
            await s.close()
        assert _ledger(path) == [m.name for m in MIGRATIONS]


async def test_a_lone_surrogate_is_stored_as_a_replacement_character(tmp_path):
    """JSON from a platform can decode to a lone surrogate, which SQLite cannot take
    as UTF-8: it is stored as U+FFFD, in text and JSON columns alike."""
    store = await Store.open(tmp_path / "db.sqlite3")
    conv = await store.conversation_id(ConversationKey("discord", "g", "surrogate"))
    asked = await store.add_message(
        conv, "user", "bad \ud800 text", [Resource(kind="text", text="x", name="n\ud800.txt")]
    )
    await store.record_reply(
        conv,
        asked,
        "bad \ud800 text",
        Outcome(Reply("reply \udfff", warnings=("warn \udfff",)), error="err \ud800"),
    )
    turns = await store.recent_turns(conv)
    assert [t.text for t in turns] == ["bad \ufffd text", "reply \ufffd"]
    assert [r.name for r in turns[0].resources] == ["n\ufffd.txt"]
    logged = (await store.requests(conv))[0]
    assert (logged["text"], logged["reply"], logged["error"]) == (
        "bad \ufffd text",
        "reply \ufffd",
        "err \ufffd",
    )
    assert logged["warnings"] == ["warn \ufffd"]
    await store.close()


async def test_json_columns_keep_paths_numbers_and_big_integers(store: Store) -> None:
    conv = await store.conversation_id(KEY)
    data = {"path": Path("/a/b.png"), 3: [1.5, None], "big": 2**70}
    await store.add_message(conv, "assistant", "here", [Resource("json", data=data)])
    (turn,) = await store.recent_turns(conv)
    assert turn.resources[0].data == {"path": "/a/b.png", "3": [1.5, None], "big": 2**70}


async def test_forget_clears_the_context_even_if_deleting_old_messages_fails(tmp_path):
    store = await Store.open(tmp_path / "db.sqlite3")
    conv = await store.conversation_id(KEY)
    await store.add_message(conv, "user", "private")
    FailingStatements(store, "execute", "DELETE FROM messages", "disk I/O error")
    with pytest.raises(sqlite3.OperationalError):
        await store.forget(conv)
    assert await store.recent_turns(conv) == []
    await store.close()


async def test_recent_turns_reads_the_limit_asked_for(tmp_path):
    store = await Store.open(tmp_path / "db.sqlite3")
    conv = await store.conversation_id(ConversationKey("terminal", "local", "few"))
    for i in range(10):
        await store.add_message(conv, "user", f"m{i}")
    assert [t.text for t in await store.recent_turns(conv, limit=3)] == ["m7", "m8", "m9"]
    await store.add_message(conv, "assistant", "m10")
    assert [t.text for t in await store.recent_turns(conv, limit=4)] == ["m7", "m8", "m9", "m10"]
    assert [t.text for t in await store.recent_turns(conv, limit=6)] == [f"m{i}" for i in range(5, 11)]
    assert await store.recent_turns(conv, limit=0) == []
    assert len(await store.recent_turns(conv, limit=100)) == 11
    await store.close()


async def test_every_write_is_committed_when_it_returns(tmp_path):
    """Write-through: a second connection (another process, or the same file after a
    kill) sees each row as soon as the call that wrote it has returned."""
    path = tmp_path / "db.sqlite3"
    store = await Store.open(path)
    conv = await store.conversation_id(KEY)

    def committed() -> tuple[list[str], list[str]]:
        with contextlib.closing(sqlite3.connect(path)) as other:
            texts = [r[0] for r in other.execute("SELECT text FROM messages ORDER BY id")]
            logged = [r[0] for r in other.execute("SELECT reply FROM requests ORDER BY id")]
        return texts, logged

    asked = await store.add_message(conv, "user", "question")
    assert committed() == (["question"], [])
    await store.record_reply(conv, asked, "question", Outcome(Reply("answer")))
    assert committed() == (["question", "answer"], ["answer"])
    assert (await store.requests(conv))[0]["message_id"] == asked
    await store.close()


async def test_the_redactor_keeps_secrets_out_of_every_column(tmp_path):
    from engine.secrets import REDACTED, Redactor

    secret = "s3cr3t-value-from-env"
    store = await Store.open(tmp_path / "db.sqlite3", Redactor([secret]))
    conv = await store.conversation_id(KEY)
    asked = await store.add_message(conv, "user", f"my key is {secret}")
    failing = TaskResult(Task(0, "image-to-text", {"image": "a.png"}), "failed", error=f"401 for {secret}")
    outcome = Outcome(
        Reply(f"the server said Bearer {secret}", warnings=(f"w {secret}",)),
        results=(failing,),
        error=f"Incorrect API key provided: sk-proj-{'x' * 30}",
    )
    await store.record_reply(conv, asked, f"my key is {secret}", outcome)
    await store.close()
    raw = (tmp_path / "db.sqlite3").read_bytes()
    wal = tmp_path / "db.sqlite3-wal"
    raw += wal.read_bytes() if wal.exists() else b""
    assert secret.encode() not in raw and b"sk-proj-" not in raw
    assert REDACTED.encode() in raw

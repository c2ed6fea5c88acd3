"""The conversation store: one SQLite file holding conversations, messages and requests.

Why one aiosqlite connection: it runs every statement on one worker thread, which
serialises access for the whole process, and SQLite allows one writer anyway. The
connection is in autocommit mode, so each single statement is its own transaction
and concurrent coroutines never see each other's half-done work. No write spans
several statements in one transaction: on a shared connection that would also wrap
other coroutines' writes.

Messages and request-log rows are written behind the turn (bot/store_writer.py): a
turn queues its rows and goes on, and many turns share one INSERT. The recent-turn
cache is updated at once, so the next turn sees a message before it is on disk;
every read of messages from SQLite first writes what waits.
WAL mode lets a reader (a benchmark, ``sqlite3`` in a shell) look in while the bot
writes; the log is checkpointed on a second connection in a worker thread
(bot/checkpointer.py), not in a commit on this connection's thread.

``/forget`` bumps the conversation's ``generation``: context is the messages of the
current generation only. Older messages are deleted at once; the requests log (plan,
choices, results, timings: what the reference kept in log_success.jsonl) is kept,
with its ``message_id`` set to NULL, so operators can still see what ran.

All SQL lives here, in bot/store_writer.py and in bot/migrations.py.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
from collections import OrderedDict, deque
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, cast

import aiosqlite
import orjson

from adapters.base import ConversationKey
from bot.checkpointer import SAFETY_NET_PAGES, Checkpointer
from bot.migrations import migrate
from bot.store_writer import (
    ROWS_PER_STATEMENT,
    QueuedMessage,
    WriteBehind,
    dumps,
    request_row,
    storable,
)
from engine.types import Outcome, Resource, Turn

log = logging.getLogger(__name__)

Role = Literal["user", "assistant"]
_ROLES: frozenset[str] = frozenset({"user", "assistant"})

MAPPED_BYTES = 1 << 30  # of the database file, read through mmap (see _PRAGMAS)

_PRAGMAS = (
    # first: the next pragmas and the migrations may meet another process (a CLI, a
    # second shard starting at the same moment) holding the lock briefly
    "PRAGMA busy_timeout = 5000",
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = NORMAL",  # durable across app crashes; WAL makes this safe
    "PRAGMA foreign_keys = ON",
    # checkpoints run on a connection of their own (bot/checkpointer.py); this one's
    # automatic checkpoint (an fsync on the store's thread) is the safety net only
    f"PRAGMA wal_autocheckpoint = {SAFETY_NET_PAGES}",
    # pages are read straight from the kernel's page cache, not by a read() call and a
    # copy each: an uncached context (40 rows on as many pages at 1M messages) took
    # 0.20 -> 0.13 ms of the SQLite thread's CPU. Address space only: pages never read
    # take no memory, and a file past this size is read the usual way beyond it.
    f"PRAGMA mmap_size = {MAPPED_BYTES}",
)

_REQUEST_JSON_FIELDS = ("plan", "selections", "results", "media", "warnings", "timings")


RECENT_CACHED = 64  # turns kept in memory per conversation
RECENT_CONVERSATIONS = 4096  # conversations whose recent turns are kept in memory


async def _execute_when_free(db: aiosqlite.Connection, sql: str, attempts: int = 50) -> None:
    """Run ``sql``, waiting while another connection holds the lock. Switching a new file
    to WAL can fail at once with "database is locked" (SQLite skips the busy handler
    there to avoid a deadlock) when two processes open it together; the mode is then
    set by the other one, and a retry finds it so."""
    for attempt in range(attempts):
        try:
            await db.execute(sql)
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise
            await asyncio.sleep(0.05)


def _stored_resources(raw: str) -> tuple[Resource, ...]:
    """A message's resources column as Resources. Most messages have none: "[]" needs no
    decoding, and building an uncached context (64 turns, as read then) took 390 us
    with ``json.loads`` on every row, 134 us like this."""
    if raw == "[]":
        return ()
    try:
        items = orjson.loads(raw)
    except orjson.JSONDecodeError:  # not from orjson (an older row, the standard encoder's NaN)
        items = json.loads(raw)
    return tuple(map(Resource.from_public, items))


class Store:
    """Async access to the bot's database. Build with ``await Store.open(path)``."""

    def __init__(self, db: aiosqlite.Connection, path: Path) -> None:
        self._db = db
        self.path = path
        # ids never change once created (forget bumps a generation instead), so a turn
        # need not ask SQLite for them again: one round trip less per turn
        self._conversation_ids: dict[ConversationKey, int] = {}
        # The last turns of recently active conversations. Only this process writes its
        # conversations (shard processes own disjoint sets), so the cache stays exact; a
        # turn then reads its context with no trip to SQLite. ``complete`` means the
        # deque holds every message since the last forget.
        self._recent: OrderedDict[int, tuple[deque[Turn], bool]] = OrderedDict()
        self._writes = WriteBehind(db)  # rows not yet in SQLite, off the turn's path
        # Conversations asked for and not yet in SQLite's answer, resolved together.
        self._unresolved: dict[ConversationKey, asyncio.Future[int]] = {}
        self._resolver: asyncio.Task[None] | None = None
        self.checkpointer = Checkpointer(path, lambda: self._writes.batches_written)

    @classmethod
    async def open(cls, path: Path) -> Store:
        """Open (creating folders and file as needed) and bring the schema up to date."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(path, isolation_level=None)
        try:
            for pragma in _PRAGMAS:
                await _execute_when_free(db, pragma)
            await migrate(db)
        except BaseException:
            await db.close()
            raise
        store = cls(db, path)
        store.checkpointer.start()
        return store

    async def close(self) -> None:
        """Write what is queued, then close. If that last write fails, the rows it could
        not write are counted in the log and lost with the process."""
        try:
            await self.flush()
        except Exception:
            log.error(
                "closing with %d messages and %d request-log rows unwritten",
                len(self._writes.messages),
                len(self._writes.log_rows),
            )
            raise
        finally:
            self._writes.stop()
            if self._resolver is not None and not self._resolver.done():
                self._resolver.cancel()
            try:
                await self.checkpointer.close()
            finally:
                await self._db.close()

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # conversations -------------------------------------------------------------

    async def conversation_id(self, key: ConversationKey) -> int:
        """Get or create the row for ``key``; safe when callers race on a key.

        Keys asked for in the same moment (a burst of new conversations) share one
        multi-row upsert instead of queueing one round trip each on the SQLite thread."""
        cached = self._conversation_ids.get(key)
        if cached is not None:
            return cached
        waiting = self._unresolved.get(key)
        if waiting is None:
            waiting = self._unresolved[key] = asyncio.get_running_loop().create_future()
            if self._resolver is None or self._resolver.done():
                self._resolver = asyncio.get_running_loop().create_task(self._resolve_keys())
        return await asyncio.shield(waiting)

    async def _resolve_keys(self) -> None:
        await asyncio.sleep(0)  # let the rest of this moment's new conversations ask too
        while self._unresolved:
            keys = list(self._unresolved)[:ROWS_PER_STATEMENT]
            futures = [self._unresolved.pop(k) for k in keys]
            try:
                ids = await self._upsert_conversations(keys)
            except BaseException as exc:  # every waiter hears of it; none is left hanging
                failure = exc if isinstance(exc, Exception) else RuntimeError("the store is closing")
                for future in futures:
                    if not future.done():
                        future.set_exception(failure)
                if not isinstance(exc, Exception):
                    raise
                continue
            for key, future in zip(keys, futures, strict=True):
                if future.done():
                    continue
                if key in ids:
                    future.set_result(ids[key])
                else:
                    future.set_exception(LookupError(f"SQLite returned no row for conversation {key}"))

    async def _upsert_conversations(self, keys: list[ConversationKey]) -> dict[ConversationKey, int]:
        now = time.time()
        params: list[Any] = []
        for key in keys:
            params += (key.platform, key.workspace, key.channel, key.thread, now)
        rows = await self._db.execute_fetchall(
            "INSERT INTO conversations (platform, workspace, channel, thread, created_at)"
            f" VALUES {', '.join(['(?, ?, ?, ?, ?)'] * len(keys))}"
            " ON CONFLICT (platform, workspace, channel, thread)"
            " DO UPDATE SET platform = excluded.platform"
            " RETURNING id, platform, workspace, channel, thread, created_at",
            params,
        )
        ids = {}
        for conv_id, platform, workspace, channel, thread, created_at in rows:
            key = ConversationKey(platform, workspace, channel, thread)
            ids[key] = int(conv_id)
            if created_at == now:  # created just now: its context is known to be empty
                self._remember(int(conv_id), deque(maxlen=RECENT_CACHED), complete=True)
            self._conversation_ids[key] = int(conv_id)
        while len(self._conversation_ids) > RECENT_CONVERSATIONS * 4:
            self._conversation_ids.pop(next(iter(self._conversation_ids)))  # oldest first
        return ids

    async def has_context(self, key: ConversationKey) -> bool:
        """True when ``key``'s conversation exists and has messages since its last forget."""
        await self._write_queued_before_reading()
        known = self._conversation_ids.get(key)
        if known is not None and self._writes.queued_for(known):
            return True  # messages still queued after a failed write
        rows = await self._db.execute_fetchall(
            "SELECT 1 FROM conversations AS c JOIN messages AS m"
            " ON m.conversation_id = c.id AND m.generation = c.generation"
            " WHERE c.platform = ? AND c.workspace = ? AND c.channel = ? AND c.thread = ? LIMIT 1",
            (key.platform, key.workspace, key.channel, key.thread),
        )
        return bool(list(rows))

    async def forget(self, conv_id: int) -> None:
        """Clear the context: later ``recent_turns`` start empty; old messages are deleted."""
        await self.flush()  # logged requests first: their rows point at messages deleted here
        # Two autocommit statements, no explicit transaction: on the shared connection one
        # would also wrap (and could roll back) other conversations' writes. Each is safe
        # alone: after the UPDATE the old generation is out of context; the DELETE tidies.
        await self._db.execute(
            "UPDATE conversations SET generation = generation + 1, cleared_at = ? WHERE id = ?",
            (time.time(), conv_id),
        )
        # the context is empty from here, even if the DELETE below fails
        self._remember(conv_id, deque(maxlen=RECENT_CACHED), complete=True)
        await self._db.execute(
            "DELETE FROM messages WHERE conversation_id = ? AND generation <"
            " (SELECT generation FROM conversations WHERE id = ?)",
            (conv_id, conv_id),
        )

    # messages --------------------------------------------------------------------

    def append_message(
        self, conv_id: int, role: Role, text: str, resources: Sequence[Resource] = ()
    ) -> QueuedMessage:
        """Queue a message for the conversation's current generation and return at once.

        The cache (and so the next turn's context) has it now; the writer puts it in
        SQLite shortly after. ``log_request`` accepts the returned message."""
        if role not in _ROLES:
            raise ValueError(f"role must be user or assistant, not {role!r}")
        text = storable(text)
        queued = self._writes.message(conv_id, role, text, dumps([r.to_public() for r in resources]))
        cached = self._recent.get(conv_id)
        if cached is not None:
            turns, complete = cached
            if len(turns) == turns.maxlen:  # the oldest falls out: the cache no longer holds all
                complete = False
            turns.append(Turn(role=role, text=text, resources=tuple(resources)))
            self._recent[conv_id] = (turns, complete)
        return queued

    async def add_message(
        self, conv_id: int, role: Role, text: str, resources: Sequence[Resource] = ()
    ) -> int:
        """Append a message and wait until it is written; return its id."""
        queued = self.append_message(conv_id, role, text, resources)
        await self.flush()
        if queued.id is None:
            raise KeyError(f"no conversation with id {conv_id}")
        return queued.id

    async def recent_turns(self, conv_id: int, limit: int = 40) -> list[Turn]:
        """The last ``limit`` messages since the last forget, oldest first.

        An uncached conversation reads ``limit`` rows, no more: the cache then serves
        the next calls with that limit (it grows with each message, up to
        ``RECENT_CACHED``). Reading 64 rows for a limit of 40 made every uncached
        context half again as dear (a page per row when channels talk at once: the
        query took 0.31 ms of CPU instead of 0.20 at 1M messages)."""
        if limit <= 0:
            return []
        cached = self._recent.get(conv_id)
        if cached is not None and (cached[1] or len(cached[0]) >= limit):
            self._recent.move_to_end(conv_id)
            return list(cached[0])[-limit:]
        await self._write_queued_before_reading()
        rows = await self._db.execute_fetchall(
            "SELECT m.role, m.text, m.resources FROM messages AS m"
            " JOIN conversations AS c ON c.id = m.conversation_id AND c.generation = m.generation"
            " WHERE m.conversation_id = ? ORDER BY m.id DESC LIMIT ?",
            (conv_id, limit),
        )
        turns = [Turn(cast(Role, role), text, _stored_resources(resources)) for role, text, resources in rows]
        turns.reverse()
        turns += [  # still queued (the write failed): newer than anything on disk
            Turn(cast(Role, q.role), q.text, _stored_resources(q.resources))
            for q in self._writes.queued_for(conv_id)
        ]
        self._remember(conv_id, deque(turns, maxlen=RECENT_CACHED), complete=len(turns) < limit)
        return turns[-limit:]

    async def _write_queued_before_reading(self) -> None:
        """Queued messages go to SQLite before it is asked about messages. If that write
        fails (a full disk), the read goes on and adds them from the queue: a turn
        goes on rather than fail, and the rows stay queued for the writer's retry."""
        if not self._writes.messages:
            return
        try:
            await self.flush()
        except Exception:  # logged in flush
            pass

    def _remember(self, conv_id: int, turns: deque[Turn], complete: bool) -> None:
        self._recent[conv_id] = (turns, complete and len(turns) < RECENT_CACHED)
        self._recent.move_to_end(conv_id)
        while len(self._recent) > RECENT_CONVERSATIONS:
            self._recent.popitem(last=False)

    async def message_count(self) -> int:
        await self.flush()
        rows = list(await self._db.execute_fetchall("SELECT COUNT(*) FROM messages"))
        return int(rows[0][0])

    # requests --------------------------------------------------------------------

    def log_request(
        self, conv_id: int, message: QueuedMessage | int | None, text: str, outcome: Outcome
    ) -> None:
        """Keep what one request did (plan, choices, results, timings, error) for later
        study. Written behind the turn with the other queued rows (``message``, the
        user's message, may still be queued); ``flush``/``close`` write what waits."""
        self._writes.log_row(request_row(conv_id, None, text, outcome), message)

    async def flush(self) -> None:
        """Write every queued message and request-log row now (see bot/store_writer.py)."""
        await self._writes.flush()

    async def requests(self, conv_id: int) -> list[dict[str, Any]]:
        """The conversation's request log, oldest first, JSON columns decoded."""
        await self.flush()
        cursor = await self._db.execute(
            "SELECT id, conversation_id, message_id, text, plan, plan_source, plan_note, selections, results,"
            " reply, media, warnings, error, llm_calls, timings, created_at"
            " FROM requests WHERE conversation_id = ? ORDER BY id",
            (conv_id,),
        )
        names = [d[0] for d in cursor.description]
        rows = await cursor.fetchall()
        await cursor.close()
        out = []
        for row in rows:
            item = dict(zip(names, row, strict=True))
            for field in _REQUEST_JSON_FIELDS:
                item[field] = json.loads(item[field])
            out.append(item)
        return out

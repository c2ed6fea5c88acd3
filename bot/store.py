"""The conversation store: one SQLite file holding conversations, messages and requests.

Why one aiosqlite connection: it runs every statement on one worker thread, which
serialises access for the whole process, and SQLite allows one writer anyway. The
connection is in autocommit mode, so each single statement is its own transaction
and concurrent coroutines never see each other's half-done work. No write spans
several statements in one transaction: on a shared connection that would also wrap
other coroutines' writes.

Messages and request-log rows are written behind the turn (group commit): a turn
queues its rows and goes on; one writer task puts everything queued in one
multi-row INSERT per table as soon as the loop is free, and what arrives while that
statement runs shares the next one. A turn thus never waits behind the other
conversations' writes on the single SQLite thread (at 100 conversations at once that
wait was 10-50 ms per message), and a burst of 1,000 turns costs a few statements,
not thousands of round trips. The recent-turn cache is updated at once, so the next
turn sees the message before it is on disk; every read of messages from SQLite first
writes what waits. A failed write keeps its rows and is retried. What is queued when
the process is killed (a few milliseconds of turns) is lost with the turns in flight;
``close`` writes everything it can.
WAL mode lets a reader (a benchmark, ``sqlite3`` in a shell) look in while the bot
writes.

``/forget`` bumps the conversation's ``generation``: context is the messages of the
current generation only. Older messages are deleted at once; the requests log (plan,
choices, results, timings: what the reference kept in log_success.jsonl) is kept,
with its ``message_id`` set to NULL, so operators can still see what ran.

All SQL lives here and in bot/migrations.py.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, cast

import aiosqlite

from adapters.base import ConversationKey
from bot.migrations import migrate
from engine.types import Outcome, Resource, Turn

log = logging.getLogger(__name__)

Role = Literal["user", "assistant"]
_ROLES: frozenset[str] = frozenset({"user", "assistant"})

_PRAGMAS = (
    # first: the next pragmas and the migrations may meet another process (a CLI, a
    # second shard starting at the same moment) holding the lock briefly
    "PRAGMA busy_timeout = 5000",
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = NORMAL",  # durable across app crashes; WAL makes this safe
    "PRAGMA foreign_keys = ON",
)

_REQUEST_JSON_FIELDS = ("plan", "selections", "results", "media", "warnings", "timings")


RECENT_CACHED = 64  # turns kept in memory per conversation
RECENT_CONVERSATIONS = 4096  # conversations whose recent turns are kept in memory
ROWS_PER_STATEMENT = 400  # 5 parameters a message row: far below SQLite's 32,766
RETRY_SECONDS = (1.0, 60.0)  # first and longest wait before writing failed rows again

_REQUEST_COLUMNS = (
    "INSERT INTO requests (conversation_id, message_id, text, plan, plan_source, selections,"
    " results, reply, media, warnings, error, llm_calls, timings, created_at) VALUES "
)
_REQUEST_VALUES = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_INSERT_REQUEST = _REQUEST_COLUMNS + _REQUEST_VALUES


def _insert_requests_sql(rows: int) -> str:
    return _REQUEST_COLUMNS + ", ".join([_REQUEST_VALUES] * rows)  # 14 parameters a row


def _seen(job: asyncio.Future[None]) -> None:
    """Retrieve a flush's outcome when its caller was cancelled (logged where it failed)."""
    if not job.cancelled():
        job.exception()


@dataclass(eq=False, slots=True)
class QueuedMessage:
    """A message waiting to be written; ``id`` is set once its row is in SQLite.

    ``created_at`` is unique within the store (strictly increasing), so the rows a
    multi-row INSERT returns are matched back to their messages by it."""

    conv_id: int
    role: str
    text: str
    resources: str
    created_at: float
    id: int | None = None


def _insert_messages_sql(rows: int) -> str:
    # ORDER BY keeps ids in queue order (ids are the order of the conversation); the
    # JOIN skips a message whose conversation does not exist, which add_message reports
    values = ", ".join(["(?, ?, ?, ?, ?)"] * rows)
    return (
        "INSERT INTO messages (conversation_id, generation, role, text, resources, created_at)"
        " SELECT c.id, c.generation, v.column2, v.column3, v.column4, v.column5"
        f" FROM (VALUES {values}) AS v JOIN conversations AS c ON c.id = v.column1"
        " ORDER BY v.column5 RETURNING id, created_at"
    )


_ENCODER = json.JSONEncoder(ensure_ascii=False, default=str)  # json.dumps would build one a call


def _storable(text: str) -> str:
    """``text`` as SQLite can take it. A lone surrogate (JSON from a platform may carry
    "\\ud800") cannot be encoded as UTF-8, and one such row would fail its whole batch
    again and again; it becomes "?" instead."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


def _dumps(value: Any) -> str:
    if not value and isinstance(value, (list, dict)):  # most columns of most turns
        return "[]" if isinstance(value, list) else "{}"
    return _storable(_ENCODER.encode(value))


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


def _message_id(message: QueuedMessage | int | None) -> int | None:
    return message.id if isinstance(message, QueuedMessage) else message


def _request_row(conv_id: int, message_id: int | None, text: str, outcome: Outcome) -> tuple[Any, ...]:
    public = outcome.to_public()
    return (
        conv_id,
        message_id,
        _storable(text),
        _dumps(public["plan"]),
        public["plan_source"],
        _dumps(public["selections"]),
        _dumps(public["results"]),
        _storable(public["reply"]),
        _dumps(public["media"]),
        _dumps(public["warnings"]),
        None if public["error"] is None else _storable(public["error"]),
        public["llm_calls"],
        _dumps(public["timings"]),
        time.time(),
    )


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
        # Rows waiting for the writer (off the turn's path), in the order they came.
        self._queued: list[QueuedMessage] = []
        self._pending: list[tuple[tuple[Any, ...], QueuedMessage | int | None]] = []
        self._last_created = 0.0
        self._write_lock = asyncio.Lock()
        self._batches_written = 0  # lets the writer tell a passing hitch from a lasting failure
        self._writer: asyncio.Task[None] | None = None
        # Conversations asked for and not yet in SQLite's answer, resolved together.
        self._unresolved: dict[ConversationKey, asyncio.Future[int]] = {}
        self._resolver: asyncio.Task[None] | None = None

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
        return cls(db, path)

    async def close(self) -> None:
        """Write what is queued, then close. If that last write fails, the rows it could
        not write are counted in the log and lost with the process."""
        try:
            await self.flush()
        except Exception:
            log.error(
                "closing with %d messages and %d request-log rows unwritten",
                len(self._queued),
                len(self._pending),
            )
            raise
        finally:
            for task in (self._writer, self._resolver):
                if task is not None and not task.done():
                    task.cancel()
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
        if known is not None and any(q.conv_id == known for q in self._queued):
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
        text = _storable(text)
        self._last_created = max(time.time(), self._last_created + 1e-6)
        queued = QueuedMessage(
            conv_id, role, text, _dumps([r.to_public() for r in resources]), self._last_created
        )
        self._queued.append(queued)
        self._wake_writer()
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
        """The last ``limit`` messages since the last forget, oldest first."""
        limit = max(0, limit)
        cached = self._recent.get(conv_id)
        if cached is not None and (cached[1] or len(cached[0]) >= limit):
            self._recent.move_to_end(conv_id)
            return list(cached[0])[-limit:] if limit else []
        fetch = max(limit, RECENT_CACHED)
        await self._write_queued_before_reading()
        rows = await self._db.execute_fetchall(
            "SELECT m.role, m.text, m.resources FROM messages AS m"
            " JOIN conversations AS c ON c.id = m.conversation_id AND c.generation = m.generation"
            " WHERE m.conversation_id = ? ORDER BY m.id DESC LIMIT ?",
            (conv_id, fetch),
        )
        turns = [
            Turn(
                role=cast(Role, role),
                text=text,
                resources=tuple(Resource.from_public(r) for r in json.loads(resources)),
            )
            for role, text, resources in rows
        ]
        turns.reverse()
        turns += [  # still queued (the write failed): newer than anything on disk
            Turn(
                role=cast(Role, q.role),
                text=q.text,
                resources=tuple(map(Resource.from_public, json.loads(q.resources))),
            )
            for q in self._queued
            if q.conv_id == conv_id
        ]
        self._remember(conv_id, deque(turns, maxlen=RECENT_CACHED), complete=len(turns) < fetch)
        return turns[-limit:] if limit else []

    async def _write_queued_before_reading(self) -> None:
        """Queued messages go to SQLite before it is asked about messages. If that write
        fails (a full disk), the read goes on and adds them from the queue: a turn
        goes on rather than fail, and the rows stay queued for the writer's retry."""
        if not self._queued:
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

    async def record_request(self, conv_id: int, message_id: int | None, text: str, outcome: Outcome) -> int:
        """Keep what one request did (plan, choices, results, timings, error) for later study."""
        rows = list(
            await self._db.execute_fetchall(
                _INSERT_REQUEST + " RETURNING id", _request_row(conv_id, message_id, text, outcome)
            )
        )
        return int(rows[0][0])

    def log_request(
        self, conv_id: int, message: QueuedMessage | int | None, text: str, outcome: Outcome
    ) -> None:
        """Like ``record_request``, but written behind the turn with the other queued
        rows (``message`` may still be queued). ``flush``/``close`` write what waits."""
        self._pending.append((_request_row(conv_id, None, text, outcome), message))
        self._wake_writer()

    def _wake_writer(self) -> None:
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._write_behind())

    async def _write_behind(self) -> None:
        await asyncio.sleep(0)  # the turns handled in this loop pass queue theirs first
        first, longest = RETRY_SECONDS
        wait = first
        while self._queued or self._pending:
            written = self._batches_written
            try:
                await self.flush()
            except Exception:  # logged in flush; the rows are kept for the next try
                if self._batches_written != written:  # it got somewhere: a passing hitch
                    wait = first
                await asyncio.sleep(wait)
                wait = min(wait * 2, longest)

    async def flush(self) -> None:
        """Write every queued message and request-log row (a row's message first).

        The write runs in a task of its own: a caller cancelled meanwhile (a turn
        stopped at shutdown) must not stop it between SQLite storing the rows and the
        ids being handed back. Raises what a transient failure raised; the rows stay
        queued for the next flush."""
        job = asyncio.ensure_future(self._write_all())
        job.add_done_callback(_seen)
        await asyncio.shield(job)

    async def _write_all(self) -> None:
        async with self._write_lock:
            while self._queued or self._pending:
                if self._queued:  # messages first: a log row needs its message's id
                    batch = self._queued[:ROWS_PER_STATEMENT]
                    del self._queued[:ROWS_PER_STATEMENT]
                    await self._write_batch(batch, self._write_messages, self._queued, "messages")
                else:
                    logged = self._pending[:ROWS_PER_STATEMENT]
                    del self._pending[:ROWS_PER_STATEMENT]
                    await self._write_batch(logged, self._write_requests, self._pending, "request-log rows")

    async def _write_batch(
        self, batch: list[Any], write: Callable[[list[Any]], Awaitable[None]], queue: list[Any], what: str
    ) -> None:
        """One statement for the batch. A transient failure (locked, disk full: an
        OperationalError) puts it back at the head of ``queue`` and raises; any other
        failure is a row SQLite will never take, so the rows are tried one by one and
        only those failing alone are dropped (logged), not retried forever."""
        try:
            await write(batch)
            self._batches_written += 1
            return
        except sqlite3.OperationalError:
            queue[:0] = batch
            log.exception("could not write %d %s; will retry", len(batch), what)
            raise
        except Exception:
            if len(batch) == 1:
                log.exception("dropped %s SQLite refuses: %r", what, batch[0])
                return
        for n, row in enumerate(batch):
            try:
                await self._write_batch([row], write, queue, what)
            except sqlite3.OperationalError:
                queue[1:1] = batch[n + 1 :]  # after the row just put back, in order
                raise

    async def _write_messages(self, batch: list[QueuedMessage]) -> None:
        params: list[Any] = []
        for m in batch:
            params += (m.conv_id, m.role, m.text, m.resources, m.created_at)
        written = dict(
            (created_at, int(row_id))
            for row_id, created_at in await self._db.execute_fetchall(
                _insert_messages_sql(len(batch)), params
            )
        )
        for m in batch:
            m.id = written.get(m.created_at)
            if m.id is None:
                log.warning("message for conversation %s not written: no such conversation", m.conv_id)

    async def _write_requests(self, batch: list[tuple[tuple[Any, ...], QueuedMessage | int | None]]) -> None:
        # one multi-row statement: all rows or none (executemany commits row by row here,
        # so a retry after a failure in the middle would write the first rows twice)
        params: list[Any] = []
        for row, message in batch:
            params += (row[0], _message_id(message), *row[2:])
        await self._db.execute(_insert_requests_sql(len(batch)), params)

    async def requests(self, conv_id: int) -> list[dict[str, Any]]:
        """The conversation's request log, oldest first, JSON columns decoded."""
        await self.flush()
        cursor = await self._db.execute(
            "SELECT id, conversation_id, message_id, text, plan, plan_source, selections, results,"
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

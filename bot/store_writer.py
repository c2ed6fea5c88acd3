"""Writing the store's rows behind the turn: messages and request-log rows (group commit).

Why: a turn that waited for its own INSERT waited behind every other conversation's
writes on aiosqlite's single thread (at 100 conversations at once, 10-50 ms a
message, twice a turn). Here a turn queues its rows and goes on; one writer task
puts everything queued in one multi-row INSERT per table as soon as the loop is free,
and what arrives while that statement runs shares the next one: a burst of 1,000
turns costs a few statements, not thousands of round trips.

What holds:
- a conversation's messages get ids in the order they were queued, and a log row
  is written only once no message is queued, so its message has its id;
- a transient failure (an ``OperationalError``: locked, disk full) keeps the batch
  and the writer retries with a growing wait that starts over once a write gets
  somewhere; a row SQLite will never take is dropped alone (logged), never holding
  back the rows after it;
- a write runs in a task of its own, so a caller cancelled meanwhile (a turn
  stopped at shutdown) cannot stop it between SQLite storing the rows and the ids
  being handed back;
- what is queued when the process is killed (a few milliseconds of turns) is lost
  with the turns in flight; ``flush`` before closing writes the rest.

The SQL for these two tables lives here; the rest is in bot/store.py and bot/migrations.py.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiosqlite
import orjson

from engine.types import Outcome

log = logging.getLogger(__name__)

ROWS_PER_STATEMENT = 400  # 5 or 15 parameters a row: far below SQLite's 32,766
RETRY_SECONDS = (1.0, 60.0)  # first and longest wait before writing failed rows again

_REQUEST_COLUMNS = (
    "INSERT INTO requests (conversation_id, message_id, text, plan, plan_source, plan_note, selections,"
    " results, reply, media, warnings, error, llm_calls, timings, created_at) VALUES "
)
_REQUEST_VALUES = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"

# What orjson refuses (a lone surrogate, an integer past 64 bits) the standard encoder takes
_ENCODER = json.JSONEncoder(ensure_ascii=False, default=str)  # json.dumps would build one a call


@dataclass(eq=False, slots=True)
class QueuedMessage:
    """A message waiting to be written; ``id`` is set once its row is in SQLite.

    ``created_at`` is unique within the writer (strictly increasing), so the rows a
    multi-row INSERT returns are matched back to their messages by it."""

    conv_id: int
    role: str
    text: str
    resources: str
    created_at: float
    id: int | None = None


LogRow = tuple[tuple[Any, ...], QueuedMessage | int | None]  # a request row and its user message


def storable(text: str) -> str:
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


def dumps(value: Any) -> str:
    """A JSON column's text. orjson rather than the standard encoder: a few JSON
    columns a turn with the standard one were about 7 % of a turn's instructions at
    300 conversations at once (0.5 us a call instead of 5 here)."""
    if not value and isinstance(value, (list, dict)):  # most columns of most turns
        return "[]" if isinstance(value, list) else "{}"
    try:
        return orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS).decode()
    except orjson.JSONEncodeError:
        return storable(_ENCODER.encode(value))


def request_row(conv_id: int, message_id: int | None, text: str, outcome: Outcome) -> tuple[Any, ...]:
    """One request-log row: the values for ``_REQUEST_COLUMNS``, in their order."""
    public = outcome.to_public()
    return (
        conv_id,
        message_id,
        storable(text),
        dumps(public["plan"]),
        public["plan_source"],
        public["plan_note"],
        dumps(public["selections"]),
        dumps(public["results"]),
        storable(public["reply"]),
        dumps(public["media"]),
        dumps(public["warnings"]),
        None if public["error"] is None else storable(public["error"]),
        public["llm_calls"],
        dumps(public["timings"]),
        time.time(),
    )


class WriteBehind:
    """The queue of rows not yet in SQLite and the task that writes them."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db
        self.messages: list[QueuedMessage] = []  # in the order they came
        self.log_rows: list[LogRow] = []
        self._last_created = 0.0
        self._lock = asyncio.Lock()
        self._batches_written = 0  # lets the writer tell a passing hitch from a lasting failure
        self._task: asyncio.Task[None] | None = None

    def message(self, conv_id: int, role: str, text: str, resources: str) -> QueuedMessage:
        """Queue a message (its text already ``storable``)."""
        self._last_created = max(time.time(), self._last_created + 1e-6)
        queued = QueuedMessage(conv_id, role, text, resources, self._last_created)
        self.messages.append(queued)
        self._wake()
        return queued

    def log_row(self, row: tuple[Any, ...], message: QueuedMessage | int | None) -> None:
        """Queue a request-log row; its ``message_id`` is ``message``'s id once written."""
        self.log_rows.append((row, message))
        self._wake()

    @property
    def batches_written(self) -> int:
        """Statements that stored rows so far (the checkpointer runs when this moves)."""
        return self._batches_written

    def queued_for(self, conv_id: int) -> list[QueuedMessage]:
        return [m for m in self.messages if m.conv_id == conv_id]

    async def flush(self) -> None:
        """Write everything queued. Raises what a transient failure raised; the rows
        stay queued for the next try."""
        job = asyncio.ensure_future(self._write_all())
        job.add_done_callback(_seen)
        await asyncio.shield(job)

    def stop(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()

    def _wake(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        await asyncio.sleep(0)  # the turns handled in this loop pass queue theirs first
        first, longest = RETRY_SECONDS
        wait = first
        while self.messages or self.log_rows:
            written = self._batches_written
            try:
                await self.flush()
            except Exception:  # logged in _write_batch; the rows are kept for the next try
                if self._batches_written != written:  # it got somewhere: a passing hitch
                    wait = first
                await asyncio.sleep(wait)
                wait = min(wait * 2, longest)

    async def _write_all(self) -> None:
        async with self._lock:
            while self.messages or self.log_rows:
                if self.messages:  # messages first: a log row needs its message's id
                    batch = self.messages[:ROWS_PER_STATEMENT]
                    del self.messages[:ROWS_PER_STATEMENT]
                    await self._write_batch(batch, self._write_messages, self.messages, "messages")
                else:
                    rows = self.log_rows[:ROWS_PER_STATEMENT]
                    del self.log_rows[:ROWS_PER_STATEMENT]
                    await self._write_batch(rows, self._write_log_rows, self.log_rows, "request-log rows")

    async def _write_batch(
        self, batch: list[Any], write: Callable[[list[Any]], Awaitable[None]], queue: list[Any], what: str
    ) -> None:
        """One statement for the batch. A transient failure puts it back at the head of
        ``queue`` and raises; any other failure is a row SQLite will never take, so the
        rows are tried one by one and only those failing alone are dropped (logged)."""
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
        written = {
            created_at: int(row_id)
            for row_id, created_at in await self._db.execute_fetchall(
                _insert_messages_sql(len(batch)), params
            )
        }
        for m in batch:
            m.id = written.get(m.created_at)
            if m.id is None:
                log.warning("message for conversation %s not written: no such conversation", m.conv_id)

    async def _write_log_rows(self, batch: list[LogRow]) -> None:
        # one multi-row statement: all rows or none (executemany commits row by row here,
        # so a retry after a failure in the middle would write the first rows twice)
        params: list[Any] = []
        for row, message in batch:
            params += (row[0], _message_id(message), *row[2:])
        await self._db.execute(_REQUEST_COLUMNS + ", ".join([_REQUEST_VALUES] * len(batch)), params)


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


def _message_id(message: QueuedMessage | int | None) -> int | None:
    return message.id if isinstance(message, QueuedMessage) else message


def _seen(job: asyncio.Future[None]) -> None:
    """Retrieve a flush's outcome when its caller was cancelled (logged where it failed)."""
    if not job.cancelled():
        job.exception()

"""The conversation store: one SQLite file holding conversations, messages and requests.

Write-through: every method that writes returns once its rows are committed, so a
turn is on disk before ConversationService hands its reply to an adapter. Each
write is one statement in autocommit mode, which is one transaction: concurrent
coroutines on the one aiosqlite connection (one worker thread, which serialises
the process's statements) never see or wrap each other's half-done work.

Conversation ids are remembered once known: they never change (``/forget`` bumps a
generation instead), so a turn asks SQLite only for its context and writes its rows.

Durability: WAL mode with ``synchronous = NORMAL``. A committed row survives the
process being killed at any moment (``kill -9``, an out-of-memory kill): the commit
has been written to the WAL file, which the kernel keeps. Against power loss or an
operating-system crash, the transactions committed since the last checkpoint may be
rolled back (the WAL is synced at checkpoints, not at each commit); the database is
never corrupted. ``synchronous = FULL`` would sync each commit, at a disk flush a turn.
WAL also lets a reader (a benchmark, ``sqlite3`` in a shell, a second shard process)
look in while the bot writes.

``/forget`` bumps the conversation's ``generation``: context is the messages of the
current generation only. Older messages are deleted at once; the requests log (plan,
choices, results, timings: what the reference kept in log_success.jsonl) is kept,
with its ``message_id`` set to NULL, so operators can still see what ran.

Everything written passes ``valid_text`` (SQLite takes only valid UTF-8) and the
store's redactor (no configured secret or token-shaped string reaches the file).

All SQL lives here and in bot/migrations.py.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, cast

import aiosqlite

from adapters.base import ConversationKey
from bot.migrations import migrate
from engine.secrets import Redactor
from engine.text_hygiene import valid_text
from engine.types import Outcome, Resource, Turn

Role = Literal["user", "assistant"]
_ROLES: frozenset[str] = frozenset({"user", "assistant"})

_PRAGMAS = (
    # first: the next pragmas and the migrations may meet another process (a CLI, a
    # second shard starting at the same moment) holding the lock briefly
    "PRAGMA busy_timeout = 5000",
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = NORMAL",  # see the module docstring: durable against a killed process
    "PRAGMA foreign_keys = ON",
)

KNOWN_CONVERSATIONS = 100_000  # ids remembered; past that the map starts over

_REQUEST_JSON_FIELDS = ("plan", "selections", "results", "media", "warnings", "timings")

_INSERT_MESSAGE = (
    "INSERT INTO messages (conversation_id, generation, role, text, resources, created_at)"
    " SELECT id, generation, ?, ?, ?, ? FROM conversations WHERE id = ? RETURNING id"
)
_INSERT_REQUEST = (
    "INSERT INTO requests (conversation_id, message_id, text, plan, plan_source, plan_note, selections,"
    " results, reply, media, warnings, error, llm_calls, timings, created_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id"
)


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


class Store:
    """Async access to the bot's database. Build with ``await Store.open(path)``."""

    def __init__(self, db: aiosqlite.Connection, path: Path, redactor: Redactor | None = None) -> None:
        self._db = db
        self.path = path
        self._redactor = redactor or Redactor()
        self._ids: dict[ConversationKey, int] = {}

    @classmethod
    async def open(cls, path: Path, redactor: Redactor | None = None) -> Store:
        """Open (creating folders and file as needed) and bring the schema up to date.
        ``redactor`` knows the configured secrets; without one, token shapes are still
        redacted."""
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
        return cls(db, path, redactor)

    async def close(self) -> None:
        """Close the connection; everything written is already committed."""
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

    def _text(self, text: str) -> str:
        return self._redactor.redact(valid_text(text))

    def _json(self, value: Any) -> str:
        if not value and isinstance(value, (list, dict)):  # most columns of most turns
            return "[]" if isinstance(value, list) else "{}"
        return self._text(json.dumps(value, ensure_ascii=False, default=str))

    # conversations -------------------------------------------------------------

    async def conversation_id(self, key: ConversationKey) -> int:
        """Get or create the row for ``key``; safe when callers (or processes) race on a key."""
        known = self._ids.get(key)
        if known is not None:
            return known
        where = (key.platform, key.workspace, key.channel, key.thread)
        found = await self._conversation(where)
        if found is not None:
            return self._remember(key, found)
        await self._db.execute(
            "INSERT INTO conversations (platform, workspace, channel, thread, created_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (platform, workspace, channel, thread) DO NOTHING",
            (*where, time.time()),
        )
        found = await self._conversation(where)
        if found is None:
            raise LookupError(f"SQLite returned no row for conversation {key}")
        return self._remember(key, found)

    def _remember(self, key: ConversationKey, conv_id: int) -> int:
        if len(self._ids) >= KNOWN_CONVERSATIONS:
            self._ids.clear()  # looked up again when next used
        self._ids[key] = conv_id
        return conv_id

    async def _conversation(self, where: tuple[str, str, str, str]) -> int | None:
        rows = list(
            await self._db.execute_fetchall(
                "SELECT id FROM conversations"
                " WHERE platform = ? AND workspace = ? AND channel = ? AND thread = ?",
                where,
            )
        )
        return int(rows[0][0]) if rows else None

    async def has_context(self, key: ConversationKey) -> bool:
        """True when ``key``'s conversation exists and has messages since its last forget."""
        rows = await self._db.execute_fetchall(
            "SELECT 1 FROM conversations AS c JOIN messages AS m"
            " ON m.conversation_id = c.id AND m.generation = c.generation"
            " WHERE c.platform = ? AND c.workspace = ? AND c.channel = ? AND c.thread = ? LIMIT 1",
            (key.platform, key.workspace, key.channel, key.thread),
        )
        return bool(list(rows))

    async def forget(self, conv_id: int) -> None:
        """Clear the context: later ``recent_turns`` start empty; old messages are deleted.

        Two statements, each its own transaction: after the UPDATE the old generation is
        out of context even if the DELETE that tidies after it fails."""
        await self._db.execute(
            "UPDATE conversations SET generation = generation + 1, cleared_at = ? WHERE id = ?",
            (time.time(), conv_id),
        )
        await self._db.execute(
            "DELETE FROM messages WHERE conversation_id = ? AND generation <"
            " (SELECT generation FROM conversations WHERE id = ?)",
            (conv_id, conv_id),
        )

    # messages --------------------------------------------------------------------

    async def add_message(
        self, conv_id: int, role: Role, text: str, resources: Sequence[Resource] = ()
    ) -> int:
        """Append a message to the conversation's current generation; return its id once
        committed. Raises KeyError for a conversation that does not exist."""
        if role not in _ROLES:
            raise ValueError(f"role must be user or assistant, not {role!r}")
        rows = list(
            await self._db.execute_fetchall(
                _INSERT_MESSAGE,
                (
                    role,
                    self._text(text),
                    self._json([r.to_public() for r in resources]),
                    time.time(),
                    conv_id,
                ),
            )
        )
        if not rows:
            raise KeyError(f"no conversation with id {conv_id}")
        return int(rows[0][0])

    async def recent_turns(self, conv_id: int, limit: int = 40) -> list[Turn]:
        """The last ``limit`` messages since the last forget, oldest first."""
        if limit <= 0:
            return []
        rows = await self._db.execute_fetchall(
            "SELECT m.role, m.text, m.resources FROM messages AS m"
            " JOIN conversations AS c ON c.id = m.conversation_id AND c.generation = m.generation"
            " WHERE m.conversation_id = ? ORDER BY m.id DESC LIMIT ?",
            (conv_id, limit),
        )
        turns = [Turn(cast(Role, role), text, _resources(raw)) for role, text, raw in rows]
        turns.reverse()
        return turns

    async def message_count(self) -> int:
        rows = list(await self._db.execute_fetchall("SELECT COUNT(*) FROM messages"))
        return int(rows[0][0])

    # requests --------------------------------------------------------------------

    async def log_request(self, conv_id: int, message_id: int | None, text: str, outcome: Outcome) -> int:
        """Keep what one request did (plan, choices, results, timings, error) for later
        study; ``message_id`` is the user's message that asked. Returns the row's id."""
        public = outcome.to_public()
        rows = list(
            await self._db.execute_fetchall(
                _INSERT_REQUEST,
                (
                    conv_id,
                    message_id,
                    self._text(text),
                    self._json(public["plan"]),
                    public["plan_source"],
                    None if public.get("plan_note") is None else self._text(public["plan_note"]),
                    self._json(public["selections"]),
                    self._json(public["results"]),
                    self._text(public["reply"]),
                    self._json(public["media"]),
                    self._json(public["warnings"]),
                    None if public["error"] is None else self._text(public["error"]),
                    public["llm_calls"],
                    self._json(public["timings"]),
                    time.time(),
                ),
            )
        )
        return int(rows[0][0])

    async def record_reply(
        self,
        conv_id: int,
        asked: int | None,
        text: str,
        outcome: Outcome,
        resources: Sequence[Resource] | None = None,
    ) -> None:
        """Store a turn's outcome: its request-log row, then the reply as the assistant's
        message with ``resources`` (by default the reply's media). When this returns both
        are committed; a process killed between the two leaves the log row without the
        reply, which nobody was shown."""
        await self.log_request(conv_id, asked, text, outcome)
        kept = outcome.reply.media if resources is None else resources
        await self.add_message(conv_id, "assistant", outcome.reply.text, kept)

    async def requests(self, conv_id: int) -> list[dict[str, Any]]:
        """The conversation's request log, oldest first, JSON columns decoded."""
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


def _resources(raw: str) -> tuple[Resource, ...]:
    if raw == "[]":  # most messages carry no files
        return ()
    return tuple(Resource.from_public(item) for item in json.loads(raw))

"""Named schema migrations for the conversation store.

Each migration has a name and a list of SQL statements. The ``migrations`` table
records the names already applied, so opening a database applies only what is new,
in list order, each inside its own transaction. Names are never renamed or
reordered once shipped: to change the schema, append a migration.

All SQL of the store lives here and in bot/store.py (style habit 5).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import aiosqlite


@dataclass(frozen=True)
class Migration:
    name: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        "m001_conversations",
        (
            """
            CREATE TABLE conversations (
                id INTEGER PRIMARY KEY,
                platform TEXT NOT NULL,
                workspace TEXT NOT NULL,
                channel TEXT NOT NULL,
                thread TEXT NOT NULL DEFAULT '',
                created_at REAL NOT NULL,
                cleared_at REAL,
                generation INTEGER NOT NULL DEFAULT 0,
                UNIQUE (platform, workspace, channel, thread)
            )
            """,
        ),
    ),
    Migration(
        "m002_messages",
        (
            """
            CREATE TABLE messages (
                id INTEGER PRIMARY KEY,
                conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
                generation INTEGER NOT NULL DEFAULT 0,
                role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
                text TEXT NOT NULL,
                resources TEXT NOT NULL DEFAULT '[]',
                created_at REAL NOT NULL
            )
            """,
            # "the last N messages of this conversation since the last /forget"
            "CREATE INDEX messages_recent ON messages (conversation_id, generation, id)",
        ),
    ),
    Migration(
        "m003_requests",
        (
            """
            CREATE TABLE requests (
                id INTEGER PRIMARY KEY,
                conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
                message_id INTEGER REFERENCES messages(id) ON DELETE SET NULL,
                text TEXT NOT NULL,
                plan TEXT NOT NULL DEFAULT '[]',
                plan_source TEXT,
                selections TEXT NOT NULL DEFAULT '[]',
                results TEXT NOT NULL DEFAULT '[]',
                reply TEXT NOT NULL DEFAULT '',
                media TEXT NOT NULL DEFAULT '[]',
                warnings TEXT NOT NULL DEFAULT '[]',
                error TEXT,
                llm_calls INTEGER NOT NULL DEFAULT 0,
                timings TEXT NOT NULL DEFAULT '{}',
                created_at REAL NOT NULL
            )
            """,
            "CREATE INDEX requests_conversation ON requests (conversation_id, id)",
            # ON DELETE SET NULL on message_id scans requests by message when /forget deletes
            "CREATE INDEX requests_message ON requests (message_id)",
        ),
    ),
    # why a plan is not the one its source usually makes (the LLM failed, the picker's plan stood)
    Migration("m004_request_plan_note", ("ALTER TABLE requests ADD COLUMN plan_note TEXT",)),
)


_CREATE_LEDGER = """
CREATE TABLE IF NOT EXISTS migrations (
    name TEXT PRIMARY KEY,
    applied_at REAL NOT NULL
)
"""


async def applied(db: aiosqlite.Connection) -> list[str]:
    """Names recorded in the ledger, in the order they were applied."""
    await db.execute(_CREATE_LEDGER)
    rows = await db.execute_fetchall("SELECT name FROM migrations ORDER BY rowid")
    return [r[0] for r in rows]


async def migrate(db: aiosqlite.Connection, migrations: tuple[Migration, ...] = MIGRATIONS) -> list[str]:
    """Apply the migrations not yet recorded; return the names applied now.

    Expects a connection in autocommit mode (``isolation_level=None``) so the
    explicit BEGIN/COMMIT here are the only transactions.
    """
    done = set(await applied(db))
    now_applied: list[str] = []
    for migration in migrations:
        if migration.name in done:
            continue
        await db.execute("BEGIN IMMEDIATE")
        try:
            # another process (a second shard starting at the same moment) may have applied
            # it while this one waited for the write lock: the ledger read now is final
            if migration.name in await applied(db):
                await db.execute("COMMIT")
                continue
            for sql in migration.statements:
                await db.execute(sql)
            await db.execute(
                "INSERT INTO migrations (name, applied_at) VALUES (?, ?)", (migration.name, time.time())
            )
        except BaseException:
            await db.execute("ROLLBACK")
            raise
        await db.execute("COMMIT")
        now_applied.append(migration.name)
    return now_applied

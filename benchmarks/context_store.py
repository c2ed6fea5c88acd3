"""Figure 5: load-context plus append latency with 1,000,000 stored messages.

The database is made by ``Store.open`` (so the schema and indexes are the store's
own migrations), then filled in one transaction with ``executemany`` through the
bulk helper below: ``conversations`` conversations, messages interleaved round-robin
(as many channels talking at once write them), about 120 characters each, every
twentieth with a file resource. Then, through the Store's async API as the bot uses
it, each operation is ``recent_turns(conv, 40)`` followed by ``add_message`` on a
random conversation; p50 and p99 of the pair are the figure, with each half shown.
The garbage collector is set as a bot process sets it (bot/heap.py). With CPython's
defaults, 2,000 operations here ran 124 young collections, 12 middle ones (1.6-2.5 ms)
and a full one (34 ms, over the cached turns); settled, 4 young ones of about 4 ms.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks.harness import bot_collector, ms_summary, result
from bot.store import Store

NAME = "context_store"
TITLE = "Context store: recent_turns + add_message latency at 1M messages"
GOAL = "p99 < 5 ms"
QUICK: dict[str, Any] = {"messages": 20_000, "conversations": 200, "operations": 100}

_TEXT = "please look at the picture I sent earlier and tell me what the sign in the corner says, thanks {}"
_RESOURCE = json.dumps([{"kind": "image", "path": "/data/artifacts/x/in/photo.jpg", "name": "photo.jpg"}])


async def run(
    messages: int = 1_000_000, conversations: int = 10_000, operations: int = 2000, history: int = 40
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-store-") as tmp:
        path = Path(tmp) / "bot.sqlite3"
        store = await Store.open(path)  # creates the file through the store's migrations
        await store.close()
        started = time.perf_counter()
        bulk_fill(path, messages, conversations)
        build_s = time.perf_counter() - started
        store = await Store.open(path)
        try:
            stored = await store.message_count()
            with bot_collector():
                both, loads, appends = await _measure(store, conversations, operations, history)
        finally:
            await store.close()
        size_mb = path.stat().st_size / 1e6
    summary = ms_summary(both)
    return result(
        NAME,
        TITLE,
        value=summary["p99_ms"],
        unit="ms (p99 of load + append)",
        goal=GOAL,
        passed=summary["p99_ms"] < 5.0,
        params={
            "messages": messages,
            "conversations": conversations,
            "operations": operations,
            "history_limit": history,
        },
        stored_messages=stored,
        build_s=round(build_s, 2),
        db_mb=round(size_mb, 1),
        load_plus_append=summary,
        load=ms_summary(loads),
        append=ms_summary(appends),
    )


async def _measure(
    store: Store, conversations: int, operations: int, history: int
) -> tuple[list[float], list[float], list[float]]:
    rng = random.Random(7)
    both, loads, appends = [], [], []
    for n in range(operations + 50):
        conv = rng.randrange(1, conversations + 1)
        t0 = time.perf_counter()
        await store.recent_turns(conv, limit=history)
        t1 = time.perf_counter()
        await store.add_message(conv, "user", _TEXT.format(n))
        t2 = time.perf_counter()
        if n >= 50:  # the first ones warm the page cache
            both.append(t2 - t0)
            loads.append(t1 - t0)
            appends.append(t2 - t1)
    return both, loads, appends


def bulk_fill(path: Path, messages: int, conversations: int) -> None:
    """Insert conversations and messages fast, straight into the store's tables.

    A benchmark-only helper: the bot itself writes through ``Store``.
    """
    now = time.time()
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = OFF")
        db.execute("BEGIN")
        db.executemany(
            "INSERT INTO conversations (id, platform, workspace, channel, thread, created_at)"
            " VALUES (?, ?, ?, ?, '', ?)",
            ((i, "bench", "w", f"c{i}", now) for i in range(1, conversations + 1)),
        )
        db.executemany(
            "INSERT INTO messages (conversation_id, generation, role, text, resources, created_at)"
            " VALUES (?, 0, ?, ?, ?, ?)",
            _rows(messages, conversations, now),
        )
        db.execute("COMMIT")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()
    # synchronous=OFF left the 160 MB build in the page cache, dirty: flushed by the
    # kernel during the measurement, and by the store's first checkpoint, it had put
    # the build's disk writes into the figure (a store written over days has none)
    with open(path, "rb+") as file:
        os.fsync(file.fileno())


def _rows(messages: int, conversations: int, now: float) -> Iterator[tuple[int, str, str, str, float]]:
    for n in range(messages):
        yield (
            n % conversations + 1,
            "user" if n // conversations % 2 == 0 else "assistant",
            _TEXT.format(n),
            _RESOURCE if n % 20 == 0 else "[]",
            now + n * 1e-3,
        )

"""Checkpointing SQLite's write-ahead log on a connection of its own, off the store's thread.

Why: by default SQLite checkpoints inside the commit that takes the log past 1,000
pages, and that checkpoint ends in an fsync. The store has one aiosqlite thread, so
every 4 MB or so of writes it stood still for 100-150 ms on this machine, and every
read and write queued behind it (a turn loading uncached context, the next batch of
messages) waited as long. In WAL mode a checkpoint may run on any connection while
others read and write, so this one runs a PASSIVE checkpoint (never waits for, nor
blocks, readers and writers) from a worker thread after writes, at most every
``interval`` seconds. The store's own connection keeps an automatic checkpoint too,
at ``SAFETY_NET_PAGES``: if this one falls behind or fails, the log still cannot grow
without bound.

Several processes (gateway shards) may checkpoint one file: SQLite lets one run at a
time and the others return at once, which is harmless.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

SAFETY_NET_PAGES = 10_000  # the store connection's own automatic checkpoint (about 40 MB)


class Checkpointer:
    """Runs ``PRAGMA wal_checkpoint(PASSIVE)`` in a thread whenever ``writes()`` has moved
    since the last run, at most every ``interval`` seconds. ``start`` needs a running loop;
    ``close`` waits for a checkpoint in progress, then closes the connection."""

    def __init__(self, path: Path, writes: Callable[[], int], interval: float = 0.5) -> None:
        self.path = path
        self.interval = interval
        self.checkpoints = 0  # runs that found log pages in the database file (tests, diagnostics)
        self._writes = writes
        self._seen = writes()
        self._conn: sqlite3.Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self._job: asyncio.Future[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        if self._job is not None and not self._job.done():
            await asyncio.wait([self._job])  # the thread cannot be stopped: let it finish
        if self._job is not None and not self._job.cancelled():
            self._job.exception()  # logged by _run unless it was cancelled meanwhile
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            written = self._writes()
            if written == self._seen:
                continue
            self._job = asyncio.ensure_future(asyncio.to_thread(self._checkpoint))
            try:
                await asyncio.shield(self._job)
            except Exception as exc:  # a busy or full disk: the next run (or the safety net) retries
                log.warning("background checkpoint of %s failed: %s", self.path, exc)
            else:
                self._seen = written

    def _checkpoint(self) -> None:
        if self._conn is None:
            self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._conn.execute("PRAGMA synchronous = NORMAL")
        busy, log_pages, moved = self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        if moved > 0:
            self.checkpoints += 1
        log.debug("checkpoint of %s: busy=%s, log pages %s, moved %s", self.path, busy, log_pages, moved)

"""The write-ahead log is checkpointed on a connection of its own, in a worker thread,
after writes; the store's connection checkpoints only as a safety net; a failing
checkpoint is logged and retried; closing waits for one in progress."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from pathlib import Path

from adapters.base import ConversationKey
from bot.checkpointer import SAFETY_NET_PAGES, Checkpointer
from bot.store import Store

KEY = ConversationKey("discord", "guild-1", "chan-1")


def _log_pages(path: Path) -> int:
    """Pages in the write-ahead log (asked with a PASSIVE checkpoint of a fresh connection)."""
    with sqlite3.connect(path) as db:
        return db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1]


async def _write(store: Store, messages: int) -> None:
    conv = await store.conversation_id(KEY)
    for n in range(messages):
        store.append_message(conv, "user", f"message {n} " + "x" * 1000)
    await store.flush()


async def _until(condition, seconds: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_written_pages_reach_the_database_file_without_the_store_connection_checkpointing(tmp_path):
    store = await Store.open(tmp_path / "bot.sqlite3")
    wal = Path(f"{store.path}-wal")
    try:
        async with store._db.execute("PRAGMA wal_autocheckpoint") as cursor:
            assert (await cursor.fetchone())[0] == SAFETY_NET_PAGES
        await store.checkpointer.close()  # stopped: what does the store's connection do alone?
        await _write(store, 5000)  # over 5 MB: past SQLite's default checkpoint at 1,000 pages (4 MB)
        assert wal.stat().st_size > 5_000_000  # not checkpointed on the store's thread
        store.checkpointer.interval = 0.02
        store.checkpointer.start()
        await _until(lambda: store.checkpointer.checkpoints > 0)
        await _write(store, 5)
        # the log was all in the database file, so the next write started it over
        assert _log_pages(store.path) < 50
    finally:
        await store.close()


async def test_no_write_no_checkpoint(tmp_path):
    store = await Store.open(tmp_path / "bot.sqlite3")
    try:
        store.checkpointer.interval = 0.02
        calls = []
        store.checkpointer._checkpoint = lambda: calls.append(1)  # type: ignore[method-assign]
        await asyncio.sleep(0.2)
        assert calls == []
        await _write(store, 3)
        await _until(lambda: calls != [])
    finally:
        await store.close()


async def test_a_failed_checkpoint_is_logged_and_tried_again(tmp_path, caplog):
    store = await Store.open(tmp_path / "bot.sqlite3")
    real = store.checkpointer._checkpoint
    failures = []

    def flaky() -> None:
        if not failures:
            failures.append(1)
            raise sqlite3.OperationalError("disk I/O error")
        real()

    try:
        store.checkpointer.interval = 0.02
        store.checkpointer._checkpoint = flaky  # type: ignore[method-assign]
        with caplog.at_level(logging.WARNING, logger="bot.checkpointer"):
            await _write(store, 50)
            await _until(lambda: failures != [])
            await _until(lambda: store.checkpointer.checkpoints > 0)  # no further write needed
        assert "background checkpoint" in caplog.text and "disk I/O error" in caplog.text
    finally:
        await store.close()


async def test_closing_waits_for_a_checkpoint_in_progress(tmp_path):
    path = tmp_path / "bot.sqlite3"
    store = await Store.open(path)
    started, release = threading.Event(), threading.Event()
    real = store.checkpointer._checkpoint
    finished = []

    def slow() -> None:
        started.set()
        release.wait(5)
        real()
        finished.append(1)

    store.checkpointer.interval = 0.02
    store.checkpointer._checkpoint = slow  # type: ignore[method-assign]
    await _write(store, 20)
    await asyncio.to_thread(started.wait, 5)
    closing = asyncio.create_task(store.close())
    await asyncio.sleep(0.1)
    assert not closing.done()  # the thread is still using its connection
    release.set()
    await closing
    assert finished == [1]
    with sqlite3.connect(path) as db:  # everything written is readable
        assert db.execute("SELECT count(*) FROM messages").fetchone()[0] == 20


async def test_two_stores_checkpointing_one_file(tmp_path):
    """Two checkpointers on one file (two shard processes) do not get in each other's way."""
    path = tmp_path / "bot.sqlite3"
    first, second = await Store.open(path), await Store.open(path)
    try:
        for store in (first, second):
            store.checkpointer.interval = 0.02
        await asyncio.gather(_write(first, 500), _write(second, 500))
        await _until(lambda: first.checkpointer.checkpoints + second.checkpointer.checkpoints > 0)
    finally:
        await first.close()
        await second.close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM messages").fetchone()[0] == 1000


async def test_a_checkpointer_never_started_closes_cleanly(tmp_path):
    checkpointer = Checkpointer(tmp_path / "none.sqlite3", lambda: 0)
    await checkpointer.close()
    assert checkpointer.checkpoints == 0

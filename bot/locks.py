"""One lock per conversation: turns of a conversation run in order, others concurrently.

Locks are created on demand and dropped when nobody holds or waits for them, so a
bot that has seen a million channels does not keep a million locks.

``hold`` returns a small context-manager object rather than an
``@asynccontextmanager`` generator: every turn takes a lock, and the generator
machinery cost about 4 % of a turn's event-loop time at 1,000 conversations.
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable
from types import TracebackType


class KeyedLocks:
    def __init__(self) -> None:
        self._locks: dict[Hashable, tuple[asyncio.Lock, int]] = {}

    def hold(self, key: Hashable) -> _Held:
        """``async with locks.hold(key):`` runs the block once earlier holders of ``key`` are done."""
        return _Held(self, key)

    def waiting(self, key: Hashable) -> int:
        """How many turns hold or wait for ``key``'s lock right now."""
        return self._locks.get(key, (None, 0))[1]

    def __len__(self) -> int:
        return len(self._locks)

    def _join(self, key: Hashable) -> asyncio.Lock:
        lock, users = self._locks.get(key) or (asyncio.Lock(), 0)
        self._locks[key] = (lock, users + 1)
        return lock

    def _leave(self, key: Hashable) -> None:
        lock, users = self._locks[key]
        if users <= 1:
            del self._locks[key]
        else:
            self._locks[key] = (lock, users - 1)


class _Held:
    """One turn's claim on a key: counted from the moment it is entered, so ``waiting``
    sees it while it queues, and released (or given up, if cancelled while queued) on exit."""

    __slots__ = ("_locks", "_key", "_lock")

    def __init__(self, locks: KeyedLocks, key: Hashable) -> None:
        self._locks = locks
        self._key = key

    async def __aenter__(self) -> None:
        self._lock = self._locks._join(self._key)
        try:
            await self._lock.acquire()
        except BaseException:  # cancelled while queued: no longer a user of the key
            self._locks._leave(self._key)
            raise

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._lock.release()
        self._locks._leave(self._key)

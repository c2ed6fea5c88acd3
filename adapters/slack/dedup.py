"""Bounded memory of recently seen ids: Slack event de-duplication and bot threads.

Slack re-delivers an event (same ``event_id``, an ``X-Slack-Retry-Num`` header or a
Socket Mode ``retry_attempt``) when it did not see an ack in time, and Bolt does not
de-duplicate, so every event is checked here before any work starts. Entries expire
after ``ttl`` seconds and the oldest are dropped past ``capacity``: memory stays flat.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable


class RecentIds:
    def __init__(
        self, capacity: int = 10_000, ttl: float = 3600.0, clock: Callable[[], float] = time.monotonic
    ):
        self._capacity = capacity
        self._ttl = ttl
        self._clock = clock
        self._seen: OrderedDict[Hashable, float] = OrderedDict()

    def add(self, item: Hashable) -> None:
        self._seen[item] = self._clock()
        self._seen.move_to_end(item)
        self._prune()

    def __contains__(self, item: Hashable) -> bool:
        stamp = self._seen.get(item)
        return stamp is not None and self._clock() - stamp <= self._ttl

    def seen(self, item: Hashable) -> bool:
        """True if ``item`` was seen recently; otherwise remember it and return False.

        Empty ids (an event without ``event_id``) are never treated as duplicates.
        """
        if not item:
            return False
        if item in self:
            return True
        self.add(item)
        return False

    def _prune(self) -> None:
        now = self._clock()
        while self._seen:
            oldest, stamp = next(iter(self._seen.items()))
            if len(self._seen) <= self._capacity and now - stamp <= self._ttl:
                break
            del self._seen[oldest]

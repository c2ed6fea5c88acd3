"""Per-user rate limit (token bucket) so one person cannot monopolise the bot."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class _Bucket:
    tokens: float
    updated: float


@dataclass
class RateLimiter:
    """Allows ``burst`` turns at once and refills ``per_minute`` turns a minute."""

    per_minute: float
    burst: int
    clock: Callable[[], float] = time.monotonic
    max_users: int = 10_000  # past this, users whose buckets have refilled are forgotten
    _buckets: dict[str, _Bucket] = field(default_factory=dict)

    def try_acquire(self, user: str) -> float:
        """0.0 when allowed (and counted); otherwise the seconds to wait."""
        if self.per_minute <= 0:
            return 0.0
        now = self.clock()
        rate = self.per_minute / 60.0
        bucket = self._buckets.get(user)
        if bucket is None:
            if len(self._buckets) >= self.max_users:
                self._forget_idle(now, rate)
            bucket = self._buckets[user] = _Bucket(float(self.burst), now)
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.updated) * rate)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / rate

    def _forget_idle(self, now: float, rate: float) -> None:
        """Drop buckets that are full again: forgetting them changes nobody's allowance."""
        full = [u for u, b in self._buckets.items() if b.tokens + (now - b.updated) * rate >= self.burst]
        for user in full:
            del self._buckets[user]

    @staticmethod
    def wait_message(seconds: float) -> str:
        return f"You're sending requests quickly: please wait about {max(1, round(seconds))} s and try again."

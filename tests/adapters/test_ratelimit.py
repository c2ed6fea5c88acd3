from __future__ import annotations

from adapters.ratelimit import RateLimiter


def test_burst_then_wait_then_refill():
    now = [0.0]
    limiter = RateLimiter(per_minute=6, burst=2, clock=lambda: now[0])
    assert limiter.try_acquire("u") == 0 and limiter.try_acquire("u") == 0
    wait = limiter.try_acquire("u")
    assert 9.9 < wait <= 10.0
    now[0] += 10
    assert limiter.try_acquire("u") == 0


def test_memory_stays_bounded_without_changing_allowances():
    now = [0.0]
    limiter = RateLimiter(per_minute=60, burst=1, clock=lambda: now[0], max_users=100)
    for i in range(1000):
        limiter.try_acquire(f"user{i}")
        now[0] += 0.5  # earlier users refill (1 token a second) while others arrive
    assert len(limiter._buckets) <= 101
    assert limiter.try_acquire("user999") > 0  # the busy recent user is still limited

"""KeyedLocks: turns of one key run one at a time in arrival order, other keys run
alongside, and a key's lock is gone once nobody holds or waits for it (also when a
waiter is cancelled)."""

from __future__ import annotations

import asyncio

import pytest

from bot.locks import KeyedLocks


async def test_turns_of_one_key_run_in_arrival_order_and_other_keys_alongside():
    locks = KeyedLocks()
    log: list[str] = []

    async def turn(key: str, name: str, hold_s: float) -> None:
        async with locks.hold(key):
            log.append(f"start {name}")
            await asyncio.sleep(hold_s)
            log.append(f"end {name}")

    first = asyncio.create_task(turn("a", "a1", 0.05))
    await asyncio.sleep(0)
    second = asyncio.create_task(turn("a", "a2", 0))
    other = asyncio.create_task(turn("b", "b1", 0))
    await asyncio.sleep(0.01)
    assert locks.waiting("a") == 2 and locks.waiting("b") == 0
    await asyncio.gather(first, second, other)
    assert log.index("end a1") < log.index("start a2")
    assert log.index("start b1") < log.index("end a1")  # b did not wait for a
    assert len(locks) == 0


async def test_a_waiter_cancelled_in_the_queue_gives_up_its_place():
    locks = KeyedLocks()
    release = asyncio.Event()

    async def holder() -> None:
        async with locks.hold("k"):
            await release.wait()

    holding = asyncio.create_task(holder())
    await asyncio.sleep(0)
    queued = asyncio.create_task(holder())
    await asyncio.sleep(0)
    assert locks.waiting("k") == 2
    queued.cancel()
    with pytest.raises(asyncio.CancelledError):
        await queued
    assert locks.waiting("k") == 1
    release.set()
    await holding
    assert len(locks) == 0


async def test_an_error_inside_releases_the_key():
    locks = KeyedLocks()
    with pytest.raises(RuntimeError):
        async with locks.hold("k"):
            raise RuntimeError("boom")
    assert len(locks) == 0
    async with locks.hold("k"):  # not left locked
        assert locks.waiting("k") == 1

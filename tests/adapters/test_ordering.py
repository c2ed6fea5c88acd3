from __future__ import annotations

import asyncio

from adapters.ordering import ArrivalOrder


async def test_slow_download_is_not_overtaken_but_other_keys_are_free():
    order = ArrivalOrder()
    handled: list[str] = []

    async def turn(key: str, name: str, download_s: float) -> None:
        ticket = order.ticket(key)
        try:
            await asyncio.sleep(download_s)
            await ticket.wait()
            handled.append(name)
            await asyncio.sleep(0.01)
        finally:
            ticket.release()

    await asyncio.gather(turn("a", "a1-big-file", 0.1), turn("a", "a2-text", 0.0), turn("b", "b1", 0.0))
    assert handled.index("a1-big-file") < handled.index("a2-text")
    assert handled[0] == "b1"  # another conversation did not wait
    assert len(order) == 0  # nothing kept once all turns are done


async def test_a_failed_turn_still_lets_the_next_one_go():
    order = ArrivalOrder()
    first, second = order.ticket("k"), order.ticket("k")
    first.release()  # the turn failed before handling
    await asyncio.wait_for(second.wait(), 1)
    second.release()
    assert len(order) == 0


async def test_a_later_ticket_released_early_keeps_the_order():
    order = ArrivalOrder()
    first, second, third = order.ticket("k"), order.ticket("k"), order.ticket("k")
    second.release()  # e.g. its download failed, while the first turn still runs
    waiter = asyncio.create_task(third.wait())
    await asyncio.sleep(0.01)
    assert not waiter.done()  # the first turn is not done yet
    first.release()
    await asyncio.wait_for(waiter, 1)
    third.release()
    assert len(order) == 0

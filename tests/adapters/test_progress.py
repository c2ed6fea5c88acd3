"""ThrottledStatus: the status message never stalls or fails a turn."""

from __future__ import annotations

import asyncio

from adapters.progress import ProgressView, ThrottledStatus
from engine.events import Done, PlanReady, Received, Responding, Started
from engine.types import Plan, Reply


async def test_a_slow_edit_does_not_block_events():
    published: list[str] = []

    async def slow_publish(text: str) -> None:
        await asyncio.sleep(0.5)
        published.append(text)

    status = ThrottledStatus(slow_publish, min_interval=0.01)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    for event in (Received("hi"), Started("hi"), PlanReady(Plan(())), Responding()):
        await status.on_event(event)
    assert loop.time() - t0 < 0.05  # the engine was not held up by the edit in flight
    await status.on_event(Done(Reply("ok")))
    await status.flush()
    assert published[-1].endswith("Done.")
    await status.aclose()


async def test_a_failing_edit_is_dropped_not_raised():
    calls = 0

    async def broken(text: str) -> None:
        nonlocal calls
        calls += 1
        raise ConnectionError("platform down")

    status = ThrottledStatus(broken, min_interval=0.0)
    await status.on_event(Started("hi"))
    await asyncio.sleep(0.01)
    await status.on_event(Done(Reply("ok")))
    await status.flush()  # must not raise
    await status.aclose()
    assert calls >= 1


async def test_edits_are_throttled_and_the_last_state_always_lands():
    published: list[str] = []

    async def publish(text: str) -> None:
        published.append(text)

    status = ThrottledStatus(publish, min_interval=10.0)
    await status.on_event(Received("hi"))
    await asyncio.sleep(0.01)
    for _ in range(5):
        await status.on_event(Started("hi"))
        await status.on_event(Responding())
    assert len(published) == 1  # one edit inside the interval
    await status.on_event(Done(Reply("ok")))
    await status.flush()
    assert len(published) == 2 and published[-1].endswith("Done.")
    await status.aclose()
    await status.on_event(Started("late"))  # after close: nothing is sent
    await asyncio.sleep(0.01)
    assert len(published) == 2


def test_the_status_follows_the_language_the_engine_found():
    from engine.types import Task

    view = ProgressView()
    view.apply(Received("lis ça stp"))
    view.apply(Started("lis ça stp", language="fr"))
    view.apply(PlanReady(Plan((Task(0, "image-to-text", {"image": "note.png"}),))))
    assert view.render().splitlines() == ["Plan : 1 tâche", "⏳ #0 image-to-text : en attente"]

"""A platform-neutral status message: the plan and each task's state, throttled.

Discord and Slack both show one status message that is edited as events arrive;
this class renders its text and decides when an edit is due (at most one per
``min_interval`` seconds, always the final state), so the adapters only post/edit.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from engine.events import Done, Event, PlanReady, Received, Responding, Started, TaskFinished, TaskStarted

_ICONS = {"pending": "⏳", "running": "⚙️", "ok": "✅", "failed": "❌", "skipped": "⏭️"}


class ProgressView:
    def __init__(self) -> None:
        self.header = "Thinking…"
        self.lines: dict[int, tuple[str, str, str]] = {}  # task id -> (task, model, state)
        self.footer = ""

    def apply(self, event: Event) -> None:
        if isinstance(event, Received):
            self.header = (
                f"Queued behind {event.queued_behind} earlier message(s)…"
                if event.queued_behind
                else "Working on it…"
            )
        elif isinstance(event, Started):
            self.header = "Planning…"
        elif isinstance(event, PlanReady):
            self.header = (
                f"Plan: {len(event.plan.tasks)} task(s)" if event.plan.tasks else "Answering directly…"
            )
            for t in event.plan.tasks:
                self.lines[t.id] = (t.task, "", "pending")
        elif isinstance(event, TaskStarted):
            model = event.card.id if event.card else ""
            self.lines[event.task.id] = (event.task.task, model, "running")
        elif isinstance(event, TaskFinished):
            r = event.result
            model = r.card.id if r.card else self.lines.get(r.task.id, ("", "", ""))[1]
            self.lines[r.task.id] = (r.task.task, model, r.status)
        elif isinstance(event, Responding):
            self.footer = "Writing the answer…"
        elif isinstance(event, Done):
            self.footer = "Done."

    def render(self) -> str:
        out = [self.header]
        for tid in sorted(self.lines):
            task, model, state = self.lines[tid]
            via = f" ({model})" if model else ""
            out.append(f"{_ICONS.get(state, '•')} #{tid} {task}{via}: {state}")
        if self.footer:
            out.append(self.footer)
        return "\n".join(out)


class ThrottledStatus:
    """Feeds events to a ProgressView and calls ``publish(text)`` at most once per interval.

    The last state is always published: a pending update is flushed by a timer, and
    ``flush()`` publishes immediately (call it when the turn ends).
    """

    def __init__(
        self,
        publish: Callable[[str], Awaitable[None]],
        min_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.view = ProgressView()
        self._publish = publish
        self._interval = min_interval
        self._clock = clock
        self._last_sent = float("-inf")
        self._last_text: str | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._lock = asyncio.Lock()

    async def on_event(self, event: Event) -> None:
        self.view.apply(event)
        wait = self._last_sent + self._interval - self._clock()
        if wait <= 0:
            await self._send()
        elif self._timer is None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(wait, lambda: loop.create_task(self._send()))

    async def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        await self._send()

    async def _send(self) -> None:
        async with self._lock:
            self._timer = None
            text = self.view.render()
            if text == self._last_text:
                return
            self._last_sent = self._clock()
            self._last_text = text
            await self._publish(text)

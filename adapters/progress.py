"""A platform-neutral status message: the plan and each task's state, throttled.

Discord and Slack both show one status message that is edited as events arrive;
this class renders its text and decides when an edit is due (at most one per
``min_interval`` seconds, always the final state), so the adapters only post/edit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from engine import messages as M
from engine.events import Done, Event, PlanReady, Received, Responding, Started, TaskFinished, TaskStarted
from engine.i18n import Messages

log = logging.getLogger(__name__)

_ICONS = {"pending": "⏳", "running": "⚙️", "ok": "✅", "failed": "❌", "skipped": "⏭️"}
_STATES = {
    "pending": M.STATE_PENDING,
    "running": M.STATE_RUNNING,
    "ok": M.STATE_OK,
    "failed": M.STATE_FAILED,
    "skipped": M.STATE_SKIPPED,
}


class ProgressView:
    """The status text, in the user's language once the engine has told it (``Started``)."""

    def __init__(self) -> None:
        self.say = Messages("en")
        self.header = self.say(M.PROGRESS_THINKING)
        self.lines: dict[int, tuple[str, str, str]] = {}  # task id -> (task, model, state)
        self.footer = ""

    def apply(self, event: Event) -> None:
        if isinstance(event, Received):
            self.header = (
                self.say.plural(M.PROGRESS_QUEUED, event.queued_behind, count=event.queued_behind)
                if event.queued_behind
                else self.say(M.PROGRESS_WORKING)
            )
        elif isinstance(event, Started):
            if event.language:
                self.say = Messages(event.language)
            self.header = self.say(M.PROGRESS_PLANNING)
        elif isinstance(event, PlanReady):
            count = len(event.plan.tasks)
            self.header = (
                self.say.plural(M.PROGRESS_PLAN, count, count=count)
                if count
                else self.say(M.PROGRESS_ANSWERING_DIRECTLY)
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
            self.footer = self.say(M.PROGRESS_WRITING)
        elif isinstance(event, Done):
            self.footer = self.say(M.PROGRESS_DONE)

    def render(self) -> str:
        out = [self.header]
        for tid in sorted(self.lines):
            task, model, state = self.lines[tid]
            icon, word = _ICONS.get(state, "•"), self.say(_STATES[state]) if state in _STATES else state
            if model:
                out.append(self.say(M.PROGRESS_LINE_WITH_MODEL, icon=icon, id=tid, task=task, model=model, state=word))
            else:
                out.append(self.say(M.PROGRESS_LINE, icon=icon, id=tid, task=task, state=word))
        if self.footer:
            out.append(self.footer)
        return "\n".join(out)


class ThrottledStatus:
    """Feeds events to a ProgressView and publishes its text at most once per interval.

    ``on_event`` never waits for the platform: a background sender publishes the latest
    state when the interval allows, so a slow or rate-limited edit cannot stall the
    engine. A failed edit is logged and dropped: the status is a courtesy, the answer
    must not depend on it. ``flush()`` publishes the final state; ``aclose()`` stops the
    sender (call it in a ``finally`` when a turn ends or is cancelled).
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
        self._sender: asyncio.Task[None] | None = None
        self._closed = False

    async def on_event(self, event: Event) -> None:
        self.view.apply(event)
        if not self._closed and (self._sender is None or self._sender.done()):
            self._sender = asyncio.get_running_loop().create_task(self._send_latest())

    async def _send_latest(self) -> None:
        while not self._closed:
            wait = self._last_sent + self._interval - self._clock()
            if wait > 0:
                await asyncio.sleep(wait)
            text = self.view.render()
            if text == self._last_text:
                return
            await self._publish_safely(text)

    async def _publish_safely(self, text: str) -> None:
        self._last_sent = self._clock()
        self._last_text = text
        try:
            await self._publish(text)
        except Exception:
            log.warning("a status update failed; the turn goes on", exc_info=True)

    async def _stop_sender(self) -> None:
        if self._sender is not None and not self._sender.done():
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sender
        self._sender = None

    async def flush(self) -> None:
        """Publish the current state now, whatever the interval."""
        await self._stop_sender()
        text = self.view.render()
        if text != self._last_text and not self._closed:
            await self._publish_safely(text)

    async def aclose(self) -> None:
        self._closed = True
        await self._stop_sender()

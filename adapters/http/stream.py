"""Server-sent events for ``stream: true``: progress lines, then the answer, then ``[DONE]``.

``ProgressLines`` turns the engine's events into the status text the chat platforms
show (adapters/progress.py), as new lines only: a stream can only append, so each
state change (plan made, a task running, a task done) becomes one more line.

``EventStream`` writes the chunks from a queue in its own task, so the engine never
waits for a slow client; a client that went away makes the writes stop, not the
turn (it finishes and is stored). A comment line goes out after a stretch of silence,
so proxies keep the connection open while a long task runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from aiohttp import web

from adapters.progress import ProgressView
from engine.events import Done, Event

log = logging.getLogger(__name__)


class ProgressLines:
    def __init__(self) -> None:
        self.view = ProgressView()
        self._shown: set[str] = set()

    def apply(self, event: Event) -> list[str]:
        """The status lines this event adds (none for the final ``Done``)."""
        if isinstance(event, Done):
            return []
        self.view.apply(event)
        new = [line for line in self.view.render().splitlines() if line not in self._shown]
        self._shown.update(new)
        return new

    def text(self) -> str:
        return self.view.render()


_CLOSE = object()


class EventStream:
    def __init__(self, response: web.StreamResponse, keepalive: float) -> None:
        self.response = response
        self.keepalive = keepalive
        self.client_gone = False
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, request: web.Request, keepalive: float, headers: dict[str, str]) -> EventStream:
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream; charset=utf-8",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",  # nginx: pass each event on at once
                **headers,
            }
        )
        await response.prepare(request)
        stream = cls(response, keepalive)
        stream._writer = asyncio.get_running_loop().create_task(stream._write_all())
        return stream

    def send(self, payload: dict[str, Any]) -> None:
        if not self.client_gone:
            self._queue.put_nowait(payload)

    async def finish(self) -> None:
        """Write what is queued, then ``data: [DONE]``, and end the response."""
        self._queue.put_nowait(_CLOSE)
        if self._writer is not None:
            await self._writer
        if not self.client_gone:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self.response.write_eof()

    async def abort(self) -> None:
        if self._writer is not None and not self._writer.done():
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer

    async def _write_all(self) -> None:
        while True:
            try:
                item = await asyncio.wait_for(self._queue.get(), self.keepalive)
            except TimeoutError:
                item = None
            if item is _CLOSE:
                await self._write(b"data: [DONE]\n\n")
                return
            frame = b": keep-alive\n\n" if item is None else _frame(item)
            await self._write(frame)
            if self.client_gone:
                return

    async def _write(self, frame: bytes) -> None:
        if self.client_gone:
            return
        try:
            await self.response.write(frame)
        except (ConnectionError, RuntimeError) as exc:  # the client left; the turn goes on
            log.info("stream client went away: %s", type(exc).__name__)
            self.client_gone = True


def _frame(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload, ensure_ascii=False).encode("utf-8") + b"\n\n"

"""Deliver progress events to the adapter's callback without letting it break a request."""

from __future__ import annotations

import inspect
import logging

from engine.events import Event, EventCallback

log = logging.getLogger(__name__)


async def emit(callback: EventCallback | None, event: Event) -> None:
    if callback is None:
        return
    try:
        result = callback(event)
        if inspect.isawaitable(result):
            await result
    except Exception:  # a broken status message must never fail the user's request
        log.exception("progress callback failed on %s", type(event).__name__)

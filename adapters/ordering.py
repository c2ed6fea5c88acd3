"""Turns of one conversation reach the handler in the order their messages arrived.

An adapter downloads a message's files before it can hand the turn over, so a message
with a large image could be overtaken by a short one sent just after it. Take a ticket
synchronously when the event arrives (before any await), wait on it just before
calling the handler, and release it when the turn is done:

    ticket = order.ticket(key)          # at arrival, no await before this
    try:
        files = await download(...)     # may be slow
        await ticket.wait()             # earlier turns of this conversation are done
        outcome = await handler.handle(...)
    finally:
        ticket.release()
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable


class Ticket:
    def __init__(self, order: ArrivalOrder, key: Hashable, before: asyncio.Future[None] | None) -> None:
        self._order, self._key, self._before = order, key, before
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def wait(self) -> None:
        """Until every earlier ticket of this key is released."""
        if self._before is not None:
            await asyncio.shield(self._before)

    def release(self) -> None:
        """Let the next turn go; safe to call twice, and when the turn failed or was cancelled.
        A ticket released before its turn ran passes its place on only once the earlier
        tickets are done, so order holds even then."""
        if self.done.done():
            return
        before = self._before
        if before is None or before.done():
            self._finish()
        else:
            before.add_done_callback(lambda _: self._finish())

    def _finish(self) -> None:
        if not self.done.done():
            self.done.set_result(None)
        if self._order._tails.get(self._key) is self.done:
            del self._order._tails[self._key]


class ArrivalOrder:
    def __init__(self) -> None:
        self._tails: dict[Hashable, asyncio.Future[None]] = {}

    def ticket(self, key: Hashable) -> Ticket:
        ticket = Ticket(self, key, self._tails.get(key))
        self._tails[key] = ticket.done
        return ticket

    def __len__(self) -> int:
        return len(self._tails)

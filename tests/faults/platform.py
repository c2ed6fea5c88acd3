"""Helpers for the platform fault tests: the real service without progress events."""

from __future__ import annotations

from adapters.base import IncomingMessage
from bot.conversations import ConversationService
from bot.store import Store
from engine.events import EventCallback
from engine.types import Outcome


class Quiet:
    """The service without progress events: the reply is the only message posted, so a
    scripted fault lands on it."""

    def __init__(self, service: ConversationService) -> None:
        self.service = service

    async def handle(self, message: IncomingMessage, on_event: EventCallback | None = None) -> Outcome:
        return await self.service.handle(message)

    async def forget(self, key) -> None:  # type: ignore[no-untyped-def]
        await self.service.forget(key)

    async def knows(self, key) -> bool:  # type: ignore[no-untyped-def]
        return await self.service.knows(key)


async def stored_turns(store: Store) -> list[tuple[str, str]]:
    """Messages as (role, text), then the request log's replies as ("log", reply)."""
    db = store._db
    rows = await db.execute_fetchall("SELECT role, text FROM messages ORDER BY id")
    logged = await db.execute_fetchall("SELECT reply FROM requests ORDER BY id")
    return [(r[0], r[1]) for r in rows] + [("log", r[0]) for r in logged]

"""What every surface (terminal, Discord, Slack) hands the bot, and what it gets back.

Adapters convert platform events into ``IncomingMessage`` and call a ``TurnHandler``
(implemented in bot/conversations.py and injected by the composition root, so
adapters never import bot/). The handler keeps turns of one conversation in order,
stores context, types and checks the files, and runs the engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from engine.events import EventCallback
from engine.types import Outcome


@dataclass(frozen=True, slots=True)
class ConversationKey:
    """Identity of one conversation: (platform, workspace/guild, channel, thread or DM).

    For a DM, ``channel`` is the DM channel and ``thread`` is empty; a thread is its
    own conversation.
    """

    platform: str
    workspace: str
    channel: str
    thread: str = ""

    def slug(self) -> str:
        """A filesystem-safe name, used for the conversation's artifact folder."""
        raw = "-".join(p for p in (self.platform, self.workspace, self.channel, self.thread) if p)
        return "".join(c if c.isalnum() or c in "-_." else "_" for c in raw)[:120] or "default"


@dataclass(frozen=True, slots=True)
class IncomingFile:
    """A file the user sent. Adapters download it with a size cap; the bot types it by content."""

    name: str
    data: bytes
    declared_mime: str | None = None


@dataclass(frozen=True, slots=True)
class IncomingMessage:
    key: ConversationKey
    author: str
    text: str
    files: tuple[IncomingFile, ...] = ()
    message_id: str = ""
    warnings: tuple[str, ...] = ()  # problems the adapter already found (e.g. a file over the cap)


class TurnHandler(Protocol):
    async def handle(self, message: IncomingMessage, on_event: EventCallback | None = None) -> Outcome:
        """Run one turn; never raises for model or input problems (the reply explains)."""
        ...

    async def forget(self, key: ConversationKey) -> None:
        """Clear the conversation's context (``/forget``)."""
        ...

    async def knows(self, key: ConversationKey) -> bool:
        """Whether this conversation has context, e.g. a thread the bot answered in before
        a restart (platforms that continue threads without a mention ask this)."""
        ...

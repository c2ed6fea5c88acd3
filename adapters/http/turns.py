"""Running one turn for an HTTP request: which conversation, stored or ephemeral.

A request that names a conversation (``X-Conversation-Id``, Open WebUI's
``X-OpenWebUI-Chat-Id``, or OpenAI's ``user`` field) runs as a turn of that stored
conversation: the stored context is the history, and the request's earlier messages
are not read again. A request that names none is ephemeral: its own earlier messages
are the history and nothing is kept as context (``handle_ephemeral``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from adapters.base import IncomingMessage, TurnHandler
from adapters.http.errors import ApiError, bad_request
from adapters.http.files import conversation_key
from adapters.http.keys import Caller
from adapters.http.messages import ChatInput
from engine.engine import StopAfter
from engine.events import EventCallback
from engine.types import Outcome, Turn

CONVERSATION_HEADERS = ("X-Conversation-Id", "X-OpenWebUI-Chat-Id")
_MAX_ID_CHARS = 256
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class HttpTurnHandler(TurnHandler, Protocol):
    """The conversation service as the HTTP adapter uses it: stored turns, and turns
    that bring their own history (bot/conversations.py implements both)."""

    async def handle_ephemeral(
        self,
        message: IncomingMessage,
        history: Sequence[Turn],
        on_event: EventCallback | None = None,
        *,
        stop_after: StopAfter | None = None,
    ) -> Outcome: ...


def conversation_of(headers: Mapping[str, str], body: Mapping[str, Any]) -> str | None:
    """The conversation a request names: a header first, else the ``user`` field."""
    for name in CONVERSATION_HEADERS:
        value = headers.get(name)
        if value is not None:
            return conversation_id(value, name)
    user = body.get("user")
    if user is None or user == "":
        return None
    if not isinstance(user, str):
        raise bad_request("`user` must be a string (it names the conversation)", "user")
    return conversation_id(user, "user")


def conversation_id(value: str, where: str) -> str:
    value = value.strip()
    if not value or len(value) > _MAX_ID_CHARS or _CONTROL.search(value):
        raise bad_request(f"{where}: a conversation id is 1 to {_MAX_ID_CHARS} printable characters", where)
    return value


@dataclass
class Turns:
    handler: HttpTurnHandler
    running: int = 0

    async def run(
        self,
        caller: Caller,
        conversation: str | None,
        chat: ChatInput,
        on_event: EventCallback | None = None,
        stop_after: StopAfter | None = None,
    ) -> Outcome:
        message = IncomingMessage(
            key=conversation_key(caller, conversation),
            author=caller.workspace,
            text=chat.text,
            files=chat.files,
            warnings=chat.warnings,
        )
        self.running += 1
        try:
            if conversation is None:
                return await self.handler.handle_ephemeral(
                    message, chat.history, on_event, stop_after=stop_after
                )
            if stop_after is not None:
                raise ApiError(400, "a stopped-early run (plan or results only) takes no stored conversation")
            return await self.handler.handle(message, on_event)
        finally:
            self.running -= 1

    async def forget(self, caller: Caller, conversation: str) -> None:
        await self.handler.forget(conversation_key(caller, conversation))

"""The controller LLM interface: one async method, capabilities declared as attributes.

Backends (openai, local llama.cpp) implement ``complete``. JSON-constrained output
is requested with ``json_schema``; a backend that cannot constrain ignores it and
the caller's parser repairs what comes back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: str  # "system" | "user" | "assistant"
    content: str

    def to_dict(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


class LLM(Protocol):
    """A chat model. ``name`` identifies it in logs and ``ask --json``."""

    name: str
    supports_json_schema: bool

    async def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        json_schema: dict[str, Any] | None = None,
        max_tokens: int = 512,
        temperature: float = 0.0,
    ) -> str:
        """Return the assistant's text. Raises engine.errors.LLMError subclasses."""
        ...

    async def aclose(self) -> None: ...


class CountingLLM:
    """Wraps an LLM to count calls for one request (``Outcome.llm_calls``)."""

    def __init__(self, inner: LLM) -> None:
        self.inner = inner
        self.name = inner.name
        self.supports_json_schema = inner.supports_json_schema
        self.calls = 0

    async def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        json_schema: dict[str, Any] | None = None,
        max_tokens: int = 512,
        temperature: float = 0.0,
    ) -> str:
        self.calls += 1
        return await self.inner.complete(
            messages, json_schema=json_schema, max_tokens=max_tokens, temperature=temperature
        )

    async def aclose(self) -> None:  # the wrapped LLM is owned by the engine, not the request
        return None

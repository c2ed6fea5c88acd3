"""The controller LLM over any OpenAI-compatible endpoint (OpenAI, Azure, vLLM, Ollama,
LM Studio, llama.cpp servers, TGI), through ``openai.AsyncOpenAI`` with a ``base_url``.

Why this module exists rather than calling openai directly:

- Structured output is negotiated per endpoint, once. Servers take different
  ``response_format`` types: ``json_schema`` (OpenAI, vLLM, Ollama, LM Studio),
  ``json_object`` with a ``schema`` (llama-cpp-python, which turns it into a grammar),
  or none. The first refusal of a type moves this endpoint one step down that list
  and the step is remembered for every later request; the parser's repair is the
  last resort. ``structured_output`` other than ``auto`` fixes the type, and a
  refusal is then an error that says so.
- Retries are ours, not openai's (the client gets ``max_retries=0``): connection
  errors, 429 and 5xx are retried a bounded number of times; a timeout is not, unless
  ``retry_timeouts`` says so, because a single-threaded local server keeps computing
  an abandoned request and a retry only queues behind it.
- openai's exceptions become engine errors here (engine/llm/openai_errors.py), with
  messages that say what to fix.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import openai

from engine.errors import ConfigError, LLMBadOutput, LLMUnavailable
from engine.llm.base import ChatMessage
from engine.llm.openai_errors import Endpoint, refuses_structured_output, server_message, translate

__all__ = ["DUMMY_API_KEY", "STRUCTURED_OUTPUT_ORDER", "OpenAILLM", "StructuredOutput", "TokenUsage"]

log = logging.getLogger(__name__)

# Local servers (vLLM, llama.cpp, Ollama) ignore the key, but the client insists on one.
DUMMY_API_KEY = "not-needed"

StructuredOutput = Literal["json_schema", "json_object", "none"]
# The negotiation order: each refusal moves an endpoint one step to the right.
STRUCTURED_OUTPUT_ORDER: tuple[StructuredOutput, ...] = ("json_schema", "json_object", "none")

_MAX_RETRY_WAIT = 20.0  # seconds; a server asking for longer is reported, not waited for


@dataclass
class TokenUsage:
    """Tokens the server reported for this endpoint so far (``usage`` of each answer)."""

    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0  # only servers that report prompt_tokens_details


class _StructuredOutputRefused(Exception):
    """Internal: the server refused the ``response_format`` of this mode."""

    def __init__(self, mode: StructuredOutput, error: openai.APIStatusError) -> None:
        super().__init__(mode)
        self.mode = mode
        self.error = error


class OpenAILLM:
    """A chat model behind an OpenAI-compatible HTTP API (implements ``engine.llm.base.LLM``).

    ``structured_output`` is the ``response_format`` this endpoint gets now (see the
    module docstring); ``supports_json_schema`` is False once it is ``none``.
    """

    def __init__(
        self,
        *,
        model: str,
        base_url: str | None = None,
        api_key: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        timeout: float = 60.0,
        max_retries: int = 2,
        retry_timeouts: bool = False,
        structured_output: Literal["auto", "json_schema", "json_object", "none"] = "auto",
        retry_backoff: float = 0.5,
        name: str | None = None,
    ) -> None:
        if not api_key:
            if not base_url:
                raise ConfigError(
                    f"llm: no API key for OpenAI; set the environment variable {api_key_env} "
                    "or point llm.base_url at a local OpenAI-compatible server"
                )
            api_key = DUMMY_API_KEY
        self.model = model
        self.name = name or f"openai:{model}"
        self.timeout = timeout
        self.max_retries = max_retries
        self.retry_timeouts = retry_timeouts
        self.retry_backoff = retry_backoff
        self.negotiates = structured_output == "auto"
        self.structured_output: StructuredOutput = (
            "json_schema" if structured_output == "auto" else structured_output
        )
        self.usage = TokenUsage()
        # max_retries=0: openai would also retry timeouts; the retry policy is ours (_send)
        self._client = openai.AsyncOpenAI(base_url=base_url, api_key=api_key, timeout=timeout, max_retries=0)
        self.base_url = str(self._client.base_url).rstrip("/")
        self._endpoint = Endpoint(self.base_url, model, api_key_env, timeout)

    @property
    def supports_json_schema(self) -> bool:
        return self.structured_output != "none"

    async def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        json_schema: dict[str, Any] | None = None,
        max_tokens: int = 512,
        temperature: float = 0.0,
    ) -> str:
        """The assistant's text. Raises LLMUnavailable, LLMTimeout or LLMBadOutput."""
        while True:
            mode: StructuredOutput = self.structured_output if json_schema is not None else "none"
            try:
                return await self._send(messages, json_schema, mode, max_tokens, temperature)
            except _StructuredOutputRefused as refused:
                self._step_down(refused)  # then this request is sent again in the next mode

    async def aclose(self) -> None:
        await self._client.close()

    def _step_down(self, refused: _StructuredOutputRefused) -> None:
        words = server_message(refused.error)
        status = refused.error.status_code
        if not self.negotiates:
            raise LLMUnavailable(
                f"the LLM at {self.base_url} refused response_format {refused.mode} (HTTP {status}); "
                f"set llm.structured_output to auto (the bot then finds what this server takes) or to "
                f"another of {', '.join(STRUCTURED_OUTPUT_ORDER)}. Server said: {words}"
            ) from refused.error
        if self.structured_output == refused.mode:  # a concurrent request may have stepped already
            self.structured_output = STRUCTURED_OUTPUT_ORDER[STRUCTURED_OUTPUT_ORDER.index(refused.mode) + 1]
            log.warning(
                "the LLM at %s refused response_format %s (HTTP %s: %s); using %s from now on",
                self.base_url, refused.mode, status, words, self.structured_output,
            )  # fmt: skip

    async def _send(
        self,
        messages: Sequence[ChatMessage],
        schema: dict[str, Any] | None,
        mode: StructuredOutput,
        max_tokens: int,
        temperature: float,
    ) -> str:
        """One request with our bounded retries; a refused response_format is raised at once."""
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self._request(messages, schema, mode, max_tokens, temperature)
            except openai.OpenAIError as exc:
                if (
                    mode != "none"
                    and isinstance(exc, openai.APIStatusError)
                    and refuses_structured_output(exc)
                ):
                    raise _StructuredOutputRefused(mode, exc) from exc
                wait = self._retry_wait(exc, attempt)
                if wait is None:
                    translate(exc, self._endpoint, attempt)
                log.info(
                    "LLM request failed (%s); retry %d of %d in %.1f s", exc, attempt, self.max_retries, wait
                )
                await asyncio.sleep(wait)

    def _retry_wait(self, exc: openai.OpenAIError, attempt: int) -> float | None:
        """Seconds to wait before retrying ``exc``, or None when it is not retried."""
        if attempt > self.max_retries:
            return None
        if isinstance(exc, openai.APITimeoutError):
            retryable = self.retry_timeouts
        elif isinstance(exc, openai.APIConnectionError):
            retryable = True
        elif isinstance(exc, openai.APIStatusError):
            retryable = exc.status_code in (408, 409, 429) or exc.status_code >= 500
        else:
            retryable = False
        if not retryable:
            return None
        asked = _retry_after(exc)
        if asked is not None:
            return asked if asked <= _MAX_RETRY_WAIT else None
        return min(self.retry_backoff * 2 ** (attempt - 1), _MAX_RETRY_WAIT)

    async def _request(
        self,
        messages: Sequence[ChatMessage],
        schema: dict[str, Any] | None,
        mode: StructuredOutput,
        max_tokens: int,
        temperature: float,
    ) -> str:
        extra: dict[str, Any] = {}
        if schema is not None and mode != "none":
            extra["response_format"] = response_format(mode, schema)
        completion = await self._client.chat.completions.create(
            model=self.model,
            messages=[m.to_dict() for m in messages],  # type: ignore[misc]
            max_tokens=max_tokens,
            temperature=temperature,
            stream=False,
            **extra,
        )
        self._count(getattr(completion, "usage", None))
        choices = getattr(completion, "choices", None) or []
        message = getattr(choices[0], "message", None) if choices else None
        content = getattr(message, "content", None)
        if not isinstance(content, str) or not content.strip():
            reason = getattr(choices[0], "finish_reason", None) if choices else "no choices"
            raise LLMBadOutput(
                f"the LLM {self.model!r} at {self.base_url} returned an empty answer ({reason})"
            )
        return content

    def _count(self, usage: Any) -> None:
        self.usage.requests += 1
        if usage is None:
            return
        self.usage.prompt_tokens += int(getattr(usage, "prompt_tokens", 0) or 0)
        self.usage.completion_tokens += int(getattr(usage, "completion_tokens", 0) or 0)
        details = getattr(usage, "prompt_tokens_details", None)
        self.usage.cached_prompt_tokens += int(getattr(details, "cached_tokens", 0) or 0)


def response_format(mode: StructuredOutput, schema: dict[str, Any]) -> dict[str, Any]:
    """The ``response_format`` body of ``mode``: OpenAI's ``json_schema`` shape, or the
    ``json_object`` + ``schema`` shape that llama-cpp-python compiles into a grammar."""
    if mode == "json_schema":
        name = str(schema.get("title") or "response")
        return {"type": "json_schema", "json_schema": {"name": name[:64], "schema": schema}}
    return {"type": "json_object", "schema": schema}


def _retry_after(exc: openai.OpenAIError) -> float | None:
    """The wait a 429/503 asks for (``retry-after-ms`` or ``retry-after`` in seconds)."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    for header, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        raw = headers.get(header)
        if raw is None:
            continue
        try:
            return max(0.0, float(raw) * scale)
        except ValueError:
            continue  # an HTTP date: fall back to our own back-off
    return None

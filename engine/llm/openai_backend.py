"""The controller LLM over any OpenAI-compatible endpoint (OpenAI, Azure, vLLM, Ollama,
llama.cpp server, TGI), through ``openai.AsyncOpenAI`` with a ``base_url``.

Why this module exists rather than calling openai directly: it is the one place where
openai's exceptions become engine errors (``raise ... from exc``) with messages that
tell an operator what to fix (the URL, the key's environment variable, the model),
and where "this server has no structured output" is learned once and remembered.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NoReturn

import openai

from engine.errors import ConfigError, LLMBadOutput, LLMTimeout, LLMUnavailable
from engine.llm.base import ChatMessage

__all__ = ["OpenAILLM", "DUMMY_API_KEY"]

# Local servers (vLLM, llama.cpp, Ollama) ignore the key, but the client insists on one.
DUMMY_API_KEY = "not-needed"

# Words in a 400 answer that say the server cannot do the response_format we sent.
_RESPONSE_FORMAT_HINTS = ("response_format", "json_schema", "response format", "structured output", "grammar")


class _ResponseFormatRejected(Exception):
    """Internal: the server refused ``response_format``; retry without it."""


class OpenAILLM:
    """A chat model behind an OpenAI-compatible HTTP API (implements ``engine.llm.base.LLM``).

    ``supports_json_schema`` starts True and turns False the first time the server
    rejects ``response_format``; from then on the schema is not sent and the caller's
    parser repairs free-form JSON.
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
        self.supports_json_schema = True
        self.timeout = timeout
        self.max_retries = max_retries
        self._api_key_env = api_key_env
        self._client = openai.AsyncOpenAI(
            base_url=base_url, api_key=api_key, timeout=timeout, max_retries=max_retries
        )
        self.base_url = str(self._client.base_url).rstrip("/")

    async def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        json_schema: dict[str, Any] | None = None,
        max_tokens: int = 512,
        temperature: float = 0.0,
    ) -> str:
        """The assistant's text. Raises LLMUnavailable, LLMTimeout or LLMBadOutput."""
        schema = json_schema if self.supports_json_schema else None
        try:
            return await self._request(messages, schema, max_tokens, temperature)
        except _ResponseFormatRejected:
            self.supports_json_schema = False
            return await self._request(messages, None, max_tokens, temperature)

    async def aclose(self) -> None:
        await self._client.close()

    async def _request(
        self,
        messages: Sequence[ChatMessage],
        schema: dict[str, Any] | None,
        max_tokens: int,
        temperature: float,
    ) -> str:
        extra: dict[str, Any] = {}
        if schema is not None:
            extra["response_format"] = _response_format(schema)
        try:
            completion = await self._client.chat.completions.create(
                model=self.model,
                messages=[m.to_dict() for m in messages],  # type: ignore[misc]
                max_tokens=max_tokens,
                temperature=temperature,
                stream=False,
                **extra,
            )
        except openai.OpenAIError as exc:
            if schema is not None and _rejects_response_format(exc):
                raise _ResponseFormatRejected() from exc
            self._translate(exc)
        choices = getattr(completion, "choices", None) or []
        message = getattr(choices[0], "message", None) if choices else None
        content = getattr(message, "content", None)
        if not isinstance(content, str) or not content.strip():
            reason = getattr(choices[0], "finish_reason", None) if choices else "no choices"
            raise LLMBadOutput(
                f"the LLM {self.model!r} at {self.base_url} returned an empty answer ({reason})"
            )
        return content

    def _translate(self, exc: openai.OpenAIError) -> NoReturn:
        """Raise the engine error that says what went wrong and what to check."""
        url, model = self.base_url, self.model
        if isinstance(exc, openai.APITimeoutError):
            raise LLMTimeout(
                f"the LLM at {url} did not answer within {self.timeout:g} s ({self.max_retries + 1} attempts)"
            ) from exc
        if isinstance(exc, openai.APIConnectionError):
            raise LLMUnavailable(f"cannot reach the LLM at {url}: {exc.__cause__ or exc}") from exc
        if isinstance(exc, openai.APIStatusError):
            detail = _error_message(exc)
            status = exc.status_code
            if status == 401:
                raise LLMUnavailable(
                    f"the LLM at {url} refused the API key (401): check the environment variable "
                    f"{self._api_key_env}. Server said: {detail}"
                ) from exc
            if status == 403:
                raise LLMUnavailable(
                    f"the API key in {self._api_key_env} may not use model {model!r} at {url} (403): {detail}"
                ) from exc
            if status == 404:
                raise LLMUnavailable(f"model {model!r} not found at {url} (404): {detail}") from exc
            if status == 429 or status >= 500:
                what = "is rate limiting requests" if status == 429 else "failed"
                raise LLMUnavailable(
                    f"the LLM at {url} {what} (HTTP {status}, after {self.max_retries} retries): {detail}"
                ) from exc
            raise LLMUnavailable(f"the LLM at {url} refused the request (HTTP {status}): {detail}") from exc
        if isinstance(exc, openai.APIResponseValidationError):
            raise LLMBadOutput(f"the LLM at {url} answered in an unexpected shape: {exc}") from exc
        raise LLMUnavailable(f"the LLM at {url} could not be used: {exc}") from exc


def _response_format(schema: dict[str, Any]) -> dict[str, Any]:
    name = str(schema.get("title") or "response")
    return {"type": "json_schema", "json_schema": {"name": name[:64], "schema": schema}}


def _rejects_response_format(exc: openai.OpenAIError) -> bool:
    """A 400/422 that names response_format (or its parts): the server lacks structured output."""
    if not isinstance(exc, openai.BadRequestError | openai.UnprocessableEntityError):
        return False
    if exc.param == "response_format":
        return True
    text = f"{exc.message} {exc.body}".lower()
    return any(hint in text for hint in _RESPONSE_FORMAT_HINTS)


def _error_message(exc: openai.APIStatusError) -> str:
    """The server's own words: openai keeps the inner ``error`` object as ``body``."""
    body = exc.body
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])
    return exc.message

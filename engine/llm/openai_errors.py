"""What an OpenAI-compatible server's error answer means, in words an operator can act on.

Servers word their errors differently: OpenAI and vLLM send ``{"error": {"message"}}``,
FastAPI-based servers (llama-cpp-python) ``{"detail": ...}`` for routing errors,
others ``{"error": "text"}`` or plain text. ``server_message`` finds the server's own
words in any of them; ``refuses_structured_output`` tells "this server cannot do the
``response_format`` we sent" from other failures (llama-cpp-python answers an unknown
``json_schema`` type with HTTP 500 and a pydantic ``literal_error``, not 400);
``translate`` turns the openai exception into the engine error whose message names
what to fix (the URL's ``/v1``, the key's environment variable, the model).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, NoReturn

import openai

from engine.errors import LLMBadOutput, LLMTimeout, LLMUnavailable

__all__ = ["Endpoint", "refuses_structured_output", "server_message", "translate"]

_MESSAGE_KEYS = ("message", "detail", "error", "msg")
_MAX_WORDS = 400  # characters of the server's message kept in ours

# Words in a 400/422 answer that say the server lacks the response_format we sent.
_FORMAT_HINTS_4XX: tuple[str, ...] = ("response_format", "json_schema", "response format", "structured output", "grammar")
# A 500 counts as a refusal only when it names the field itself.
_FORMAT_HINTS_5XX: tuple[str, ...] = ("response_format", "json_schema", "response format")


@dataclass(frozen=True)
class Endpoint:
    """What an error message may say about where the request went."""

    url: str
    model: str
    api_key_env: str
    timeout: float


def server_message(exc: openai.APIStatusError) -> str:
    """The server's own words: ``message``, ``detail`` or ``error`` (a string or a nested
    object, at any of a few levels), else the raw body, else openai's summary."""
    for source in (exc.body, _response_json(exc)):
        words = _find_words(source, depth=0)
        if words:
            return _clip(words)
    text = _response_text(exc)
    return _clip(text or exc.message)


def _find_words(value: Any, depth: int) -> str | None:
    if depth > 4:
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, dict):
        for key in _MESSAGE_KEYS:
            if key in value:
                words = _find_words(value[key], depth + 1)
                if words:
                    return words
        return None
    if isinstance(value, list):  # FastAPI's validation errors: [{"loc", "msg", "type"}, ...]
        found = [w for item in value[:3] if (w := _find_words(item, depth + 1))]
        return "; ".join(found) or None
    return None


def _response_text(exc: openai.APIStatusError) -> str:
    try:
        return exc.response.text.strip()
    except Exception:  # noqa: BLE001 - a streamed or closed response has no text to give
        return ""


def _response_json(exc: openai.APIStatusError) -> Any:
    text = _response_text(exc)
    if not text.startswith(("{", "[")):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_WORDS else text[: _MAX_WORDS - 3] + "..."


def refuses_structured_output(exc: openai.OpenAIError) -> bool:
    """True when the server refused the request because of its ``response_format``."""
    if not isinstance(exc, openai.APIStatusError):
        return False
    status = exc.status_code
    if status in (400, 422):
        if getattr(exc, "param", None) == "response_format":
            return True
        hints = _FORMAT_HINTS_4XX
    elif status >= 500:
        hints = _FORMAT_HINTS_5XX
    else:
        return False
    text = f"{exc.message} {exc.body} {_response_text(exc)}".lower()
    return any(hint in text for hint in hints)


def _names_a_model(exc: openai.APIStatusError, words: str) -> bool:
    """A 404 about the model (OpenAI's ``model_not_found``, vLLM's "The model `x` does not
    exist", Ollama's "model 'x' not found") rather than about the path."""
    return getattr(exc, "code", None) == "model_not_found" or "model" in words.lower()


def translate(exc: openai.OpenAIError, where: Endpoint, attempts: int) -> NoReturn:
    """Raise the engine error that says what went wrong and what to check."""
    url = where.url
    tries = f" ({attempts} attempts)" if attempts > 1 else ""
    if isinstance(exc, openai.APITimeoutError):
        raise LLMTimeout(
            f"the LLM at {url} did not answer within {where.timeout:g} s{tries}; "
            "a slow server needs a larger llm.timeout"
        ) from exc
    if isinstance(exc, openai.APIConnectionError):
        raise LLMUnavailable(f"cannot reach the LLM at {url}{tries}: {exc.__cause__ or exc}") from exc
    if isinstance(exc, openai.APIStatusError):
        _translate_status(exc, where, tries)
    if isinstance(exc, openai.APIResponseValidationError):
        raise LLMBadOutput(f"the LLM at {url} answered in an unexpected shape: {exc}") from exc
    raise LLMUnavailable(f"the LLM at {url} could not be used: {exc}") from exc


def _translate_status(exc: openai.APIStatusError, where: Endpoint, tries: str) -> NoReturn:
    url, model, status = where.url, where.model, exc.status_code
    words = server_message(exc)
    said = f"Server said: {words}"
    if status == 401:
        raise LLMUnavailable(
            f"the LLM at {url} refused the API key (401): check the environment variable "
            f"{where.api_key_env}. {said}"
        ) from exc
    if status == 403:
        raise LLMUnavailable(
            f"the API key in {where.api_key_env} may not use model {model!r} at {url} (403). {said}"
        ) from exc
    if status == 404:
        if _names_a_model(exc, words):
            raise LLMUnavailable(
                f"model {model!r} not found at {url} (404): check llm.model against the server's "
                f"models ({url}/models). {said}"
            ) from exc
        if url.rstrip("/").endswith("/v1"):
            fix = "llm.base_url must be the server's OpenAI API root, which usually ends in /v1"
        else:
            fix = f"check that llm.base_url ends in /v1 (for example {url.rstrip('/')}/v1)"
        raise LLMUnavailable(
            f"no OpenAI-compatible API at {url}: {url}/chat/completions gave 404; {fix}. {said}"
        ) from exc
    if status == 429 or status >= 500:
        what = "is rate limiting requests" if status == 429 else "failed"
        raise LLMUnavailable(f"the LLM at {url} {what} (HTTP {status}{tries}). {said}") from exc
    raise LLMUnavailable(f"the LLM at {url} refused the request (HTTP {status}). {said}") from exc

"""The embedded controller: a GGUF model run in-process by llama-cpp-python.

This is the offline default (no key, no server). Why it looks the way it does:

- The model loads lazily on the first ``complete`` call, so building the engine (and
  ``--help``, tests, config checks) costs nothing.
- A ``Llama`` object is not thread-safe, so all loading and generation runs on one
  dedicated worker thread (a one-thread executor, the ``asyncio.to_thread`` idea
  without borrowing the loop's shared pool: queued calls wait in the queue, not
  in blocked pool threads that expert models need), under one lock as well.
- Generation streams, so a cancelled caller (a timeout) stops the worker at the next
  token instead of letting it run to ``max_tokens``.
- ``json_schema`` becomes a llama.cpp grammar. Tiny models loop inside arrays until
  cut off, so every array without ``maxItems`` gets one before conversion.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from engine.errors import LLMBadOutput, LLMError, LLMUnavailable
from engine.llm.base import ChatMessage
from engine.llm.embedded import DEFAULT_MODEL, looks_like_path, resolve_model

log = logging.getLogger(__name__)

INSTALL_HINT = (
    "llama-cpp-python is not installed: pip install llama-cpp-python "
    '(it compiles; CMAKE_ARGS="-DGGML_NATIVE=OFF" for a portable build), '
    "or use llm.backend: openai with any OpenAI-compatible server"
)


def cap_arrays(schema: Any, max_items: int) -> Any:
    """A copy of ``schema`` in which every array has a ``maxItems`` (at most ``max_items``)."""

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            is_array = node.get("type") == "array" or (
                isinstance(node.get("type"), list) and "array" in node["type"]
            )
            if is_array and "maxItems" not in node:
                node["maxItems"] = max_items
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    capped = copy.deepcopy(schema)
    walk(capped)
    return capped


class LocalLLM:
    """``LLM`` protocol over llama-cpp-python. Plain values in; the bot maps settings to them."""

    supports_json_schema = True

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        model_path: str | Path | None = None,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        chat_format: str | None = None,
        cache_dir: Path | None = None,
        max_array_items: int = 8,
        seed: int = 0,
        repeat_penalty: float = 1.1,
    ) -> None:
        self.model = model
        # Free text only: small models otherwise loop on one sentence ("I'm designed to assist
        # users with language and grammar." forty times); JSON repeats braces by design.
        self.repeat_penalty = repeat_penalty
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.chat_format = chat_format
        self.cache_dir = cache_dir
        self.max_array_items = max_array_items
        self.seed = seed
        if model_path is None and looks_like_path(model):
            model_path = model
        self.model_path = model_path
        self.name = Path(model_path).stem if model_path is not None else model
        self.load_seconds: float | None = None  # set once loaded, for benchmarks and logs
        self._llama: Any = None
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._grammars: dict[str, Any] = {}

    # the async face --------------------------------------------------------------

    async def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        json_schema: dict[str, Any] | None = None,
        max_tokens: int = 512,
        temperature: float = 0.0,
    ) -> str:
        payload = [m.to_dict() for m in messages]
        cancel = threading.Event()
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llama")
        loop = asyncio.get_running_loop()
        job = loop.run_in_executor(
            self._executor, self._generate, payload, json_schema, max_tokens, temperature, cancel
        )
        try:
            text, finish = await job
        except asyncio.CancelledError:
            cancel.set()  # the worker stops at its next token
            raise
        if json_schema is None:
            return text.strip()
        return self._checked_json(text, finish, max_tokens)

    async def aclose(self) -> None:
        """Free the model (it is reloaded if used again)."""
        executor, self._executor = self._executor, None
        if executor is None:
            return
        await asyncio.get_running_loop().run_in_executor(executor, self._unload)
        executor.shutdown(wait=False, cancel_futures=True)

    # the worker thread ---------------------------------------------------------------

    def _generate(
        self,
        messages: list[dict[str, str]],
        json_schema: dict[str, Any] | None,
        max_tokens: int,
        temperature: float,
        cancel: threading.Event,
    ) -> tuple[str, str | None]:
        with self._lock:
            if cancel.is_set():
                return "", "cancelled"
            llama = self._ensure_loaded()
            grammar = self._grammar(json_schema) if json_schema is not None else None
            pieces: list[str] = []
            finish: str | None = None
            try:
                stream = llama.create_chat_completion(
                    messages=messages,
                    max_tokens=max_tokens,
                    temperature=temperature,
                    seed=self.seed,
                    grammar=grammar,
                    repeat_penalty=1.0 if grammar is not None else self.repeat_penalty,
                    stream=True,
                )
                for chunk in stream:
                    if cancel.is_set():
                        return "".join(pieces), "cancelled"
                    choice = chunk["choices"][0]
                    content = choice.get("delta", {}).get("content")
                    if content:
                        pieces.append(content)
                    finish = choice.get("finish_reason") or finish
            except ValueError as exc:
                if "context window" in str(exc):
                    raise LLMError(
                        f"the prompt does not fit the local model's context (n_ctx={self.n_ctx}): {exc}"
                    ) from exc
                raise LLMError(f"the local model failed: {exc}") from exc
            except RuntimeError as exc:
                raise LLMError(f"the local model failed: {exc}") from exc
            return "".join(pieces), finish

    def _ensure_loaded(self) -> Any:
        if self._llama is not None:
            return self._llama
        try:
            import llama_cpp
        except ImportError as exc:
            raise LLMUnavailable(INSTALL_HINT) from exc
        resolved = resolve_model(self.model, self.model_path, self.cache_dir)
        started = time.perf_counter()
        try:
            self._llama = llama_cpp.Llama(
                model_path=str(resolved.path),
                n_ctx=self.n_ctx,
                n_threads=self.n_threads,
                chat_format=self.chat_format or resolved.chat_format,
                seed=self.seed,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as exc:
            raise LLMUnavailable(f"llama.cpp could not load {resolved.path}: {exc}") from exc
        self.load_seconds = time.perf_counter() - started
        log.info("loaded %s from %s in %.2fs", resolved.name, resolved.path, self.load_seconds)
        return self._llama

    def _grammar(self, schema: dict[str, Any]) -> Any:
        """The cached grammar for ``schema``, or None where llama.cpp cannot express it."""
        key = json.dumps(schema, sort_keys=True)
        if key not in self._grammars:
            from llama_cpp import LlamaGrammar

            capped = cap_arrays(schema, self.max_array_items)
            try:
                self._grammars[key] = LlamaGrammar.from_json_schema(json.dumps(capped), verbose=False)
            except Exception as exc:  # the converter raises bare Exceptions for unsupported keywords
                log.warning("json_schema not expressible as a grammar, generating unconstrained: %s", exc)
                self._grammars[key] = None
        return self._grammars[key]

    def _unload(self) -> None:
        with self._lock:
            llama, self._llama = self._llama, None
            if llama is not None:
                llama.close()

    # checks ----------------------------------------------------------------------------

    def _checked_json(self, text: str, finish: str | None, max_tokens: int) -> str:
        text = text.strip()
        try:
            json.loads(text)
        except ValueError as exc:
            cut = f" (cut off at max_tokens={max_tokens})" if finish == "length" else ""
            raise LLMBadOutput(f"the local model's answer is not valid JSON{cut}: {text[:300]!r}") from exc
        return text

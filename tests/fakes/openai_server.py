"""A scripted OpenAI-compatible server on 127.0.0.1 that the real ``openai`` client talks to.

Why a server and not a mock: the backend's job is the edge between our code and the
openai package (request shape, retries, timeouts, error classes). Only a real HTTP
peer exercises that edge; a patched client method would test our guesses instead.

Endpoints: ``POST /v1/chat/completions`` (``stream: false`` only) and ``GET /v1/models``.

Scripting, in the order they are consulted for each chat request:

1. ``queue``: replies given to the constructor or to ``script(...)``, used once each;
2. ``responder``: a callable ``(request_json) -> Reply | str`` (may be async), used
   when the queue is empty, e.g. to answer by prompt content.

A ``Reply`` is text content, an empty/null content, an HTTP error with an
OpenAI-shaped body, an error with a body of another server's shape (``Reply.raw``:
FastAPI's ``{"detail": ...}``, ``{"error": "text"}``, plain text), and/or a delay
before answering. Plain strings mean ``Reply(str)``. ``vllm_like_refusal`` is a
responder for a server that answers a ``response_format`` it lacks with HTTP 500.

What tests can assert on: ``requests`` (every chat request body, as JSON),
``headers`` (their headers), ``calls`` (how many chat requests arrived),
``abandoned`` (requests whose client hung up before the answer, as a timed-out
client does; ``wait_abandoned(n)`` waits until the server has noticed n of them).

Failing loudly: a request with no scripted reply, or with ``stream: true``, gets a
400 and is recorded in ``problems``; the ``openai_server`` fixture fails the test at
teardown when ``problems`` is not empty (clear it if a test provokes one on purpose).

    server = FakeOpenAIServer(["first answer", Reply.error(429, "slow down")])
    async with server:
        llm = OpenAILLM(base_url=server.base_url, model="fake-model", ...)
"""

from __future__ import annotations

import asyncio
import inspect
import socket
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

__all__ = ["FakeOpenAIServer", "Reply", "Responder", "unused_port", "vllm_like_refusal"]


@dataclass(frozen=True)
class Reply:
    """One scripted answer. ``content=None`` sends a null content (an "empty" answer)."""

    content: str | None = ""
    status: int = 200
    error_message: str = ""
    error_type: str | None = None
    error_param: str | None = None
    error_code: str | None = None
    delay: float = 0.0  # seconds to wait before answering (for client timeouts)
    headers: Mapping[str, str] = field(default_factory=dict)
    finish_reason: str = "stop"
    raw_body: Any = None  # sent instead of the OpenAI shape: JSON, or text when a str
    usage: Mapping[str, Any] = field(
        default_factory=lambda: {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    )

    @staticmethod
    def text(content: str, *, delay: float = 0.0) -> Reply:
        return Reply(content=content, delay=delay)

    @staticmethod
    def empty() -> Reply:
        return Reply(content=None)

    @staticmethod
    def error(
        status: int,
        message: str,
        *,
        type: str | None = None,  # noqa: A002 - the OpenAI field name
        param: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        return Reply(
            content=None,
            status=status,
            error_message=message,
            error_type=type or _default_error_type(status),
            error_param=param,
            error_code=code,
            headers=dict(headers or {}),
        )

    @staticmethod
    def raw(status: int, body: Any) -> Reply:
        """An error whose body is ``body`` as given (a dict or list as JSON, a str as text)."""
        return Reply(content=None, status=status, raw_body=body)

    def body(self, model: str, number: int) -> dict[str, Any]:
        if self.status >= 400:
            return {
                "error": {
                    "message": self.error_message,
                    "type": self.error_type,
                    "param": self.error_param,
                    "code": self.error_code,
                }
            }
        return {
            "id": f"chatcmpl-fake-{number}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": self.content},
                    "finish_reason": self.finish_reason,
                    "logprobs": None,
                }
            ],
            "usage": dict(self.usage),
        }

    def response(self, model: str, number: int) -> web.Response:
        if isinstance(self.raw_body, str):
            return web.Response(text=self.raw_body, status=self.status, headers=self.headers)
        body = self.raw_body if self.raw_body is not None else self.body(model, number)
        return web.json_response(body, status=self.status, headers=self.headers)


def _default_error_type(status: int) -> str:
    if status == 401:
        return "invalid_request_error"
    if status == 429:
        return "rate_limit_exceeded"
    return "server_error" if status >= 500 else "invalid_request_error"


Responder = Callable[[dict[str, Any]], "Reply | str | Awaitable[Reply | str]"]


def vllm_like_refusal(answer: str = "[]", refused: str = "json_schema") -> Responder:
    """A responder for a server without ``response_format`` type ``refused``: HTTP 500
    with a body naming the field (as llama-cpp-python and older llama.cpp servers do),
    ``answer`` otherwise."""

    def respond(body: dict[str, Any]) -> Reply:
        kind = (body.get("response_format") or {}).get("type")
        if kind == refused:
            return Reply.error(
                500,
                f'response_format type must be one of "text" or "json_object", but got: {kind}',
                type="server_error",
            )
        return Reply(answer)

    return respond


class FakeOpenAIServer:
    """See the module docstring. Start with ``await start()`` or ``async with``."""

    def __init__(
        self,
        replies: Iterable[Reply | str] = (),
        *,
        responder: Responder | None = None,
        models: Iterable[str] = ("fake-model",),
    ) -> None:
        self.queue: deque[Reply | str] = deque(replies)
        self.responder = responder
        self.models = list(models)
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.problems: list[str] = []
        self.abandoned = 0
        self._abandon_seen = asyncio.Event()
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def calls(self) -> int:
        return len(self.requests)

    async def wait_abandoned(self, count: int) -> None:
        """Until the server has seen ``count`` clients hang up before their answer."""
        while self.abandoned < count:
            self._abandon_seen.clear()
            await self._abandon_seen.wait()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def script(self, *replies: Reply | str) -> None:
        """Append replies to the queue."""
        self.queue.extend(replies)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/v1/models", self._models)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0, handler_cancellation=True)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()

    async def close(self) -> None:
        self._closing.set()  # delayed replies stop waiting
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeOpenAIServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _models(self, request: web.Request) -> web.Response:
        data = [{"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in self.models]
        return web.json_response({"object": "list", "data": data})

    async def _chat(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append(body)
        self.headers.append(dict(request.headers))
        if body.get("stream"):
            return self._refuse("the fake OpenAI server supports only stream: false")
        reply = await self._next_reply(body)
        if reply is None:
            return self._refuse(f"the fake OpenAI server has no scripted reply for request #{self.calls}")
        if reply.delay:
            try:
                await asyncio.wait_for(self._closing.wait(), reply.delay)
            except TimeoutError:
                pass
            except asyncio.CancelledError:  # aiohttp cancels the handler when the client hangs up
                self.abandoned += 1
                self._abandon_seen.set()
                raise
        return reply.response(str(body.get("model", "")), self.calls)

    async def _next_reply(self, body: dict[str, Any]) -> Reply | None:
        if self.queue:
            item = self.queue.popleft()
        elif self.responder is not None:
            item = self.responder(body)
            if inspect.isawaitable(item):
                item = await item
        else:
            return None
        return Reply(content=item) if isinstance(item, str) else item

    def _refuse(self, message: str) -> web.Response:
        self.problems.append(message)
        return Reply.error(400, message).response("", self.calls)


def unused_port() -> int:
    """A local port nothing listens on (bound then released), for connection-refused tests."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])

"""Shared fixtures. Loopback fakes of the outside world live in tests/fakes/."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from tests.fakes.openai_server import FakeOpenAIServer
from tests.llamacpp import llamacpp_server  # noqa: F401  (a session fixture: the real llama.cpp server)


@pytest.fixture
async def openai_server() -> AsyncIterator[FakeOpenAIServer]:
    """A running scripted OpenAI-compatible server; ``.base_url`` ends in ``/v1``.

    Script it with ``openai_server.script(...)`` or set ``openai_server.responder``.
    The test fails at teardown if a request found no scripted reply or asked to stream.
    """
    server = FakeOpenAIServer()
    await server.start()
    try:
        yield server
    finally:
        await server.close()
    if server.problems:
        pytest.fail("fake OpenAI server: " + "; ".join(server.problems))


@pytest.fixture
async def make() -> AsyncIterator[Callable[..., Any]]:
    """``make(base_url, backend=None, ...)`` -> (engine, backend) built by
    tests.engine.helpers.make_engine; every engine is closed at teardown."""
    from tests.engine.helpers import make_engine

    engines = []

    def factory(*args: Any, **kwargs: Any) -> Any:
        engine, backend = make_engine(*args, **kwargs)
        engines.append(engine)
        return engine, backend

    yield factory
    for engine in engines:
        await engine.aclose()

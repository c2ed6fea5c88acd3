"""Shared fixtures. Loopback fakes of the outside world live in tests/fakes/."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.fakes.openai_server import FakeOpenAIServer


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

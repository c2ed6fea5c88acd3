from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from tests.engine.helpers import make_engine


@pytest.fixture
async def make() -> AsyncIterator[Callable[..., Any]]:
    """``make(base_url, backend=None, ...)`` -> (engine, backend); engines are closed at teardown."""
    engines = []

    def factory(*args: Any, **kwargs: Any) -> Any:
        engine, backend = make_engine(*args, **kwargs)
        engines.append(engine)
        return engine, backend

    yield factory
    for engine in engines:
        await engine.aclose()

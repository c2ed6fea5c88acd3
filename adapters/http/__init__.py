"""HTTP adapter: the OpenAI chat-completions API, JARVIS's endpoints and a chat page.

``hugginggpt-bot serve`` runs it (adapters/http/runner.py). The names below load
lazily, so ``adapters.http.settings`` (read by the config loader on every start) does
not pull in aiohttp's web server. Endpoints, keys and set-up: the README, section
HTTP API.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "build_app": "adapters.http.app",
    "run_http": "adapters.http.runner",
    "serve": "adapters.http.runner",
    "ApiKeys": "adapters.http.keys",
    "HttpSettings": "adapters.http.settings",
    "Limits": "adapters.http.messages",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'adapters.http' has no attribute {name!r}")
    return getattr(import_module(module), name)

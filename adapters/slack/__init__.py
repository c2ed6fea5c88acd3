"""Slack adapter: slash command, mentions in threads, DM sessions, files, Socket Mode and HTTP.

The names below load lazily, so ``adapters.slack.settings`` (read by the config
loader on every start) does not pull in slack_bolt and aiohttp.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "SlackBot": "adapters.slack.app",
    "build_slack_app": "adapters.slack.app",
    "build_slack_bot": "adapters.slack.app",
    "make_client": "adapters.slack.client",
    "http_app": "adapters.slack.runner",
    "run_slack": "adapters.slack.runner",
    "serve_http": "adapters.slack.runner",
    "socket_mode_handler": "adapters.slack.runner",
    "SlackSettings": "adapters.slack.settings",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'adapters.slack' has no attribute {name!r}")
    return getattr(import_module(module), name)

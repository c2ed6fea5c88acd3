"""Discord adapter: mentions, replies and DMs, ``/hugginggpt`` and ``/forget``, files in and out.

The names below load lazily, so ``adapters.discord.settings`` (read by the config
loader on every start) does not pull in discord.py. Set-up: the README, section Discord.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "DiscordBot": "adapters.discord.client",
    "run_discord": "adapters.discord.runner",
    "DiscordSettings": "adapters.discord.settings",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'adapters.discord' has no attribute {name!r}")
    return getattr(import_module(module), name)

"""Entry point used by ``hugginggpt-bot discord``: build the client and run it until stopped."""

from __future__ import annotations

import discord

from adapters.base import TurnHandler
from adapters.discord.client import DiscordBot
from adapters.discord.settings import DiscordSettings
from engine.errors import ConfigError


async def run_discord(settings: DiscordSettings, handler: TurnHandler, token: str) -> None:
    """Log in, connect to the gateway and serve until cancelled; always closes the client.

    Discord's start-up refusals are translated into ``ConfigError`` naming the fix.
    """
    if not token.strip():
        raise ConfigError(
            f"discord: the bot token is empty; set the environment variable {settings.token_env}"
        )
    async with DiscordBot(settings, handler) as client:
        try:
            await client.start(token)
        except discord.LoginFailure as exc:
            raise ConfigError(
                f"discord: the token was refused; check {settings.token_env} "
                "(Developer Portal -> your application -> Bot -> Reset Token)"
            ) from exc
        except discord.PrivilegedIntentsRequired as exc:
            raise ConfigError(
                "discord: the Message Content intent is not enabled; turn it on under "
                "Developer Portal -> your application -> Bot -> Privileged Gateway Intents"
            ) from exc

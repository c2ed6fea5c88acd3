"""Running the Slack bot: Socket Mode (the default) or HTTP mode.

Socket Mode needs no public URL: an app-level token (``xapp-``, scope
``connections:write``) opens a websocket through apps.connections.open. HTTP mode
serves Slack's Events API and slash commands on ``http_port``/``http_path`` and
checks every request's signature with the signing secret (Bolt refuses bad
signatures and timestamps older than five minutes).

Tokens come from the environment under the names in the settings; missing or
malformed ones, and a bot token Slack refuses, are reported as ``ConfigError``
naming the variable, before anything connects.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError, SlackClientError

from adapters.base import TurnHandler
from adapters.slack.app import SlackBot, build_slack_bot
from adapters.slack.settings import SlackSettings
from engine.errors import ConfigError

log = logging.getLogger(__name__)


def _token(env: Mapping[str, str], name: str, prefix: str, what: str) -> str:
    value = (env.get(name) or "").strip()
    if not value:
        raise ConfigError(
            f"slack: set the environment variable {name} to the {what} (see the README, section Slack)"
        )
    if not value.startswith(prefix):
        raise ConfigError(f"slack: {name} must hold the {what}, which starts with '{prefix}'")
    return value


def http_app(app: AsyncApp, path: str) -> web.Application:
    """An aiohttp application that hands POSTs on ``path`` to Bolt."""

    async def handle(request: web.Request) -> web.StreamResponse:
        bolt_response = await app.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(bolt_response)

    web_app = web.Application()
    web_app.router.add_post(path, handle)
    return web_app


async def serve_http(bot: SlackBot, host: str, port: int) -> web.AppRunner:
    """Start serving; the caller cleans the runner up. Port 0 picks a free port."""
    runner = web.AppRunner(http_app(bot.app, bot.settings.http_path), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner


def socket_mode_handler(bot: SlackBot, app_token: str) -> AsyncSocketModeHandler:
    """A Socket Mode handler whose apps.connections.open goes through the bot's client."""
    return AsyncSocketModeHandler(bot.app, app_token, web_client=bot.client)


async def _check_bot_token(bot: SlackBot, env_name: str) -> None:
    try:
        who = await bot.client.auth_test()
    except SlackApiError as exc:
        raise ConfigError(
            f"slack: Slack refused {env_name} ({exc.response.get('error')}); check the bot token"
        ) from exc
    except SlackClientError as exc:
        raise ConfigError(f"slack: cannot reach the Slack API ({exc})") from exc
    log.info("connected to Slack workspace %s as %s", who.get("team"), who.get("user"))


async def run_slack(settings: SlackSettings, handler: TurnHandler, env: Mapping[str, str]) -> None:
    """Run the bot until cancelled (Ctrl-C in the CLI)."""
    bot_token = _token(env, settings.bot_token_env, "xoxb-", "bot token (Bot User OAuth Token)")
    if settings.mode == "socket":
        app_token = _token(env, settings.app_token_env, "xapp-", "app-level token with connections:write")
        signing_secret = None
    else:
        signing_secret = (env.get(settings.signing_secret_env) or "").strip()
        if not signing_secret:
            raise ConfigError(f"slack: HTTP mode needs the signing secret in {settings.signing_secret_env}")
    bot = build_slack_bot(settings, handler, bot_token, signing_secret)
    try:
        await _check_bot_token(bot, settings.bot_token_env)
        if settings.mode == "socket":
            socket = socket_mode_handler(bot, app_token)
            try:
                await socket.connect_async()
                log.info("Slack Socket Mode connected; waiting for events")
                await asyncio.Event().wait()
            finally:
                await socket.close_async()
        else:
            runner = await serve_http(bot, "0.0.0.0", settings.http_port)
            try:
                log.info("Slack HTTP mode on port %s, path %s", settings.http_port, settings.http_path)
                await asyncio.Event().wait()
            finally:
                await runner.cleanup()
    finally:
        await bot.aclose()

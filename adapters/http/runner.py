"""Entry point used by ``hugginggpt-bot serve``: listen, serve until cancelled, stop gently.

Cancelling ``serve`` (``until_terminated`` does it on SIGTERM) stops accepting at once
(the listening socket closes; idle keep-alive connections close), lets the turns
that are running finish, streams included, for up to ``http.shutdown_grace``
seconds, cancels what is left, and only then returns, so the conversation service and
the store close after the last turn was stored. The cancellation is passed on
afterwards, so the command still ends as terminated.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from pathlib import Path

from aiohttp import web

from adapters.http.app import ACCESS_LOG_FORMAT, build_app
from adapters.http.keys import ApiKeys
from adapters.http.messages import Limits
from adapters.http.settings import HttpSettings
from adapters.http.turns import HttpTurnHandler
from engine.errors import ConfigError

log = logging.getLogger(__name__)


async def run_http(
    settings: HttpSettings,
    handler: HttpTurnHandler,
    artifacts: Path,
    limits: Limits,
    env: Mapping[str, str],
    on_listening: Callable[[str], None] | None = None,
) -> None:
    """Serve the API and the chat page until cancelled; the keys are read from ``env``."""
    keys = ApiKeys.from_env(env, settings.api_keys_env)
    app = build_app(settings, handler, keys, artifacts, limits)
    await serve(app, settings.host, settings.port, settings.shutdown_grace, on_listening)


async def serve(
    app: web.Application,
    host: str,
    port: int,
    grace: float,
    on_listening: Callable[[str], None] | None = None,
) -> None:
    runner = web.AppRunner(
        app, handle_signals=False, access_log_format=ACCESS_LOG_FORMAT, shutdown_timeout=grace
    )
    await runner.setup()
    stopping = False
    try:
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as exc:
            raise ConfigError(
                f"http: cannot listen on {host}:{port} ({exc.strerror or exc}); "
                "choose another --port or stop what uses it"
            ) from exc
        if on_listening is not None:
            bound_host, bound_port = runner.addresses[0][:2]
            on_listening(f"http://{_url_host(bound_host)}:{bound_port}")
        await asyncio.get_running_loop().create_future()  # until cancelled
    except asyncio.CancelledError:
        stopping = True
        task = asyncio.current_task()
        if task is not None:
            task.uncancel()  # the wait for running turns below must not be cut short
        log.info("stopping: no new connections; running turns get %.0f s to finish", grace)
    finally:
        await runner.cleanup()
    if stopping:
        raise asyncio.CancelledError


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host

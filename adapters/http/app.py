"""The aiohttp application of ``hugginggpt-bot serve``: its routes and shared context.

The access log shows the client, request line, status, size and time, and no header,
so the key never reaches a log (see ``ACCESS_LOG_FORMAT``; keys travel only in the
Authorization header, never in a URL).
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from adapters.http import jarvis, openai_api, web_page
from adapters.http.context import CONTEXT, HttpContext
from adapters.http.files import FileArea
from adapters.http.guard import MIDDLEWARES
from adapters.http.keys import ApiKeys
from adapters.http.messages import Limits
from adapters.http.settings import HttpSettings
from adapters.http.turns import HttpTurnHandler, Turns
from adapters.ratelimit import RateLimiter

ACCESS_LOG_FORMAT = '%a "%r" %s %b %Tfs'


def build_app(
    settings: HttpSettings,
    handler: HttpTurnHandler,
    keys: ApiKeys,
    artifacts: Path,
    limits: Limits,
) -> web.Application:
    app = web.Application(
        middlewares=list(MIDDLEWARES),
        client_max_size=int(settings.max_body_mb * 1024 * 1024),
    )
    app[CONTEXT] = HttpContext(
        settings=settings,
        keys=keys,
        files=FileArea(artifacts),
        turns=Turns(handler),
        limits=limits,
        limiter=RateLimiter(settings.rate_limit_per_minute, settings.rate_limit_burst),
    )
    web_page.add_routes(app)
    openai_api.add_routes(app)
    jarvis.add_routes(app)
    return app

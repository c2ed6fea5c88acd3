"""What the HTTP endpoints share: settings, keys, files, turns, limits, the rate limit."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from adapters.http.errors import ApiError
from adapters.http.files import FileArea
from adapters.http.keys import ApiKeys, Caller
from adapters.http.messages import Limits
from adapters.http.settings import HttpSettings
from adapters.http.turns import Turns
from adapters.ratelimit import RateLimiter


@dataclass
class HttpContext:
    """What the endpoints share; one per application."""

    settings: HttpSettings
    keys: ApiKeys
    files: FileArea
    turns: Turns
    limits: Limits
    limiter: RateLimiter

    def base_url(self, request: web.Request) -> str:
        """Where links in replies point: ``http.public_url``, else the request's own host."""
        return self.settings.public_url or f"{request.scheme}://{request.host}"

    def own_origins(self, request: web.Request) -> tuple[str, ...]:
        return tuple(dict.fromkeys((self.base_url(request), f"{request.scheme}://{request.host}")))

    def admit(self, caller: Caller, user: object = None) -> None:
        """Whether a request may run a turn: ``http.allow_users`` for its ``user`` field,
        then the per-key rate limit (a refused request costs no allowance)."""
        allowed = self.settings.allow_users
        if allowed and user not in allowed:
            raise ApiError(403, "this server serves only the users in http.allow_users: send one as `user`")
        wait = self.limiter.try_acquire(caller.workspace)
        if wait > 0:
            raise ApiError(
                429,
                RateLimiter.wait_message(wait),
                code="rate_limit_exceeded",
                headers={"Retry-After": str(max(1, round(wait)))},
            )


CONTEXT = web.AppKey("hugginggpt", HttpContext)
CALLER = web.RequestKey("hugginggpt.caller", Caller)


def context(request: web.Request) -> HttpContext:
    return request.app[CONTEXT]


def caller_of(request: web.Request) -> Caller:
    return request[CALLER]

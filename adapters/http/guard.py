"""The checks every request passes before its endpoint.

Order (outermost first): errors become JSON in the endpoint family's shape; CORS
(off unless ``http.allow_origins`` lists origins) answers preflights; a body larger
than ``http.max_body_mb`` is refused from its Content-Length before anything is read
(aiohttp's ``client_max_size`` stops one that sends more than it announced); then
the key: every path needs ``Authorization: Bearer KEY`` except the page (``/``, its
script and style) and ``/healthz``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from adapters.http.context import CALLER, context
from adapters.http.errors import ApiError, error_response

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PUBLIC_PATHS = frozenset({"/", "/healthz", "/static/chat.js", "/static/chat.css"})


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(request.path, exc)
    except web.HTTPException as exc:  # aiohttp's own: no route, wrong method, body over client_max_size
        if exc.status < 400:
            raise
        message = exc.reason
        if exc.status == 413:
            message = (
                f"the request body is over {context(request).settings.max_body_mb:g} MB (http.max_body_mb)"
            )
        return error_response(request.path, ApiError(exc.status, message))


@web.middleware
async def _cors(request: web.Request, handler: Handler) -> web.StreamResponse:
    allowed = context(request).settings.allow_origins
    origin = request.headers.get("Origin")
    permitted = bool(origin) and bool(allowed) and ("*" in allowed or origin in allowed)
    if request.method == "OPTIONS" and origin and request.headers.get("Access-Control-Request-Method"):
        if not permitted:
            raise ApiError(403, "this origin may not call the API (http.allow_origins)")
        response: web.StreamResponse = web.Response(status=204)
    else:
        response = await handler(request)
    if permitted and origin:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Vary"] = "Origin"
        if request.method == "OPTIONS":
            response.headers["Access-Control-Allow-Methods"] = "GET, POST, DELETE, OPTIONS"
            response.headers["Access-Control-Allow-Headers"] = (
                "Authorization, Content-Type, X-Conversation-Id, X-OpenWebUI-Chat-Id"
            )
            response.headers["Access-Control-Max-Age"] = "600"
    return response


@web.middleware
async def _size_and_key(request: web.Request, handler: Handler) -> web.StreamResponse:
    ctx = context(request)
    limit = int(ctx.settings.max_body_mb * 1024 * 1024)
    if request.content_length is not None and request.content_length > limit:
        raise ApiError(413, f"the request body is over {ctx.settings.max_body_mb:g} MB (http.max_body_mb)")
    if request.path not in PUBLIC_PATHS:
        caller = ctx.keys.identify(request.headers.get("Authorization"))
        if caller is None:
            raise ApiError(
                401,
                "a valid API key is needed: send `Authorization: Bearer KEY` "
                f"(the server's keys are in {ctx.settings.api_keys_env})",
                code="invalid_api_key",
                headers={"WWW-Authenticate": 'Bearer realm="hugginggpt"'},
            )
        request[CALLER] = caller
    response = await handler(request)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    return response


MIDDLEWARES = (_errors, _cors, _size_and_key)

"""The chat page, its script and style, ``/healthz``, and the files under ``/files/``.

The page is plain HTML and JavaScript shipped in ``static/`` (no build step, nothing
from another origin: its Content-Security-Policy allows this server alone). It asks
for the key once and keeps it in the tab's sessionStorage; it talks to the same API
as any client.

A file under ``/files/`` is served only to the key whose workspace owns it, with a
sandboxing policy and no type sniffing, so a file can never run as a page of this
origin.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from aiohttp import web

from adapters.http.context import caller_of, context
from adapters.http.files import FILES_PREFIX

STATIC = Path(__file__).resolve().parent / "static"
_ASSETS = {"chat.js": "text/javascript", "chat.css": "text/css"}
PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' blob: data:; media-src 'self' blob: data:; form-action 'none'; "
    "base-uri 'none'; frame-ancestors 'none'"
)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", page)
    app.router.add_get("/static/{name}", asset)
    app.router.add_get("/healthz", health)
    app.router.add_get(FILES_PREFIX + "{tail:.+}", served_file)


async def page(request: web.Request) -> web.Response:
    return web.Response(
        body=(STATIC / "index.html").read_bytes(),
        content_type="text/html",
        charset="utf-8",
        headers={"Content-Security-Policy": PAGE_POLICY, "Cache-Control": "no-cache"},
    )


async def asset(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in _ASSETS:
        raise web.HTTPNotFound()
    return web.Response(
        body=(STATIC / name).read_bytes(),
        content_type=_ASSETS[name],
        charset="utf-8",
        headers={"Cache-Control": "no-cache"},
    )


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "turns_running": context(request).turns.running})


async def served_file(request: web.Request) -> web.FileResponse:
    path = context(request).files.local_path(caller_of(request), request.rel_url.raw_path)
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return web.FileResponse(
        path,
        headers={
            "Content-Type": mime,
            "Content-Security-Policy": "sandbox; default-src 'none'",
            "Cache-Control": "private, max-age=3600",
            "Content-Disposition": "inline",
        },
    )

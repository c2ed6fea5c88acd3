"""A fake Slack on 127.0.0.1 for the real slack_bolt / slack_sdk to talk to.

What it serves (aiohttp, one port):

- Web API under ``/api/``: auth.test, chat.postMessage, chat.update,
  chat.postEphemeral, files.getUploadURLExternal, files.completeUploadExternal,
  apps.connections.open; anything else answers ``unknown_method``. Bot-token methods
  refuse other tokens (``invalid_auth``); apps.connections.open wants the app token.
- ``/upload/{file_id}``: the raw upload URL handed out by files.getUploadURLExternal.
- ``/files-pri/{file_id}/{name}``: private file downloads; without the bot token in
  ``Authorization`` it answers an HTML sign-in page, as Slack does.
- ``/response/{id}``: a slash command's response_url.
- ``/ws``: the Socket Mode websocket. It sends ``hello`` on connect; tests push
  envelopes with ``send_envelope`` and read the acks with ``wait_for_ack``.

Every request is recorded in ``calls`` (method, merged params, token). Errors are
scripted per method (``fail_next``, with an HTTP status for a server error;
``rate_limit_next``), for the upload URL (``fail_upload_next``) or per channel
(``deny_channel``: chat.*, and upload completion, answer e.g. ``not_in_channel``).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

JSON = dict[str, Any]


@dataclass
class Call:
    method: str
    params: JSON
    token: str | None
    body: bytes = b""
    at: float = field(default_factory=time.monotonic)


@dataclass
class _Scripted:
    error: str | None = None
    retry_after: int | None = None  # set: answer 429 with this Retry-After
    status: int = 200  # a 5xx answers as Slack's servers do when they fail
    after: int = 0  # calls of the method answered normally before this one fails


class FakeSlack:
    def __init__(
        self,
        bot_token: str = "xoxb-test-token",
        app_token: str = "xapp-test-token",
        team_id: str = "T0001",
        bot_user_id: str = "UBOT",
        bot_id: str = "BBOT",
    ):
        self.bot_token = bot_token
        self.app_token = app_token
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.download_delay = 0.0  # seconds before a file download answers (a slow link)
        self.calls: list[Call] = []
        self.uploads: dict[str, bytes] = {}  # file_id -> bytes received at the upload URL
        self.files: dict[str, tuple[bytes, str]] = {}  # file_id -> (bytes, content type) to download
        self.acks: dict[str, JSON] = {}  # envelope_id -> the ack Socket Mode sent back
        self._scripted: dict[str, deque[_Scripted]] = defaultdict(deque)
        self._upload_failures: deque[int] = deque()  # statuses for the next uploads
        self._denied: dict[str, str] = {}
        self._ts = itertools.count(1)
        self._ids = itertools.count(1)
        self._sockets: list[web.WebSocketResponse] = []
        self._runner: web.AppRunner | None = None
        self.url = ""

    # ---- lifecycle

    async def start(self) -> FakeSlack:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_get("/files-pri/{file_id}/{name}", self._download)
        app.router.add_post("/response/{rid}", self._response_url)
        app.router.add_get("/ws", self._websocket)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def close(self) -> None:
        for ws in list(self._sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    # ---- scripting

    def fail_next(self, method: str, error: str, status: int = 200, after: int = 0) -> None:
        self._scripted[method].append(_Scripted(error=error, status=status, after=after))

    def fail_upload_next(self, status: int = 500) -> None:
        self._upload_failures.append(status)

    def rate_limit_next(self, method: str, retry_after: int = 0) -> None:
        self._scripted[method].append(_Scripted(retry_after=retry_after))

    def deny_channel(self, channel: str, error: str = "not_in_channel") -> None:
        self._denied[channel] = error

    def add_file(self, name: str, data: bytes, mimetype: str, size: int | None = None) -> JSON:
        """Register a downloadable file; returns the file object as Slack puts it in events."""
        file_id = f"F{next(self._ids):05d}"
        self.files[file_id] = (data, mimetype)
        url = f"{self.url}/files-pri/{file_id}/{name}"
        return {
            "id": file_id,
            "name": name,
            "title": name,
            "mimetype": mimetype,
            "filetype": name.rsplit(".", 1)[-1],
            "size": len(data) if size is None else size,
            "mode": "hosted",
            "url_private": url,
            "url_private_download": url,
        }

    def response_url(self, rid: str = "r1") -> str:
        return f"{self.url}/response/{rid}"

    # ---- reading what happened

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 5.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting; calls so far: {[c.method for c in self.calls]}")
            await asyncio.sleep(0.01)

    async def wait_for_calls(self, method: str, count: int = 1, timeout: float = 5.0) -> list[Call]:
        await self.wait_for(lambda: len(self.calls_to(method)) >= count, timeout)
        return self.calls_to(method)

    # ---- Socket Mode

    async def wait_for_socket(self, timeout: float = 5.0) -> web.WebSocketResponse:
        ws: web.WebSocketResponse = await self.wait_for(lambda: self._sockets and self._sockets[-1], timeout)
        return ws

    async def send_envelope(self, kind: str, payload: JSON, retry_attempt: int = 0) -> str:
        """Push a Socket Mode envelope (``slash_commands``, ``events_api``); returns its id."""
        ws = await self.wait_for_socket()
        envelope_id = str(uuid.uuid4())
        await ws.send_json(
            {
                "envelope_id": envelope_id,
                "type": kind,
                "payload": payload,
                "accepts_response_payload": kind != "events_api",
                "retry_attempt": retry_attempt,
                "retry_reason": "timeout" if retry_attempt else "",
            }
        )
        return envelope_id

    async def wait_for_ack(self, envelope_id: str, timeout: float = 5.0) -> JSON:
        ack: JSON = await self.wait_for(lambda: self.acks.get(envelope_id), timeout)
        return ack

    # ---- handlers

    async def _params(self, request: web.Request) -> tuple[JSON, bytes]:
        params: JSON = dict(request.query)
        body = await request.read()
        if request.content_type == "application/json" and body:
            params.update(json.loads(body))
        elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            params.update({k: v for k, v in form.items() if isinstance(v, str)})
        return params, body

    @staticmethod
    def _token(request: web.Request, params: JSON) -> str | None:
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            return auth[len("Bearer ") :]
        token = params.get("token")
        return str(token) if token else None

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params, body = await self._params(request)
        token = self._token(request, params)
        self.calls.append(Call(method, params, token, body))
        wanted = self.app_token if method == "apps.connections.open" else self.bot_token
        if token != wanted:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        if self._scripted[method] and self._scripted[method][0].after > 0:
            self._scripted[method][0].after -= 1
        elif self._scripted[method]:
            scripted = self._scripted[method].popleft()
            if scripted.retry_after is not None:
                return web.json_response(
                    {"ok": False, "error": "ratelimited"},
                    status=429,
                    headers={"Retry-After": str(scripted.retry_after)},
                )
            return web.json_response({"ok": False, "error": scripted.error}, status=scripted.status)
        channel = params.get("channel") or params.get("channel_id")
        if channel in self._denied and method != "files.getUploadURLExternal":
            return web.json_response({"ok": False, "error": self._denied[channel]})
        answer = getattr(self, "_m_" + method.replace(".", "_"), None)
        if answer is None:
            return web.json_response({"ok": False, "error": "unknown_method"})
        return web.json_response({"ok": True, **answer(params)})

    def _m_auth_test(self, params: JSON) -> JSON:
        return {
            "url": "https://fake.slack.com/",
            "team": "Fake Team",
            "user": "hugginggpt",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _next_ts(self) -> str:
        return f"{int(time.time())}.{next(self._ts):06d}"

    def _m_chat_postMessage(self, params: JSON) -> JSON:
        ts = self._next_ts()
        message = {"type": "message", "text": params.get("text", ""), "user": self.bot_user_id, "ts": ts}
        if params.get("thread_ts"):
            message["thread_ts"] = params["thread_ts"]
        return {"channel": params.get("channel"), "ts": ts, "message": message}

    def _m_chat_update(self, params: JSON) -> JSON:
        return {"channel": params.get("channel"), "ts": params.get("ts"), "text": params.get("text", "")}

    def _m_chat_postEphemeral(self, params: JSON) -> JSON:
        return {"message_ts": self._next_ts()}

    def _m_files_getUploadURLExternal(self, params: JSON) -> JSON:
        file_id = f"F{next(self._ids):05d}"
        return {"upload_url": f"{self.url}/upload/{file_id}", "file_id": file_id}

    def _m_files_completeUploadExternal(self, params: JSON) -> JSON:
        files = json.loads(params.get("files") or "[]")
        return {
            "files": [{"id": f["id"], "title": f.get("title", ""), "name": f.get("title", "")} for f in files]
        }

    def _m_apps_connections_open(self, params: JSON) -> JSON:
        return {"url": self.url.replace("http://", "ws://") + "/ws"}

    async def _upload(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file_id"]
        data = await request.read()
        self.calls.append(Call("upload", {"file_id": file_id, "length": len(data)}, None, data))
        if self._upload_failures:
            return web.Response(status=self._upload_failures.popleft(), text="upstream failure")
        self.uploads[file_id] = data
        return web.Response(text=f"OK - {len(data)}")

    async def _download(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file_id"]
        self.calls.append(Call("download", {"file_id": file_id}, self._token(request, {})))
        if self._token(request, {}) != self.bot_token:
            return web.Response(text="<html><body>Sign in to Slack</body></html>", content_type="text/html")
        if file_id not in self.files:
            return web.Response(status=404, text="not found")
        data, mimetype = self.files[file_id]
        if self.download_delay:
            await asyncio.sleep(self.download_delay)
        return web.Response(body=data, content_type=mimetype)

    async def _response_url(self, request: web.Request) -> web.Response:
        params, body = await self._params(request)
        self.calls.append(Call("response_url", {"rid": request.match_info["rid"], **params}, None, body))
        return web.Response(text="ok")

    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self.calls.append(Call("socket_connect", {}, None))
        self._sockets.append(ws)
        await ws.send_json({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A0001"}})
        try:
            async for msg in ws:
                if msg.type == web.WSMsgType.TEXT:
                    data = json.loads(msg.data)
                    if "envelope_id" in data:
                        self.calls.append(Call("socket_ack", data, None))
                        self.acks[data["envelope_id"]] = data
        finally:
            self._sockets.remove(ws)
        return ws

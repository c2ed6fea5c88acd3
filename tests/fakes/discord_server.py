"""A fake Discord (REST API v10 + gateway websocket) on 127.0.0.1, in aiohttp.

The real discord.py client talks to it unchanged once ``point_discord_py_here()``
has set ``Route.BASE`` and ``DiscordWebSocket.DEFAULT_GATEWAY``. It logs the client
in (GET /users/@me, GET /oauth2/applications/@me), runs the gateway handshake
(HELLO, IDENTIFY, READY, GUILD_CREATE, heartbeats), pushes MESSAGE_CREATE and
INTERACTION_CREATE events that tests script, serves attachment bytes, and records
every REST call the bot makes (messages, edits, typing, uploads, interaction
responses, follow-ups, command sync).

Faithful where discord.py is strict: JSON answers carry exactly
``Content-Type: application/json``; a 429 carries ``Via`` and ``retry_after``;
uploads arrive as multipart (``payload_json`` + ``files[n]``) and are refused with
413 / code 40005 past ``upload_limit``. The bot's own messages are echoed back as
gateway events, as Discord does.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import yarl
from aiohttp import BodyPartReader, WSMsgType, web

BOT_ID = 900000000000000001
APP_ID = 900000000000000002
OWNER_ID = 900000000000000003
EPOCH = "2024-01-01T00:00:00.000000+00:00"


@dataclass
class Call:
    """One REST request the client made."""

    method: str
    path: str
    json: Any = None
    files: list[tuple[str, bytes]] = field(default_factory=list)
    status: int = 200


@dataclass
class Fault:
    method: str
    pattern: re.Pattern[str]
    status: int
    body: dict[str, Any]
    headers: dict[str, str]
    times: int


def user(uid: int, name: str = "user", *, bot: bool = False) -> dict[str, Any]:
    return {
        "id": str(uid),
        "username": name,
        "discriminator": "0",
        "global_name": name,
        "avatar": None,
        "bot": bot,
        "public_flags": 0,
    }


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    # discord.py only parses the body when the content type is exactly application/json.
    return web.Response(
        body=json.dumps(data).encode(),
        status=status,
        headers={"Content-Type": "application/json", **(headers or {})},
    )


class FakeDiscord:
    def __init__(self) -> None:
        # threads the gateway never announced (so discord.py has not cached them); only
        # GET /channels/{id} knows them, as with a thread created while the bot was away
        self.hidden_threads: dict[int, dict[str, Any]] = {}
        self.cdn_delay = 0.0  # seconds before an attachment download answers (a slow link)
        self.calls: list[Call] = []
        self.messages: dict[int, dict[str, Any]] = {}
        self.guilds: dict[int, dict[str, Any]] = {}
        self.attachments: dict[str, bytes] = {}
        self.upload_limit: int | None = None
        self.echo_own_messages = True
        self.refuse_identify_with: int | None = None  # a gateway close code answering IDENTIFY
        self._faults: list[Fault] = []
        self._ids = itertools.count(1000)
        self._seq = itertools.count(1)
        # one gateway connection per shard, as Discord routes events: a guild's events to
        # shard (guild_id >> 22) % shard_count, DMs to shard 0
        self._shards: dict[int, web.WebSocketResponse] = {}
        self.shard_count = 1
        self.identify_payloads: list[dict[str, Any]] = []
        self._identified = asyncio.Event()
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.bot_user = user(BOT_ID, "HuggingGPT", bot=True)

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> FakeDiscord:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self._gateway)
        app.router.add_get("/cdn/{name}", self._cdn)
        app.router.add_route("*", "/api/v10/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def close(self) -> None:
        for ws in list(self._shards.values()):
            if not ws.closed:
                await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def point_discord_py_here(self) -> Callable[[], None]:
        """Aim discord.py at this fake; returns a function that restores the real URLs."""
        import discord.gateway
        import discord.http

        old = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
        discord.http.Route.BASE = f"{self.base}/api/v10"
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(f"ws://127.0.0.1:{self.port}/gateway")

        def restore() -> None:
            discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old

        return restore

    # -- scripting ----------------------------------------------------------------------

    def new_id(self) -> int:
        return next(self._ids)

    def add_guild(
        self,
        guild_id: int,
        channels: tuple[int, ...],
        *,
        threads: dict[int, int] | None = None,
        roles: dict[int, str] | None = None,
        premium_tier: int = 0,
    ) -> None:
        """A guild with text channels, threads (thread id -> parent id) and roles (id -> name)."""
        role_list = [self._role(guild_id, "@everyone")]
        role_list += [self._role(rid, name) for rid, name in (roles or {}).items()]
        self.guilds[guild_id] = {
            "id": str(guild_id),
            "name": f"guild-{guild_id}",
            "icon": None,
            "owner_id": str(OWNER_ID),
            "roles": role_list,
            "emojis": [],
            "stickers": [],
            "features": [],
            "member_count": 2,
            "members": [
                {
                    "user": self.bot_user,
                    "roles": [],
                    "joined_at": EPOCH,
                    "deaf": False,
                    "mute": False,
                    "flags": 0,
                }
            ],
            "channels": [
                {"id": str(c), "type": 0, "name": f"chan-{c}", "position": i, "permission_overwrites": []}
                for i, c in enumerate(channels)
            ],
            "threads": [self._thread(guild_id, t, p) for t, p in (threads or {}).items()],
            "voice_states": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "premium_tier": premium_tier,
            "large": False,
            "unavailable": False,
            "mfa_level": 0,
            "verification_level": 0,
            "explicit_content_filter": 0,
            "default_message_notifications": 0,
            "system_channel_flags": 0,
            "preferred_locale": "en-US",
            "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
            "joined_at": EPOCH,
        }

    @staticmethod
    def _role(rid: int, name: str) -> dict[str, Any]:
        return {
            "id": str(rid),
            "name": name,
            "permissions": "0",
            "position": 0,
            "color": 0,
            "hoist": False,
            "managed": False,
            "mentionable": False,
            "flags": 0,
        }

    def add_hidden_thread(self, guild_id: int, thread_id: int, parent_id: int) -> None:
        self.hidden_threads[thread_id] = self._thread(guild_id, thread_id, parent_id)

    @staticmethod
    def _thread(guild_id: int, thread_id: int, parent_id: int) -> dict[str, Any]:
        return {
            "id": str(thread_id),
            "type": 11,
            "guild_id": str(guild_id),
            "parent_id": str(parent_id),
            "owner_id": str(OWNER_ID),
            "name": f"thread-{thread_id}",
            "message_count": 0,
            "member_count": 1,
            "rate_limit_per_user": 0,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": 1440,
                "archive_timestamp": EPOCH,
                "locked": False,
            },
        }

    def add_attachment(self, filename: str, data: bytes, content_type: str | None = None) -> dict[str, Any]:
        aid = self.new_id()
        name = f"{aid}-{filename}"
        self.attachments[name] = data
        url = f"{self.base}/cdn/{name}"
        out: dict[str, Any] = {
            "id": str(aid),
            "filename": filename,
            "size": len(data),
            "url": url,
            "proxy_url": url,
        }
        if content_type:
            out["content_type"] = content_type
        return out

    def fail(
        self,
        method: str,
        path_regex: str,
        status: int,
        body: dict[str, Any],
        *,
        headers: dict[str, str] | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` matching requests with this error instead."""
        self._faults.append(Fault(method, re.compile(path_regex), status, body, headers or {}, times))

    def rate_limit_next(self, method: str, path_regex: str, retry_after: float = 0.05) -> None:
        """A 429 as Discord sends it: ``Via`` header (else discord.py assumes a Cloudflare ban)."""
        body = {"message": "You are being rate limited.", "retry_after": retry_after, "global": False}
        headers = {"Via": "1.1 google", "Retry-After": str(retry_after), "X-RateLimit-Scope": "user"}
        self.fail(method, path_regex, 429, body, headers=headers)

    async def wait_connected(self, timeout: float = 3.0) -> None:
        await asyncio.wait_for(self._identified.wait(), timeout)

    async def push_message(
        self,
        channel_id: int,
        author: dict[str, Any],
        content: str,
        *,
        guild_id: int | None = None,
        attachments: list[dict[str, Any]] | None = None,
        mentions: list[dict[str, Any]] | None = None,
        reply_to: int | None = None,
        roles: list[int] | None = None,
    ) -> dict[str, Any]:
        """A user's message, sent to the client as MESSAGE_CREATE; returns its payload."""
        msg = self._message(channel_id, author, content, guild_id=guild_id, attachments=attachments or [])
        msg["mentions"] = mentions or []
        if guild_id is not None:
            msg["member"] = {
                "roles": [str(r) for r in roles or []],
                "joined_at": EPOCH,
                "deaf": False,
                "mute": False,
                "flags": 0,
            }
        if reply_to is not None:
            msg["type"] = 19
            msg["message_reference"] = {"message_id": str(reply_to), "channel_id": str(channel_id)}
            if guild_id is not None:
                msg["message_reference"]["guild_id"] = str(guild_id)
            msg["referenced_message"] = self.messages.get(reply_to)
        self.messages[int(msg["id"])] = msg
        await self.dispatch("MESSAGE_CREATE", msg)
        return msg

    async def push_interaction(
        self,
        name: str,
        options: dict[str, Any],
        *,
        channel_id: int,
        author: dict[str, Any],
        guild_id: int | None = None,
        attachment: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A slash command use, sent as INTERACTION_CREATE; returns its payload."""
        opts = [{"name": k, "type": 3, "value": v} for k, v in options.items()]
        data: dict[str, Any] = {"id": str(self.new_id()), "name": name, "type": 1, "options": opts}
        if attachment is not None:
            opts.append({"name": "file", "type": 11, "value": attachment["id"]})
            data["resolved"] = {"attachments": {attachment["id"]: attachment}}
        channel: dict[str, Any] = {"id": str(channel_id), "type": 0 if guild_id else 1}
        payload: dict[str, Any] = {
            "id": str(self.new_id()),
            "application_id": str(APP_ID),
            "type": 2,
            "data": data,
            "channel_id": str(channel_id),
            "channel": channel,
            "token": f"itoken{self.new_id()}",
            "version": 1,
            "locale": "en-US",
            "app_permissions": "0",
            "entitlements": [],
            "authorizing_integration_owners": {},
            "context": 0 if guild_id else 1,
            "attachment_size_limit": 10 * 1024 * 1024,
        }
        if guild_id is not None:
            channel.update(
                guild_id=str(guild_id), name=f"chan-{channel_id}", position=0, permission_overwrites=[]
            )
            payload["guild_id"] = str(guild_id)
            payload["guild_locale"] = "en-US"
            payload["member"] = {
                "user": author,
                "roles": [],
                "joined_at": EPOCH,
                "deaf": False,
                "mute": False,
                "flags": 0,
                "permissions": "0",
            }
        else:
            channel["recipients"] = [author]
            payload["user"] = author
        await self.dispatch("INTERACTION_CREATE", payload)
        return payload

    def shard_of(self, guild_id: int | None) -> int:
        return 0 if guild_id is None else (guild_id >> 22) % self.shard_count

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        ws = self._shards.get(self.shard_of(int(data["guild_id"]) if data.get("guild_id") else None))
        if ws is None or ws.closed:
            raise RuntimeError("no client is connected to the fake gateway for that shard")
        await ws.send_str(json.dumps({"op": 0, "t": event, "s": next(self._seq), "d": data}))

    # -- what the bot did ---------------------------------------------------------------

    def bot_messages(self, channel_id: int | None = None) -> list[Call]:
        """Messages the bot created (POST .../messages), optionally in one channel."""
        chan = str(channel_id) if channel_id else r"\d+"
        pat = re.compile(rf"/channels/{chan}/messages$")
        return [c for c in self.calls if c.method == "POST" and pat.search(c.path) and c.status == 200]

    def calls_to(self, method: str, path_regex: str) -> list[Call]:
        pat = re.compile(path_regex)
        return [c for c in self.calls if c.method == method and pat.search(c.path)]

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 3.0) -> None:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(predicate), timeout)

    async def _record(self, call: Call) -> None:
        self.calls.append(call)
        async with self._changed:
            self._changed.notify_all()

    # -- gateway ------------------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": 45000}}))
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                break
            payload = json.loads(msg.data)
            op = payload.get("op")
            if op == 1:
                await ws.send_str(json.dumps({"op": 11}))
            elif op == 2 and self.refuse_identify_with:
                await ws.close(code=self.refuse_identify_with)  # e.g. 4014: intent not enabled
            elif op == 2:
                self.identify_payloads.append(payload["d"])
                shard_id, self.shard_count = payload["d"].get("shard") or (0, 1)
                self._shards[shard_id] = ws
                await self._ready(ws, shard_id)
        return ws

    async def _ready(self, ws: web.WebSocketResponse, shard_id: int) -> None:
        guilds = [g for g in self.guilds.values() if self.shard_of(int(g["id"])) == shard_id]
        ready = {
            "v": 10,
            "user": self.bot_user,
            "guilds": [{"id": g["id"], "unavailable": True} for g in guilds],
            "session_id": "fake-session",
            "resume_gateway_url": f"ws://127.0.0.1:{self.port}/gateway",
            "application": {"id": str(APP_ID), "flags": 0},
            "private_channels": [],
            "relationships": [],
        }
        await ws.send_str(json.dumps({"op": 0, "t": "READY", "s": next(self._seq), "d": ready}))
        for guild in guilds:
            await ws.send_str(json.dumps({"op": 0, "t": "GUILD_CREATE", "s": next(self._seq), "d": guild}))
        if len(self._shards) == self.shard_count:  # every shard is connected
            self._identified.set()

    # -- REST ---------------------------------------------------------------------------

    async def _cdn(self, request: web.Request) -> web.Response:
        data = self.attachments.get(request.match_info["name"])
        if data is None:
            return web.Response(status=404)
        if self.cdn_delay:
            await asyncio.sleep(self.cdn_delay)
        return web.Response(body=data, content_type="application/octet-stream")

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"]
        body, files = await self._read_body(request)
        call = Call(request.method, path, body, files)
        for fault in self._faults:
            if fault.times > 0 and fault.method == request.method and fault.pattern.search(path):
                fault.times -= 1
                call.status = fault.status
                await self._record(call)
                return _json(fault.body, fault.status, fault.headers)
        if files and self.upload_limit is not None and any(len(b) > self.upload_limit for _, b in files):
            call.status = 413
            await self._record(call)
            return _json({"code": 40005, "message": "Request entity too large"}, 413)
        answer = await self._answer(request.method, path, body, files)
        if isinstance(answer, web.Response):
            call.status = answer.status
        await self._record(call)
        return answer

    @staticmethod
    async def _read_body(request: web.Request) -> tuple[Any, list[tuple[str, bytes]]]:
        if not request.can_read_body:
            return None, []
        if request.content_type.startswith("multipart/"):
            payload: Any = None
            files: list[tuple[str, bytes]] = []
            reader = await request.multipart()
            async for part in reader:
                if not isinstance(part, BodyPartReader):
                    continue
                data = await part.read()
                if part.name == "payload_json":
                    payload = json.loads(data)
                else:
                    files.append((part.filename or "", bytes(data)))
            return payload, files
        raw = await request.read()
        return (json.loads(raw) if raw else None), []

    async def _answer(
        self, method: str, path: str, body: Any, files: list[tuple[str, bytes]]
    ) -> web.Response:
        if method == "GET" and path == "/users/@me":
            return _json(self.bot_user)
        if method == "GET" and path == "/oauth2/applications/@me":
            return _json(self._app_info())
        if method == "GET" and path in ("/gateway", "/gateway/bot"):
            url = f"ws://127.0.0.1:{self.port}/gateway"
            limit = {"total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1}
            return _json({"url": url, "shards": 1, "session_start_limit": limit})
        if method == "PUT" and re.fullmatch(r"/applications/\d+(/guilds/\d+)?/commands", path):
            return _json([self._registered(c) for c in body or []])
        if method == "GET" and (m := re.fullmatch(r"/channels/(\d+)", path)):
            channel = self.hidden_threads.get(int(m[1]))
            if channel is None:
                return _json({"code": 10003, "message": "Unknown Channel"}, 404)
            return _json(channel)
        if m := re.fullmatch(r"/channels/(\d+)/typing", path):
            return web.Response(status=204)
        if method == "POST" and (m := re.fullmatch(r"/channels/(\d+)/messages", path)):
            msg = self._bot_message(int(m[1]), body or {}, files)
            if self.echo_own_messages and self._shards:
                await self.dispatch("MESSAGE_CREATE", msg)
            return _json(msg)
        if m := re.fullmatch(r"/channels/(\d+)/messages/(\d+)", path):
            found = self.messages.get(int(m[2]))
            if found is None:
                return _json({"code": 10008, "message": "Unknown Message"}, 404)
            msg = found
            if method == "PATCH":
                msg.update({k: v for k, v in (body or {}).items() if k == "content"})
                msg["edited_timestamp"] = datetime.now(UTC).isoformat()
            return _json(msg)
        if method == "POST" and re.fullmatch(r"/interactions/\d+/[^/]+/callback", path):
            iid = path.split("/")[2]
            kind = (body or {}).get("type", 5)
            return _json(
                {
                    "interaction": {"id": iid, "type": 2, "response_message_loading": kind == 5},
                    "resource": {"type": kind},
                }
            )
        if m := re.fullmatch(r"/webhooks/\d+/([^/]+)(/messages/@original)?", path):
            msg = self._bot_message(0, body or {}, files)
            return _json(msg)
        return _json({"code": 0, "message": f"fake Discord has no route {method} {path}"}, 404)

    def _app_info(self) -> dict[str, Any]:
        return {
            "id": str(APP_ID),
            "name": "HuggingGPT",
            "description": "",
            "icon": None,
            "bot_public": True,
            "bot_require_code_grant": False,
            "owner": user(OWNER_ID, "owner"),
            "verify_key": "00",
            "flags": 0,
            "team": None,
            "summary": "",
        }

    def _registered(self, command: dict[str, Any]) -> dict[str, Any]:
        out = dict(command)
        out.update(
            id=str(self.new_id()), application_id=str(APP_ID), version="1", default_member_permissions=None
        )
        out.setdefault("options", [])
        out.setdefault("description", "")
        return out

    def _message(
        self,
        channel_id: int,
        author: dict[str, Any],
        content: str,
        *,
        guild_id: int | None = None,
        attachments: list[dict[str, Any]],
    ) -> dict[str, Any]:
        if guild_id is None:
            guild_id = self._guild_of(channel_id)
        msg: dict[str, Any] = {
            "id": str(self.new_id()),
            "channel_id": str(channel_id),
            "author": author,
            "content": content,
            "timestamp": datetime.now(UTC).isoformat(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": attachments,
            "embeds": [],
            "pinned": False,
            "type": 0,
            "flags": 0,
        }
        if guild_id is not None:
            msg["guild_id"] = str(guild_id)
        return msg

    def _guild_of(self, channel_id: int) -> int | None:
        for gid, guild in self.guilds.items():
            ids = {int(c["id"]) for c in guild["channels"]} | {int(t["id"]) for t in guild["threads"]}
            if channel_id in ids:
                return gid
        return None

    def _bot_message(
        self, channel_id: int, body: dict[str, Any], files: list[tuple[str, bytes]]
    ) -> dict[str, Any]:
        atts = [self.add_attachment(name, data) for name, data in files]
        msg = self._message(channel_id, self.bot_user, body.get("content") or "", attachments=atts)
        if ref := body.get("message_reference"):
            msg["type"] = 19
            msg["message_reference"] = ref
            msg["referenced_message"] = self.messages.get(int(ref["message_id"]))
        self.messages[int(msg["id"])] = msg
        return msg

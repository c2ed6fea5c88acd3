"""The HTTP adapter served for real on 127.0.0.1 (``serve`` on port 0), over the real
conversation service, engine and SQLite store; the controller is the scripted OpenAI
server and the experts are scripted (tests/fakes)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from adapters.http.app import build_app
from adapters.http.keys import ApiKeys
from adapters.http.messages import Limits
from adapters.http.runner import serve
from adapters.http.settings import HttpSettings
from bot.conversations import ConversationService
from bot.store import Store
from engine.engine import Engine
from tests.fakes.experts import ScriptedBackend

KEY = "test-key-0123456789abcdef"
OTHER_KEY = "other-key-fedcba9876543210"
G = "<GENERATED>-{}".format


def task(name: str, tid: int, args: dict[str, str], dep: tuple[int, ...] = ()) -> dict[str, Any]:
    return {"task": name, "id": tid, "dep": list(dep) or [-1], "args": args}


READ_ALOUD = json.dumps(
    [task("image-to-text", 0, {"image": "image-1.png"}), task("text-to-speech", 1, {"text": G(0)}, (0,))]
)


def png_bytes(color: str = "white") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (24, 24), color).save(buf, format="PNG")
    return buf.getvalue()


def auth(key: str = KEY, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", **extra}


@dataclass
class Served:
    url: str
    service: ConversationService
    store: Store
    backend: ScriptedBackend
    task: asyncio.Task[None]
    data_dir: Path
    events: list[str] = field(default_factory=list)

    @property
    def v1(self) -> str:
        return self.url + "/v1"


@contextlib.asynccontextmanager
async def served(
    tmp_path: Path,
    engine: Engine,
    backend: ScriptedBackend,
    *,
    settings: HttpSettings | None = None,
    limits: Limits | None = None,
    keys: tuple[str, ...] = (KEY, OTHER_KEY),
    grace: float = 5.0,
) -> AsyncIterator[Served]:
    data_dir = tmp_path / "data"
    store = await Store.open(tmp_path / "db.sqlite3")
    service = ConversationService(engine, store, data_dir)
    app = build_app(
        settings or HttpSettings(rate_limit_per_minute=0),
        service,
        ApiKeys(keys),
        service.artifacts,
        limits or Limits(max_attachment_bytes=2 * 1024 * 1024, max_attachments=4),
    )
    listening: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    server = asyncio.create_task(serve(app, "127.0.0.1", 0, grace, listening.set_result))
    try:
        url = await asyncio.wait_for(asyncio.shield(listening), 10)
        yield Served(url, service, store, backend, server, data_dir)
    finally:
        server.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await server
        await store.close()

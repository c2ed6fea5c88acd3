"""A fake Hugging Face inference server on 127.0.0.1 for the real AsyncInferenceClient.

It serves the hf-inference layout, ``POST /models/<org>/<name>``: each model id gets
a script of replies (status, body, headers); the last reply repeats. Without a
script, a model answers as its task would (by the task name in its id, e.g.
``fake/text-to-image``). Requests are recorded for assertions.

    async with FakeHFServer() as server:
        server.script("fake/busy", Reply.json(429, {"error": "slow down"}), Reply.json(200, [...]))
        backend = HostedBackend(base_url=server.url, ...)
"""

from __future__ import annotations

import io
import json
import math
import struct
import wave
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from PIL import Image


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)

    @staticmethod
    def json(status: int, data: Any, headers: dict[str, str] | None = None) -> Reply:
        return Reply(status, json.dumps(data).encode(), "application/json", headers or {})

    @staticmethod
    def bytes(data: bytes, content_type: str) -> Reply:
        return Reply(200, data, content_type)


@dataclass
class Seen:
    model: str
    headers: dict[str, str]
    body: bytes


def png_bytes(size: tuple[int, int] = (24, 16), colour: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, format="PNG")
    return buf.getvalue()


def wav_bytes(seconds: float = 0.25, rate: int = 16000) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        n = int(seconds * rate)
        w.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(i / 8))) for i in range(n)))
    return buf.getvalue()


def default_reply(model: str) -> Reply:
    """What a healthy model of the task named in its id answers."""
    task = model.rsplit("/", 1)[-1]
    answers: dict[str, Reply] = {
        "text-to-image": Reply.bytes(png_bytes(), "image/png"),
        "image-to-image": Reply.bytes(png_bytes(colour=(30, 30, 200)), "image/png"),
        "text-to-speech": Reply.bytes(wav_bytes(), "audio/wav"),
        "automatic-speech-recognition": Reply.json(200, {"text": "hello from the fake server"}),
        "text-classification": Reply.json(
            200, [[{"label": "POSITIVE", "score": 0.93}, {"label": "NEGATIVE", "score": 0.07}]]
        ),
        "image-classification": Reply.json(
            200, [{"label": "tabby cat", "score": 0.8}, {"label": "tiger", "score": 0.1}]
        ),
        "summarization": Reply.json(200, [{"summary_text": "a short summary"}]),
        "translation": Reply.json(200, [{"translation_text": "hola mundo"}]),
        "image-to-text": Reply.json(200, [{"generated_text": "a red square"}]),
        "object-detection": Reply.json(
            200,
            [
                {"label": "cat", "score": 0.97, "box": {"xmin": 1, "ymin": 1, "xmax": 10, "ymax": 8}},
                {"label": "cat", "score": 0.91, "box": {"xmin": 12, "ymin": 2, "xmax": 20, "ymax": 12}},
                {"label": "remote", "score": 0.88, "box": {"xmin": 3, "ymin": 9, "xmax": 8, "ymax": 14}},
            ],
        ),
        "visual-question-answering": Reply.json(200, [{"answer": "two", "score": 0.7}]),
        "question-answering": Reply.json(200, {"answer": "Paris", "score": 0.9, "start": 0, "end": 5}),
        "token-classification": Reply.json(
            200, [{"entity_group": "LOC", "word": "Paris", "score": 0.99, "start": 0, "end": 5}]
        ),
    }
    return answers.get(task, Reply.json(404, {"error": f"Model {model} does not exist"}))


class FakeHFServer:
    def __init__(self) -> None:
        self._scripts: dict[str, list[Reply]] = {}
        self.seen: list[Seen] = []
        self._runner: web.AppRunner | None = None
        self.url = ""

    def script(self, model: str, *replies: Reply) -> None:
        self._scripts[model] = list(replies)

    def calls(self, model: str) -> list[Seen]:
        return [s for s in self.seen if s.model == model]

    async def _handle(self, request: web.Request) -> web.Response:
        model = request.match_info["model"]
        self.seen.append(Seen(model, dict(request.headers), await request.read()))
        script = self._scripts.get(model)
        reply = (script.pop(0) if len(script) > 1 else script[0]) if script else default_reply(model)
        return web.Response(
            status=reply.status, body=reply.body, content_type=reply.content_type, headers=reply.headers
        )

    async def start(self) -> FakeHFServer:
        app = web.Application()
        app.router.add_post("/models/{model:.+}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> FakeHFServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

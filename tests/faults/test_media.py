"""Media limits are checked from the header before anything decodes: a small file that
declares a huge image, a long recording or many video frames is refused with a
warning that names the file and the limit, at ingest and before a builtin tool runs."""

from __future__ import annotations

import asyncio
import io
import math
import shutil
import struct
import subprocess
import wave
import zlib
from collections.abc import Mapping
from pathlib import Path

import pytest
from PIL import Image

from adapters.base import ConversationKey, IncomingFile, IncomingMessage
from bot.conversations import ConversationService
from bot.store import Store
from engine.errors import ExpertError
from engine.experts.base import Availability, RunContext
from engine.experts.builtin.backend import BuiltinBackend
from engine.media_limits import MediaLimits
from engine.types import ModelCard, Resource, Task
from tests.engine.helpers import router

KEY = ConversationKey("terminal", "local", "media")


def declared_png(width: int, height: int) -> bytes:
    """A valid PNG header declaring ``width`` x ``height`` in a few hundred bytes (the
    pixel data is a sliver: decoding would have to invent the rest)."""
    buf = io.BytesIO()
    Image.new("L", (1, 1)).save(buf, format="PNG")
    data = bytearray(buf.getvalue())
    ihdr = data.index(b"IHDR")
    data[ihdr + 4 : ihdr + 12] = struct.pack(">II", width, height)
    data[ihdr + 17 : ihdr + 21] = struct.pack(">I", zlib.crc32(bytes(data[ihdr : ihdr + 17])))
    return bytes(data)


def wav(seconds: float, rate: int = 8000) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(
            b"".join(struct.pack("<h", int(3000 * math.sin(i / 5))) for i in range(int(seconds * rate)))
        )
    return buf.getvalue()


async def _turn(tmp_path, make, openai_server, files, limits: MediaLimits | None = None):
    openai_server.responder = router(["[]"])
    engine, backend = make(openai_server.base_url)
    store = await Store.open(tmp_path / "db.sqlite3")
    service = ConversationService(engine, store, tmp_path / "data", media_limits=limits)
    try:
        out = await service.handle(IncomingMessage(KEY, "u", "what is in these?", tuple(files)))
        turns = await store.recent_turns(await store.conversation_id(KEY))
    finally:
        await store.close()
    return out, turns, backend


async def test_a_small_png_declaring_13000_by_13000_is_left_out_at_ingest(openai_server, tmp_path, make):
    bomb = declared_png(13_000, 13_000)
    assert len(bomb) < 1000
    out, turns, _ = await _turn(tmp_path, make, openai_server, [IncomingFile("bomb.png", bomb)])
    (warning,) = out.reply.warnings
    assert "bomb.png" in warning and "13000 x 13000" in warning
    assert "limit is 50 megapixels" in warning and "limits.max_image_megapixels" in warning
    assert turns[0].resources == ()  # the request went on without it
    assert not list((tmp_path / "data").rglob("bomb*.png"))  # and it was not kept


async def test_long_audio_and_video_are_left_out_at_ingest(openai_server, tmp_path, make):
    files = [IncomingFile("long.wav", wav(3.0))]
    if shutil.which("ffmpeg"):
        video = tmp_path / "clip.mp4"
        subprocess.run(
            [
                "ffmpeg",
                "-v",
                "error",
                "-f",
                "lavfi",
                "-i",
                "testsrc=size=32x32:rate=10:duration=2",
                str(video),
            ],
            check=True,
        )
        files.append(IncomingFile("clip.mp4", video.read_bytes()))
    limits = MediaLimits(max_audio_seconds=1.0, max_video_seconds=60.0, max_video_frames=5)
    out, turns, _ = await _turn(tmp_path, make, openai_server, files, limits)
    warnings = " | ".join(out.reply.warnings)
    assert "long.wav: the audio lasts 3 s and the limit is 1 s (limits.max_audio_seconds)" in warnings
    if len(files) == 2:
        assert "clip.mp4: the video has 20 frames and the limit is 5 (limits.max_video_frames)" in warnings
    assert turns[0].resources == ()


class SpyTool:
    """A builtin tool that records whether it was asked to decode anything."""

    tool_id = "builtin/spy-ocr"
    card = ModelCard(id="builtin/spy-ocr", task="image-to-text", backend="builtin")
    loaded = False

    def __init__(self) -> None:
        self.ran: list[Path] = []

    def available(self) -> Availability:
        return Availability(True)

    def run(self, task: Task, inputs: Mapping[str, Resource], ctx: RunContext) -> list[Resource]:
        self.ran.append(inputs["image"].path)  # type: ignore[arg-type]
        return [Resource(kind="text", text="read")]

    def unload(self) -> None:
        pass


def test_a_builtin_tool_never_decodes_an_input_over_the_limit(tmp_path):
    spy = SpyTool()
    backend = BuiltinBackend([spy], limits=MediaLimits(max_pixels=100))  # type: ignore[list-item]
    small = tmp_path / "small.png"
    Image.new("RGB", (8, 8)).save(small)
    big = tmp_path / "big.png"
    Image.new("RGB", (16, 16)).save(big)
    task = Task(0, "image-to-text", {"image": "x"})

    def run(path: Path) -> object:
        inputs = {"image": Resource("image", path=path, name=path.name)}
        return asyncio.run(backend.run(spy.card, task, inputs, RunContext(tmp_path)))

    assert run(small)
    with pytest.raises(
        ExpertError, match=r"big.png: the image is 16 x 16 pixels .*\(limits.max_image_megapixels\)"
    ):
        run(big)
    assert spy.ran == [small]


def test_the_real_ocr_tool_refuses_a_declared_bomb_before_decoding(tmp_path):
    from engine.experts.builtin.tesseract import TesseractOCR

    backend = BuiltinBackend([TesseractOCR()])
    (card,) = backend.cards()
    if not backend.availability(card).ok:
        pytest.skip("tesseract is not installed")
    bomb = tmp_path / "page.png"
    bomb.write_bytes(declared_png(13_000, 13_000))
    inputs = {"image": Resource("image", path=bomb, name="page.png")}
    with pytest.raises(ExpertError, match="page.png: the image is 13000 x 13000 pixels"):
        asyncio.run(
            backend.run(card, Task(0, "image-to-text", {"image": "page.png"}), inputs, RunContext(tmp_path))
        )

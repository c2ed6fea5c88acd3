"""BuiltinBackend: cards, cached availability, runs off the loop, errors translated."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from engine.errors import ExpertError, ExpertUnavailable
from engine.experts.base import Availability, RunContext
from engine.experts.builtin.backend import BuiltinBackend
from engine.experts.builtin.base import BuiltinTool
from engine.experts.builtin.registry import default_tools
from engine.experts.builtin.vader import VaderSentiment
from engine.tasks import TASK_SPECS
from engine.types import ModelCard, Resource, Task


class Echo(BuiltinTool):
    tool_id = "builtin/echo"
    task = "text-generation"
    description = "repeats its input"

    def __init__(self, ok: bool = True) -> None:
        self.checks = 0
        self.ok = ok
        self.thread: int | None = None

    def available(self) -> Availability:
        self.checks += 1
        return Availability(self.ok, "" if self.ok else "install echo")

    def run(self, task: Task, inputs: Mapping[str, Resource], ctx: RunContext) -> Sequence[Resource]:
        self.thread = threading.get_ident()
        value = inputs["text"].text or ""
        if value == "boom":
            raise ZeroDivisionError("division by zero")
        if value == "expert":
            raise ExpertError("clear reason")
        return [Resource(kind="text", text=value)]


def _run(backend: BuiltinBackend, card: ModelCard, value: str, tmp_path: Path) -> Sequence[Resource]:
    task = Task(id=0, task=card.task, args={"text": value})
    return asyncio.run(
        backend.run(card, task, {"text": Resource(kind="text", text=value)}, RunContext(tmp_path))
    )


def test_default_tools_have_unique_ids_and_known_tasks() -> None:
    tools = default_tools()
    backend = BuiltinBackend(tools)
    cards = backend.cards()
    assert len({c.id for c in cards}) == len(tools) >= 13
    assert all(c.id.startswith("builtin/") and c.backend == "builtin" and c.description for c in cards)
    assert all(c.task in TASK_SPECS for c in cards)
    assert {"builtin/mediapipe-face", "builtin/opencv-cascade"} <= {c.id for c in cards}
    assert TASK_SPECS["image-to-video"].outputs == ("video",)


def test_availability_is_checked_once(tmp_path: Path) -> None:
    echo = Echo()
    backend = BuiltinBackend([echo])
    [card] = backend.cards()
    assert backend.availability(card).ok and backend.availability(card).ready
    assert echo.checks == 1
    stranger = ModelCard(id="builtin/nope", task="translation", backend="builtin")
    assert not backend.availability(stranger).ok


async def test_run_happens_in_a_worker_thread(tmp_path: Path) -> None:
    echo = Echo()
    backend = BuiltinBackend([echo])
    [card] = backend.cards()
    task = Task(id=0, task=card.task, args={"text": "hi"})
    [out] = await backend.run(card, task, {"text": Resource(kind="text", text="hi")}, RunContext(tmp_path))
    assert out.text == "hi"
    assert echo.thread is not None and echo.thread != threading.get_ident()


def test_unexpected_errors_become_expert_errors_naming_the_tool(tmp_path: Path) -> None:
    backend = BuiltinBackend([Echo()])
    [card] = backend.cards()
    with pytest.raises(ExpertError, match="builtin/echo.*ZeroDivisionError") as caught:
        _run(backend, card, "boom", tmp_path)
    assert isinstance(caught.value.__cause__, ZeroDivisionError)
    with pytest.raises(ExpertError, match="^clear reason$"):
        _run(backend, card, "expert", tmp_path)


def test_unavailable_tool_refuses_to_run(tmp_path: Path) -> None:
    backend = BuiltinBackend([Echo(ok=False)])
    [card] = backend.cards()
    with pytest.raises(ExpertUnavailable, match="install echo"):
        _run(backend, card, "hi", tmp_path)


def test_ready_turns_true_after_first_run(tmp_path: Path) -> None:
    vader = VaderSentiment()
    if not vader.available().ok:
        pytest.skip("vaderSentiment not installed")
    backend = BuiltinBackend([vader])
    [card] = backend.cards()
    assert not backend.availability(card).ready
    task = Task(id=0, task=card.task, args={"text": "great"})
    asyncio.run(backend.run(card, task, {"text": Resource(kind="text", text="great")}, RunContext(tmp_path)))
    assert backend.availability(card).ready
    asyncio.run(backend.aclose())
    assert not backend.availability(card).ready


def test_bad_inputs_are_expert_errors_that_name_the_file(tmp_path: Path) -> None:
    from engine.experts.builtin.silero_vad import SileroVAD
    from engine.experts.builtin.tesseract import TesseractOCR

    fake = tmp_path / "notes.png"
    fake.write_text("not a picture")
    backend = BuiltinBackend([TesseractOCR(), SileroVAD()])
    ocr, vad = backend.cards()
    if not (backend.availability(ocr).ok and backend.availability(vad).ok):
        pytest.skip("tesseract or faster-whisper not installed")

    def run(card: ModelCard, inputs: Mapping[str, Resource]) -> None:
        asyncio.run(backend.run(card, Task(id=0, task=card.task, args={}), inputs, RunContext(tmp_path)))

    with pytest.raises(ExpertError, match="notes.png"):
        run(ocr, {"image": Resource(kind="image", path=fake)})
    with pytest.raises(ExpertError, match="missing.png"):
        run(ocr, {"image": Resource(kind="image", path=tmp_path / "missing.png")})
    with pytest.raises(ExpertError, match="notes.png"):
        run(vad, {"audio": Resource(kind="audio", path=fake)})

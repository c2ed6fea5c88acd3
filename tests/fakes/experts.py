"""A scripted expert backend for engine tests and benchmarks.

Each card id maps to a behaviour: produce outputs of the task's kinds (text derived
from the inputs, a real PNG/WAV file), sleep a known time, fail, or hang. It records
start and end times per task so tests can check concurrency and ordering.
"""

from __future__ import annotations

import asyncio
import time
import wave
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from PIL import Image

from engine.errors import ExpertError
from engine.experts.base import Availability, RunContext
from engine.tasks import TASK_SPECS
from engine.types import ModelCard, Resource, Task


@dataclass
class Script:
    sleep: float = 0.0
    fail: str | None = None
    text: str | None = None  # fixed text output; default derives from inputs


@dataclass
class ScriptedBackend:
    """By default it declares itself like the builtin tools (its own cards, offline, the
    builtin rank); a test standing in for another backend passes that backend's traits."""

    name: str = "builtin"
    rank: int = 20
    ready_first: bool = False
    own_cards: bool = True
    runs_cards_of: tuple[str, ...] = ()
    offline: bool = True
    scripts: dict[str, Script] = field(default_factory=dict)
    unavailable: set[str] = field(default_factory=set)
    log: list[tuple[int, str, float, float]] = field(default_factory=list)  # task id, card, start, end
    seen_inputs: dict[int, dict[str, Resource]] = field(default_factory=dict)
    card_list: list[ModelCard] = field(default_factory=list)

    @classmethod
    def for_all_tasks(cls, name: str = "builtin", **scripts: Script) -> ScriptedBackend:
        """One card per task type, id ``fake/<task>``."""
        cards = [ModelCard(id=f"fake/{t}", task=t, backend=name, downloads=1) for t in TASK_SPECS]
        return cls(name=name, scripts={k.replace("_", "-"): v for k, v in scripts.items()}, card_list=cards)

    def cards(self) -> Sequence[ModelCard]:
        return self.card_list

    def availability(self, card: ModelCard) -> Availability:
        if card.id in self.unavailable:
            return Availability(ok=False, why=f"{card.id} is not installed")
        return Availability(ok=True, ready=True)

    async def refresh(self) -> None:
        return None

    async def run(
        self, card: ModelCard, task: Task, inputs: Mapping[str, Resource], ctx: RunContext
    ) -> Sequence[Resource]:
        script = self.scripts.get(task.task) or self.scripts.get(card.id) or Script()
        start = time.perf_counter()
        self.seen_inputs[task.id] = dict(inputs)
        try:
            if script.sleep:
                await asyncio.sleep(script.sleep)
            if script.fail:
                raise ExpertError(script.fail)
            return [self._output(kind, task, inputs, script, ctx) for kind in TASK_SPECS[task.task].outputs]
        finally:
            self.log.append((task.id, card.id, start, time.perf_counter()))

    def _output(
        self, kind: str, task: Task, inputs: Mapping[str, Resource], script: Script, ctx: RunContext
    ) -> Resource:
        described = " + ".join(r.describe() for r in inputs.values())
        if kind == "text":
            return Resource(kind="text", text=script.text or f"{task.task}({described})")
        if kind == "json":
            return Resource(kind="json", data={"task": task.task})
        if kind == "image":
            path = ctx.new_path(task.id, ".png")
            Image.new("RGB", (8, 8), (200, 30, 30)).save(path)
            return Resource(kind="image", path=path, mime="image/png")
        if kind == "audio":
            path = ctx.new_path(task.id, ".wav")
            with wave.open(str(path), "wb") as w:
                w.setnchannels(1), w.setsampwidth(2), w.setframerate(8000)
                w.writeframes(b"\x00\x00" * 800)
            return Resource(kind="audio", path=path, mime="audio/wav")
        path = ctx.new_path(task.id, ".mp4")
        path.write_bytes(b"\x00\x00\x00\x18ftypmp42")
        return Resource(kind="video", path=path, mime="video/mp4")

    async def aclose(self) -> None:
        return None

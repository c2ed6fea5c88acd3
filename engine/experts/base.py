"""Expert backends: where a model card's work actually runs.

A backend (``builtin`` offline tools, ``local`` transformers/diffusers, ``hosted``
huggingface_hub inference, ``llm`` the controller itself) answers two questions for
a card: can it run here (checked without network), and run it on typed inputs.
The scheduler only ever talks to this interface.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from engine.types import ModelCard, Resource, Task


@dataclass(frozen=True, slots=True)
class Availability:
    ok: bool
    why: str = ""  # when not ok: what to install or configure, in words for the user
    ready: bool = False  # loaded already (preferred over "can load")
    download: bool = False  # can run only after a download: tried after builtin tools and hosted


@dataclass(frozen=True, slots=True)
class RunContext:
    """What a runner may use: a folder for its output files and the request's text."""

    output_dir: Path
    request_text: str = ""
    timeout: float = 120.0
    extras: Mapping[str, object] = field(default_factory=dict)
    # The language the user writes in (ISO 639-1) when the caller knows it; tools that
    # follow the language (OCR, speech, translation) detect it from request_text otherwise.
    language: str | None = None

    def new_path(self, task_id: int, suffix: str) -> Path:
        """A fresh file path for this task's output (``task3-1.wav``)."""
        self.output_dir.mkdir(parents=True, exist_ok=True)
        n = 0
        while True:
            candidate = self.output_dir / f"task{task_id}-{n}{suffix}"
            if not candidate.exists():
                return candidate
            n += 1


class ExpertBackend(Protocol):
    name: str

    def cards(self) -> Sequence[ModelCard]:
        """Cards this backend contributes to the catalogue (builtin tools declare theirs)."""
        ...

    def availability(self, card: ModelCard) -> Availability:
        """Whether ``card`` can run here, decided without network."""
        ...

    async def run(
        self, card: ModelCard, task: Task, inputs: Mapping[str, Resource], ctx: RunContext
    ) -> Sequence[Resource]:
        """Run ``task`` with resolved, kind-checked inputs. Raises ExpertError on failure;
        blocking work must go off the event loop (asyncio.to_thread)."""
        ...

    async def aclose(self) -> None: ...

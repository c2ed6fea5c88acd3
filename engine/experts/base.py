"""Expert backends: where a model card's work actually runs.

A backend (``builtin`` offline tools, ``local`` transformers/diffusers, ``hosted``
huggingface_hub inference, ``ray`` deployments on a Ray Serve cluster, ``llm`` the
controller itself) answers two questions for a card: can it run here (checked
without blocking), and run it on typed inputs. The scheduler only ever talks to this
interface, and the selector orders candidates by what each backend declares about
itself (``rank``, ``ready_first``, ``own_cards``, ``runs_cards_of``, ``offline``), so a
new backend is one class and one entry in the composition root: no table to extend.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from engine.types import ModelCard, Resource, Task

if TYPE_CHECKING:
    from engine.llm.base import LLM

# The rank scale the selector sorts on (lower is tried first). Backends pick a rank of
# their own between these two; the values only matter relative to each other.
LOADED_RANK = 0  # a card a ``ready_first`` backend has loaded already: no load time at all
DOWNLOAD_RANK = 100  # a card that must be downloaded first: slow, and it hangs offline


@dataclass(frozen=True, slots=True)
class Availability:
    ok: bool
    why: str = ""  # when not ok: what to install or configure, in words for the user
    ready: bool = False  # loaded already (preferred over "can load")
    download: bool = False  # can run only after a download: tried after builtin tools and hosted


@dataclass(frozen=True, slots=True)
class RunContext:
    """What a runner may use: a folder for its output files, the request's text, and
    the request's controller LLM (which counts its calls) for experts that ask it."""

    output_dir: Path
    request_text: str = ""
    timeout: float = 120.0
    llm: LLM | None = None
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
    """One place experts run. The attributes are declarations the selector ranks by.

    ``rank``: order of attempt among backends, lower first (between LOADED_RANK and
    DOWNLOAD_RANK). ``ready_first``: a card this backend reports ``ready`` (loaded)
    goes before everything else, at LOADED_RANK. ``own_cards``: the backend's
    ``cards()`` join the catalogue's (builtin tools, the controller, Ray deployments).
    ``runs_cards_of``: names of backends whose catalogue cards this one can run too
    (hosted inference runs any hub model the local backend would). ``offline``: it
    runs with no network at all (the builtin tools, local models already on disk).
    """

    name: str
    rank: int
    ready_first: bool
    own_cards: bool
    runs_cards_of: tuple[str, ...]
    offline: bool

    def cards(self) -> Sequence[ModelCard]:
        """Cards this backend contributes to the catalogue (read when ``own_cards``)."""
        ...

    def availability(self, card: ModelCard) -> Availability:
        """Whether ``card`` can run here, decided without network and without blocking:
        a backend that must ask a server answers from what ``refresh`` last learnt."""
        ...

    async def refresh(self) -> None:
        """Bring what ``availability`` answers from up to date; awaited once per request
        before selection, bounded in time. A no-op for backends that look only at this
        machine."""
        ...

    async def run(
        self, card: ModelCard, task: Task, inputs: Mapping[str, Resource], ctx: RunContext
    ) -> Sequence[Resource]:
        """Run ``task`` with resolved, kind-checked inputs. Raises ExpertError on failure;
        blocking work must go off the event loop (asyncio.to_thread)."""
        ...

    async def aclose(self) -> None: ...

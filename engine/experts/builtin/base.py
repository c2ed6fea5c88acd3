"""Offline tools that need no hub download (Tesseract, eSpeak NG, ...).

Each tool declares its card (id, task, description) and checks at definition time
that the task exists; ``available`` looks for the installed program or package;
``run`` does the blocking work and is called from a worker thread by the backend.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from engine.experts.base import Availability, RunContext
from engine.experts.builtin.lazy import Lazy
from engine.tasks import TASK_SPECS
from engine.types import ModelCard, Resource, Task


class BuiltinTool(ABC):
    tool_id: ClassVar[str]  # card id, e.g. "builtin/tesseract-ocr"
    task: ClassVar[str]
    description: ClassVar[str]
    licence: ClassVar[str | None] = None
    # Order among builtin tools of one task (higher first); it plays the part downloads
    # play for hub models, e.g. OCR before the object-naming fallback for image-to-text.
    priority: ClassVar[int] = 0

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if getattr(cls, "task", None) is not None and cls.task not in TASK_SPECS:
            raise TypeError(f"{cls.__name__}.task={cls.task!r} is not a known task type")

    @property
    def card(self) -> ModelCard:
        return ModelCard(
            id=self.tool_id,
            task=self.task,
            backend="builtin",
            description=self.description,
            licence=self.licence,
            downloads=self.priority,
        )

    @abstractmethod
    def available(self) -> Availability:
        """Checked without network: is the program/package/weight file here?"""

    @abstractmethod
    def run(self, task: Task, inputs: Mapping[str, Resource], ctx: RunContext) -> Sequence[Resource]:
        """Blocking; called in a worker thread. Raise ExpertError with a clear reason."""

    @property
    def loaded(self) -> bool:
        """True once the tool's model is in memory; tools with nothing to load say True."""
        return True

    def unload(self) -> None:
        """Drop a loaded model (the backend calls this on close); a no-op by default."""
        return None


class ModelTool(BuiltinTool):
    """A tool whose model loads on first use (``load_model``, once even when two tasks
    ask at the same moment) and is dropped by ``unload``; ``self._model.get()`` returns it."""

    def __init__(self) -> None:
        self._model: Lazy[Any] = Lazy(self.load_model)

    @abstractmethod
    def load_model(self) -> Any:
        """Blocking; called once, in a worker thread."""

    @property
    def loaded(self) -> bool:
        return self._model.loaded

    def unload(self) -> None:
        self._model.drop()

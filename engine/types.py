"""Core values of the engine: frozen dataclasses with no I/O.

Everything that crosses a stage boundary (planner -> selector -> scheduler ->
responder) or leaves the engine (to the bot and adapters) is one of these, so the
stages can be tested on their own and the store can serialise them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

ResourceKind = Literal["text", "image", "audio", "video", "json"]
RESOURCE_KINDS: tuple[ResourceKind, ...] = ("text", "image", "audio", "video", "json")
MEDIA_KINDS: frozenset[str] = frozenset({"image", "audio", "video"})

GENERATED_PREFIX = "<GENERATED>-"


@dataclass(frozen=True, slots=True)
class Resource:
    """A typed value flowing between tasks and out to the user.

    Text lives inline in ``text``; structured data (labels, boxes, scores) in
    ``data``; media lives on disk at ``path`` inside the request's artifact folder.
    A media resource may also carry ``text``/``data`` as a side description (for
    example the boxes drawn on a detection image) for the response stage.
    """

    kind: ResourceKind
    text: str | None = None
    path: Path | None = None
    data: Any = None
    mime: str | None = None
    name: str | None = None  # the user-facing name ("cat.png") when it came in as a file
    # who made it: None for what the user sent, else the task type that produced it
    # ("translation"); earlier turns' results carry it so later turns can refer to them
    origin: str | None = None

    def __post_init__(self) -> None:
        if self.kind in MEDIA_KINDS and self.path is None:
            raise ValueError(f"a {self.kind} resource needs a path")
        if self.kind == "text" and self.text is None:
            raise ValueError("a text resource needs text")

    def describe(self) -> str:
        """A short, LLM-friendly rendering used in prompts and the response stage."""
        if self.kind == "text":
            return self.text or ""
        if self.kind == "json":
            return json.dumps(self.data, ensure_ascii=False, default=str)[:2000]
        label = self.name or (self.path.name if self.path else "?")
        extra = f" ({self.text})" if self.text else ""
        return f"[{self.kind} {label}]{extra}"

    def to_public(self) -> dict[str, Any]:
        """The shape used by ``ask --json`` and the store: {"kind", "text"} or {"kind", "path"}."""
        out: dict[str, Any] = {"kind": self.kind}
        if self.path is not None:
            out["path"] = str(self.path)
        if self.text is not None:
            out["text"] = self.text
        if self.data is not None:
            out["data"] = self.data
        if self.name is not None:
            out["name"] = self.name
        if self.origin is not None:
            out["origin"] = self.origin
        return out

    @staticmethod
    def from_public(raw: Mapping[str, Any]) -> Resource:
        path = raw.get("path")
        return Resource(
            kind=raw["kind"],
            text=raw.get("text"),
            path=Path(path) if path else None,
            data=raw.get("data"),
            name=raw.get("name"),
            origin=raw.get("origin"),
        )


@dataclass(frozen=True, slots=True)
class Turn:
    """One earlier message of the conversation, as the planner and responder see it."""

    role: Literal["user", "assistant"]
    text: str
    resources: tuple[Resource, ...] = ()


@dataclass(frozen=True, slots=True)
class Request:
    """What the engine is asked to do: the user's text, their files, and context.

    ``artifact_dir`` is where this request's generated files go; ``allowed_roots``
    are the folders a planned path argument may point into (the request's own
    files and the conversation's earlier artifacts), so a plan cannot read
    ``/etc/passwd``.
    """

    text: str
    artifact_dir: Path
    attachments: tuple[Resource, ...] = ()
    history: tuple[Turn, ...] = ()
    allowed_roots: tuple[Path, ...] = ()


@dataclass(frozen=True, slots=True)
class Task:
    """One planned step. ``args`` values are literals or ``<GENERATED>-N`` references."""

    id: int
    task: str
    args: Mapping[str, str]
    dep: tuple[int, ...] = ()
    model: str | None = None  # a model the planner chose for this task, if it was asked to

    def references(self) -> tuple[int, ...]:
        refs = []
        for value in self.args.values():
            if isinstance(value, str) and value.startswith(GENERATED_PREFIX):
                tail = value[len(GENERATED_PREFIX) :]
                if tail.lstrip("-").isdigit():
                    refs.append(int(tail))
        return tuple(sorted(set(refs)))

    def to_public(self) -> dict[str, Any]:
        out = {"task": self.task, "id": self.id, "dep": list(self.dep) or [-1], "args": dict(self.args)}
        if self.model:
            out["model"] = self.model
        return out


@dataclass(frozen=True, slots=True)
class Plan:
    """A validated DAG of tasks (ids unique, references resolvable, no cycles)."""

    tasks: tuple[Task, ...]
    source: str = "llm"  # "llm", "picker", "picker+llm", "fallback": how it was made
    note: str | None = None  # why it is not what its source usually makes (e.g. the LLM failed)

    def to_public(self) -> list[dict[str, Any]]:
        return [t.to_public() for t in self.tasks]


# A backend's name ("local", "hosted", "builtin", "ray", "llm"): any string, so a new
# backend is added where it is built, not here; engine/experts/base.py says how they rank.
Backend = str


@dataclass(frozen=True, slots=True)
class ModelCard:
    """A catalogue entry: one expert that can do one task type on one backend."""

    id: str
    task: str
    backend: Backend
    downloads: int = 0
    likes: int = 0
    description: str = ""
    licence: str | None = None

    def to_public(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Selection:
    task_id: int
    card: ModelCard
    reason: str

    def to_public(self) -> dict[str, Any]:
        return {
            "task_id": self.task_id,
            "model": self.card.id,
            "backend": self.card.backend,
            "reason": self.reason,
        }


TaskStatus = Literal["ok", "failed", "skipped"]


@dataclass(frozen=True, slots=True)
class TaskResult:
    task: Task
    status: TaskStatus
    card: ModelCard | None = None
    reason: str = ""
    outputs: tuple[Resource, ...] = ()
    error: str | None = None
    seconds: float = 0.0
    # what the task read from outside the plan: the user's files (paths) and earlier
    # results (names), not the outputs of other tasks of this plan or literal text
    read: tuple[str, ...] = ()

    def to_public(self) -> dict[str, Any]:
        out = {
            "task_id": self.task.id,
            "task": self.task.task,
            "model": self.card.id if self.card else None,
            "status": self.status,
            "outputs": [o.to_public() for o in self.outputs],
            "error": self.error,
            "seconds": round(self.seconds, 4),
        }
        if self.read:
            out["read"] = list(self.read)
        return out


@dataclass(frozen=True, slots=True)
class Reply:
    """What goes back to the user: text, media files, and warnings collected as data."""

    text: str
    media: tuple[Resource, ...] = ()
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Outcome:
    """Everything one request produced; the store keeps it, ``ask --json`` prints it."""

    reply: Reply
    plan: Plan | None = None
    selections: tuple[Selection, ...] = ()
    results: tuple[TaskResult, ...] = ()
    llm_calls: int = 0
    timings: Mapping[str, float] = field(default_factory=dict)
    error: str | None = None  # set when the request failed as a whole (reply explains)
    language: str | None = None  # the language the user wrote in, which the reply follows

    def to_public(self) -> dict[str, Any]:
        return {
            "plan": self.plan.to_public() if self.plan else [],
            "plan_source": self.plan.source if self.plan else None,
            "plan_note": self.plan.note if self.plan else None,
            "selections": [s.to_public() for s in self.selections],
            "results": [r.to_public() for r in self.results],
            "reply": self.reply.text,
            "media": [str(m.path) for m in self.reply.media if m.path is not None],
            "warnings": list(self.reply.warnings),
            "llm_calls": self.llm_calls,
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
            "error": self.error,
            "language": self.language,
        }

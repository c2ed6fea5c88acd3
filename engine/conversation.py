"""The conversation as a planner sees it: every resource a turn brought or produced.

Each entry holds one resource (a file or a text) with a name that is unique in the
conversation, the turn it belongs to, and its origin: sent by the user, or made by
which task. Turns are numbered from 1 over the visible history; the current turn,
whose attachments come last, has the highest number.

Earlier results keep their origin in the store (``Resource.origin``), so "read the
Spanish version aloud" can find the translation of two turns ago and "generate an
image of a dog" can be seen to refer to none of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from engine.types import Request, Resource, ResourceKind, Turn

__all__ = ["ConversationState", "StateEntry", "generated_resources"]

_PREVIEW_CHARS = 90


@dataclass(frozen=True, slots=True)
class StateEntry:
    name: str
    resource: Resource  # its ``name`` is this entry's name, so plans can use either
    turn: int
    origin: str | None  # None: sent by the user; else the task type that made it

    @property
    def kind(self) -> ResourceKind:
        return self.resource.kind

    @property
    def from_user(self) -> bool:
        return self.origin is None

    def row(self, current: int) -> str:
        """One line of the table a planner sees."""
        when = "this message" if self.turn == current else f"turn {self.turn}"
        who = "sent by the user" if self.from_user else f"made by {self.origin}"
        line = f"- {self.name} | {self.kind} | {when} | {who}"
        if self.kind == "text" and self.resource.text:
            preview = " ".join(self.resource.text.split())
            if len(preview) > _PREVIEW_CHARS:
                preview = preview[: _PREVIEW_CHARS - 1] + "…"
            line += f' | "{preview}"'
        return line


@dataclass(frozen=True, slots=True)
class ConversationState:
    entries: tuple[StateEntry, ...]  # oldest first; the current turn's attachments last
    current: int  # the current turn's number
    last_request: str | None = None  # the user's text of the turn before this one
    requests: Mapping[int, str] = field(default_factory=dict)  # each earlier turn's user text

    @classmethod
    def of(cls, request: Request) -> ConversationState:
        return cls.build(request.history, request.attachments)

    @classmethod
    def build(cls, history: Sequence[Turn], attachments: Sequence[Resource] = ()) -> ConversationState:
        namer = _Namer()
        entries: list[StateEntry] = []
        turn = 0
        last_request = None
        requests: dict[int, str] = {}
        for message in history:
            if message.role == "user" or turn == 0:
                turn += 1
            if message.role == "user":
                last_request = requests[turn] = message.text
            if message.role == "assistant" and not message.resources and message.text.strip():
                # a direct answer (a poem, a fact) is a result a later turn can use: "now read it out loud"
                reply = Resource(kind="text", text=message.text)
                entries.append(_entry(namer, reply, turn, "reply"))
                continue
            for resource in message.resources:
                if message.role == "user" and resource.kind == "text":
                    continue  # a text file the user sent is part of their message already
                origin = resource.origin if message.role == "assistant" else None
                if message.role == "assistant" and origin is None:
                    origin = "an earlier step"  # stored before results carried their task
                entries.append(_entry(namer, resource, turn, origin))
        current = turn + 1
        for resource in attachments:
            entries.append(_entry(namer, resource, current, None))
        return cls(tuple(entries), current, last_request, requests)

    @property
    def attachments(self) -> tuple[StateEntry, ...]:
        return tuple(e for e in self.entries if e.turn == self.current)

    @property
    def earlier(self) -> tuple[StateEntry, ...]:
        return tuple(e for e in self.entries if e.turn < self.current)

    def last_results(self) -> tuple[StateEntry, ...]:
        """What the most recent earlier turn brought or made, newest first."""
        earlier = self.earlier
        if not earlier:
            return ()
        newest = earlier[-1].turn
        return tuple(e for e in reversed(earlier) if e.turn == newest)

    def latest(
        self, kinds: Iterable[str], origins: Iterable[str] | None = None, earlier_only: bool = True
    ) -> StateEntry | None:
        """The newest entry of one of ``kinds`` (made by one of ``origins`` when given)."""
        wanted = set(kinds)
        made_by = set(origins) if origins is not None else None
        pool = self.earlier if earlier_only else self.entries
        for entry in reversed(pool):
            if entry.kind in wanted and (made_by is None or entry.origin in made_by):
                return entry
        return None

    def named(self, text: str) -> tuple[StateEntry, ...]:
        """Entries whose name (a file name, or a generated result's name) ``text`` mentions."""
        low = text.lower()
        return tuple(e for e in self.entries if len(e.name) > 3 and e.name.lower() in low)


def table(entries: Sequence[StateEntry], current: int) -> str:
    """The resources a planner may use, one row each (name | kind | turn | origin | text)."""
    return "\n".join(e.row(current) for e in entries)


def generated_resources(results: Iterable[object]) -> tuple[Resource, ...]:
    """The outputs of a turn's successful tasks, each marked with the task that made it,
    in the order a later turn should see them (the last one is the turn's result)."""
    out: list[Resource] = []
    for result in results:
        status = getattr(result, "status", None)
        task = getattr(result, "task", None)
        if status != "ok" or task is None:
            continue
        for resource in getattr(result, "outputs", ()):
            if resource.kind == "json":
                continue
            out.append(replace(resource, origin=task.task))
    return tuple(out)


class _Namer:
    """Unique, readable names: the user's file names as sent, generated results as
    ``t2-translation`` or ``t2-text-to-speech.wav`` (turn and task)."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def __call__(self, base: str) -> str:
        name, n = base, 2
        stem, dot, ext = base.rpartition(".")
        while name.lower() in self.used:
            name = f"{stem}-{n}.{ext}" if dot and stem else f"{base}-{n}"
            n += 1
        self.used.add(name.lower())
        return name


def _entry(namer: _Namer, resource: Resource, turn: int, origin: str | None) -> StateEntry:
    if origin is None:
        base = resource.name or (resource.path.name if resource.path else f"{resource.kind}")
    else:
        suffix = Path(resource.path).suffix if resource.path is not None else ""
        base = f"t{turn}-{origin.replace(' ', '-')}{suffix}"
    name = namer(base)
    return StateEntry(name=name, resource=replace(resource, name=name), turn=turn, origin=origin)

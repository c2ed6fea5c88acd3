"""Progress events the engine emits while a request runs, for adapters to show.

The callback may be sync or async; a callback that raises is logged and ignored so
a broken status message never fails the user's request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from engine.types import ModelCard, Plan, Reply, Task, TaskResult


@dataclass(frozen=True, slots=True)
class Received:
    """The bot has the message; emitted at once, before waiting for earlier turns of the
    same conversation (``queued_behind`` of them), so the user sees it was heard."""

    text: str
    queued_behind: int = 0


@dataclass(frozen=True, slots=True)
class Started:
    """The request was accepted; emitted before any LLM call. ``language``: the one the
    user writes in (ISO 639-1), which progress texts and the reply follow."""

    text: str
    language: str | None = None


@dataclass(frozen=True, slots=True)
class PlanReady:
    plan: Plan


@dataclass(frozen=True, slots=True)
class TaskStarted:
    task: Task
    card: ModelCard | None


@dataclass(frozen=True, slots=True)
class TaskFinished:
    result: TaskResult


@dataclass(frozen=True, slots=True)
class Responding:
    pass


@dataclass(frozen=True, slots=True)
class Done:
    reply: Reply


Event = Received | Started | PlanReady | TaskStarted | TaskFinished | Responding | Done
EventCallback = Callable[[Event], Awaitable[None] | None]

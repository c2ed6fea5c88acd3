"""What the benchmark figures share: the result shape, percentiles, in-process LLMs
and instant experts, and an Engine wired from them.

Every figure returns one JSON-ready dict (see ``result``): the measured ``value``,
the ``goal`` in words, ``pass`` (None when it could not be measured), and the
``params`` it ran with, so two runs can be compared line by line.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import statistics
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.heap import settle_after_startup
from engine.catalogue import Catalogue
from engine.engine import Engine
from engine.experts.base import Availability, RunContext
from engine.experts.controller import ControllerBackend
from engine.llm.base import LLM, ChatMessage
from engine.planner import Planner
from engine.prompts import CANDIDATES_HEADING
from engine.scheduler import Scheduler
from engine.selector import Selector
from engine.tasks import TASK_SPECS
from engine.types import ModelCard, Resource, Task
from tests.fakes.stages import stage_of

PlanFor = Callable[[str], str]  # request text -> plan JSON


def result(
    name: str,
    title: str,
    *,
    value: Any,
    unit: str,
    goal: str,
    passed: bool | None,
    params: Mapping[str, Any],
    **details: Any,
) -> dict[str, Any]:
    return {
        "figure": name,
        "title": title,
        "value": value,
        "unit": unit,
        "goal": goal,
        "pass": passed,
        "params": dict(params),
        **details,
    }


def unavailable(name: str, title: str, goal: str, params: Mapping[str, Any], reason: str) -> dict[str, Any]:
    return result(name, title, value=None, unit="", goal=goal, passed=None, params=params, unavailable=reason)


@contextlib.contextmanager
def bot_collector() -> Iterator[None]:
    """The garbage collector as a bot process sets it after start-up (bot/heap.py), for
    figures about the bot's own speed; put back afterwards, as the figures share a process."""
    thresholds = gc.get_threshold()
    settle_after_startup()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sample."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def ms_summary(seconds: Sequence[float]) -> dict[str, float]:
    """p50/p90/p99/max/mean in milliseconds, rounded for printing."""
    return {
        "p50_ms": round(percentile(seconds, 50) * 1000, 3),
        "p90_ms": round(percentile(seconds, 90) * 1000, 3),
        "p99_ms": round(percentile(seconds, 99) * 1000, 3),
        "max_ms": round(max(seconds) * 1000, 3),
        "mean_ms": round(statistics.fmean(seconds) * 1000, 3),
        "n": len(seconds),
    }


# -- reading the scripted calls --------------------------------------------------------


def request_of(messages: Sequence[Mapping[str, str]]) -> str:
    """The user's request text in a planning call (without the model choices and the resource table)."""
    content = messages[-1]["content"]
    if content.startswith(CANDIDATES_HEADING):
        content = content.split("\n\n", 1)[1]
    return content.split("\nResources (")[0]


def _with_models(plan_json: str, request: str) -> str:
    """A compliant planner: where the request lists model candidates for a task type, the
    plan names the first one (the "Candidate models" list opening the planner's last message)."""
    if not request.startswith(CANDIDATES_HEADING):
        return plan_json
    listing = request.split("\n\n", 1)[0]
    first = {}
    for line in listing.splitlines():
        if line.startswith("- ") and ": " in line:
            task, cands = line[2:].split(": ", 1)
            first[task] = cands.split(",", 1)[0].split(" (", 1)[0].strip()
    tasks = json.loads(plan_json)
    for t in tasks:
        if t["task"] in first:
            t["model"] = first[t["task"]]
    return json.dumps(tasks)


def answer(messages: Sequence[Mapping[str, str]], plan_for: PlanFor) -> str:
    """What a well-behaved controller says at each stage: the scripted plan, the first
    candidate for each contested task, a reply quoting the results, or an echo."""
    stage = stage_of(messages)
    if stage == "plan":
        return _with_models(plan_for(request_of(messages)), messages[-1]["content"])
    if stage == "select":
        listing = json.loads(messages[-1]["content"])
        return json.dumps(
            {
                "choices": [
                    {"task_id": t["task_id"], "id": t["candidates"][0]["id"], "reason": "fits the request"}
                    for t in listing
                ]
            }
        )
    if stage == "respond":
        lines = messages[-1]["content"].split("Results:\n", 1)[1].splitlines()
        return "Done: " + "; ".join(line.split(": ", 1)[1] for line in lines)
    if stage == "chat":
        return "echo: " + messages[-1]["content"]
    return "controller output for: " + messages[-1]["content"][:60]


@dataclass
class ScriptedLLM:
    """An in-process controller (implements engine.llm.base.LLM): no HTTP, answers by
    stage, after ``delay`` seconds of ``asyncio.sleep`` (0 = no await at all).

    ``late`` collects, per call, how much later than ``delay`` the caller got the
    answer back: the time the event loop was busy with other work when the answer was
    due, which is what a loaded loop costs each conversation."""

    plan_for: PlanFor
    delay: float = 0.0
    name: str = "scripted"
    supports_json_schema: bool = True
    calls: int = 0
    late: list[float] = field(default_factory=list)

    async def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        json_schema: dict[str, Any] | None = None,
        max_tokens: int = 512,
        temperature: float = 0.0,
    ) -> str:
        self.calls += 1
        if self.delay:
            asked = time.perf_counter()
            await asyncio.sleep(self.delay)
            self.late.append(time.perf_counter() - asked - self.delay)
        return answer([m.to_dict() for m in messages], self.plan_for)

    async def aclose(self) -> None:
        return None


# -- instant experts ----------------------------------------------------------------------


# What an InstantBackend standing in for the local backend declares (as LocalBackend does).
LOCAL_TRAITS: dict[str, Any] = {"rank": 10, "ready_first": True, "own_cards": False}


@dataclass
class InstantBackend:
    """Experts that do no work: each run returns ready-made outputs of the task's kinds
    (media files written once, up front), so what is timed is the engine alone."""

    folder: Path
    name: str = "builtin"
    card_list: list[ModelCard] = field(default_factory=list)
    _media: dict[str, Resource] = field(default_factory=dict)
    rank: int = 20  # ranked like the builtin tools it stands in for
    ready_first: bool = False
    own_cards: bool = True
    runs_cards_of: tuple[str, ...] = ()
    offline: bool = True

    def __post_init__(self) -> None:
        from tests.fakes.experts import ScriptedBackend

        maker = ScriptedBackend()
        ctx = RunContext(output_dir=self.folder)
        probe = Task(id=0, task="text-to-image", args={})
        for kind in ("image", "audio", "video"):
            self._media[kind] = maker._output(kind, probe, {}, _NO_SCRIPT, ctx)

    def cards(self) -> Sequence[ModelCard]:
        return self.card_list

    def availability(self, card: ModelCard) -> Availability:
        return Availability(ok=True, ready=True)

    async def refresh(self) -> None:
        return None

    async def run(
        self, card: ModelCard, task: Task, inputs: Mapping[str, Resource], ctx: RunContext
    ) -> Sequence[Resource]:
        out = []
        for kind in TASK_SPECS[task.task].outputs:
            if kind == "text":
                out.append(Resource(kind="text", text=f"{task.task} result"))
            elif kind == "json":
                out.append(Resource(kind="json", data={"task": task.task}))
            else:
                out.append(self._media[kind])
        return out

    async def aclose(self) -> None:
        return None


def _no_script() -> Any:
    from tests.fakes.experts import Script

    return Script()


_NO_SCRIPT = _no_script()


def build_engine(
    llm: LLM,
    backends: Mapping[str, Any],
    *,
    choose_with_llm: bool = True,
    top_k: int = 5,
    task_timeout: float = 30.0,
) -> Engine:
    """An Engine as bot/app.py wires it for an OpenAI-style controller: LLM planning
    (no retrieved demos: they change the prompt, not the calls), the controller
    backend for language tasks, and LLM model choice among several candidates."""
    all_backends = {**backends, "llm": ControllerBackend(llm.name)}
    # the Selector takes the cards of own-card backends from them, the others' from the catalogue
    listed = [c for b in backends.values() if not b.own_cards for c in b.cards()]
    selector = Selector(Catalogue(listed), all_backends, top_k=top_k, choose_with_llm=choose_with_llm)
    return Engine(
        llm=llm,
        planner=Planner("llm", n_demos=0),
        selector=selector,
        scheduler=Scheduler(all_backends, task_timeout=task_timeout),
    )

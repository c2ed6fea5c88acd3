"""The HuggingGPT pipeline as a library: ``await engine.run(request, on_event=...)``.

plan -> select -> execute -> respond, with progress events along the way. The
engine never raises for model problems: an unreachable LLM, a bad plan or failing
experts all end in an Outcome whose reply explains what happened, so the bot can
store the turn and the user gets an answer.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from engine.errors import InputError, LLMBadOutput, LLMError, LLMTimeout, PlanError
from engine.events import Done, EventCallback, PlanReady, Responding, Started
from engine.experts.base import ExpertBackend
from engine.llm.base import LLM, CountingLLM
from engine.notify import emit
from engine.planner import Planner, request_files
from engine.responder import Responder, reply_media
from engine.scheduler import Scheduler
from engine.selector import Selector
from engine.tasks import TASK_SPECS
from engine.types import Outcome, Plan, Reply, Request, Selection, TaskResult

log = logging.getLogger(__name__)


@dataclass
class Engine:
    llm: LLM
    planner: Planner
    selector: Selector
    scheduler: Scheduler
    responder: Responder = field(default_factory=Responder)

    @property
    def backends(self) -> Mapping[str, ExpertBackend]:
        return self.scheduler.backends

    async def run(self, request: Request, on_event: EventCallback | None = None) -> Outcome:
        clock = _Clock()
        llm = CountingLLM(self.llm)
        await emit(on_event, Started(request.text))
        plan: Plan | None = None
        selections: dict[int, list[Selection]] = {}
        results: list[TaskResult] = []
        try:
            with clock("plan"):
                plan = await self.planner.plan(request, llm, models=self._choices_for_planner())
            await emit(on_event, PlanReady(plan))
            with clock("select"):
                selections, missing = await self.selector.select(plan, llm)
            if not plan.tasks or _all_on_controller(plan, selections):
                # HuggingGPT answers chit-chat and pure-language requests directly.
                with clock("respond"):
                    await emit(on_event, Responding())
                    text = await self.responder.chat(request, llm)
                reply = Reply(text=text)
            else:
                with clock("execute"):
                    results = await self.scheduler.execute(
                        plan,
                        selections,
                        request_files(request),
                        _roots(request),
                        request.artifact_dir,
                        request_text=request.text,
                        on_event=on_event,
                        extras={"llm": llm},
                        why_unavailable=missing,
                    )
                await emit(on_event, Responding())
                with clock("respond"):
                    text = await self.responder.respond(request, results, llm)
                reply = Reply(text=text, media=reply_media(results))
            error = None
        except (LLMError, PlanError, InputError) as exc:
            log.info("request failed: %s", exc)
            reply, error = Reply(text=_apology(exc)), str(exc)
        await emit(on_event, Done(reply))
        return Outcome(
            reply=reply,
            plan=plan,
            selections=tuple(_chosen(selections)),
            results=tuple(results),
            llm_calls=llm.calls,
            timings=clock.finish(),
            error=error,
        )

    def _choices_for_planner(self) -> dict[str, list] | None:
        if self.planner.mode == "picker" or not self.selector.choose_with_llm:
            return None
        return self.selector.contested(list(TASK_SPECS))

    async def aclose(self) -> None:
        await self.llm.aclose()
        for backend in self.backends.values():
            await backend.aclose()


def _chosen(selections: Mapping[int, list[Selection]]) -> list[Selection]:
    return [options[0] for _, options in sorted(selections.items()) if options]


def _all_on_controller(plan: Plan, selections: Mapping[int, list[Selection]]) -> bool:
    """True when every task would be run by the controller LLM anyway: one chat answer
    does the same work with fewer LLM calls."""
    return all(selections.get(t.id) and selections[t.id][0].card.backend == "llm" for t in plan.tasks)


def _roots(request: Request) -> tuple:
    return (request.artifact_dir, *request.allowed_roots)


def _apology(exc: Exception) -> str:
    if isinstance(exc, LLMTimeout):
        return f"Sorry, the language model took too long to answer ({exc}). Please try again."
    if isinstance(exc, LLMBadOutput):
        return f"Sorry, the language model's answer was unusable: {exc}"
    if isinstance(exc, LLMError):  # unreachable, refused, misconfigured: the message says which
        return f"Sorry, I couldn't use the language model: {exc}"
    if isinstance(exc, InputError):
        return f"Sorry, I couldn't use your input: {exc}"
    return f"Sorry, I couldn't make a plan for that: {exc}"


class _Clock:
    """Seconds per stage, plus the total."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.timings: dict[str, float] = {}

    def __call__(self, stage: str) -> _Stage:
        return _Stage(self, stage)

    def finish(self) -> dict[str, float]:
        self.timings["total"] = time.perf_counter() - self.started
        return dict(self.timings)


class _Stage:
    def __init__(self, clock: _Clock, stage: str) -> None:
        self.clock, self.stage = clock, stage

    def __enter__(self) -> None:
        self.t0 = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self.clock.timings[self.stage] = (
            self.clock.timings.get(self.stage, 0.0) + time.perf_counter() - self.t0
        )

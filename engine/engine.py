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
from typing import Literal

from engine import messages as M
from engine.capabilities import answer_capability, capability_table
from engine.errors import InputError, LLMBadOutput, LLMError, LLMTimeout, PlanError
from engine.events import Done, EventCallback, PlanReady, Responding, Started
from engine.experts.base import ExpertBackend
from engine.i18n import Messages
from engine.llm.base import LLM, CountingLLM
from engine.notify import emit
from engine.planner import Planner
from engine.responder import Responder, recall, reply_media
from engine.scheduler import Scheduler
from engine.selector import Selector
from engine.tasks import TASK_SPECS
from engine.turn import TurnContext
from engine.types import Outcome, Plan, Reply, Request, Selection, TaskResult

log = logging.getLogger(__name__)

StopAfter = Literal["plan", "execute"]


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

    async def run(
        self, request: Request, on_event: EventCallback | None = None, *, stop_after: StopAfter | None = None
    ) -> Outcome:
        """The whole pipeline; ``stop_after`` ends a tool run early, with an empty reply:
        after planning (the plan alone) or after execution (plan and results, no answer
        written). A request answered directly (no tasks) has neither stage and is answered."""
        clock = _Clock()
        llm = CountingLLM(self.llm)
        await emit(on_event, Started(request.text))
        plan: Plan | None = None
        selections: dict[int, list[Selection]] = {}
        results: list[TaskResult] = []
        context = TurnContext.of(request)
        say = context.say
        try:
            with clock("plan"):
                plan = await self._plan(request, llm, context)
            await emit(on_event, PlanReady(plan))
            if stop_after == "plan" and plan.tasks:
                return await _stopped(on_event, plan, {}, [], llm, clock)
            if context.decision.kind in ("capability", "recall"):
                with clock("respond"):
                    await emit(on_event, Responding())
                    reply = Reply(text=self._answer_without_tools(request, context))
                await emit(on_event, Done(reply))
                return Outcome(
                    reply=reply, plan=plan, llm_calls=llm.calls, timings=clock.finish(), language=context.language
                )
            with clock("select"):
                selections, missing = await self.selector.select(plan, llm)
            if not plan.tasks or _all_on_controller(plan, selections):
                # HuggingGPT answers chit-chat and pure-language requests directly.
                with clock("respond"):
                    await emit(on_event, Responding())
                    text = await self.responder.chat(request, llm, say)
                reply = Reply(text=text)
            else:
                with clock("execute"):
                    results = await self.scheduler.execute(
                        plan,
                        selections,
                        context.files,
                        _roots(request),
                        request.artifact_dir,
                        request_text=request.text,
                        on_event=on_event,
                        llm=llm,
                        why_unavailable=missing,
                        language=context.language,
                    )
                if stop_after == "execute":
                    return await _stopped(on_event, plan, selections, results, llm, clock)
                await emit(on_event, Responding())
                with clock("respond"):
                    text = await self.responder.respond(request, results, llm, say)
                reply = Reply(text=text, media=reply_media(results))
            error = None
        except (LLMError, PlanError, InputError) as exc:
            log.info("request failed: %s", exc)
            reply, error = Reply(text=_apology(exc, say)), str(exc)
        await emit(on_event, Done(reply))
        return Outcome(
            reply=reply,
            plan=plan,
            selections=tuple(_chosen(selections)),
            results=tuple(results),
            llm_calls=llm.calls,
            timings=clock.finish(),
            error=error,
            language=context.language,
        )

    async def _plan(self, request: Request, llm: LLM, context: TurnContext) -> Plan:
        """The plan, or an empty one when the decision step settled that no tool is needed."""
        if context.decision.kind in ("chat", "capability", "recall"):
            return Plan((), source=context.decision.kind)
        return await self.planner.plan(request, llm, models=self._choices_for_planner(), context=context)

    def _answer_without_tools(self, request: Request, context: TurnContext) -> str:
        if context.decision.kind == "recall":
            return recall(context.scope.referred, context.say)
        table = capability_table(list(TASK_SPECS), self.selector.candidates, self.selector.why_unavailable)
        return answer_capability(request.text, table, context.say)

    def _choices_for_planner(self) -> dict[str, list] | None:
        if self.planner.mode == "picker" or not self.selector.choose_with_llm:
            return None
        return self.selector.contested(list(TASK_SPECS))

    async def aclose(self) -> None:
        await self.llm.aclose()
        for backend in self.backends.values():
            await backend.aclose()


async def _stopped(
    on_event: EventCallback | None,
    plan: Plan,
    selections: Mapping[int, list[Selection]],
    results: list[TaskResult],
    llm: CountingLLM,
    clock: _Clock,
) -> Outcome:
    """The outcome of a run stopped before its answer: no reply text, nothing failed."""
    reply = Reply(text="")
    await emit(on_event, Done(reply))
    return Outcome(
        reply=reply,
        plan=plan,
        selections=tuple(_chosen(selections)),
        results=tuple(results),
        llm_calls=llm.calls,
        timings=clock.finish(),
    )


def _chosen(selections: Mapping[int, list[Selection]]) -> list[Selection]:
    return [options[0] for _, options in sorted(selections.items()) if options]


def _all_on_controller(plan: Plan, selections: Mapping[int, list[Selection]]) -> bool:
    """True when every task would be run by the controller LLM anyway: one chat answer
    does the same work with fewer LLM calls."""
    return all(selections.get(t.id) and selections[t.id][0].card.backend == "llm" for t in plan.tasks)


def _roots(request: Request) -> tuple:
    return (request.artifact_dir, *request.allowed_roots)


def _apology(exc: Exception, say: Messages) -> str:
    if isinstance(exc, LLMTimeout):
        return say(M.APOLOGY_LLM_TIMEOUT, error=exc)
    if isinstance(exc, LLMBadOutput):
        return say(M.APOLOGY_LLM_UNUSABLE, error=exc)
    if isinstance(exc, LLMError):  # unreachable, refused, misconfigured: the message says which
        return say(M.APOLOGY_LLM_UNREACHABLE, error=exc)
    if isinstance(exc, InputError):
        return say(M.APOLOGY_BAD_INPUT, error=exc)
    return say(M.APOLOGY_NO_PLAN, error=exc)


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

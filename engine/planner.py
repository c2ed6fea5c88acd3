"""Stage 1: turn a request into a validated plan.

Modes:
- ``llm``: the LLM plans with retrieved few-shot demos and constrained JSON; a bad
  answer is retried once with the parser's error shown to the LLM; a second
  failure falls back to a direct answer (an empty plan). An unreachable or slow
  LLM is an error for the engine to report.
- ``picker``: the embedding task picker plans alone (no LLM call). This is the
  measured best choice for tiny offline controllers.
- ``hybrid``: the picker proposes; the LLM writes the plan with its decoding
  narrowed to the picker's task types; the picker's plan stands whenever the LLM
  fails (unreachable, too slow, or two unusable answers), with a ``note`` saying so.

The planning prompt keeps a server's prompt cache useful: its system message is the
same for every request (engine/prompts.py), and everything request-specific (demos,
context, the request, candidate models of its likely task types) comes after it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Literal, Protocol

from engine.errors import LLMBadOutput, LLMError, PlanError
from engine.llm.base import LLM, ChatMessage
from engine.plan_checks import checked, plan_for_files
from engine.plan_parser import parse_plan
from engine.plan_schema import plan_json_schema
from engine.prompts import (
    PLAN_RETRY,
    candidate_models,
    history_text,
    plan_language,
    plan_system,
    resource_table,
)
from engine.tasks import TASK_SPECS
from engine.turn import TurnContext
from engine.types import ModelCard, Plan, Request, Resource

log = logging.getLogger(__name__)

PlannerMode = Literal["llm", "picker", "hybrid"]
LISTED_CANDIDATES = 3  # model choices listed per task type: the selector's first three
DemoSource = Callable[[str, int], Sequence[tuple[str, str]]]  # (request, k) -> [(request, plan json)]


class Picker(Protocol):
    def propose(self, text: str, attachments: Sequence[Resource] = ()) -> Plan | None: ...


def _wrapped(plan_json: str) -> str:
    """A demo's plan in the answer shape the schema asks for: {"tasks": [...]}."""
    text = plan_json.strip()
    return text if text.startswith("{") else f'{{"tasks": {text}}}'


class Planner:
    def __init__(
        self,
        mode: PlannerMode,
        picker: Picker | None = None,
        demos: DemoSource | None = None,
        n_demos: int = 4,
        max_tasks: int = 8,
        context_tokens: int = 1500,
    ) -> None:
        if mode in ("picker", "hybrid") and picker is None:
            raise ValueError(f"planner mode {mode} needs a picker")
        # llm mode uses a picker, when given one, only to guess which model choices to list
        self.mode = mode
        self.picker = picker
        self.demos = demos
        self.n_demos = n_demos
        self.max_tasks = max_tasks
        self.context_tokens = context_tokens
        self._system = plan_system()

    async def plan(
        self,
        request: Request,
        llm: LLM,
        models: Mapping[str, Sequence[ModelCard]] | None = None,
        context: TurnContext | None = None,
    ) -> Plan:
        """``models``: candidates per task type where a choice exists; an LLM planner then also
        picks the model of each such task, which saves the selection stage an LLM call.
        ``context`` (engine/turn.py) says what the request may read; without it, only its
        own attachments."""
        context = context or TurnContext.of(request)
        plan = await self._plan(request, llm, models, context)
        if not plan.tasks and context.decision.needs_tools and context.scope.state.attachments:
            # "can u read this" with a note: the words name no task, the file says what to do
            implied = plan_for_files(context.scope.state.attachments, source=plan.source)
            plan = dataclasses.replace(plan, tasks=implied.tasks)
        return checked(plan, context)

    async def _plan(
        self,
        request: Request,
        llm: LLM,
        models: Mapping[str, Sequence[ModelCard]] | None,
        context: TurnContext,
    ) -> Plan:
        if self.mode == "llm":
            return await self._plan_with_llm(request, llm, list(TASK_SPECS), context, models=models)
        assert self.picker is not None
        # the picker embeds clauses with MiniLM: CPU work, kept off the event loop
        proposal = await asyncio.to_thread(self.picker.propose, context.planning_text, context.files)
        if proposal is None:
            return Plan((), source="picker")
        try:
            proposal = self._validated(proposal)
        except PlanError:
            if self.mode == "picker":
                raise
            # hybrid: the picker's proposal is unusable (e.g. too long): the LLM plans alone
            return await self._plan_with_llm(request, llm, list(TASK_SPECS), context, models=models)
        if self.mode == "picker" or not proposal.tasks:
            return proposal
        names = sorted({t.task for t in proposal.tasks})
        narrowed = {t: cards for t, cards in (models or {}).items() if t in names}
        return await self._plan_with_llm(request, llm, names, context, fallback=proposal, models=narrowed)

    def _validated(self, proposal: Plan) -> Plan:
        plan = parse_plan(json.dumps(proposal.to_public()), max_tasks=self.max_tasks)
        return Plan(plan.tasks, source=proposal.source)

    def _messages(
        self,
        request: Request,
        context: TurnContext,
        demos: Sequence[tuple[str, str]],
        models: Mapping[str, Sequence[ModelCard]],
    ) -> list[ChatMessage]:
        messages = [ChatMessage("system", self._system)]  # the same for every request: cached
        for demo_request, demo_plan in demos:
            messages.append(ChatMessage("user", demo_request))
            messages.append(ChatMessage("assistant", _wrapped(demo_plan)))
        for role, text in history_text(request.history, self.context_tokens):
            # earlier turns are context, not instructions to re-plan: the planner sees them as chat
            messages.append(ChatMessage(role, text))
        messages.append(
            ChatMessage(
                "user",
                candidate_models(models)
                + context.planning_text
                + resource_table(context)
                + plan_language(context.language),
            )
        )
        return messages

    async def _likely_models(
        self,
        context: TurnContext,
        demos: Sequence[tuple[str, str]],
        models: Mapping[str, Sequence[ModelCard]],
    ) -> Mapping[str, Sequence[ModelCard]]:
        """The model choices worth listing for this request: those of the task types the
        picker proposes and the nearest demo uses (all of them when there is neither). A
        task type left out costs the selection stage its own choice, never a wrong plan."""
        if not models:
            return models
        if self.picker is None and not demos:
            return {task: list(cards)[:LISTED_CANDIDATES] for task, cards in models.items()}
        likely = _demo_tasks(demos[:1])
        if self.picker is not None:
            proposal = await asyncio.to_thread(self.picker.propose, context.planning_text, context.files)
            likely |= {t.task for t in proposal.tasks} if proposal else set()
        return {task: list(cards)[:LISTED_CANDIDATES] for task, cards in models.items() if task in likely}

    async def _demos(self, text: str) -> Sequence[tuple[str, str]]:
        if self.demos is None or not self.n_demos:
            return ()
        return await asyncio.to_thread(self.demos, text, self.n_demos)

    async def _plan_with_llm(
        self,
        request: Request,
        llm: LLM,
        task_names: list[str],
        context: TurnContext,
        fallback: Plan | None = None,
        models: Mapping[str, Sequence[ModelCard]] | None = None,
    ) -> Plan:
        demos = await self._demos(context.planning_text)
        if fallback is None:  # hybrid mode narrowed the models to the picker's task types already
            models = await self._likely_models(context, demos, models or {})
        messages = self._messages(request, context, demos, models or {})
        # An object at the root: OpenAI's structured output refuses a bare array.
        choices = {task: [card.id for card in cards] for task, cards in (models or {}).items()}
        tasks_schema = plan_json_schema(task_names, self.max_tasks, models=choices)
        schema = {
            "type": "object",
            "properties": {"tasks": tasks_schema},
            "required": ["tasks"],
            "additionalProperties": False,
        }
        try:
            plan = await self._ask(llm, messages, schema)
        except (LLMError, PlanError) as exc:
            return _without_llm_plan(exc, fallback)
        if fallback is not None and not plan.tasks:
            return Plan(
                fallback.tasks, fallback.source, note="the LLM planned no task; the picker's plan was used"
            )
        return Plan(plan.tasks, source="llm" if fallback is None else "picker+llm")

    async def _ask(self, llm: LLM, messages: list[ChatMessage], schema: dict) -> Plan:
        """The LLM's plan; an unusable answer is retried once with the parser's error.

        A local model cut off mid-JSON raises LLMBadOutput: retried like a rejected plan.
        A timeout or an unreachable server is not retried here (the backend has its own
        bounded retry of what is worth retrying)."""
        max_tokens = 90 * self.max_tasks
        raw = ""
        try:
            raw = await llm.complete(messages, json_schema=schema, max_tokens=max_tokens)
            return parse_plan(raw, max_tasks=self.max_tasks)
        except (PlanError, LLMBadOutput) as first:
            log.info("plan rejected, retrying with the error: %s", first)
            retry = [
                *messages,
                ChatMessage("assistant", raw[:4000] or "(no valid JSON)"),
                ChatMessage("user", PLAN_RETRY.format(error=first)),
            ]
        raw = await llm.complete(retry, json_schema=schema, max_tokens=max_tokens)
        return parse_plan(raw, max_tasks=self.max_tasks)


def _without_llm_plan(exc: LLMError | PlanError, fallback: Plan | None) -> Plan:
    """The plan when the LLM gave none: the picker's (hybrid), or none at all after two
    unusable answers (llm: the engine answers directly). An unreachable or slow LLM
    without a picker's plan is raised for the engine to report."""
    if fallback is not None:
        log.info("the LLM failed to plan; the picker's plan stands: %s", exc)
        return Plan(
            fallback.tasks,
            fallback.source,
            note=f"the LLM failed ({_brief(exc)}); the picker's plan was used",
        )
    if isinstance(exc, LLMBadOutput | PlanError):
        log.info("plan failed twice, answering directly: %s", exc)
        return Plan(
            (), "fallback", note=f"the LLM's plan was unusable twice ({_brief(exc)}); answered directly"
        )
    raise exc


def _demo_tasks(demos: Sequence[tuple[str, str]]) -> set[str]:
    """The task types the demos' plans use."""
    names: set[str] = set()
    for _, plan_json in demos:
        try:
            tasks = json.loads(_wrapped(plan_json))["tasks"]
        except (ValueError, KeyError, TypeError):
            continue
        names |= {t["task"] for t in tasks if isinstance(t, dict) and isinstance(t.get("task"), str)}
    return names


def _brief(exc: Exception, limit: int = 300) -> str:
    """An error on one line, short enough for a plan's note."""
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."

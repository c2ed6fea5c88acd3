"""Stage 1: turn a request into a validated plan.

Modes:
- ``llm``: the LLM plans with retrieved few-shot demos and constrained JSON; a bad
  answer is retried once with the parser's error shown to the LLM; a second
  failure falls back to a direct answer (an empty plan).
- ``picker``: the embedding task picker plans alone (no LLM call). This is the
  measured best choice for tiny offline controllers.
- ``hybrid``: the picker proposes; the LLM writes the plan with its decoding
  narrowed to the picker's task types; the picker's plan stands if the LLM's fails.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Literal, Protocol

from engine.errors import LLMBadOutput, PlanError
from engine.llm.base import LLM, ChatMessage
from engine.plan_checks import checked, plan_for_files
from engine.plan_parser import parse_plan
from engine.plan_schema import plan_json_schema
from engine.prompts import (
    PLAN_MODELS,
    PLAN_RETRY,
    PLAN_SYSTEM,
    history_text,
    model_listing,
    resource_table,
    task_catalogue,
)
from engine.tasks import TASK_SPECS
from engine.turn import TurnContext
from engine.types import ModelCard, Plan, Request, Resource

log = logging.getLogger(__name__)

PlannerMode = Literal["llm", "picker", "hybrid"]
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
        self.mode = mode
        self.picker = picker
        self.demos = demos
        self.n_demos = n_demos
        self.max_tasks = max_tasks
        self.context_tokens = context_tokens
        self._system = PLAN_SYSTEM.format(tasks=task_catalogue())

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
        if not plan.tasks and context.decision.needs_tools:
            # "can u read this" with a note: the words name no task, the file says what to do
            plan = plan_for_files(context.scope.state.attachments, source=plan.source)
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
        system = self._system
        if models:
            system += "\n" + PLAN_MODELS.format(listing=model_listing(models))
        messages = [ChatMessage("system", system)]
        for demo_request, demo_plan in demos:
            messages.append(ChatMessage("user", demo_request))
            messages.append(ChatMessage("assistant", _wrapped(demo_plan)))
        for role, text in history_text(request.history, self.context_tokens):
            # earlier turns are context, not instructions to re-plan: the planner sees them as chat
            messages.append(ChatMessage(role, text))
        messages.append(ChatMessage("user", context.planning_text + resource_table(context)))
        return messages

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
        messages = self._messages(request, context, demos, models or {})
        # An object at the root: OpenAI's structured output refuses a bare array.
        tasks_schema = plan_json_schema(task_names, self.max_tasks, with_model=bool(models))
        schema = {
            "type": "object",
            "properties": {"tasks": tasks_schema},
            "required": ["tasks"],
            "additionalProperties": False,
        }
        max_tokens = 90 * self.max_tasks
        raw = ""
        try:
            # a local model cut off mid-JSON raises LLMBadOutput: retried like a rejected plan,
            # so hybrid mode still falls back to the picker's plan
            raw = await llm.complete(messages, json_schema=schema, max_tokens=max_tokens)
            plan = parse_plan(raw, max_tasks=self.max_tasks)
        except (PlanError, LLMBadOutput) as first:
            log.info("plan rejected, retrying with the error: %s", first)
            messages += [
                ChatMessage("assistant", raw[:4000] or "(no valid JSON)"),
                ChatMessage("user", PLAN_RETRY.format(error=first)),
            ]
            try:
                raw = await llm.complete(messages, json_schema=schema, max_tokens=max_tokens)
                plan = parse_plan(raw, max_tasks=self.max_tasks)
            except (PlanError, LLMBadOutput) as second:
                if fallback is not None:
                    return fallback
                log.info("plan failed twice, answering directly: %s", second)
                return Plan((), source="fallback")
        if fallback is not None and not plan.tasks:
            return fallback
        return Plan(plan.tasks, source="llm" if fallback is None else "picker+llm")

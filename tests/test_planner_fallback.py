"""Planner modes fall back sensibly when a local controller's answer is cut off mid-JSON."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from engine.errors import LLMBadOutput
from engine.planner import Planner
from engine.types import Plan, Request, Task


class CutOffLLM:
    """A controller whose every answer is cut off (LocalLLM raises LLMBadOutput then)."""

    def __init__(self) -> None:
        self.calls = 0

    async def complete(self, messages: Any, **kwargs: Any) -> str:
        self.calls += 1
        raise LLMBadOutput("the local model's answer is not valid JSON (cut off at max_tokens=720)")

    async def aclose(self) -> None:
        pass


class OneTaskPicker:
    def propose(self, text: str, attachments: Any = ()) -> Plan | None:
        return Plan((Task(id=0, task="summarization", args={"text": text}),), source="picker")


def test_hybrid_keeps_the_picker_plan_when_the_llm_is_cut_off(tmp_path: Path) -> None:
    llm = CutOffLLM()
    planner = Planner("hybrid", picker=OneTaskPicker())
    plan = asyncio.run(planner.plan(Request(text="Summarize 'a long text'", artifact_dir=tmp_path), llm))  # type: ignore[arg-type]
    assert [t.task for t in plan.tasks] == ["summarization"] and plan.source == "picker"
    assert llm.calls == 2  # the first cut-off answer is retried once, like a rejected plan


def test_llm_mode_answers_directly_when_cut_off_twice(tmp_path: Path) -> None:
    plan = asyncio.run(Planner("llm").plan(Request(text="hi", artifact_dir=tmp_path), CutOffLLM()))  # type: ignore[arg-type]
    assert plan.tasks == () and plan.source == "fallback"

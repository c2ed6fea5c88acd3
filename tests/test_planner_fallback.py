"""Planner modes when the LLM fails: hybrid keeps the picker's plan (and says so), llm
answers directly after two unusable answers and lets an unreachable LLM be reported."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from engine.catalogue import Catalogue
from engine.engine import Engine
from engine.errors import LLMBadOutput, LLMTimeout, LLMUnavailable
from engine.experts.controller import ControllerBackend
from engine.llm.openai_backend import OpenAILLM
from engine.planner import Planner
from engine.scheduler import Scheduler
from engine.selector import Selector
from engine.types import Plan, Request, Task
from tests.fakes.experts import ScriptedBackend
from tests.fakes.openai_server import FakeOpenAIServer, Reply, unused_port

GOOD = json.dumps(
    {"tasks": [{"task": "summarization", "id": 0, "dep": [-1], "args": {"text": "a long text"}}]}
)


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


def request(tmp_path: Path, text: str = "Summarize 'a long text'") -> Request:
    return Request(text=text, artifact_dir=tmp_path / "out", allowed_roots=(tmp_path,))


def openai_llm(base_url: str, **kwargs: Any) -> OpenAILLM:
    options: dict[str, Any] = {"model": "fake-model", "timeout": 5.0, "max_retries": 0} | kwargs
    return OpenAILLM(base_url=base_url, **options)


def test_hybrid_keeps_the_picker_plan_when_the_llm_is_cut_off(tmp_path: Path) -> None:
    llm = CutOffLLM()
    planner = Planner("hybrid", picker=OneTaskPicker())
    plan = asyncio.run(planner.plan(request(tmp_path), llm))  # type: ignore[arg-type]
    assert [t.task for t in plan.tasks] == ["summarization"] and plan.source == "picker"
    assert llm.calls == 2  # the first cut-off answer is retried once, like a rejected plan
    assert plan.note is not None and plan.note.startswith("the LLM failed (the local model's answer")


def test_llm_mode_answers_directly_when_cut_off_twice(tmp_path: Path) -> None:
    plan = asyncio.run(Planner("llm").plan(request(tmp_path, "hi"), CutOffLLM()))  # type: ignore[arg-type]
    assert plan.tasks == () and plan.source == "fallback"
    assert plan.note is not None and "unusable twice" in plan.note


async def test_hybrid_falls_back_when_the_llm_is_unreachable(tmp_path: Path) -> None:
    llm = openai_llm(f"http://127.0.0.1:{unused_port()}/v1")
    plan = await Planner("hybrid", picker=OneTaskPicker()).plan(request(tmp_path), llm)
    await llm.aclose()
    assert [t.task for t in plan.tasks] == ["summarization"] and plan.source == "picker"
    assert (
        plan.note is not None
        and "cannot reach the LLM" in plan.note
        and "picker's plan was used" in plan.note
    )


async def test_hybrid_falls_back_at_once_when_the_llm_times_out(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    openai_server.script(Reply.text(GOOD, delay=30.0))
    llm = openai_llm(openai_server.base_url, timeout=0.3, max_retries=2)
    plan = await Planner("hybrid", picker=OneTaskPicker()).plan(request(tmp_path), llm)
    await llm.aclose()
    assert plan.source == "picker" and plan.note is not None and "did not answer within 0.3 s" in plan.note
    assert openai_server.calls == 1  # a timeout is neither retried by the backend nor by the planner


async def test_hybrid_falls_back_after_two_invalid_plans(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    openai_server.script("no plan here", '{"tasks": [{"task": "summarization", "id": 0, "args": {}}]}')
    llm = openai_llm(openai_server.base_url)
    plan = await Planner("hybrid", picker=OneTaskPicker()).plan(request(tmp_path), llm)
    await llm.aclose()
    assert plan.source == "picker" and openai_server.calls == 2
    assert plan.note is not None and 'missing required argument "text"' in plan.note


async def test_hybrid_uses_the_llm_plan_when_it_works(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    openai_server.script(GOOD)
    llm = openai_llm(openai_server.base_url)
    plan = await Planner("hybrid", picker=OneTaskPicker()).plan(request(tmp_path), llm)
    await llm.aclose()
    assert plan.source == "picker+llm" and plan.note is None
    assert plan.tasks[0].args == {"text": "a long text"}


@pytest.mark.parametrize(
    ("reply", "error"),
    [(Reply.error(503, "overloaded"), LLMUnavailable), (Reply.text(GOOD, delay=30.0), LLMTimeout)],
    ids=["unavailable", "timeout"],
)
async def test_llm_mode_lets_an_unreachable_or_slow_llm_be_reported(
    openai_server: FakeOpenAIServer, tmp_path: Path, reply: Reply, error: type[Exception]
) -> None:
    openai_server.script(reply)
    llm = openai_llm(openai_server.base_url, timeout=0.3)
    with pytest.raises(error):
        await Planner("llm").plan(request(tmp_path), llm)
    await llm.aclose()
    assert openai_server.calls == 1


async def test_a_hostile_answer_is_a_plan_error_the_retry_sees(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    openai_server.script("[" * 1000 + "]" * 1000, GOOD)
    llm = openai_llm(openai_server.base_url)
    plan = await Planner("llm").plan(request(tmp_path), llm)
    await llm.aclose()
    assert [t.task for t in plan.tasks] == ["summarization"] and plan.source == "llm"
    retry = openai_server.requests[1]["messages"][-1]["content"]
    assert "not a valid plan" in retry and "1000 levels deep" in retry


async def test_the_note_reaches_ask_json_and_the_trace(tmp_path: Path) -> None:
    """An engine in hybrid mode with its LLM down: the picker's plan runs, no error, and
    ``Outcome.to_public()`` (what ``ask --json`` prints and the store keeps) says why."""
    backend = ScriptedBackend.for_all_tasks()
    llm = openai_llm(f"http://127.0.0.1:{unused_port()}/v1")
    backends = {"builtin": backend, "llm": ControllerBackend(llm.name)}
    engine = Engine(
        llm=llm,
        planner=Planner("hybrid", picker=OneTaskPicker(), n_demos=0),
        selector=Selector(Catalogue(backend.cards()), backends, top_k=3, choose_with_llm=False),
        scheduler=Scheduler(backends, task_timeout=5),
    )
    try:
        outcome = await engine.run(request(tmp_path))
    finally:
        await engine.aclose()
    public = outcome.to_public()
    assert public["plan_source"] == "picker" and public["error"] is None
    assert public["plan_note"].startswith("the LLM failed (cannot reach the LLM")
    assert [r["status"] for r in public["results"]] == ["ok"]

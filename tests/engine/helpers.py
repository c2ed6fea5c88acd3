"""Build a real Engine against the scripted OpenAI server and scripted experts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.catalogue import Catalogue
from engine.engine import Engine
from engine.experts.controller import ControllerBackend
from engine.llm.openai_backend import OpenAILLM
from engine.planner import Planner
from engine.scheduler import Scheduler
from engine.selector import Selector
from engine.types import Request
from tests.fakes.experts import ScriptedBackend
from tests.fakes.openai_server import Reply
from tests.fakes.stages import stage_of as stage_of_messages


def stage_of(body: dict[str, Any]) -> str:
    """The stage of a recorded chat request body (see tests.fakes.stages)."""
    return stage_of_messages(body["messages"])


def router(
    plans: list[str] | Callable[[dict], str],
    respond: str = "Done: {results}",
    select: str = '{"choices": []}',
) -> Callable[[dict], Reply]:
    """A responder for the fake server: plans in order for planning calls, a canned answer
    quoting the results for response calls, a chat answer otherwise."""
    queue = list(plans) if isinstance(plans, list) else None

    def answer(body: dict) -> Reply:
        stage = stage_of(body)
        if stage == "plan":
            if queue is None:
                return Reply(plans(body))  # type: ignore[operator]
            return Reply(queue.pop(0) if queue else "[]")
        if stage == "respond":
            lines = body["messages"][1]["content"].split("Results:\n", 1)[1].splitlines()
            quoted = "; ".join(line.split(": ", 1)[1] for line in lines)
            return Reply(respond.format(results=quoted))
        if stage == "chat":
            return Reply("Hello! How can I help?")
        if stage == "select":
            return Reply(select)
        return Reply("controller output for: " + body["messages"][-1]["content"][:60])

    return answer


def make_engine(
    base_url: str,
    backend: ScriptedBackend | None = None,
    task_timeout: float = 5.0,
    mode: str = "llm",
    choose_with_llm: bool = False,
) -> tuple[Engine, ScriptedBackend]:
    backend = backend or ScriptedBackend.for_all_tasks()
    llm = OpenAILLM(
        base_url=base_url,
        model="fake-model",
        api_key="k",
        timeout=5,
        max_retries=0,
        api_key_env="OPENAI_API_KEY",
    )
    backends = {"builtin": backend, "llm": ControllerBackend("fake-model")}
    selector = Selector(Catalogue(backend.cards()), backends, top_k=3, choose_with_llm=choose_with_llm)
    engine = Engine(
        llm=llm,
        planner=Planner(mode, n_demos=0),
        selector=selector,  # type: ignore[arg-type]
        scheduler=Scheduler(backends, task_timeout=task_timeout),
    )
    return engine, backend


def request(tmp_path: Path, text: str, **kwargs: Any) -> Request:
    return Request(text=text, artifact_dir=tmp_path / "out", allowed_roots=(tmp_path,), **kwargs)

"""``Engine.run(..., stop_after=...)``: the plan alone (JARVIS's /tasks), or plan and
results without the answer (/results); a request with no tasks is still answered."""

from __future__ import annotations

import json

from engine.events import Done, PlanReady, Responding, Started, TaskFinished, TaskStarted
from tests.engine.helpers import request, router, stage_of

PLAN = json.dumps(
    [
        {"task": "text-to-speech", "id": 0, "dep": [-1], "args": {"text": "hello"}},
        {"task": "automatic-speech-recognition", "id": 1, "dep": [0], "args": {"audio": "<GENERATED>-0"}},
    ]
)


async def test_stop_after_the_plan_runs_no_expert(openai_server, tmp_path, make):
    openai_server.responder = router([PLAN])
    engine, backend = make(openai_server.base_url)
    events = []
    outcome = await engine.run(request(tmp_path, "say hello"), events.append, stop_after="plan")
    assert [t.task for t in outcome.plan.tasks] == ["text-to-speech", "automatic-speech-recognition"]
    assert outcome.results == () and outcome.reply.text == "" and outcome.error is None
    assert backend.log == [] and [stage_of(r) for r in openai_server.requests] == ["plan"]
    assert [type(e) for e in events] == [Started, PlanReady, Done]
    assert set(outcome.timings) == {"plan", "total"}


async def test_stop_after_execution_writes_no_answer(openai_server, tmp_path, make):
    openai_server.responder = router([PLAN])
    engine, backend = make(openai_server.base_url)
    events = []
    outcome = await engine.run(request(tmp_path, "say hello"), events.append, stop_after="execute")
    assert [r.status for r in outcome.results] == ["ok", "ok"]
    assert [s.card.id for s in outcome.selections] == [
        "fake/text-to-speech",
        "fake/automatic-speech-recognition",
    ]
    assert outcome.reply.text == "" and "respond" not in [stage_of(r) for r in openai_server.requests]
    kinds = [type(e) for e in events]
    assert kinds.count(TaskFinished) == 2 and TaskStarted in kinds and Responding not in kinds
    assert kinds[-1] is Done


async def test_a_request_without_tasks_is_answered_even_when_stopping_early(openai_server, tmp_path, make):
    openai_server.responder = router(["[]", "[]"])
    engine, _ = make(openai_server.base_url)
    for stop_after in ("plan", "execute"):
        outcome = await engine.run(request(tmp_path, "hi there"), stop_after=stop_after)
        assert outcome.reply.text == "Hello! How can I help?"

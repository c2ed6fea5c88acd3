"""Figure 1: LLM calls per request, against the reference design's count.

The real ``openai`` client talks to the scripted OpenAI-compatible server on
127.0.0.1; the engine is wired as for an endpoint controller (LLM planning,
``choose_with_llm`` on, controller-run language tasks). Experts are instant.

Reference count (HuggingGPT): plan + one call per task that needs a model choice
(more than one candidate) or is run by the LLM + response; a request with no
tasks costs plan + answer. The projections show what two proposed engine changes
would save (computed from the recorded calls, not measured):
``choice_in_plan`` folds model choice into the planning call, ``leaf_language_in_reply``
lets the response call do controller-run language tasks that nothing else consumes.
"""

from __future__ import annotations

import statistics
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks.harness import LOCAL_TRAITS, InstantBackend, answer, build_engine, result, stage_of
from benchmarks.suite import BUILTIN, CASES, LOCAL, cards, make_files, plan_lookup
from engine.llm.openai_backend import OpenAILLM
from engine.types import Outcome, Request
from tests.fakes.openai_server import FakeOpenAIServer

NAME = "llm_calls"
TITLE = "LLM calls per request (openai controller, scripted server)"
GOAL = "median <= 2"
QUICK: dict[str, Any] = {"cases": 6}


async def run(cases: int = len(CASES)) -> dict[str, Any]:
    suite = CASES[:cases]
    plans = plan_lookup(suite)
    with tempfile.TemporaryDirectory(prefix="bench-calls-") as tmp:
        root = Path(tmp)
        files = make_files(root / "in")
        backends = {
            "builtin": InstantBackend(root / "made", "builtin", cards(BUILTIN, "builtin")),
            "local": InstantBackend(root / "made", "local", cards(LOCAL, "local"), **LOCAL_TRAITS),
        }
        server = FakeOpenAIServer(responder=lambda body: answer(body["messages"], plans.__getitem__))
        async with server:
            llm = OpenAILLM(
                base_url=server.base_url, model="fake-model", api_key="k", timeout=10, max_retries=0
            )
            engine = build_engine(llm, backends, choose_with_llm=True, top_k=5)
            rows = []
            try:
                for n, case in enumerate(suite):
                    before = server.calls
                    request = Request(
                        text=case.text,
                        artifact_dir=root / "out" / str(n),
                        attachments=tuple(files[f] for f in case.files),
                        allowed_roots=(root,),
                    )
                    outcome = await engine.run(request)
                    stages = [stage_of(body["messages"]) for body in server.requests[before:]]
                    rows.append(_row(case.text, outcome, stages, engine.selector.candidates))
            finally:
                await engine.aclose()
    return _figure(rows, cases)


def _row(text: str, outcome: Outcome, stages: list[str], candidates: Any) -> dict[str, Any]:
    plan = outcome.plan.tasks if outcome.plan else ()
    chosen = {s.task_id: s.card.backend for s in outcome.selections}
    consumed = {d for t in plan for d in t.dep}
    needs_llm = [t for t in plan if len(candidates(t.task)) > 1 or chosen.get(t.id) == "llm"]
    reference = 2 + len(needs_llm) if plan else 2
    leaf_llm_runs = sum(
        1
        for r in outcome.results  # empty when the request was answered as chat
        if r.card is not None and r.card.backend == "llm" and r.task.id not in consumed
    )
    calls = outcome.llm_calls
    choice_in_plan = calls - stages.count("select")
    return {
        "request": text[:60],
        "tasks": len(plan),
        "calls": calls,
        "stages": stages,
        "reference": reference,
        "ok": outcome.error is None and all(r.status == "ok" for r in outcome.results),
        "projected": {
            "choice_in_plan": choice_in_plan,
            "leaf_language_in_reply": calls - leaf_llm_runs,
            "both": choice_in_plan - leaf_llm_runs,
        },
    }


def _figure(rows: list[dict[str, Any]], cases: int) -> dict[str, Any]:
    calls = [r["calls"] for r in rows]
    median = statistics.median(calls)
    projected = {
        name: statistics.median(r["projected"][name] for r in rows)
        for name in ("choice_in_plan", "leaf_language_in_reply", "both")
    }
    stage_totals = Counter(s for r in rows for s in r["stages"])
    return result(
        NAME,
        TITLE,
        value=median,
        unit="calls (median)",
        goal=GOAL,
        passed=median <= 2,
        params={
            "requests": cases,
            "planner": "llm",
            "choose_with_llm": True,
            "top_k": 5,
            "llm": "OpenAILLM -> scripted server on 127.0.0.1",
        },
        mean=round(statistics.fmean(calls), 2),
        distribution={str(k): v for k, v in sorted(Counter(calls).items())},
        reference_median=statistics.median(r["reference"] for r in rows),
        reference_mean=round(statistics.fmean(r["reference"] for r in rows), 2),
        calls_by_stage=dict(sorted(stage_totals.items())),
        projected_median=projected,
        requests_all_ok=sum(r["ok"] for r in rows),
        per_request=[{k: r[k] for k in ("request", "tasks", "calls", "reference", "stages")} for r in rows],
    )

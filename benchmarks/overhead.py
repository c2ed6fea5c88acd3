"""Figure 3: the engine's own cost per request, with a zero-latency LLM and instant experts.

The controller is in process (``ScriptedLLM``, no HTTP, no awaits) and the experts
return ready-made outputs, so ``engine.run`` wall time is planning-prompt building,
plan parsing and validation, selection, scheduling, input resolution, the
response prompt and events: the engine and nothing else. Requests cycle through the
scripted suite (chains, fan-out, chit-chat, language tasks). When p50 misses the
goal, or with ``profile=True``, a cProfile run names the hot spots.
"""

from __future__ import annotations

import cProfile
import io
import pstats
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.harness import LOCAL_TRAITS, InstantBackend, ScriptedLLM, build_engine, ms_summary, result
from benchmarks.suite import BUILTIN, CASES, LOCAL, cards, make_files, plan_lookup
from engine.engine import Engine
from engine.types import Request, Resource

NAME = "overhead"
TITLE = "Engine overhead per request (in-process zero-latency LLM, instant experts)"
GOAL = "p50 < 2 ms"
QUICK: dict[str, Any] = {"requests": 30, "warmup": 5}


async def run(requests: int = 500, warmup: int = 50, profile: bool = False) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-overhead-") as tmp:
        root = Path(tmp)
        files = make_files(root / "in")
        backends = {
            "builtin": InstantBackend(root / "made", "builtin", cards(BUILTIN, "builtin")),
            "local": InstantBackend(root / "made", "local", cards(LOCAL, "local"), **LOCAL_TRAITS),
        }
        engine = build_engine(ScriptedLLM(plan_lookup(CASES).__getitem__), backends, choose_with_llm=True)
        batch = [_request(root, files, n) for n in range(requests + warmup)]
        for request in batch[:warmup]:
            await engine.run(request)
        seconds, stages = [], {"plan": 0.0, "select": 0.0, "execute": 0.0, "respond": 0.0}
        for request in batch[warmup:]:
            started = time.perf_counter()
            outcome = await engine.run(request)
            seconds.append(time.perf_counter() - started)
            for stage in stages:
                stages[stage] += outcome.timings.get(stage, 0.0)
        summary = ms_summary(seconds)
        passed = summary["p50_ms"] < 2.0
        details: dict[str, Any] = {
            **summary,
            "mean_ms_by_stage": {k: round(v / requests * 1000, 3) for k, v in stages.items()},
        }
        if profile or not passed:
            details["hot_spots"] = await _profile(engine, batch[warmup : warmup + min(requests, 200)])
    return result(
        NAME,
        TITLE,
        value=summary["p50_ms"],
        unit="ms (p50)",
        goal=GOAL,
        passed=passed,
        params={
            "requests": requests,
            "warmup": warmup,
            "suite_cases": len(CASES),
            "choose_with_llm": True,
            "llm": "in-process, instant",
        },
        **details,
    )


def _request(root: Path, files: dict[str, Resource], n: int) -> Request:
    case = CASES[n % len(CASES)]
    return Request(
        text=case.text,
        artifact_dir=root / "out" / str(n),
        attachments=tuple(files[f] for f in case.files),
        allowed_roots=(root,),
    )


async def _profile(engine: Engine, batch: list[Request], top: int = 15) -> list[str]:
    """The functions with the most own time over ``batch``, as pstats lines."""
    profiler = cProfile.Profile()
    profiler.enable()
    for request in batch:
        await engine.run(request)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    lines = [line.rstrip() for line in out.getvalue().splitlines() if line.strip()]
    start = next((i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls")), 0)
    return lines[start : start + top + 1]

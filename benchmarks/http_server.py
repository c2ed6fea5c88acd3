"""Figure 8: end-to-end time through the warm HTTP server, against the ideal.

The makespan figure's DAG shapes (benchmarks/makespan.py: chain, fan-out, diamond,
3-level; experts that sleep known times, ``unit`` seconds per unit) are sent as chat
completions by the official ``openai`` client to ``serve`` on 127.0.0.1, over the
real conversation service and SQLite store, with the in-process scripted controller
answering after ``latency`` seconds (0 and 0.5 s by default). The server is warm: a
first request of each setting runs before any is timed, as JARVIS's server is timed
once it is up.

Ideal = the DAG's critical path + the controller calls the turn made x their
latency; the value is the worst ratio of client-measured wall time to it. Each shape
also reports ``outside_engine_ms``: the wall time less the engine's own total (from
the answer's ``hugginggpt.timings``), i.e. what the HTTP round trip, JSON, the
conversation service and the store add to the engine's run. ``direct_answers``
times ``round_trips`` requests that need no tool (an empty plan, a chat answer, no
latency): what one turn costs end to end when nothing waits.

Not in ``python -m benchmarks``'s default run (it sleeps about 30 s at the default
sizes): ``python -m benchmarks.http_server`` prints it alone.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import openai

from adapters.http.app import build_app
from adapters.http.keys import ApiKeys
from adapters.http.messages import Limits
from adapters.http.runner import serve
from adapters.http.settings import HttpSettings
from benchmarks.harness import ScriptedLLM, build_engine, ms_summary, result
from benchmarks.makespan import SHAPES, UNITS, critical_path
from bot.conversations import ConversationService
from bot.store import Store
from tests.fakes.experts import Script, ScriptedBackend

NAME = "http_server"
TITLE = "End-to-end through the warm HTTP server / (critical path + LLM latency)"
GOAL = "<= 1.03 for every shape and latency"
QUICK: dict[str, Any] = {"unit": 0.02, "latencies": (0.0, 0.01), "repeats": 1, "round_trips": 5}
KEY = "benchmark-key"


async def run(
    unit: float = 1.0, latencies: tuple[float, ...] = (0.0, 0.5), repeats: int = 1, round_trips: int = 100
) -> dict[str, Any]:
    seconds = {task: units * unit for task, units in UNITS.items()}
    plans = {name: json.dumps(plan) for name, plan in SHAPES.items()}
    settings: dict[str, Any] = {}
    direct: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-http-") as tmp:
        for latency in latencies:
            settings[f"latency_{latency:g}s"], trips = await _one_setting(
                Path(tmp) / f"latency-{latency:g}", plans, seconds, latency, repeats, round_trips
            )
            if latency == 0:
                direct = trips
    worst = max(s["ratio"] for shapes in settings.values() for s in shapes.values())
    return result(
        NAME,
        TITLE,
        value=worst,
        unit="client wall time / (critical path + LLM calls x latency), worst shape and latency",
        goal=GOAL,
        passed=worst <= 1.03,
        params={
            "unit_sleep_s": unit,
            "latencies_s": list(latencies),
            "repeats": repeats,
            "round_trips": round_trips,
        },
        settings=settings,
        direct_answers=direct,
    )


async def _one_setting(
    folder: Path,
    plans: dict[str, str],
    seconds: dict[str, float],
    latency: float,
    repeats: int,
    round_trips: int,
) -> tuple[dict[str, Any], dict[str, Any]]:
    backend = ScriptedBackend.for_all_tasks()
    backend.scripts.update({task: Script(sleep=s) for task, s in seconds.items()})
    llm = ScriptedLLM(lambda text: plans.get(text, "[]"), delay=latency)
    engine = build_engine(llm, {"builtin": backend}, choose_with_llm=False)
    folder.mkdir(parents=True)
    store = await Store.open(folder / "bot.sqlite3")
    service = ConversationService(engine, store, folder)
    app = build_app(
        HttpSettings(rate_limit_per_minute=0), service, ApiKeys([KEY]), service.artifacts, Limits(1 << 24, 4)
    )
    listening: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    server = asyncio.create_task(serve(app, "127.0.0.1", 0, 5.0, listening.set_result))
    try:
        url = await listening
        async with openai.AsyncOpenAI(
            base_url=url + "/v1", api_key=KEY, max_retries=0, timeout=120
        ) as client:
            await _ask(
                client, "hello"
            )  # warm: the first request pays the client's and server's first-use costs
            shapes = {}
            for name, plan in SHAPES.items():
                ratios, walls, outside, calls = [], [], [], 0
                for _ in range(repeats):
                    before = llm.calls
                    wall, engine_total = await _ask(client, name)
                    calls = llm.calls - before
                    ideal = critical_path(plan, seconds) + calls * latency
                    ratios.append(wall / ideal)
                    walls.append(wall)
                    outside.append(wall - engine_total)
                wall = statistics.median(walls)
                ideal = critical_path(plan, seconds) + calls * latency
                shapes[name] = {
                    "tasks": len(plan),
                    "llm_calls": calls,
                    "ideal_s": round(ideal, 3),
                    "wall_s": round(wall, 4),
                    "overhead_ms": round((wall - ideal) * 1000, 1),
                    "outside_engine_ms": round(statistics.median(outside) * 1000, 2),
                    "ratio": round(statistics.median(ratios), 4),
                }
            trips: dict[str, Any] = {}
            if latency == 0 and round_trips:
                timed = [await _ask(client, "hello") for _ in range(round_trips)]
                trips = {
                    "wall": ms_summary([wall for wall, _ in timed]),
                    "outside_engine": ms_summary([wall - engine for wall, engine in timed]),
                }
        return shapes, trips
    finally:
        server.cancel()
        try:
            await server
        except asyncio.CancelledError:
            pass
        await store.close()
        await engine.aclose()


async def _ask(client: openai.AsyncOpenAI, shape: str) -> tuple[float, float]:
    """Client wall time and the engine's own total for one request."""
    started = time.perf_counter()
    done = await client.chat.completions.create(
        model="hugginggpt", messages=[{"role": "user", "content": shape}]
    )
    wall = time.perf_counter() - started
    ext = done.model_extra["hugginggpt"]
    failed = [r for r in ext["results"] if r["status"] != "ok"]
    if failed:
        raise RuntimeError(f"{shape}: a task failed: {failed}")
    return wall, ext["timings"]["total"]


if __name__ == "__main__":
    print(json.dumps(asyncio.run(run()), indent=2))

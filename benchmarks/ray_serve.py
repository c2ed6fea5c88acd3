"""Experts on a local Ray cluster through Ray Serve: per-call overhead, replica scaling.

    python -m benchmarks.ray_serve            # about a minute: starts and ends its own cluster
    python -m benchmarks.ray_serve --quick    # tiny sizes: checks it runs, measures nothing

Not in ``python -m benchmarks`` (it takes far longer than the other figures). A one-node
cluster on 127.0.0.1 (tests/ray/cluster.py) with the builtin tools as deployments, called
the way the bot calls them (RayBackend.run: the pipe to the driver process, the Serve
handle, the replica, files as bytes both ways):

- overhead: VADER sentiment on a short text (well under a millisecond of work), in
  process (BuiltinBackend.run) and through Serve; the difference of the medians is what
  going through Serve costs a call. The driver pipe's own round trip (``ping``) is
  reported beside it.
- scaling: N concurrent OCR calls (Tesseract on a rendered page, one thread each) against
  1 and 2 replicas of a 1-CPU deployment that takes one request at a time
  (``max_ongoing_requests: 1``, as a model on one GPU would); throughput in calls/s and
  the speedup. The same N in process (builtin threads) are the reference.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.harness import ms_summary, result

NAME = "ray_serve"
TITLE = "Ray Serve experts: per-call overhead, and throughput with 1 and 2 replicas"
GOAL = "overhead p50 < 10 ms, 2 replicas >= 1.5x"
QUICK = {"calls": 5, "concurrent": 2, "rounds": 1}


async def run(calls: int = 200, concurrent: int = 8, rounds: int = 3) -> dict[str, Any]:
    os.environ["OMP_THREAD_LIMIT"] = "1"  # Tesseract on one thread per call, here and on the cluster
    from tests.ray.cluster import LOOPBACK_ENV, LocalCluster

    params = {"calls": calls, "concurrent": concurrent, "rounds": rounds}
    cluster = LocalCluster(num_cpus=2, env={"OMP_THREAD_LIMIT": "1", "HF_HUB_OFFLINE": "1"})
    os.environ.update(LOOPBACK_ENV)
    load_before = os.getloadavg()[0]
    cluster.start()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-ray-") as tmp:
            folder = Path(tmp)
            overhead = await _overhead(cluster, folder, calls)
            scaling = await _scaling(cluster, folder, concurrent, rounds)
    finally:
        cluster.close()
    speedup = scaling["speedup_2_over_1"]
    value = overhead["serve_overhead_p50_ms"]
    return result(
        NAME,
        TITLE,
        value=value,
        unit="ms",
        goal=GOAL,
        passed=value < 10 and speedup >= 1.5,
        params=params,
        overhead=overhead,
        scaling=scaling,
        load_avg_1m_at_start=round(load_before, 2),
        load_avg_1m_at_end=round(os.getloadavg()[0], 2),
    )


def _spec(name: str, expert: str, task: str, **options: Any) -> Any:
    from engine.experts.ray import ExpertSpec

    return ExpertSpec(name=name, expert=expert, task=task, source="builtin", **options)


async def _overhead(cluster: Any, folder: Path, calls: int) -> dict[str, Any]:
    from engine.experts.base import RunContext
    from engine.experts.builtin.backend import BuiltinBackend
    from engine.experts.builtin.vader import VaderSentiment
    from engine.experts.ray import ClusterSpec, RayBackend
    from engine.types import Resource, Task

    spec = _spec(
        "vader", "builtin/vader-sentiment", "text-classification", num_cpus=0.5, max_ongoing_requests=4
    )
    ray = RayBackend(ClusterSpec(address=cluster.address, app_prefix="bench-", experts=(spec,)))
    local = BuiltinBackend([VaderSentiment()])
    task = Task(0, "text-classification", {"text": "the review"})
    inputs = {"text": Resource(kind="text", text="I really love this, it is great!")}
    ctx = RunContext(output_dir=folder / "overhead")
    try:
        await ray.deploy()
        await ray.refresh()
        driver = await ray.driver()
        [card] = ray.cards()
        [local_card] = local.cards()
        for _ in range(10):  # warm: the handle, the replica's model, the thread pool
            await ray.run(card, task, inputs, ctx)
            await local.run(local_card, task, inputs, ctx)
        direct = await _timed(calls, lambda: local.run(local_card, task, inputs, ctx))
        served = await _timed(calls, lambda: ray.run(card, task, inputs, ctx))
        ping = await _timed(calls, lambda: driver.request("ping"))
    finally:
        await ray.aclose()
        await local.aclose()
    return {
        "in_process": ms_summary(direct),
        "through_serve": ms_summary(served),
        "driver_pipe_round_trip": ms_summary(ping),
        "serve_overhead_p50_ms": round((statistics.median(served) - statistics.median(direct)) * 1000, 3),
    }


async def _timed(n: int, call: Any) -> list[float]:
    seconds = []
    for _ in range(n):
        started = time.perf_counter()
        await call()
        seconds.append(time.perf_counter() - started)
    return seconds


async def _scaling(cluster: Any, folder: Path, concurrent: int, rounds: int) -> dict[str, Any]:
    from benchmarks.embedded import _render_page
    from engine.experts.base import RunContext
    from engine.experts.builtin.backend import BuiltinBackend
    from engine.experts.builtin.tesseract import TesseractOCR
    from engine.experts.ray import ClusterSpec, RayBackend
    from engine.types import Resource, Task

    page = Resource(kind="image", path=_render_page(folder / "page.png"), name="page.png")
    task = Task(0, "image-to-text", {"image": "page.png"})
    ctx = RunContext(output_dir=folder / "scaling")
    figures: dict[str, Any] = {}
    local = BuiltinBackend([TesseractOCR()])
    [local_card] = local.cards()
    figures["in_process"] = await _throughput(lambda: local.run(local_card, task, {"image": page}, ctx), concurrent,
                                              rounds)  # fmt: skip
    for replicas in (1, 2):
        spec = _spec("ocr", "builtin/tesseract-ocr", "image-to-text", num_cpus=1, replicas=replicas,
                     max_ongoing_requests=1)  # fmt: skip
        ray = RayBackend(ClusterSpec(address=cluster.address, app_prefix="bench-", experts=(spec,)))
        try:
            report = await ray.deploy()
            running = sum(
                d["replicas"].get("RUNNING", 0) for d in report["apps"]["bench-ocr"]["deployments"].values()
            )
            await ray.refresh()
            [card] = ray.cards()
            for _ in range(replicas * 2):
                await ray.run(card, task, {"image": page}, ctx)
            figures[f"replicas_{replicas}"] = {
                "running": running,
                **await _throughput(lambda: ray.run(card, task, {"image": page}, ctx), concurrent, rounds),  # noqa: B023
            }
        finally:
            await ray.aclose()
    one, two = figures["replicas_1"]["calls_per_s"], figures["replicas_2"]["calls_per_s"]
    figures["speedup_2_over_1"] = round(two / one, 3) if one else 0.0
    figures["concurrent_calls"] = concurrent
    return figures


async def _throughput(call: Any, concurrent: int, rounds: int) -> dict[str, Any]:
    """The best of ``rounds`` bursts of ``concurrent`` calls at once (the machine is shared:
    the best burst is the one least disturbed), and every burst's rate."""
    rates = []
    for _ in range(rounds):
        started = time.perf_counter()
        await asyncio.gather(*(call() for _ in range(concurrent)))
        rates.append(concurrent / (time.perf_counter() - started))
    return {"calls_per_s": round(max(rates), 3), "bursts_calls_per_s": [round(r, 3) for r in rates]}


def main(argv: list[str] | None = None) -> int:
    import argparse
    import json
    import logging

    from benchmarks.__main__ import run_figure

    parser = argparse.ArgumentParser(prog="python -m benchmarks.ray_serve", description=TITLE)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks it runs, measures nothing")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    figure = asyncio.run(run_figure("ray_serve", quick=args.quick))
    print(json.dumps(figure, indent=2, ensure_ascii=False))
    return 0 if figure["pass"] is not None else 1


if __name__ == "__main__":
    sys.exit(main())

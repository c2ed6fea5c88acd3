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
- scaling: bursts of N concurrent OCR calls (Tesseract on a rendered page, one thread
  each) against an application with 1 replica and one with 2, each replica taking one
  request at a time (``max_ongoing_requests: 1``, as a model on one GPU would), and the
  same bursts in process (builtin threads) as the reference; the three alternate, round
  after round, and the figure is the median of the rounds' 2-over-1 ratios.
- Calls are interleaved the same way for the overhead, since the machine is shared.
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


async def run(calls: int = 200, concurrent: int = 8, rounds: int = 5) -> dict[str, Any]:
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
    direct: list[float] = []
    served: list[float] = []
    ping: list[float] = []
    try:
        await ray.deploy()
        await ray.refresh()
        driver = await ray.driver()
        [card] = ray.cards()
        [local_card] = local.cards()
        for _ in range(10):  # warm: the handle, the replica's model, the thread pool
            await ray.run(card, task, inputs, ctx)
            await local.run(local_card, task, inputs, ctx)
        for _ in range(calls):  # interleaved, so both see the same moments of a shared machine
            direct.append(await _timed(local.run(local_card, task, inputs, ctx)))
            served.append(await _timed(ray.run(card, task, inputs, ctx)))
            ping.append(await _timed(driver.request("ping")))
    finally:
        await ray.aclose()
        await local.aclose()
    return {
        "in_process": ms_summary(direct),
        "through_serve": ms_summary(served),
        "driver_pipe_round_trip": ms_summary(ping),
        "serve_overhead_p50_ms": round((statistics.median(served) - statistics.median(direct)) * 1000, 3),
    }


async def _timed(call: Any) -> float:
    started = time.perf_counter()
    await call
    return time.perf_counter() - started


async def _scaling(cluster: Any, folder: Path, concurrent: int, rounds: int) -> dict[str, Any]:
    """One application with one replica and one with two, side by side, measured in
    alternating bursts: each round's three bursts see nearly the same machine, so the
    ratio of a round is fair even when other work comes and goes."""
    from benchmarks.embedded import _render_page
    from engine.experts.base import RunContext
    from engine.experts.builtin.backend import BuiltinBackend
    from engine.experts.builtin.tesseract import TesseractOCR
    from engine.experts.ray import ClusterSpec, RayBackend
    from engine.types import Resource, Task

    page = {"image": Resource(kind="image", path=_render_page(folder / "page.png"), name="page.png")}
    task = Task(0, "image-to-text", {"image": "page.png"})
    ctx = RunContext(output_dir=folder / "scaling")
    experts = tuple(
        _spec(
            f"ocr-{n}",
            "builtin/tesseract-ocr",
            "image-to-text",
            num_cpus=0.5,
            replicas=n,
            max_ongoing_requests=1,
        )
        for n in (1, 2)
    )
    # two RayBackends (one card per tool id each), with prefixes of their own: a full
    # deploy removes the applications of its prefix that its config does not list
    backends = [
        RayBackend(ClusterSpec(address=cluster.address, app_prefix=f"bench{n}-", experts=(e,)))
        for n, e in zip((1, 2), experts, strict=True)
    ]
    local = BuiltinBackend([TesseractOCR()])
    calls = {"in_process": lambda: local.run(local.cards()[0], task, page, ctx)}
    rates: dict[str, list[float]] = {"in_process": [], "replicas_1": [], "replicas_2": []}
    running = {}
    try:
        for n, ray in zip((1, 2), backends, strict=True):
            report = await ray.deploy()
            deployments = report["apps"][f"bench{n}-ocr-{n}"]["deployments"].values()
            running[f"replicas_{n}"] = sum(d["replicas"].get("RUNNING", 0) for d in deployments)
            await ray.refresh()
            card = ray.cards()[0]
            calls[f"replicas_{n}"] = lambda ray=ray, card=card: ray.run(card, task, page, ctx)
        for call in calls.values():
            await asyncio.gather(*(call() for _ in range(4)))  # warm every replica
        for _ in range(rounds):
            for name, call in calls.items():
                rates[name].append(await _burst(call, concurrent))
    finally:
        for ray in backends:
            await ray.aclose()
        await local.aclose()
    ratios = [two / one for one, two in zip(rates["replicas_1"], rates["replicas_2"], strict=True)]
    figures: dict[str, Any] = {
        name: {
            "calls_per_s_median": round(statistics.median(r), 3),
            "bursts_calls_per_s": [round(v, 3) for v in r],
        }
        for name, r in rates.items()
    }
    for name, n in running.items():
        figures[name]["running"] = n
    figures["speedup_2_over_1"] = round(statistics.median(ratios), 3)
    figures["speedup_by_round"] = [round(v, 3) for v in ratios]
    figures["concurrent_calls"] = concurrent
    return figures


async def _burst(call: Any, concurrent: int) -> float:
    started = time.perf_counter()
    await asyncio.gather(*(call() for _ in range(concurrent)))
    return concurrent / (time.perf_counter() - started)


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

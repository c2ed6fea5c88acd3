"""Run the benchmark figures and print one JSON object.

    python -m benchmarks                 # all figures
    python -m benchmarks makespan ...    # only these
    python -m benchmarks --quick         # tiny sizes (a smoke run, not a measurement)
    python -m benchmarks --list          # figure names and goals

Each figure is a module here with ``NAME``, ``GOAL``, ``QUICK`` (its tiny-size
parameters) and ``async run(**params) -> dict``.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import logging
import os
import platform
import sys
import time
from typing import Any

FIGURES = ("llm_calls", "makespan", "overhead", "concurrency", "context_store", "embedded", "first_event")


def load(name: str) -> Any:
    return importlib.import_module(f"benchmarks.{name}")


def cpu_ticks(stat_path: str = "/proc/stat") -> tuple[int, int] | None:
    """(stolen, all) CPU ticks of the machine so far, from /proc/stat (Linux; None elsewhere).

    On a virtual machine the host may run other guests on our CPUs ("steal"): the same
    code then measured a fifth slower here, so each figure reports the share stolen
    while it ran, to tell a slow machine from a slow change."""
    try:
        with open(stat_path) as stat:
            fields = [int(v) for v in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    if len(fields) < 8:
        return None
    return fields[7], sum(fields[:8])  # user .. steal; guest time is already in user


async def run_figure(name: str, quick: bool = False) -> dict[str, Any]:
    module = load(name)
    load_before = os.getloadavg()[0]  # other work on the machine skews the timing figures
    ticks_before = cpu_ticks()
    started = time.perf_counter()
    try:
        figure = await module.run(**(module.QUICK if quick else {}))
    except Exception as exc:  # one broken figure must not hide the others
        logging.getLogger(__name__).exception("figure %s crashed", name)
        figure = {
            "figure": name,
            "title": module.TITLE,
            "value": None,
            "goal": module.GOAL,
            "pass": None,
            "unavailable": f"crashed: {type(exc).__name__}: {exc}",
        }
    figure["seconds"] = round(time.perf_counter() - started, 2)
    figure["load_avg_1m_before"] = round(load_before, 2)
    ticks_after = cpu_ticks()
    if ticks_before and ticks_after and ticks_after[1] > ticks_before[1]:
        stolen = (ticks_after[0] - ticks_before[0]) / (ticks_after[1] - ticks_before[1])
        figure["cpu_steal_share"] = round(stolen, 4)
    return figure


async def run_all(names: list[str], quick: bool) -> dict[str, Any]:
    figures = {}
    for name in names:
        print(f"benchmark {name} ...", file=sys.stderr, flush=True)
        figures[name] = await run_figure(name, quick)
        print(
            f"  {name}: value={figures[name]['value']} goal={figures[name]['goal']} "
            f"pass={figures[name]['pass']} ({figures[name]['seconds']} s)",
            file=sys.stderr,
            flush=True,
        )
    return {
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "load_avg_1m": round(os.getloadavg()[0], 2),
        },
        "quick": quick,
        "summary": {
            "passed": [n for n, f in figures.items() if f["pass"] is True],
            "missed": [n for n, f in figures.items() if f["pass"] is False],
            "unavailable": [n for n, f in figures.items() if f["pass"] is None],
        },
        "figures": figures,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument(
        "names", nargs="*", metavar="NAME", help=f"figures to run (default: all): {', '.join(FIGURES)}"
    )
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes: checks the figures run, measures nothing"
    )
    parser.add_argument("--list", action="store_true", help="list the figures and their goals")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in FIGURES]
    if unknown:
        parser.error(f"unknown figure(s) {', '.join(unknown)}; choose from {', '.join(FIGURES)}")
    if args.list:
        for name in FIGURES:
            module = load(name)
            print(f"{name:14} {module.GOAL:28} {module.TITLE}")
        return 0
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    report = asyncio.run(run_all(list(args.names) or list(FIGURES), args.quick))
    print(json.dumps(report, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())

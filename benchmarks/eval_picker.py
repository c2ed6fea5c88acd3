"""Score the LLM-free task picker on the labelled dev and held-out sets.

    python -m benchmarks.eval_picker [--out DIR]

Prints JSON: node/edge F1, parsed share and ms per plan for each set, plus peak RSS.
The held-out set was labelled before any tuning and is never used to tune.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
from pathlib import Path

from engine.evaluation import evaluate, load_jsonl
from engine.picker import Embedder, TaskPicker
from engine.types import Plan

DATA = Path(__file__).resolve().parent / "data"
SETS = {"dev": DATA / "dev_plans.jsonl", "heldout": DATA / "heldout_plans.jsonl"}


async def main(out_dir: Path | None, sets: list[str]) -> dict[str, object]:
    picker = TaskPicker(Embedder(threads=1))
    picker.propose("warm up: load the encoder and embed the exemplars")

    async def plan_fn(text: str) -> Plan | None:
        return picker.propose(text)

    results: dict[str, object] = {}
    for name in sets:
        out = out_dir / f"picker_{name}.jsonl" if out_dir else None
        report = await evaluate(plan_fn, load_jsonl(SETS[name]), out)
        results[name] = report.to_dict()
        print(f"{name}: {report.summary()}", file=sys.stderr)
    results["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="folder for the predictions (JSONL)")
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.out, args.sets)), indent=2))

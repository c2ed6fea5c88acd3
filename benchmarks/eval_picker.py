"""Score the LLM-free task picker on the labelled dev and held-out sets.

    python -m benchmarks.eval_picker [--out DIR]

Prints JSON: node/edge F1, parsed share and ms per plan for each set, plus peak RSS.
The held-out sets were labelled before any tuning and are never used to tune
(heldout2: 32 more requests, labelled after the picker's second round of rules and
measured once; heldout3: 40 more, labelled by someone who had not seen the picker's code,
measured once before any change made for it; heldout4: 40 more, labelled the same way, measured
once). "parsed" is the share of plans that pass ``engine.plan_parser.parse_plan``.
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
from engine.plan_parser import parse_plan
from engine.types import Plan

DATA = Path(__file__).resolve().parent / "data"
SETS = {
    "dev": DATA / "dev_plans.jsonl",
    "heldout": DATA / "heldout_plans.jsonl",
    "heldout2": DATA / "heldout2_plans.jsonl",
    "heldout3": DATA / "heldout3_plans.jsonl",
    "heldout4": DATA / "heldout4_plans.jsonl",
}


def _encoder(name: str) -> object:
    """The bot's encoder (USE multilingual when installed) or the one named."""
    from engine.picker.muse import MultilingualEmbedder
    from engine.picker.muse import available as multilingual_available

    if name == "minilm" or (name == "auto" and not multilingual_available()):
        return Embedder(threads=1)
    return MultilingualEmbedder()


async def main(out_dir: Path | None, sets: list[str], encoder: str = "auto") -> dict[str, object]:
    picker = TaskPicker(_encoder(encoder))  # type: ignore[arg-type]
    picker.propose("warm up: load the encoder and embed the exemplars")

    async def plan_fn(text: str) -> Plan | None:
        # as the planner does: no proposal is an empty plan; a plan that fails parse_plan
        # raises, and so counts as not parsed
        plan = picker.propose(text)
        if plan is None:
            return Plan((), source="picker")
        return parse_plan(json.dumps(plan.to_public()), max_tasks=picker.max_tasks)

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
    parser.add_argument("--encoder", choices=["auto", "minilm", "muse"], default="auto")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.out, args.sets, args.encoder)), indent=2))

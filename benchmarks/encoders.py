"""all-MiniLM-L6-v2 against USE multilingual v3 as the picker's sentence encoder.

    python -m benchmarks.encoders                         # both encoders, all figures
    python -m benchmarks.encoders --encoders muse --skip-taskbench

Each encoder runs in a fresh process, so load time and resident memory are its own:

- ``load_s``, ``rss_added_mib``: import + load + first encode, and the resident memory
  they add (``/proc/self/status`` VmRSS);
- ``ms_per_sentence``: one short request at a time (as the picker encodes a request's
  clauses) and in a batch of 64;
- cross-lingual: for each of 29 requests (one per task, ``data/crosslingual_tasks.jsonl``)
  written in English and as users type them in Chinese, French and Spanish, the rank
  (1 = first) of the English phrase among the 29 English phrases, and the rank of the
  right task among the picker's 29 tasks scored as the picker does (best exemplar
  phrase or description); plus the mean cosine of right pairs and of wrong pairs;
- the picker, unchanged, on those 29 requests in each language (share planned as exactly
  the right task) and on "read the text of this image aloud" in the four languages;
- TaskBench: the picker, unchanged, built as ``TaskPicker(embedder=...)`` and scored with
  ``engine.evaluation`` on the held-out sets (node and edge F1 pooled over them, as
  ``benchmarks.eval_picker`` does for one encoder). The picker's thresholds were tuned
  on MiniLM's similarity scale; nothing is tuned here.

Prints JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from statistics import mean
from typing import Any

import numpy as np

DATA = Path(__file__).resolve().parent / "data"
PAIRS = DATA / "crosslingual_tasks.jsonl"
HELDOUT = ("heldout", "heldout2", "heldout3", "heldout4")
ENCODERS = ("minilm", "muse")
LANGS = ("zh", "fr", "es")


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def build(name: str) -> Any:
    if name == "minilm":
        from engine.picker.embedder import Embedder

        return Embedder(threads=1)
    if name == "muse":
        from engine.picker.muse import MultilingualEmbedder

        return MultilingualEmbedder(threads=1)
    raise SystemExit(f"unknown encoder {name!r}")


def speed(encoder: Any) -> dict[str, float]:
    one = "read the text in this image aloud please"
    for _ in range(3):
        encoder.encode([one])
    start = time.perf_counter()
    for _ in range(50):
        encoder.encode([one])
    single = (time.perf_counter() - start) / 50 * 1000
    batch = [f"request number {i}: translate the caption of the photo into French" for i in range(64)]
    start = time.perf_counter()
    encoder.encode(batch)
    batched = (time.perf_counter() - start) / len(batch) * 1000
    return {"single": round(single, 2), "batch_64": round(batched, 2)}


def _rank(scores: np.ndarray, right: int) -> int:
    return int((scores > scores[right]).sum()) + 1


def crosslingual(encoder: Any) -> dict[str, object]:
    from engine.picker.exemplars import exemplar_table

    rows = [json.loads(line) for line in PAIRS.read_text(encoding="utf-8").splitlines() if line.strip()]
    english = encoder.encode([r["en"] for r in rows])
    table = exemplar_table()
    tasks = sorted({task for task, _ in table})
    exemplars = encoder.encode([phrase for _, phrase in table])
    task_of_row = np.array([tasks.index(task) for task, _ in table])
    out: dict[str, object] = {}
    for lang in ("en", *LANGS):
        queries = encoder.encode([r[lang] for r in rows])
        sims = queries @ english.T
        phrase_ranks = [_rank(sims[i], i) for i in range(len(rows))]
        by_task = np.full((len(rows), len(tasks)), -1.0)
        exemplar_sims = queries @ exemplars.T
        for t in range(len(tasks)):
            by_task[:, t] = exemplar_sims[:, task_of_row == t].max(axis=1)
        task_ranks = [_rank(by_task[i], tasks.index(r["task"])) for i, r in enumerate(rows)]
        off = ~np.eye(len(rows), dtype=bool)
        out[lang] = {
            "phrase_rank_mean": round(mean(phrase_ranks), 2),
            "phrase_top1": round(mean(r == 1 for r in phrase_ranks), 3),
            "task_rank_mean": round(mean(task_ranks), 2),
            "task_top1": round(mean(r == 1 for r in task_ranks), 3),
            "cosine_right": round(float(np.diag(sims).mean()), 3),
            "cosine_wrong": round(float(sims[off].mean()), 3),
        }
    return out


async def taskbench(encoder: Any) -> dict[str, object]:
    from benchmarks.eval_picker import SETS
    from engine.evaluation import F1, evaluate, load_jsonl
    from engine.picker import TaskPicker
    from engine.plan_parser import parse_plan
    from engine.types import Plan

    picker = TaskPicker(embedder=encoder)
    picker.propose("warm up: load the encoder and embed the exemplars")

    async def plan_fn(text: str) -> Plan | None:
        plan = picker.propose(text)
        if plan is None:
            return Plan((), source="picker")
        return parse_plan(json.dumps(plan.to_public()), max_tasks=picker.max_tasks)

    sets: dict[str, object] = {}
    nodes, edges = F1(), F1()
    exact = count = 0
    for name in HELDOUT:
        report = await evaluate(plan_fn, load_jsonl(SETS[name]))
        sets[name] = {"node_f1": round(report.node.f1, 3), "edge_f1": round(report.edge.f1, 3)}
        for pooled, part in ((nodes, report.node), (edges, report.edge)):
            pooled.hits += part.hits
            pooled.predicted += part.predicted
            pooled.gold += part.gold
        exact += report.exact
        count += report.n
    pooled = {
        "node_f1": round(nodes.f1, 3),
        "edge_f1": round(edges.f1, 3),
        "exact_task_set": round(exact / count, 3),
    }
    return {"pooled": pooled, "requests": count, "sets": sets}


USER_REQUESTS = {
    "en": "Read the text of this image aloud",
    "zh": "请把这张图片里的文字读出来",
    "fr": "Lis le texte de cette image à voix haute",
    "es": "Lee el texto de esta imagen en voz alta",
}


def picker_on_phrases(encoder: Any) -> dict[str, object]:
    """The unchanged picker's plan for each cross-lingual request: share whose task set
    is exactly the right task, and the plans for "read the text of this image aloud"."""
    from engine.picker import TaskPicker
    from engine.tasks import TASK_SPECS
    from engine.types import Resource

    picker = TaskPicker(embedder=encoder)
    rows = [json.loads(line) for line in PAIRS.read_text(encoding="utf-8").splitlines() if line.strip()]
    suffix = {"image": ".png", "audio": ".wav", "video": ".mp4"}

    def attached(task: str) -> list[Resource]:
        """The files such a request comes with: one of each media kind the task reads."""
        kinds = TASK_SPECS[task].input_kinds.values() if task in TASK_SPECS else ()
        return [
            Resource(kind=k, path=Path(f"example{suffix[k]}")) for k in dict.fromkeys(kinds) if k in suffix
        ]

    def tasks(text: str, files: list[Resource]) -> list[str]:
        plan = picker.propose(text, files)
        return [t.task for t in plan.tasks] if plan else []

    exact = {}
    for lang in ("en", *LANGS):
        right = [
            tasks(r[lang], attached(r["task"])) == ([] if r["task"] == "none" else [r["task"]]) for r in rows
        ]
        exact[lang] = round(mean(right), 3)
    image = attached("image-to-text")
    return {
        "exact_task_set": exact,
        "read_aloud": {lang: tasks(text, image) for lang, text in USER_REQUESTS.items()},
    }


def measure(name: str, with_taskbench: bool) -> dict[str, object]:
    base = _rss_mib()
    start = time.perf_counter()
    encoder = build(name)
    encoder.encode(["load the model"])
    figures: dict[str, object] = {
        "load_s": round(time.perf_counter() - start, 3),
        "rss_added_mib": round(_rss_mib() - base, 1),
        "dim": int(encoder.encode(["x"]).shape[1]),
    }
    figures["ms_per_sentence"] = speed(encoder)
    figures["crosslingual"] = crosslingual(encoder)
    figures["picker_crosslingual"] = picker_on_phrases(encoder)
    if with_taskbench:
        figures["taskbench_heldout"] = asyncio.run(taskbench(encoder))
    figures["rss_after_mib"] = round(_rss_mib(), 1)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoders", nargs="+", choices=ENCODERS, default=list(ENCODERS))
    parser.add_argument("--skip-taskbench", action="store_true")
    parser.add_argument("--only", choices=ENCODERS, help=argparse.SUPPRESS)  # one encoder, in-process
    args = parser.parse_args()
    if args.only:
        print(json.dumps(measure(args.only, not args.skip_taskbench)))
        return
    results: dict[str, object] = {}
    for name in args.encoders:
        command = [sys.executable, "-m", "benchmarks.encoders", "--only", name]
        if args.skip_taskbench:
            command.append("--skip-taskbench")
        run = subprocess.run(command, capture_output=True, text=True)
        if run.returncode != 0:
            results[name] = {"unavailable": (run.stderr.strip().splitlines() or ["failed"])[-1]}
        else:
            results[name] = json.loads(run.stdout)
        print(f"{name}: done", file=sys.stderr)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

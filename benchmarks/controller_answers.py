"""How well the embedded controllers answer plain chat questions (facts, arithmetic,
writing help) through the bot's own direct-answer path (``Responder.chat``).

    python -m benchmarks.controller_answers [--models smollm2-135m-instruct qwen2.5-coder-0.5b-instruct]

Prints, per model, the share of answers that contain an expected word (per kind of
question), seconds per answer after the model is loaded, the load time, and the peak
resident memory of a process that loaded only that model. Each model runs in a child
process so memory figures do not mix. The questions are in
benchmarks/data/plain_questions.jsonl, labelled before any model was run on them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

QUESTIONS = Path(__file__).parent / "data" / "plain_questions.jsonl"
MODELS = ("smollm2-135m-instruct", "qwen2.5-coder-0.5b-instruct")


async def _one_model(model: str) -> dict:
    from engine.llm.local_backend import LocalLLM
    from engine.responder import Responder
    from engine.types import Request

    rows = [json.loads(line) for line in QUESTIONS.read_text("utf-8").splitlines() if line.strip()]
    llm = LocalLLM(model)
    responder = Responder()
    started = time.perf_counter()
    await responder.chat(Request(text="hi", artifact_dir=Path("/tmp")), llm)  # load and warm
    load = time.perf_counter() - started
    right: dict[str, list[bool]] = {}
    answers = []
    spent = 0.0
    for row in rows:
        t0 = time.perf_counter()
        answer = await responder.chat(Request(text=row["q"], artifact_dir=Path("/tmp")), llm)
        spent += time.perf_counter() - t0
        ok = any(a in answer.lower() for a in row["a"])
        right.setdefault(row["kind"], []).append(ok)
        answers.append({"q": row["q"], "answer": answer, "ok": ok})
    await llm.aclose()
    total = [v for vs in right.values() for v in vs]
    return {
        "model": model,
        "right": round(sum(total) / len(total), 3),
        "by_kind": {k: round(sum(v) / len(v), 3) for k, v in right.items()},
        "seconds_per_answer": round(spent / len(rows), 2),
        "first_answer_seconds": round(load, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "answers": answers,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--answers", action="store_true", help="print every answer")
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(asyncio.run(_one_model(args.child)), ensure_ascii=False))
        return 0
    for model in args.models:
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.controller_answers", "--child", model],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            print(json.dumps({"model": model, "error": done.stderr.strip()[-500:]}))
            continue
        figure = json.loads(done.stdout.strip().splitlines()[-1])
        if not args.answers:
            figure.pop("answers")
        print(json.dumps(figure, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

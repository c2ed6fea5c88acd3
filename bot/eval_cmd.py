"""``hugginggpt-bot eval plans GOLD.jsonl``: score the configured planner on TaskBench-style data."""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from bot.app import build_llm, build_planner, planner_mode
from bot.config import Settings
from engine.evaluation import EvalReport, evaluate, load_jsonl
from engine.llm.base import LLM, CountingLLM
from engine.planner import Planner
from engine.types import Plan, Request


async def eval_plans(args: argparse.Namespace, settings: Settings) -> int:
    gold = load_jsonl(Path(args.gold))
    if args.limit:
        gold = gold[: args.limit]
    mode = planner_mode(settings)
    planner: Planner = build_planner(settings)
    llm = build_llm(settings) if mode != "picker" else None
    try:
        report = await _run(planner, llm, gold, args.out)
    finally:
        if llm is not None:
            await llm.aclose()
    print(report.summary())
    print(json.dumps({"planner": mode, "llm": settings.llm.model if llm else None, **report.to_dict()}))
    return 0


async def _run(planner: Planner, llm: LLM | None, gold: list[dict], out: str | None) -> EvalReport:
    with tempfile.TemporaryDirectory() as tmp:

        async def plan_fn(text: str) -> Plan | None:
            request = Request(text=text, artifact_dir=Path(tmp))
            plan = await planner.plan(request, CountingLLM(llm) if llm else None)  # type: ignore[arg-type]
            return None if plan.source == "fallback" else plan

        return await evaluate(plan_fn, gold, Path(out) if out else None)

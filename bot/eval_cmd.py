"""``hugginggpt-bot eval plans GOLD.jsonl``: score the configured planner on TaskBench-style data."""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from bot.app import build_llm, build_planner, planner_mode
from bot.config import Settings
from engine.evaluation import evaluate, load_jsonl
from engine.llm.base import CountingLLM
from engine.planner import Planner
from engine.types import Plan, Request


async def eval_plans(args: argparse.Namespace, settings: Settings) -> int:
    gold = load_jsonl(Path(args.gold))
    if args.limit:
        gold = gold[: args.limit]
    mode = planner_mode(settings)
    planner: Planner = build_planner(settings)
    llm = build_llm(settings) if mode != "picker" else None
    with tempfile.TemporaryDirectory() as tmp:

        async def plan_fn(text: str) -> Plan | None:
            request = Request(text=text, artifact_dir=Path(tmp))
            plan = await planner.plan(request, CountingLLM(llm) if llm else None)  # type: ignore[arg-type]
            return None if plan.source == "fallback" else plan

        report = await evaluate(plan_fn, gold, Path(args.out) if args.out else None)
    if llm is not None:
        await llm.aclose()
    print(report.summary())
    print(json.dumps({"planner": mode, "llm": settings.llm.model if llm else None, **report.to_dict()}))
    return 0

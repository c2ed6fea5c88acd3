"""``hugginggpt-bot models list|refresh``: what can run here and why; rebuild the catalogue."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from bot.app import build_backends
from bot.config import Settings
from engine.catalogue import SHIPPED_CATALOGUE, Catalogue
from engine.selector import Selector
from engine.tasks import TASK_SPECS


class _NamedLLM:
    """Only the controller's name is needed to list its cards; nothing is loaded."""

    supports_json_schema = False

    def __init__(self, name: str) -> None:
        self.name = name


async def models_command(args: argparse.Namespace, settings: Settings) -> int:
    if args.models_command == "refresh":
        return _refresh(args, settings)
    backends = build_backends(settings, _NamedLLM(settings.llm.model))  # type: ignore[arg-type]
    path = Path(settings.experts.catalogue).expanduser() if settings.experts.catalogue else None
    selector = Selector(Catalogue.load(path), backends, top_k=settings.experts.top_k)
    tasks = [args.task] if args.task else list(TASK_SPECS)
    runnable = 0
    for task in tasks:
        if task not in TASK_SPECS:
            print(f"unknown task type {task}; known: {', '.join(TASK_SPECS)}")
            return 2
        cards = selector.candidates(task)
        if cards:
            runnable += 1
            print(f"{task}: can run")
            for card in cards:
                print(f"    {card.backend:8} {card.id}")
        else:
            print(f"{task}: cannot run: {selector.why_unavailable(task).split(': ', 1)[1]}")
        if args.all:
            for card in selector._cards_of(task):
                backend = backends.get(card.backend)
                if backend is not None and not backend.availability(card).ok:
                    print(f"    ({card.backend}) {card.id}: {backend.availability(card).why}")
    print(f"\n{runnable} of {len(tasks)} task types can run here.")
    for backend in backends.values():
        await backend.aclose()
    return 0


def _refresh(args: argparse.Namespace, settings: Settings) -> int:
    from engine.catalogue_build import refresh

    out = Path(args.out or settings.experts.catalogue or SHIPPED_CATALOGUE).expanduser()
    hosted = settings.experts.hosted
    cards = refresh(tasks=args.task or list(TASK_SPECS), limit_per_task=args.limit,
                    endpoint=os.environ.get("HF_ENDPOINT"), token=os.environ.get(hosted.token_env))
    out.parent.mkdir(parents=True, exist_ok=True)
    import json

    with out.open("w", encoding="utf-8") as fh:
        for card in cards:
            fh.write(json.dumps(card.to_public(), ensure_ascii=False) + "\n")
    print(f"wrote {len(cards)} model cards to {out}")
    return 0

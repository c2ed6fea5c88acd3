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
    try:
        for backend in backends.values():  # a cluster's status, for the Ray experts
            await backend.refresh()
        return _list(args, settings, backends)
    finally:
        for backend in backends.values():
            await backend.aclose()


def _list(args: argparse.Namespace, settings: Settings, backends: dict) -> int:
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
                note = (
                    "  (downloads on first use)" if backends[card.backend].availability(card).download else ""
                )
                print(f"    {card.backend:8} {card.id}{note}")
        else:
            print(f"{task}: cannot run: {selector.why_unavailable(task).split(': ', 1)[1]}")
        if args.all:
            for card in selector._cards_of(task):
                backend = backends.get(card.backend)
                if backend is not None and not backend.availability(card).ok:
                    print(f"    ({card.backend}) {card.id}: {backend.availability(card).why}")
    print(f"\n{runnable} of {len(tasks)} task types can run here.")
    return 0


def _refresh(args: argparse.Namespace, settings: Settings) -> int:
    """Rebuild the catalogue from the Hub (HF_ENDPOINT and the hosted token are honoured);
    descriptions of models already known are kept, since the Hub listing has none."""
    from engine.catalogue_build import read_records, refresh, write_records

    out = Path(args.out or settings.experts.catalogue or SHIPPED_CATALOGUE).expanduser()
    known = read_records(out) if out.exists() else []
    records = refresh(
        tasks=args.task or list(TASK_SPECS),
        limit_per_task=args.limit,
        endpoint=os.environ.get("HF_ENDPOINT"),
        token=os.environ.get(settings.experts.hosted.token_env),
        known=known,
    )
    write_records(records, out)
    print(f"wrote {len(records)} model cards to {out}")
    return 0

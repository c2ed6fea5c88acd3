"""``hugginggpt-bot eval chats FILE``: run the configured bot on multi-turn chat sets and
score every turn (bot/chat_sets/scoring.py).

Each conversation runs through the real conversation service (store, files typed by
content, engine, experts) in a temporary data folder, turn after turn, with the
attachments its rows describe built on the spot (bot/chat_sets/fixtures.py). What a
task read is traced back to the turn that brought or made it, so reading an old file
for a new request shows as a miss.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from adapters.base import ConversationKey, IncomingFile, IncomingMessage
from bot.app import build_engine, open_runtime
from bot.chat_sets.fixtures import build_all
from bot.chat_sets.schema import load_set
from bot.chat_sets.scoring import TurnRecord, report, table
from bot.chat_sets.scripted_llm import ScriptedPlanner
from bot.config import Settings
from engine.language import is_in_language
from engine.types import MEDIA_KINDS, Outcome

_GENERATED_NAME = re.compile(r"^t(\d+)-")


async def eval_chats(args: argparse.Namespace, settings: Settings) -> int:
    rows = [row for path in args.sets for row in load_set(Path(path))]
    if args.only:
        rows = [r for r in rows if r["id"] in set(args.only)]
    if args.limit:
        rows = rows[: args.limit]
    with tempfile.TemporaryDirectory(prefix="hgb-eval-") as tmp:
        files = build_all(rows, Path(tmp) / "files")
        run_settings = settings
        scripted = None
        if args.scripted_llm:
            scripted = ScriptedPlanner()
            run_settings = run_settings.model_copy(
                update={
                    "planner": run_settings.planner.model_copy(update={"mode": "llm", "demos": 0}),
                    "responder": run_settings.responder.model_copy(update={"style": "llm"}),
                }
            )
        started = time.perf_counter()
        records = await _run_all(rows, files, run_settings, Path(tmp) / "data", scripted, args.verbose_turns)
        seconds = time.perf_counter() - started
    by = args.by or "lang"
    summary = report(records, group_by=lambda r: r.lang if by == "lang" else r.category)
    summary["seconds_per_turn"] = round(seconds / max(len(records), 1), 3)
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("w", encoding="utf-8") as fh:
            for record in records:
                fh.write(json.dumps(record.to_dict(), ensure_ascii=False) + "\n")
    print(table(summary))
    llm = "scripted" if args.scripted_llm else settings.llm.model
    mode = "llm" if args.scripted_llm else settings.planner.mode
    print(json.dumps({"planner": mode, "llm": llm, **summary}))
    return 0


async def _run_all(
    rows: list[dict[str, Any]],
    files: dict[str, Path],
    settings: Settings,
    data_dir: Path,
    scripted: ScriptedPlanner | None,
    verbose: bool,
) -> list[TurnRecord]:
    records: list[TurnRecord] = []
    engine = build_engine(settings, llm=scripted) if scripted is not None else None
    async with open_runtime(settings, engine=engine, data_dir=data_dir) as rt:
        for row in rows:
            key = ConversationKey("eval", "chats", row["id"])
            labels: dict[str, str] = {}  # a file's path -> how the labels name it
            for index, turn in enumerate(row["turns"]):
                attach = [
                    IncomingFile(spec["name"], files[f"{row['id']}/{spec['name']}"].read_bytes())
                    for spec in turn.get("attach", [])
                ]
                record = TurnRecord(
                    row_id=row["id"],
                    turn=index,
                    lang=turn.get("lang", row["lang"]),
                    category=row.get("category", ""),
                    user=turn["user"],
                    expect=turn["expect"],
                )
                if scripted is not None:
                    scripted.expect = turn["expect"]
                try:
                    outcome = await rt.service.handle(IncomingMessage(key, "eval", turn["user"], tuple(attach)))
                except Exception as exc:  # a crash is a miss, never dropped from the figures
                    record.error = f"{type(exc).__name__}: {exc}"
                    records.append(record)
                    continue
                await _label_attachments(rt, key, attach, labels)
                _fill(record, outcome, labels)
                _label_outputs(outcome, index, labels)
                records.append(record)
                if verbose:
                    print(json.dumps(record.to_dict(), ensure_ascii=False), file=sys.stderr)
    return records


async def _label_attachments(rt: Any, key: ConversationKey, attach: list[IncomingFile], labels: dict) -> None:
    """The stored user message's files, named as the row names them (in the order sent)."""
    if not attach:
        return
    conv = await rt.store.conversation_id(key)
    turns = await rt.store.recent_turns(conv, limit=2)
    user = next((t for t in reversed(turns) if t.role == "user"), None)
    if user is None:
        return
    stored = [r for r in user.resources if r.path is not None]
    for sent, resource in zip(attach, stored, strict=False):
        labels[str(resource.path)] = sent.name


def _label_outputs(outcome: Outcome, index: int, labels: dict[str, str]) -> None:
    for result in outcome.results:
        for out in result.outputs:
            if out.path is not None:
                labels[str(out.path)] = f"@{index}.{out.kind}"


def _fill(record: TurnRecord, outcome: Outcome, labels: dict[str, str]) -> None:
    record.tools = bool(outcome.results)
    record.tasks = [r.task.task for r in outcome.results]
    record.reply = outcome.reply.text
    record.media = [m.kind for m in outcome.reply.media if m.kind in MEDIA_KINDS]
    record.plan_source = outcome.plan.source if outcome.plan else None
    reads: list[str] = []
    for result in outcome.results:
        for item in result.read:
            label = labels.get(item)
            if label is None:
                named = _GENERATED_NAME.match(item)
                label = f"@{int(named.group(1)) - 1}.text" if named else f"?{Path(item).name}"
            if label not in reads:
                reads.append(label)
    record.reads = reads
    if outcome.error and not outcome.results:
        record.reply = record.reply or outcome.error
    if record.reply.strip():
        record.reply_lang_ok = is_in_language(record.reply, record.lang)


def add_parser(sub: Any) -> None:
    chats = sub.add_parser("chats", help="score the bot on multi-turn chat sets (benchmarks/README-chats.md)")
    chats.add_argument("sets", nargs="+", help="chats_*.jsonl files")
    chats.add_argument("--out", help="write every turn with its scores here (JSONL)")
    chats.add_argument("--limit", type=int, help="only the first N conversations")
    chats.add_argument("--only", action="append", help="only this conversation id (repeatable)")
    chats.add_argument("--by", choices=["lang", "category"], help="group the figures (default: language)")
    chats.add_argument("--verbose-turns", action="store_true", help="print each turn's record to stderr")
    chats.add_argument(
        "--scripted-llm",
        action="store_true",
        help="plan with a scripted LLM that answers each turn's labelled plan (bot/chat_sets/scripted_llm.py)",
    )

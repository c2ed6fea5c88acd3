"""Figure 4: many conversations at once through ConversationService, 200 ms LLM.

Every conversation sends ``turns`` messages at once (all its turns are submitted
together, as a burst of messages in one channel would be); all conversations start
together. The service runs with the real Store on a temporary SQLite file and a real
Engine whose in-process controller sleeps ``llm_delay`` per call. Each turn costs
two LLM calls (plan + reply, or plan + chat), so a conversation cannot finish in
less than ``turns * 2 * llm_delay``: that is the ideal, and the figure is
ideal time / measured time (= throughput as a share of the ideal).

Order check: in the store, each conversation's user messages are its turns 0..T-1
in order, each followed by the assistant reply to that same turn, and the turns
finished in submission order.

``cpu_ms_per_turn`` (process CPU, all threads, including aiosqlite's) and
``loop_cpu_ms_per_turn`` (the event loop's thread alone) say how far one process
can go: when ``size * turns * loop_cpu_ms_per_turn`` exceeds the ideal time, the
share cannot reach 100 % however the awaits are arranged.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from adapters.base import ConversationKey, IncomingMessage
from benchmarks.harness import InstantBackend, ScriptedLLM, build_engine, result
from benchmarks.suite import BUILTIN, cards
from bot.conversations import ConversationService
from bot.store import Store

NAME = "concurrency"
TITLE = "Throughput of concurrent conversations vs the ideal (200 ms LLM, real Store)"
GOAL = ">= 95 % of ideal at 100 and 1,000 conversations"
QUICK: dict[str, Any] = {"sizes": (5,), "turns": 2, "llm_delay": 0.02}

SPEAK = json.dumps([{"task": "text-to-speech", "id": 0, "dep": [-1], "args": {"text": "hello"}}])


def _plan_for(text: str) -> str:
    """Even turns are chit-chat (plan + chat), odd turns run one expert (plan + reply)."""
    return SPEAK if text.endswith(("1", "3", "5", "7", "9")) else "[]"


async def run(sizes: tuple[int, ...] = (100, 1000), turns: int = 3, llm_delay: float = 0.2) -> dict[str, Any]:
    runs = {}
    for size in sizes:
        with tempfile.TemporaryDirectory(prefix="bench-conc-") as tmp:
            runs[str(size)] = await _one(Path(tmp), size, turns, llm_delay)
    worst = min(r["share_of_ideal"] for r in runs.values())
    in_order = all(r["in_order"] for r in runs.values())
    return result(
        NAME,
        TITLE,
        value=round(worst * 100, 1),
        unit="% of ideal throughput (worst size)",
        goal=GOAL,
        passed=worst >= 0.95 and in_order,
        params={
            "conversations": list(sizes),
            "turns_each": turns,
            "llm_delay_s": llm_delay,
            "llm_calls_per_turn": 2,
            "store": "bot.store.Store on a temporary SQLite file",
        },
        in_order=in_order,
        runs=runs,
    )


async def _one(root: Path, size: int, turns: int, delay: float) -> dict[str, Any]:
    store = await Store.open(root / "bot.sqlite3")
    llm = ScriptedLLM(_plan_for, delay=delay)
    engine = build_engine(
        llm,
        {"builtin": InstantBackend(root / "made", "builtin", cards(BUILTIN, "builtin"))},
        choose_with_llm=False,
    )
    service = ConversationService(engine, store, root / "data")
    keys = [ConversationKey("bench", "w", f"c{i}") for i in range(size)]
    finished: dict[ConversationKey, list[int]] = {k: [] for k in keys}

    async def turn(key: ConversationKey, n: int) -> None:
        await service.handle(IncomingMessage(key=key, author="u", text=f"{key.channel} turn {n}"))
        finished[key].append(n)

    try:
        started, cpu_started, loop_started = time.perf_counter(), time.process_time(), time.thread_time()
        async with asyncio.TaskGroup() as group:
            for n in range(turns):  # submission order: every conversation's turn 0, then turn 1, ...
                for key in keys:
                    group.create_task(turn(key, n))
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        loop_cpu = time.thread_time() - loop_started
        ordered = all(done == list(range(turns)) for done in finished.values())
        stored_ok = await _stored_in_order(store, keys, turns)
    finally:
        await engine.aclose()
        await store.close()
    ideal = turns * 2 * delay
    return {
        "wall_s": round(wall, 3),
        "ideal_s": round(ideal, 3),
        "share_of_ideal": round(ideal / wall, 4),
        "turns_per_s": round(size * turns / wall, 1),
        "llm_calls": llm.calls,
        "process_cpu_s": round(cpu, 3),
        "cpu_ms_per_turn": round(cpu / (size * turns) * 1000, 3),
        "loop_cpu_ms_per_turn": round(loop_cpu / (size * turns) * 1000, 3),
        "in_order": ordered and stored_ok,
        "finished_in_order": ordered,
        "stored_in_order": stored_ok,
    }


async def _stored_in_order(store: Store, keys: list[ConversationKey], turns: int) -> bool:
    for key in keys:
        history = await store.recent_turns(await store.conversation_id(key), limit=2 * turns + 2)
        users = [t.text for t in history if t.role == "user"]
        if users != [f"{key.channel} turn {n}" for n in range(turns)]:
            return False
        for n, (asked, answered) in enumerate(zip(history[::2], history[1::2], strict=True)):
            if asked.role != "user" or answered.role != "assistant":
                return False
            if n % 2 == 0 and not answered.text.endswith(asked.text):  # chat turns echo the request
                return False
    return True

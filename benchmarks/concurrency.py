"""Figure 4: many conversations at once through ConversationService, 200 ms LLM.

All conversations start together. The service runs with the real Store on a
temporary SQLite file and a real Engine whose in-process controller sleeps
``llm_delay`` per call. Each turn costs two LLM calls (plan + reply, or plan +
chat), so a conversation of T turns cannot take less than ``T * 2 * llm_delay``:
the ideal.

Two shares of it:
- ``throughput_share`` (the figure): ideal / the mean conversation's time. With N
  users who each send the next message when the reply is in, the bot's throughput is
  N / the mean turn time (Little's law), and the ideal throughput N / (2 *
  llm_delay): their ratio is this share;
- ``slowest_share``: ideal / the time until the last conversation is done (the wall
  time). Every answer takes exactly ``llm_delay`` and every user starts in the same
  instant, so conversations keep the order of the first wave and the ones at its back
  wait behind the others' work call after call (see ``llm_answer_late_ms``): this
  is the latency of the unluckiest user, not the bot's rate, and is reported beside it.

Two load shapes:
- sustained (the figure): every user sends their next message when the reply to
  the last one is in, ``turns`` times: the throughput of N users talking at once;
- burst: every conversation's ``burst_turns`` messages arrive at once (a burst in
  one channel), so turns queue behind their conversation's lock: the order check,
  and a harsher share (every queued message is handled up front).

Each runs in one process and sharded over ``shards`` processes the way Discord's
gateway shards a bot (``hugginggpt-bot discord --shard I/N``: each process owns a
disjoint set of conversations and runs the whole stack; all share the one SQLite
file). The figure is the better deployment at each size, the worse size counting.

Order check: in the store, each conversation's user messages are its turns 0..T-1
in order, each followed by the assistant reply to that same turn, and the turns
finished in submission order.

``llm_answer_late_ms``: how much later than ``llm_delay`` each controller answer got
back to its turn (the loop was busy with other conversations when it was due), and
``late_per_conversation_ms``, what that adds up to for the average conversation;
the slowest conversation bears ``wall_s - ideal_s``.

Repeats: each deployment at each size and load shape runs ``repeats`` times (3) and
reports the run with the median throughput share (the lower middle one for an even
count), every run's share beside it; on a 2-core VM one run's share at 1,000 moved
between 90.1 and 96.7 % over 28 runs with the machine's speed (0.37-0.52 ms of
event-loop CPU a turn for the same code), so a single run could not be compared with
the next.

``cpu_ms_per_turn`` (process CPU, all threads, including aiosqlite's) and
``loop_cpu_ms_per_turn`` (the event loop's thread alone) say how far one process
can go: when ``size * turns * loop_cpu_ms_per_turn`` exceeds the ideal time, the
share cannot reach 100 % however the awaits are arranged.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import queue
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adapters.base import ConversationKey, IncomingMessage
from benchmarks.harness import InstantBackend, ScriptedLLM, bot_collector, build_engine, ms_summary, result
from benchmarks.suite import BUILTIN, cards
from bot.conversations import ConversationService
from bot.store import Store

NAME = "concurrency"
TITLE = "Throughput of concurrent conversations vs the ideal (200 ms LLM, real Store)"
GOAL = ">= 95 % of ideal at 100 and 1,000 conversations"
QUICK: dict[str, Any] = {
    "sizes": (5,),
    "turns": 2,
    "burst_turns": 2,
    "llm_delay": 0.02,
    "shards": 2,
    "repeats": 1,
}

SPEAK = json.dumps([{"task": "text-to-speech", "id": 0, "dep": [-1], "args": {"text": "hello"}}])


def _plan_for(text: str) -> str:
    """Even turns are chit-chat (plan + chat), odd turns run one expert (plan + reply)."""
    return SPEAK if text.endswith(("1", "3", "5", "7", "9")) else "[]"


async def run(
    sizes: tuple[int, ...] = (100, 1000),
    turns: int = 10,
    burst_turns: int = 3,
    llm_delay: float = 0.2,
    shards: int | None = None,
    repeats: int = 3,
) -> dict[str, Any]:
    shards = shards or max(2, os.cpu_count() or 1)
    runs: dict[str, Any] = {}
    for size in sizes:
        runs[str(size)] = row = {}
        for mode, count, burst in (("sustained", turns, False), ("burst", burst_turns, True)):
            ones, shardeds = [], []
            for _ in range(repeats):
                with tempfile.TemporaryDirectory(prefix="bench-conc-") as tmp:
                    ones.append(await _one(Path(tmp), size, count, llm_delay, burst=burst))
                with tempfile.TemporaryDirectory(prefix="bench-conc-") as tmp:
                    shardeds.append(
                        await asyncio.to_thread(_sharded, Path(tmp), size, count, llm_delay, shards, burst)
                    )
            one, sharded = median_run(ones), median_run(shardeds)
            better = max(one, sharded, key=lambda r: r["throughput_share"])
            row[mode] = {
                "throughput_share": better["throughput_share"],
                "slowest_share": better["slowest_share"],
                "deployment": "one process" if better is one else f"{shards} shards",
                "one_process": one,
                f"{shards}_shards": sharded,
            }
    worst = min(r["sustained"]["throughput_share"] for r in runs.values())
    in_order = all(
        m["one_process"]["in_order"] and m[f"{shards}_shards"]["in_order"]
        for r in runs.values()
        for m in r.values()
    )
    return result(
        NAME,
        TITLE,
        value=round(worst * 100, 1),
        unit="% of ideal throughput (sustained, worst size, better deployment; N / mean turn time)",
        goal=GOAL,
        passed=worst >= 0.95 and in_order,
        params={
            "conversations": list(sizes),
            "turns_each_sustained": turns,
            "turns_each_burst": burst_turns,
            "llm_delay_s": llm_delay,
            "llm_calls_per_turn": 2,
            "shards": shards,
            "repeats": repeats,
            "store": "bot.store.Store on a temporary SQLite file (shared by the shards)",
        },
        slowest_conversation_worst=round(
            min(r["sustained"]["slowest_share"] for r in runs.values()) * 100, 1
        ),
        burst_worst=round(min(r["burst"]["throughput_share"] for r in runs.values()) * 100, 1),
        in_order=in_order,
        runs=runs,
    )


def median_run(repeated: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median throughput share, with every run's share beside it and
    ``in_order`` only if every run kept the order. One run's share moves by a point or
    two with this machine's speed at that moment; the median of a few is what a later
    run can be compared with."""
    ranked = sorted(repeated, key=lambda r: r["throughput_share"])
    return {
        **ranked[(len(ranked) - 1) // 2],
        "throughput_shares": [r["throughput_share"] for r in repeated],
        "in_order": all(r["in_order"] for r in repeated),
    }


async def _one(
    root: Path,
    size: int,
    turns: int,
    delay: float,
    shard: tuple[int, int] = (0, 1),
    start: Any = None,
    burst: bool = True,
) -> dict[str, Any]:
    """Run the conversations of ``shard`` (index, count) in this process. ``start``
    (see ``_Start``) makes the shards begin at the same moment."""
    store = await Store.open(root / "bot.sqlite3")
    llm = ScriptedLLM(_plan_for, delay=delay)
    engine = build_engine(
        llm,
        {"builtin": InstantBackend(root / f"made-{shard[0]}", "builtin", cards(BUILTIN, "builtin"))},
        choose_with_llm=False,
    )
    service = ConversationService(engine, store, root / "data")
    keys = [ConversationKey("bench", "w", f"c{i}") for i in range(size) if i % shard[1] == shard[0]]
    finished: dict[ConversationKey, list[int]] = {k: [] for k in keys}
    done_at: dict[ConversationKey, float] = {}

    async def turn(key: ConversationKey, n: int) -> None:
        await service.handle(IncomingMessage(key=key, author="u", text=f"{key.channel} turn {n}"))
        finished[key].append(n)
        done_at[key] = time.perf_counter()

    try:
        with bot_collector():  # as the CLI sets it for a bot process (bot/heap.py)
            if start is not None:
                await asyncio.to_thread(start.wait)
            began = time.time()
            started, cpu_started, loop_started = time.perf_counter(), time.process_time(), time.thread_time()
            async with asyncio.TaskGroup() as group:
                if burst:  # submission order: every conversation's turn 0, then turn 1, ...
                    for n in range(turns):
                        for key in keys:
                            group.create_task(turn(key, n))
                else:  # each user sends the next message once the reply to the last one is in
                    for key in keys:
                        group.create_task(_one_after_another(turn, key, turns))
            wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
            loop_cpu = time.thread_time() - loop_started
            ended = time.time()
            ordered = all(done == list(range(turns)) for done in finished.values())
            stored_ok = await _stored_in_order(store, keys, turns)
    finally:
        await engine.aclose()
        await store.close()
    ideal = turns * 2 * delay
    done = max(1, len(keys) * turns)
    conversation_s = [done_at[k] - started for k in keys]
    mean_s = statistics.fmean(conversation_s)
    return {
        **_shares(wall, ideal, mean_s, len(keys) * turns),
        "conversations": len(keys),
        "conversation_s_sum": sum(conversation_s),
        "llm_calls": llm.calls,
        "process_cpu_s": round(cpu, 3),
        "cpu_ms_per_turn": round(cpu / done * 1000, 3),
        "loop_cpu_ms_per_turn": round(loop_cpu / done * 1000, 3),
        "llm_answer_late_ms": ms_summary(llm.late) if llm.late else None,
        "late_per_conversation_ms": round(sum(llm.late) / max(1, len(keys)) * 1000, 1),
        "in_order": ordered and stored_ok,
        "finished_in_order": ordered,
        "stored_in_order": stored_ok,
        "began": began,
        "ended": ended,
    }


def _shares(wall: float, ideal: float, mean_s: float, turns_done: int) -> dict[str, Any]:
    """The timings every run reports: the two shares of the ideal and the rate."""
    return {
        "wall_s": round(wall, 3),
        "ideal_s": round(ideal, 3),
        "mean_conversation_s": round(mean_s, 3),
        "throughput_share": round(ideal / mean_s, 4),
        "slowest_share": round(ideal / wall, 4),
        "turns_per_s": round(turns_done / wall, 1),
    }


async def _one_after_another(turn: Any, key: ConversationKey, turns: int) -> None:
    for n in range(turns):
        await turn(key, n)


def _shard_process(
    root: Path, size: int, turns: int, delay: float, shard: tuple[int, int], burst: bool, go: Any, out: Any
) -> None:
    try:
        out.put(asyncio.run(_one(root, size, turns, delay, shard, _Start(go, out), burst)))
    except BaseException as exc:  # reported by the parent, which would otherwise wait for it
        out.put({"error": f"shard {shard[0]}: {type(exc).__name__}: {exc}"})
        raise


@dataclass
class _Start:
    """A shard says it is ready, then waits for the parent's go (all shards start together)."""

    go: Any
    out: Any

    def wait(self) -> None:
        self.out.put({"ready": True})
        self.go.wait()


def _sharded(
    root: Path, size: int, turns: int, delay: float, shards: int, burst: bool = True
) -> dict[str, Any]:
    """The same conversations over ``shards`` processes (spawned: each its own interpreter)."""

    async def migrate_once() -> None:  # before the shards open the file together
        await (await Store.open(root / "bot.sqlite3")).close()

    asyncio.run(migrate_once())
    context = multiprocessing.get_context("spawn")
    go, out = context.Event(), context.Queue()
    workers = [
        context.Process(
            target=_shard_process, args=(root, size, turns, delay, (i, shards), burst, go, out), daemon=True
        )
        for i in range(shards)
    ]
    for worker in workers:
        worker.start()
    try:
        ready = [_next(out, workers) for _ in workers]
        if errors := [m["error"] for m in ready if "error" in m]:
            raise RuntimeError(f"a shard failed to start: {errors[0]}")
        began = time.time()
        go.set()
        parts = [_next(out, workers) for _ in workers]
    finally:
        for worker in workers:
            worker.join(timeout=30)
            if worker.is_alive():
                worker.kill()
    if errors := [p["error"] for p in parts if "error" in p]:
        raise RuntimeError(f"a shard failed: {errors[0]}")
    start = min(began, *(p["began"] for p in parts))
    wall = max(p["ended"] for p in parts) - start
    # each shard timed its conversations from its own start; count from the common one
    total_s = sum(p["conversation_s_sum"] + p["conversations"] * (p["began"] - start) for p in parts)
    mean_s = total_s / max(1, sum(p["conversations"] for p in parts))
    ideal = turns * 2 * delay
    return {
        **_shares(wall, ideal, mean_s, size * turns),
        "in_order": all(p["in_order"] for p in parts),
        "shards": [
            {
                k: p[k]
                for k in (
                    "wall_s",
                    "throughput_share",
                    "slowest_share",
                    "cpu_ms_per_turn",
                    "loop_cpu_ms_per_turn",
                    "late_per_conversation_ms",
                    "in_order",
                )
            }
            for p in parts
        ],
    }


def _next(out: Any, workers: list[Any], timeout: float = 300.0) -> dict[str, Any]:
    """The next message of a shard; an error if every shard died without saying why."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return dict(out.get(timeout=0.5))
        except queue.Empty:
            if all(w.exitcode is not None for w in workers):
                return {"error": "every shard process exited (exit codes %s)" % [w.exitcode for w in workers]}
    return {"error": f"no word from the shards in {timeout:.0f} s"}


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

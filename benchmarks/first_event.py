"""Figure 7: time from a message's arrival to its first progress event.

Measured from the call of ``ConversationService.handle`` to the first call of the
``on_event`` callback (the engine's ``Started``, which adapters turn into "working
on it..."), with the real Store on a temporary SQLite file and conversations that
already hold history. Three cases:

- ``sequential``: messages one after another, a third with an image attached (the
  service types and saves it before the engine starts); instant LLM.
- ``burst``: ``burst`` conversations each sending one message at the same moment,
  where the store's single connection queues their context loads.
- ``queued``: ``queued`` conversations each receiving two messages back to back;
  the second waits for the conversation's lock, i.e. for the whole first turn
  (two LLM calls of ``llm_delay``), before anything is emitted for it.

The value is the worst p99 of the three.
"""

from __future__ import annotations

import asyncio
import io
import tempfile
import time
from pathlib import Path
from typing import Any

from PIL import Image

from adapters.base import ConversationKey, IncomingFile, IncomingMessage
from benchmarks.harness import InstantBackend, ScriptedLLM, build_engine, ms_summary, result
from benchmarks.suite import BUILTIN, cards
from bot.conversations import ConversationService
from bot.store import Store
from engine.events import Event

NAME = "first_event"
TITLE = "Message arrival -> first progress event (ConversationService.handle)"
GOAL = "p99 < 300 ms (sequential, burst, queued)"
QUICK: dict[str, Any] = {
    "messages": 12,
    "conversations": 3,
    "burst": 5,
    "queued": 2,
    "history": 4,
    "llm_delay": 0.01,
}


async def run(
    messages: int = 300,
    conversations: int = 30,
    burst: int = 100,
    queued: int = 20,
    history: int = 40,
    llm_delay: float = 0.2,
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-first-") as tmp:
        root = Path(tmp)
        store = await Store.open(root / "bot.sqlite3")
        llm = ScriptedLLM(lambda text: "[]")
        engine = build_engine(
            llm,
            {"builtin": InstantBackend(root / "made", "builtin", cards(BUILTIN, "builtin"))},
            choose_with_llm=False,
        )
        service = ConversationService(engine, store, root / "data")
        try:
            keys = [ConversationKey("bench", "w", f"c{i}") for i in range(max(conversations, burst))]
            await _fill_history(store, keys, history)
            photo = _png()
            sequential = []
            for n in range(messages):
                files = (IncomingFile("photo.png", photo),) if n % 3 == 0 else ()
                sequential.append(await _first_event(service, keys[n % conversations], f"message {n}", files))
            llm.delay = llm_delay
            bursty = await asyncio.gather(*(_first_event(service, keys[i], "burst") for i in range(burst)))
            pairs = await asyncio.gather(
                *(_first_event(service, keys[i], f"first of two {i}") for i in range(queued)),
                *(_first_event(service, keys[i], f"second of two {i}") for i in range(queued)),
            )
        finally:
            await engine.aclose()
            await store.close()
    cases = {
        "sequential": ms_summary(sequential),
        "burst": ms_summary(bursty),
        "queued": ms_summary(pairs[queued:]),
    }
    worst_case = max(cases, key=lambda c: cases[c]["p99_ms"])
    worst = cases[worst_case]["p99_ms"]
    return result(
        NAME,
        TITLE,
        value=worst,
        unit=f"ms (p99 of the worst case: {worst_case})",
        goal=GOAL,
        passed=worst < 300,
        params={
            "messages": messages,
            "conversations": conversations,
            "burst": burst,
            "queued": queued,
            "history_messages": history,
            "llm_delay_s": llm_delay,
            "attachment": "a 640x480 PNG on every third sequential message",
        },
        **cases,
    )


async def _first_event(
    service: ConversationService, key: ConversationKey, text: str, files: tuple[IncomingFile, ...] = ()
) -> float:
    started = time.perf_counter()
    first: list[float] = []

    def on_event(event: Event) -> None:
        if not first:
            first.append(time.perf_counter() - started)

    await service.handle(IncomingMessage(key=key, author="u", text=text, files=files), on_event)
    if not first:
        raise RuntimeError("the service finished a turn without any progress event")
    return first[0]


async def _fill_history(store: Store, keys: list[ConversationKey], history: int) -> None:
    for key in keys:
        conv = await store.conversation_id(key)
        for n in range(history):
            await store.add_message(conv, "user" if n % 2 == 0 else "assistant", f"earlier message {n}")


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (640, 480), (90, 140, 200)).save(buffer, format="PNG")
    return buffer.getvalue()

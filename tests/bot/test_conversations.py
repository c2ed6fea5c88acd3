"""The conversation service: real engine, real SQLite store, scripted LLM server and experts."""

from __future__ import annotations

import asyncio
import io
import json

from PIL import Image

from adapters.base import ConversationKey, IncomingFile, IncomingMessage
from bot.conversations import ConversationService
from bot.store import Store
from tests.engine.helpers import router, stage_of
from tests.fakes.experts import Script, ScriptedBackend

KEY = ConversationKey("terminal", "local", "chat-1")


def png_bytes() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (20, 20), "white").save(buf, format="PNG")
    return buf.getvalue()


async def _service(tmp_path, make, base_url, backend=None, **kwargs):
    engine, backend = make(base_url, backend)
    store = await Store.open(tmp_path / "db.sqlite3")
    return ConversationService(engine, store, tmp_path, **kwargs), store, backend


async def test_second_turn_uses_the_first_turns_image(openai_server, tmp_path, make):
    first = json.dumps([{"task": "image-classification", "id": 0, "dep": [-1], "args": {"image": "cat.png"}}])
    second = json.dumps(
        [
            {"task": "image-to-text", "id": 0, "dep": [-1], "args": {"image": "cat.png"}},
            {"task": "text-to-speech", "id": 1, "dep": [0], "args": {"text": "<GENERATED>-0"}},
        ]
    )
    openai_server.responder = router([first, second])
    service, store, backend = await _service(tmp_path, make, openai_server.base_url)
    try:
        await service.handle(
            IncomingMessage(KEY, "u", "what is this?", (IncomingFile("cat.png", png_bytes()),))
        )
        out = await service.handle(IncomingMessage(KEY, "u", "now read the text of the image above aloud"))
        assert [r.status for r in out.results] == ["ok", "ok"]
        first_image = backend.seen_inputs[0]["image"].path
        assert first_image.name == "cat.png" and first_image.is_relative_to(tmp_path / "artifacts")
        # the planner saw the earlier turn and its file
        plan_calls = [r for r in openai_server.requests if stage_of(r) == "plan"]
        assert "- cat.png | image | turn 1 | sent by the user" in plan_calls[1]["messages"][-1]["content"]
        conv = await store.conversation_id(KEY)
        assert len(await store.recent_turns(conv)) == 4
        assert len(await store.requests(conv)) == 2
    finally:
        await store.close()


async def test_bad_files_are_reported_not_dropped(openai_server, tmp_path, make):
    openai_server.responder = router(["[]"])
    service, store, _ = await _service(tmp_path, make, openai_server.base_url, max_attachment_bytes=1000)
    try:
        files = (
            IncomingFile("big.png", png_bytes() + b"\x00" * 2000),
            IncomingFile("blob.bin", b"\x00\x01\x02binary"),
            IncomingFile("notes.txt", b"remember the milk"),
        )
        out = await service.handle(IncomingMessage(KEY, "u", "hello", files))
        warnings = " | ".join(out.reply.warnings)
        assert "big.png" in warnings and "limit" in warnings
        assert "blob.bin" in warnings and "unsupported" in warnings
        # the text file became part of the request
        chat = [r for r in openai_server.requests if stage_of(r) == "chat"][0]
        assert "remember the milk" in json.dumps(chat["messages"])
    finally:
        await store.close()


async def test_turns_of_one_conversation_run_in_order_others_concurrently(openai_server, tmp_path, make):
    plan = json.dumps([{"task": "text-to-speech", "id": 0, "dep": [-1], "args": {"text": "hi"}}])
    openai_server.responder = router(lambda body: plan)
    backend = ScriptedBackend.for_all_tasks(text_to_speech=Script(sleep=0.2))
    service, store, backend = await _service(tmp_path, make, openai_server.base_url, backend)
    other = ConversationKey("terminal", "local", "chat-2")
    try:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        await asyncio.gather(
            service.handle(IncomingMessage(KEY, "u", "turn 1")),
            service.handle(IncomingMessage(KEY, "u", "turn 2")),
            service.handle(IncomingMessage(other, "u", "turn A")),
        )
        elapsed = loop.time() - t0
        starts = sorted(s for _, _, s, _ in backend.log)
        assert len(starts) == 3
        assert 0.35 < elapsed < 1.2  # two in sequence, the third alongside
        conv = await store.conversation_id(KEY)
        texts = [t.text for t in await store.recent_turns(conv) if t.role == "user"]
        assert texts == ["turn 1", "turn 2"]
    finally:
        await store.close()


async def test_context_survives_a_restart_and_forget_clears_it(openai_server, tmp_path, make):
    openai_server.responder = router(["[]"] * 3)
    service, store, _ = await _service(tmp_path, make, openai_server.base_url)
    await service.handle(IncomingMessage(KEY, "u", "my name is Ada"))
    await store.close()
    service, store, _ = await _service(tmp_path, make, openai_server.base_url)
    try:
        await service.handle(IncomingMessage(KEY, "u", "what is my name?"))
        chat = [r for r in openai_server.requests if stage_of(r) == "chat"][-1]
        assert "my name is Ada" in json.dumps(chat["messages"])
        folder = tmp_path / "artifacts" / KEY.slug()
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "photo.png").write_bytes(b"x")
        await service.forget(KEY)
        assert await store.recent_turns(await store.conversation_id(KEY)) == []
        assert not folder.exists()  # its files are gone too
    finally:
        await store.close()


async def test_an_engine_crash_is_stored_and_explained(openai_server, tmp_path, make):
    openai_server.responder = router(["[]"])
    service, store, _ = await _service(tmp_path, make, openai_server.base_url)

    async def broken(*args, **kwargs):
        raise RuntimeError("boom")

    service.engine.run = broken  # type: ignore[method-assign]
    try:
        out = await service.handle(IncomingMessage(KEY, "u", "hello"))
        assert "went wrong" in out.reply.text and out.error == "RuntimeError: boom"
        conv = await store.conversation_id(KEY)
        rows = await store.requests(conv)
        assert rows[-1]["error"] == "RuntimeError: boom"
    finally:
        await store.close()


async def test_a_queued_turn_hears_at_once_that_it_is_queued(openai_server, tmp_path, make):
    from engine.events import Received

    plan = json.dumps([{"task": "text-to-speech", "id": 0, "dep": [-1], "args": {"text": "hi"}}])
    openai_server.responder = router(lambda body: plan)
    backend = ScriptedBackend.for_all_tasks(text_to_speech=Script(sleep=0.3))
    service, store, _ = await _service(tmp_path, make, openai_server.base_url, backend)
    seen: list[tuple[float, object]] = []
    loop = asyncio.get_running_loop()
    try:
        first = asyncio.create_task(service.handle(IncomingMessage(KEY, "u", "one")))
        await asyncio.sleep(0.05)
        t0 = loop.time()
        second = asyncio.create_task(
            service.handle(IncomingMessage(KEY, "u", "two"), lambda e: seen.append((loop.time() - t0, e)))
        )
        await asyncio.gather(first, second)
        delay, event = seen[0]
        assert isinstance(event, Received) and event.queued_behind == 1
        assert delay < 0.05  # not after the first turn's 0.3 s
    finally:
        await store.close()

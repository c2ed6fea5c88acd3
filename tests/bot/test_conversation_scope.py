"""A turn never reads a file from an earlier turn unless the user refers to it: with the
embedding picker and with an LLM planner (scripted server) alike, through the real
conversation service and store."""

from __future__ import annotations

import json

import pytest

from adapters.base import ConversationKey, IncomingFile, IncomingMessage
from bot.conversations import ConversationService
from bot.store import Store
from engine.picker.picker import TaskPicker
from engine.planner import Planner
from tests.bot.test_conversations import png_bytes
from tests.engine.helpers import router, stage_of

KEY = ConversationKey("terminal", "local", "scope")


@pytest.fixture(scope="module")
def picker() -> TaskPicker:
    return TaskPicker()


async def _service(tmp_path, make, base_url, planner=None):
    engine, backend = make(base_url)
    if planner is not None:
        engine.planner = planner
    store = await Store.open(tmp_path / "db.sqlite3")
    return ConversationService(engine, store, tmp_path), store, backend


def _read_names(outcome) -> list[str]:
    return [item.rsplit("/", 1)[-1] for r in outcome.results for item in r.read]


async def test_picker_reads_an_earlier_file_only_when_referred_to(openai_server, tmp_path, make, picker):
    openai_server.responder = router([])
    service, store, backend = await _service(tmp_path, make, openai_server.base_url, Planner("picker", picker))
    try:
        first = await service.handle(
            IncomingMessage(KEY, "u", "what is in this photo?", (IncomingFile("cat.png", png_bytes()),))
        )
        assert _read_names(first) == ["cat.png"]
        second = await service.handle(IncomingMessage(KEY, "u", "cute! generate an image of a dog"))
        assert [r.task.task for r in second.results] == ["text-to-image"]
        assert _read_names(second) == []  # the cat photo is not read for a new picture
        third = await service.handle(IncomingMessage(KEY, "u", "write me a haiku about space"))
        assert third.results == ()  # a direct answer: no converter in front of the bot's own picture
        fourth = await service.handle(IncomingMessage(KEY, "u", "turn the cat picture into a short video"))
        assert [r.task.task for r in fourth.results] == ["image-to-video"]
        assert _read_names(fourth) == ["cat.png"]  # named: the photo of the cat, not the dog picture
    finally:
        await store.close()


async def test_picker_carries_a_text_result_forward(openai_server, tmp_path, make, picker):
    openai_server.responder = router([])
    service, store, backend = await _service(tmp_path, make, openai_server.base_url, Planner("picker", picker))
    try:
        await service.handle(
            IncomingMessage(KEY, "u", "read this and translate it to spanish", (IncomingFile("note.png", png_bytes()),))
        )
        spoken = await service.handle(IncomingMessage(KEY, "u", "now say it out loud"))
        [tts] = spoken.results
        assert tts.task.task == "text-to-speech" and tts.read == ("t1-translation",)
        said = backend.seen_inputs[0]["text"].text
        assert said is not None and said.startswith("translation(")  # the translation, not the instruction
    finally:
        await store.close()


async def test_llm_planner_is_offered_only_what_the_request_refers_to(openai_server, tmp_path, make):
    first = json.dumps([{"task": "image-classification", "id": 0, "dep": [-1], "args": {"image": "cat.png"}}])
    # a planner that reaches for the old photo although the request does not mention it
    grabby = json.dumps(
        [{"task": "image-to-image", "id": 0, "dep": [-1], "args": {"image": "cat.png", "text": "a dog"}}]
    )
    openai_server.responder = router([first, grabby])
    service, store, backend = await _service(tmp_path, make, openai_server.base_url)
    try:
        await service.handle(
            IncomingMessage(KEY, "u", "what is in this photo?", (IncomingFile("cat.png", png_bytes()),))
        )
        backend.seen_inputs.clear()
        second = await service.handle(IncomingMessage(KEY, "u", "generate an image of a dog"))
        plans = [r for r in openai_server.requests if stage_of(r) == "plan"]
        assert "cat.png" not in plans[1]["messages"][-1]["content"]  # not in the request's table
        [result] = second.results
        assert result.status == "failed" and "cat.png" in (result.error or "")
        assert backend.seen_inputs == {}  # the old photo was never read
    finally:
        await store.close()

"""Nothing leaks: a configured secret or a token-shaped string from an LLM, a hosted API
or an exception never reaches a reply, a progress event, a log or the database; and a
user's file name is shown without the control characters that could forge a line."""

from __future__ import annotations

import asyncio
import json

import huggingface_hub.constants
import pytest

from adapters.base import ConversationKey, IncomingFile, IncomingMessage
from bot.app import open_runtime
from bot.config import parse_settings
from bot.conversations import ConversationService
from bot.store import Store
from engine.errors import ExpertUnavailable
from engine.experts.base import RunContext
from engine.experts.hosted import HostedBackend
from engine.secrets import REDACTED
from engine.types import ModelCard, Resource, Task
from tests.engine.helpers import router, stage_of
from tests.fakes.hf_server import FakeHFServer
from tests.fakes.hf_server import Reply as HFReply
from tests.fakes.openai_server import Reply
from tests.faults.cli import child_env, cli, write_config

pytestmark = pytest.mark.timeout(120)

KEY = ConversationKey("terminal", "local", "leaks")
SECRET = "local-proxy-key-7f3a9c2e51d4"  # configured, not token-shaped: only the config knows it


def echo_the_key(body: dict) -> Reply:
    return Reply.error(401, f"Incorrect API key provided: {SECRET}. Find your key at the dashboard.")


def settings_for(tmp_path, base_url):
    return parse_settings(
        {
            "llm": {"backend": "openai", "base_url": base_url, "model": "fake-model", "max_retries": 0},
            "data_dir": str(tmp_path / "data"),
            "planner": {"mode": "llm", "demos": 0},
            "experts": {"local": {"enabled": False}, "hosted": {"enabled": False}},
        }
    )


async def test_a_401_that_echoes_the_key_leaks_it_nowhere(openai_server, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    openai_server.responder = echo_the_key
    events: list[object] = []
    async with open_runtime(settings_for(tmp_path, openai_server.base_url)) as runtime:
        out = await runtime.service.handle(IncomingMessage(KEY, "u", "hello"), events.append)
    assert "401" in out.reply.text and REDACTED in out.reply.text  # the user still learns what happened
    assert SECRET not in out.reply.text and SECRET not in json.dumps(out.to_public())
    assert all(SECRET not in repr(e) for e in events)
    data = b"".join(p.read_bytes() for p in (tmp_path / "data").glob("hugginggpt.sqlite3*"))
    assert SECRET.encode() not in data


async def test_the_cli_log_never_carries_the_key(openai_server, tmp_path):
    openai_server.responder = echo_the_key
    config = write_config(tmp_path, openai_server.base_url)
    async with cli(config, "-vv", "ask", "hello", env=child_env(OPENAI_API_KEY=SECRET), stdin=False) as child:
        assert await asyncio.wait_for(child.process.wait(), 60) == 0
        out = await child.process.stdout.read()  # type: ignore[union-attr]
        err = await child.process.stderr.read()  # type: ignore[union-attr]
    assert b"401" in err  # the failure is logged, and the reply printed
    assert SECRET.encode() not in err and SECRET.encode() not in out


async def test_a_hosted_401_that_echoes_the_token_does_not_repeat_it(tmp_path, monkeypatch):
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)  # loopback is refused otherwise
    token = "hf_" + "Q7x2" * 9
    async with FakeHFServer() as server:
        server.script("acme/captioner", HFReply.json(401, {"error": f"Invalid credentials: Bearer {token}"}))
        hosted = HostedBackend(base_url=server.url, token_env="HF_TOKEN", environ={"HF_TOKEN": token})
        image = tmp_path / "cat.png"
        image.write_bytes(b"\x89PNG\r\n\x1a\n")
        card = ModelCard(id="acme/captioner", task="image-to-text", backend="hosted")
        with pytest.raises(ExpertUnavailable) as caught:
            await hosted.run(
                card,
                Task(0, "image-to-text", {"image": "cat.png"}),
                {"image": Resource("image", path=image)},
                RunContext(tmp_path),
            )
        await hosted.aclose()
    assert "401" in str(caught.value) and "HF_TOKEN" in str(caught.value)
    assert token not in str(caught.value)


async def test_a_token_shaped_string_from_the_model_is_redacted(openai_server, tmp_path, make):
    leaked = "sk-proj-" + "a1B2c3D4" * 5

    def chatty(body: dict) -> Reply:
        if stage_of(body) == "plan":
            return Reply("[]")
        return Reply(f"Sure, use the key {leaked} for that.")

    openai_server.responder = chatty
    engine, _ = make(openai_server.base_url)
    store = await Store.open(tmp_path / "db.sqlite3")
    service = ConversationService(engine, store, tmp_path / "data")
    try:
        out = await service.handle(IncomingMessage(KEY, "u", "hello"))
        turns = await store.recent_turns(await store.conversation_id(KEY))
    finally:
        await store.close()
    assert out.reply.text == f"Sure, use the key {REDACTED} for that."
    assert turns[-1].text == out.reply.text


async def test_file_names_are_shown_without_control_or_bidi_characters(openai_server, tmp_path, make):
    openai_server.responder = router(["[]"])
    engine, _ = make(openai_server.base_url)
    store = await Store.open(tmp_path / "db.sqlite3")
    service = ConversationService(engine, store, tmp_path / "data")
    forged = "photo\u200f\nwarning: your account is closed, visit evil.example.png"
    files = (
        IncomingFile(forged, b"\x00\x01\x02binary"),
        IncomingFile("notes\u202etxt.exe", b"remember the milk"),
    )
    try:
        out = await service.handle(IncomingMessage(KEY, "u", "hello", files))
    finally:
        await store.close()
    (warning,) = out.reply.warnings
    assert warning.startswith("photo warning: your account is closed, visit evil.example.png: left out")
    assert not any(ch in warning for ch in "\n\r\u200f\u202e")
    chat = [r for r in openai_server.requests if stage_of(r) == "chat"][0]
    sent = json.dumps(chat["messages"], ensure_ascii=False)
    assert "[notestxt.exe]" in sent and "\u202e" not in sent

"""Stopping ``serve`` (SIGTERM): no new connections, running turns (streams too) finish
and are stored, what outlives the grace period is cancelled, then it returns."""

from __future__ import annotations

import asyncio
import logging
import os
import signal

import aiohttp
import pytest

from adapters.http.app import build_app
from adapters.http.keys import ApiKeys
from adapters.http.messages import Limits
from adapters.http.runner import serve
from adapters.http.settings import HttpSettings
from bot.cli import TERMINATED, until_terminated
from bot.conversations import ConversationService
from bot.store import Store
from tests.adapters.http_harness import KEY, auth, served
from tests.engine.helpers import router, stage_of
from tests.fakes.experts import Script, ScriptedBackend

SLOW_SPEECH = '[{"task": "text-to-speech", "id": 0, "dep": [-1], "args": {"text": "hello"}}]'
BODY = {"model": "hugginggpt", "messages": [{"role": "user", "content": "say hello"}]}


def _slow(seconds: float) -> ScriptedBackend:
    return ScriptedBackend.for_all_tasks(text_to_speech=Script(sleep=seconds))


async def _until_running(url: str, turns: int) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(500):
            async with http.get(url + "/healthz") as got:
                if (await got.json())["turns_running"] >= turns:
                    return
            await asyncio.sleep(0.01)
    raise AssertionError("the turns never started")


async def _post(url: str, body: dict) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http:
        async with http.post(url + "/v1/chat/completions", json=body, headers=auth()) as got:
            return got.status, await got.text()


async def test_running_turns_finish_and_new_connections_are_refused(openai_server, tmp_path, make):
    openai_server.responder = router([SLOW_SPEECH, SLOW_SPEECH])
    engine, backend = make(openai_server.base_url, _slow(0.6))
    async with served(tmp_path, engine, backend) as app:
        plain = asyncio.create_task(_post(app.url, BODY))
        streamed = asyncio.create_task(_post(app.url, {**BODY, "stream": True}))
        await _until_running(app.url, 2)
        app.task.cancel()  # what until_terminated does on SIGTERM
        await asyncio.sleep(0.05)
        with pytest.raises(aiohttp.ClientConnectionError):
            await _post(app.url, BODY)
        status, text = await plain
        assert status == 200 and "Done:" in text
        status, events = await streamed
        assert status == 200 and events.endswith("data: [DONE]\n\n") and "Done:" in events
        with pytest.raises(asyncio.CancelledError):
            await app.task
        assert len(await app.store.requests(1)) == 2  # both turns were stored before the store closed


async def test_a_client_that_leaves_a_stream_does_not_stop_the_turn(openai_server, tmp_path, make, caplog):
    caplog.set_level(logging.INFO, logger="adapters.http.stream")
    openai_server.responder = router([SLOW_SPEECH])
    engine, backend = make(openai_server.base_url, _slow(0.5))
    async with served(tmp_path, engine, backend) as app:
        async with aiohttp.ClientSession() as http:
            body = {**BODY, "stream": True}
            async with http.post(app.url + "/v1/chat/completions", json=body, headers=auth()) as got:
                assert (await got.content.readline()).startswith(b"data: ")  # the stream began
            # the connection is closed here, mid-turn
        for _ in range(300):
            if await app.store.requests(1):
                break
            await asyncio.sleep(0.02)
        [logged] = await app.store.requests(1)
        assert logged["results"][0]["status"] == "ok"
        assert "respond" in [stage_of(r) for r in openai_server.requests]
    assert "stream client went away" in caplog.text  # it really left before the end


async def test_turns_past_the_grace_period_are_cancelled(openai_server, tmp_path, make):
    openai_server.responder = router([SLOW_SPEECH])
    engine, backend = make(openai_server.base_url, _slow(30))
    async with served(tmp_path, engine, backend, grace=0.2) as app:
        request = asyncio.create_task(_post(app.url, BODY))
        await _until_running(app.url, 1)
        app.task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await app.task
        with pytest.raises(aiohttp.ClientError):
            await request
    assert "respond" not in [stage_of(r) for r in openai_server.requests]  # the turn never got to answer


async def test_sigterm_lets_the_running_turn_finish_then_ends_as_terminated(openai_server, tmp_path, make):
    openai_server.responder = router([SLOW_SPEECH])
    engine, backend = make(openai_server.base_url, _slow(0.5))
    store = await Store.open(tmp_path / "db.sqlite3")
    service = ConversationService(engine, store, tmp_path / "data")
    app = build_app(HttpSettings(), service, ApiKeys([KEY]), service.artifacts, Limits(1 << 20, 2))
    listening: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    answers: list[tuple[int, str]] = []

    async def client() -> None:
        url = await listening
        request = asyncio.create_task(_post(url, BODY))
        await _until_running(url, 1)
        os.kill(os.getpid(), signal.SIGTERM)
        answers.append(await request)

    try:
        sender = asyncio.create_task(client())
        assert await until_terminated(serve(app, "127.0.0.1", 0, 10, listening.set_result)) == TERMINATED
        await sender
        assert answers[0][0] == 200 and "Done:" in answers[0][1]
        assert [r["text"] for r in await store.requests(1)] == ["say hello"]
    finally:
        await store.close()

"""JARVIS's endpoints with JARVIS's bodies and answer shapes: /tasks (the plan),
/results (plan + results, no answer written), /hugginggpt (the answer)."""

from __future__ import annotations

import base64
import json

import aiohttp
import pytest

from tests.adapters.http_harness import READ_ALOUD, auth, png_bytes, served
from tests.engine.helpers import router, stage_of
from tests.fakes.experts import Script, ScriptedBackend

READ = "The meeting starts at noon."


def _body(text: str = "Read the text in this image aloud", image: bool = True) -> dict:
    content: list[dict] | str = text
    if image:
        data = base64.b64encode(png_bytes()).decode()
        content = [
            {"type": "text", "text": text},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{data}"}},
        ]
    # JARVIS's web client also sends its model, and its own clients may send api_key & co.
    return {
        "model": "gpt-3.5-turbo",
        "api_key": "sk-not-used",
        "messages": [{"role": "user", "content": content}],
    }


@pytest.fixture
async def app(openai_server, tmp_path, make):
    openai_server.responder = router([READ_ALOUD] * 4 + ["[]"] * 4)
    engine, backend = make(
        openai_server.base_url, ScriptedBackend.for_all_tasks(image_to_text=Script(text=READ))
    )
    async with served(tmp_path, engine, backend) as s:
        yield s


async def _post(url: str, body: dict, **headers: str) -> tuple[int, object]:
    async with aiohttp.ClientSession() as http:
        async with http.post(url, json=body, headers={**auth(), **headers}) as got:
            return got.status, await got.json()


async def test_tasks_returns_the_plan_and_runs_nothing(app, openai_server):
    status, plan = await _post(app.url + "/tasks", _body())
    assert status == 200
    assert plan == [
        {"task": "image-to-text", "id": 0, "dep": [-1], "args": {"image": "image-1.png"}},
        {"task": "text-to-speech", "id": 1, "dep": [0], "args": {"text": "<GENERATED>-0"}},
    ]
    assert app.backend.log == []  # no expert ran
    assert [stage_of(r) for r in openai_server.requests] == ["plan"]
    assert "sk-not-used" not in json.dumps(openai_server.requests)


async def test_results_returns_each_tasks_inference_and_choice_without_an_answer(app, openai_server):
    status, results = await _post(app.url + "/results", _body())
    assert status == 200 and set(results) == {"0", "1"}
    first = results["0"]
    assert first["task"]["task"] == "image-to-text"
    assert first["inference result"] == {"generated text": READ}
    assert first["choose model result"]["id"] == "fake/image-to-text"
    audio_url = results["1"]["inference result"]["generated audio"]
    assert audio_url.startswith(app.url + "/files/") and audio_url.endswith(".wav")
    assert "respond" not in [stage_of(r) for r in openai_server.requests]  # stage 4 never ran


async def test_hugginggpt_answers_a_message_with_the_links(app):
    status, answer = await _post(app.url + "/hugginggpt", _body())
    assert status == 200 and set(answer) == {"message"}
    assert READ in answer["message"] and "/files/" in answer["message"]


async def test_chit_chat_is_a_message_on_every_endpoint(app):
    for _ in range(4):  # use up the scripted plans with tools
        await _post(app.url + "/tasks", _body())
    for path in ("/tasks", "/results", "/hugginggpt"):
        status, answer = await _post(app.url + path, _body("hello there", image=False))
        assert (status, answer) == (200, {"message": "Hello! How can I help?"}), path


async def test_the_earlier_messages_are_the_context_as_in_jarvis(app, openai_server):
    body = {
        "messages": [
            {"role": "user", "content": "draw a lighthouse"},
            {"role": "assistant", "content": "Here is a lighthouse: /images/a1b2.png"},
            {"role": "user", "content": "now describe it"},
        ]
    }
    await _post(app.url + "/tasks", body)
    plan = [r for r in openai_server.requests if stage_of(r) == "plan"][0]
    assert "Here is a lighthouse" in json.dumps(plan["messages"])


async def test_errors_have_jarvis_shape(app):
    status, answer = await _post(app.url + "/tasks", {"prompt": "no messages"})
    assert status == 400 and isinstance(answer["error"], str) and "messages" in answer["error"]
    async with aiohttp.ClientSession() as http:
        async with http.post(app.url + "/hugginggpt", json=_body()) as got:
            assert got.status == 401 and isinstance((await got.json())["error"], str)

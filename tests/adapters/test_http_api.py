"""The OpenAI-compatible API, called by the official ``openai`` client over loopback:
plain and streamed completions, media links behind the key, inline media, uploads,
conversations stored or ephemeral, and forget."""

from __future__ import annotations

import base64
import io
import json
import wave

import aiohttp
import openai
import pytest

from adapters.http.messages import EARLIER_FILES_NOTE
from tests.adapters.http_harness import KEY, OTHER_KEY, READ_ALOUD, auth, png_bytes, served
from tests.engine.helpers import router, stage_of
from tests.fakes.experts import Script, ScriptedBackend

READ = "The meeting starts at noon."


def _backend() -> ScriptedBackend:
    return ScriptedBackend.for_all_tasks(image_to_text=Script(text=READ))


def _image_message(text: str = "Read the text in this image aloud") -> list[dict]:
    data = base64.b64encode(png_bytes()).decode()
    return [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": text},
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{data}"}},
            ],
        }
    ]


def _client(url: str, key: str = KEY) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=url + "/v1", api_key=key, max_retries=0, timeout=20)


@pytest.fixture
async def app(openai_server, tmp_path, make):
    openai_server.responder = router([READ_ALOUD] * 8)
    engine, backend = make(openai_server.base_url, _backend())
    async with served(tmp_path, engine, backend) as s:
        yield s


async def test_models_lists_the_one_model(app):
    async with _client(app.url) as client:
        listed = await client.models.list()
        assert [m.id for m in listed.data] == ["hugginggpt"]
        with pytest.raises(openai.NotFoundError):
            await client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])


async def test_a_plain_completion_reads_the_image_and_links_the_audio(app):
    async with _client(app.url) as client:
        done = await client.chat.completions.create(model="hugginggpt", messages=_image_message())
    message = done.choices[0].message
    assert done.choices[0].finish_reason == "stop" and done.model == "hugginggpt"
    assert READ in message.content
    ext = done.model_extra["hugginggpt"]
    assert [t["task"] for t in ext["plan"]] == ["image-to-text", "text-to-speech"]
    [audio] = ext["media"]
    assert audio["kind"] == "audio" and audio["url"] in message.content
    assert audio["url"].startswith(app.url + "/files/http-")
    assert "/tmp" not in json.dumps(ext)  # no server path leaves the server
    async with aiohttp.ClientSession() as http:
        async with http.get(audio["url"], headers=auth()) as got:
            assert got.status == 200 and got.content_type in ("audio/wav", "audio/x-wav")
            with wave.open(io.BytesIO(await got.read())) as w:
                assert w.getnframes() > 0
        async with http.get(audio["url"]) as anonymous:
            assert anonymous.status == 401
        async with http.get(audio["url"], headers=auth(OTHER_KEY)) as other:
            assert other.status == 404  # another key's file is not told apart from a missing one


async def test_a_streamed_completion_shows_progress_then_the_answer(app):
    async with _client(app.url) as client:
        stream = await client.chat.completions.create(
            model="hugginggpt", messages=_image_message(), stream=True
        )
        chunks = [chunk async for chunk in stream]
    assert chunks[0].choices[0].delta.role == "assistant"
    texts = [c.choices[0].delta.content or "" for c in chunks]
    content = "".join(texts)
    plan_at = content.index("Plan: 2 task(s)")
    ran_at = content.index("✅ #0 image-to-text (fake/image-to-text): ok")
    spoke_at = content.index("✅ #1 text-to-speech (fake/text-to-speech): ok")
    answer_at = content.index(READ, spoke_at)
    assert plan_at < ran_at < spoke_at < answer_at
    progress = [c for c in chunks if c.model_extra.get("hugginggpt", {}).get("progress")]
    assert progress and "Writing the answer…" in progress[-1].model_extra["hugginggpt"]["progress"]
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    [audio] = last.model_extra["hugginggpt"]["media"]
    assert audio["url"] in content


async def test_the_stream_is_server_sent_events_ending_in_done(app):
    body = {"model": "hugginggpt", "messages": _image_message(), "stream": True}
    async with aiohttp.ClientSession() as http:
        async with http.post(app.v1 + "/chat/completions", json=body, headers=auth()) as got:
            assert got.status == 200 and got.content_type == "text/event-stream"
            raw = (await got.read()).decode()
    frames = [f for f in raw.split("\n\n") if f]
    assert frames[-1] == "data: [DONE]"
    for frame in frames[:-1]:
        assert frame.startswith("data: ")
        assert json.loads(frame[6:])["object"] == "chat.completion.chunk"


async def test_no_key_or_a_wrong_key_is_401_but_the_page_and_health_are_open(app):
    async with _client(app.url, key="wrong") as client:
        with pytest.raises(openai.AuthenticationError) as refused:
            await client.chat.completions.create(
                model="hugginggpt", messages=[{"role": "user", "content": "hi"}]
            )
    assert "Authorization: Bearer" in str(refused.value) and "wrong" not in str(refused.value)
    async with aiohttp.ClientSession() as http:
        for path in ("/v1/models", "/files/anything", "/v1/conversations/x", "/no-such-page"):
            async with http.get(app.url + path) as got:
                assert got.status == 401, path
                assert (await got.json())["error"]["code"] == "invalid_api_key"
        async with http.get(app.url + "/") as page:
            assert page.status == 200 and "HuggingGPT" in await page.text()
            assert "default-src 'none'" in page.headers["Content-Security-Policy"]
        async with http.get(app.url + "/healthz") as health:
            assert (await health.json()) == {"status": "ok", "turns_running": 0}


async def test_an_http_image_url_is_refused_and_never_fetched(app, openai_server):
    message = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "describe this"},
                {"type": "image_url", "image_url": {"url": openai_server.base_url + "/cat.png"}},
            ],
        }
    ]
    async with _client(app.url) as client:
        with pytest.raises(openai.BadRequestError) as refused:
            await client.chat.completions.create(model="hugginggpt", messages=message)
    assert "does not fetch URLs" in str(refused.value)
    assert not any("cat.png" in json.dumps(r) for r in openai_server.requests)


async def test_a_link_the_server_gave_out_can_be_sent_back(app):
    async with _client(app.url) as client:
        first = await client.chat.completions.create(model="hugginggpt", messages=_image_message())
        [audio] = first.model_extra["hugginggpt"]["media"]
        again = [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "again"},
                    {"type": "image_url", "image_url": {"url": audio["url"]}},
                ],
            }
        ]
        await client.chat.completions.create(model="hugginggpt", messages=again)
    assert app.backend.seen_inputs  # the turn ran with the file read back from the server's own folder


async def test_uploads_are_named_by_id_in_a_file_part(app):
    async with _client(app.url) as client:
        uploaded = await client.files.create(file=("page.png", png_bytes("black")), purpose="user_data")
        assert uploaded.id.startswith("file-") and uploaded.filename == "page.png"
        message = [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "read it aloud"},
                    {"type": "file", "file": {"file_id": uploaded.id}},
                ],
            }
        ]
        done = await client.chat.completions.create(model="hugginggpt", messages=message)
    assert READ in done.choices[0].message.content
    seen = app.backend.seen_inputs[0]["image"]
    assert seen.path.read_bytes() == png_bytes("black")
    async with _client(app.url, OTHER_KEY) as other:
        with pytest.raises(openai.NotFoundError):
            await other.chat.completions.create(
                model="hugginggpt",
                messages=[{"role": "user", "content": [{"type": "file", "file": {"file_id": uploaded.id}}]}],
            )


async def test_audio_asked_inline_comes_in_message_audio(app):
    async with _client(app.url) as client:
        done = await client.chat.completions.create(
            model="hugginggpt", messages=_image_message(), modalities=["text", "audio"]
        )
    audio = done.choices[0].message.audio
    assert audio is not None and audio.id.startswith("audio_")
    with wave.open(io.BytesIO(base64.b64decode(audio.data))) as w:
        assert w.getnframes() > 0


async def test_a_named_conversation_keeps_its_context_per_key(app, openai_server):
    async with _client(app.url) as client, _client(app.url, OTHER_KEY) as other:
        await client.chat.completions.create(model="hugginggpt", messages=_image_message(), user="alice")
        again = await client.chat.completions.create(
            model="hugginggpt", messages=[{"role": "user", "content": "and what did it say?"}], user="alice"
        )
        await other.chat.completions.create(
            model="hugginggpt", messages=[{"role": "user", "content": "anything before?"}], user="alice"
        )
    assert READ in again.choices[0].message.content  # the stored first turn's result, said again
    chats = [r for r in openai_server.requests if stage_of(r) == "chat"]
    assert "Read the text in this image aloud" not in json.dumps(chats[-1]["messages"])  # another key's alice


async def test_without_a_conversation_the_request_messages_are_the_history(app, openai_server):
    messages = [
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": _image_message("an earlier request with a picture")[0]["content"]},
        {"role": "assistant", "content": "Done: the sign says hello."},
        {"role": "user", "content": "thanks! and what does hello mean?"},
    ]
    async with _client(app.url) as client:
        done = await client.chat.completions.create(model="hugginggpt", messages=messages)
    chat = [r for r in openai_server.requests if stage_of(r) == "chat"][0]
    sent = json.dumps(chat["messages"])
    assert "the sign says hello" in sent and "an earlier request with a picture" in sent
    assert "You are helpful" not in sent
    assert EARLIER_FILES_NOTE in done.choices[0].message.content  # the earlier image was not used
    assert done.model_extra["hugginggpt"]["conversation"] is None
    assert await app.store.message_count() == 0  # nothing kept as context


async def test_forget_clears_the_context_and_the_files(app):
    headers = {"X-Conversation-Id": "web-1"}
    async with _client(app.url) as client:
        done = await client.chat.completions.create(
            model="hugginggpt", messages=_image_message(), extra_headers=headers
        )
    [audio] = done.model_extra["hugginggpt"]["media"]
    from adapters.http.files import conversation_key
    from adapters.http.keys import Caller, workspace_of

    key = conversation_key(Caller(workspace_of(KEY)), "web-1")
    assert await app.service.knows(key)
    async with aiohttp.ClientSession() as http:
        async with http.delete(app.v1 + "/conversations/web-1", headers=auth()) as got:
            assert got.status == 200 and (await got.json())["deleted"] is True
        async with http.get(audio["url"], headers=auth()) as gone:
            assert gone.status == 404
    assert not await app.service.knows(key)

"""OpenAILLM against the scripted OpenAI-compatible server, through the real openai client."""

from __future__ import annotations

import time

import pytest

from engine.errors import ConfigError, LLMBadOutput, LLMTimeout, LLMUnavailable
from engine.llm.base import ChatMessage
from engine.llm.openai_backend import DUMMY_API_KEY, OpenAILLM
from engine.plan_schema import plan_json_schema
from tests.fakes.openai_server import FakeOpenAIServer, Reply, unused_port

HELLO = [ChatMessage("system", "be brief"), ChatMessage("user", "hello")]
FAST_RETRY = {"retry-after-ms": "1"}  # keeps the client's retry back-off short


def make_llm(base_url: str, **kwargs: object) -> OpenAILLM:
    options: dict[str, object] = {"model": "fake-model", "timeout": 5.0, "max_retries": 0} | kwargs
    return OpenAILLM(base_url=base_url, **options)  # type: ignore[arg-type]


async def test_normal_answer_and_request_shape(openai_server: FakeOpenAIServer) -> None:
    openai_server.script("hi there")
    llm = make_llm(openai_server.base_url)
    try:
        assert await llm.complete(HELLO, max_tokens=64, temperature=0.2) == "hi there"
    finally:
        await llm.aclose()
    body = openai_server.requests[0]
    assert body["model"] == "fake-model"
    assert body["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hello"},
    ]
    assert body["max_tokens"] == 64 and body["temperature"] == 0.2
    assert "response_format" not in body
    assert openai_server.headers[0]["Authorization"] == f"Bearer {DUMMY_API_KEY}"
    assert llm.name == "openai:fake-model"


async def test_given_api_key_is_sent(openai_server: FakeOpenAIServer) -> None:
    openai_server.script("ok")
    llm = make_llm(openai_server.base_url, api_key="sk-test")
    await llm.complete(HELLO)
    await llm.aclose()
    assert openai_server.headers[0]["Authorization"] == "Bearer sk-test"


async def test_responder_answers_by_request(openai_server: FakeOpenAIServer) -> None:
    openai_server.responder = lambda body: body["messages"][-1]["content"].upper()
    llm = make_llm(openai_server.base_url)
    assert await llm.complete(HELLO) == "HELLO"
    await llm.aclose()


async def test_json_schema_is_sent_as_response_format(openai_server: FakeOpenAIServer) -> None:
    openai_server.script("[]")
    schema = plan_json_schema(["image-to-text"], 4)
    llm = make_llm(openai_server.base_url)
    assert await llm.complete(HELLO, json_schema=schema) == "[]"
    await llm.aclose()
    sent = openai_server.requests[0]["response_format"]
    assert sent == {"type": "json_schema", "json_schema": {"name": "plan", "schema": schema}}
    assert llm.supports_json_schema


async def test_rejected_response_format_falls_back_once_and_is_remembered(
    openai_server: FakeOpenAIServer,
) -> None:
    openai_server.script(
        Reply.error(400, "response_format json_schema is not supported", param="response_format"),
        "[]",
        "[]",
    )
    schema = plan_json_schema(["image-to-text"], 4)
    llm = make_llm(openai_server.base_url)
    assert await llm.complete(HELLO, json_schema=schema) == "[]"
    assert not llm.supports_json_schema
    assert await llm.complete(HELLO, json_schema=schema) == "[]"
    await llm.aclose()
    assert ["response_format" in r for r in openai_server.requests] == [True, False, False]


async def test_other_bad_request_is_not_retried_without_schema(openai_server: FakeOpenAIServer) -> None:
    openai_server.script(Reply.error(400, "maximum context length exceeded"))
    llm = make_llm(openai_server.base_url)
    with pytest.raises(LLMUnavailable, match="maximum context length"):
        await llm.complete(HELLO, json_schema=plan_json_schema(["image-to-text"], 4))
    await llm.aclose()
    assert openai_server.calls == 1 and llm.supports_json_schema


async def test_401_names_the_key_variable(openai_server: FakeOpenAIServer) -> None:
    openai_server.script(Reply.error(401, "Incorrect API key provided"))
    llm = make_llm(openai_server.base_url, api_key="wrong", api_key_env="MY_LLM_KEY", max_retries=2)
    with pytest.raises(LLMUnavailable, match="MY_LLM_KEY") as info:
        await llm.complete(HELLO)
    await llm.aclose()
    assert "401" in str(info.value) and openai_server.calls == 1
    assert info.value.__cause__ is not None


async def test_404_names_model_and_url(openai_server: FakeOpenAIServer) -> None:
    openai_server.script(Reply.error(404, "The model `nope` does not exist", code="model_not_found"))
    llm = make_llm(openai_server.base_url, model="nope")
    with pytest.raises(LLMUnavailable) as info:
        await llm.complete(HELLO)
    await llm.aclose()
    message = str(info.value)
    assert "model 'nope' not found" in message and openai_server.base_url in message


async def test_429_is_retried_a_bounded_number_of_times(openai_server: FakeOpenAIServer) -> None:
    openai_server.script(*[Reply.error(429, "Rate limit reached", headers=FAST_RETRY)] * 3)
    llm = make_llm(openai_server.base_url, max_retries=2)
    with pytest.raises(LLMUnavailable, match="429") as info:
        await llm.complete(HELLO)
    await llm.aclose()
    assert openai_server.calls == 3  # first try + 2 retries
    assert "rate limit" in str(info.value).lower()


async def test_429_then_success_is_transparent(openai_server: FakeOpenAIServer) -> None:
    openai_server.script(Reply.error(429, "Rate limit reached", headers=FAST_RETRY), "fine")
    llm = make_llm(openai_server.base_url, max_retries=1)
    assert await llm.complete(HELLO) == "fine"
    await llm.aclose()


async def test_500_becomes_unavailable_with_status(openai_server: FakeOpenAIServer) -> None:
    openai_server.script(*[Reply.error(500, "CUDA out of memory", headers=FAST_RETRY)] * 2)
    llm = make_llm(openai_server.base_url, max_retries=1)
    with pytest.raises(LLMUnavailable, match="500") as info:
        await llm.complete(HELLO)
    await llm.aclose()
    assert "CUDA out of memory" in str(info.value) and openai_server.calls == 2


async def test_timeout(openai_server: FakeOpenAIServer) -> None:
    openai_server.script(Reply.text("too late", delay=5.0))
    llm = make_llm(openai_server.base_url, timeout=0.3)
    started = time.monotonic()
    with pytest.raises(LLMTimeout, match="0.3 s"):
        await llm.complete(HELLO)
    await llm.aclose()
    assert time.monotonic() - started < 3.0


async def test_connection_refused() -> None:
    url = f"http://127.0.0.1:{unused_port()}/v1"
    llm = make_llm(url)
    with pytest.raises(LLMUnavailable, match="cannot reach the LLM at http://127.0.0.1"):
        await llm.complete(HELLO)
    await llm.aclose()


@pytest.mark.parametrize("reply", [Reply.empty(), Reply.text("   ")])
async def test_empty_content_is_bad_output(openai_server: FakeOpenAIServer, reply: Reply) -> None:
    openai_server.script(reply)
    llm = make_llm(openai_server.base_url)
    with pytest.raises(LLMBadOutput, match="empty answer"):
        await llm.complete(HELLO)
    await llm.aclose()


def test_no_key_and_no_base_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="MY_LLM_KEY"):
        OpenAILLM(model="gpt-4o-mini", api_key=None, api_key_env="MY_LLM_KEY")


async def test_fake_refuses_streaming_and_unscripted_requests(openai_server: FakeOpenAIServer) -> None:
    """The fake fails loudly; the fixture would fail the test, so the problems are cleared here."""
    import openai

    client = openai.AsyncOpenAI(base_url=openai_server.base_url, api_key="x", max_retries=0)
    with pytest.raises(openai.BadRequestError, match="no scripted reply"):
        await client.chat.completions.create(model="fake-model", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.BadRequestError, match="stream: false"):
        await client.chat.completions.create(
            model="fake-model", messages=[{"role": "user", "content": "hi"}], stream=True
        )
    models = await client.models.list()
    await client.close()
    assert [m.id for m in models.data] == ["fake-model"]
    assert len(openai_server.problems) == 2
    openai_server.problems.clear()

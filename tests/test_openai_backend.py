"""OpenAILLM against the scripted OpenAI-compatible server, through the real openai client."""

from __future__ import annotations

import asyncio

import pytest

from engine.errors import ConfigError, LLMBadOutput, LLMTimeout, LLMUnavailable
from engine.llm.base import ChatMessage
from engine.llm.openai_backend import DUMMY_API_KEY, OpenAILLM
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


async def test_401_names_the_key_variable(openai_server: FakeOpenAIServer) -> None:
    openai_server.script(Reply.error(401, "Incorrect API key provided"))
    llm = make_llm(openai_server.base_url, api_key="wrong", api_key_env="MY_LLM_KEY", max_retries=2)
    with pytest.raises(LLMUnavailable, match="MY_LLM_KEY") as info:
        await llm.complete(HELLO)
    await llm.aclose()
    assert "401" in str(info.value) and openai_server.calls == 1
    assert info.value.__cause__ is not None


async def test_404_for_a_model_names_the_model_and_url(openai_server: FakeOpenAIServer) -> None:
    openai_server.script(Reply.error(404, "The model `nope` does not exist", code="model_not_found"))
    llm = make_llm(openai_server.base_url, model="nope")
    with pytest.raises(LLMUnavailable) as info:
        await llm.complete(HELLO)
    await llm.aclose()
    message = str(info.value)
    assert "model 'nope' not found" in message and openai_server.base_url in message
    assert "The model `nope` does not exist" in message and "ends in /v1" not in message


@pytest.mark.parametrize(
    "reply",
    [Reply.raw(404, {"detail": "Not Found"}), Reply.raw(404, "404: Not Found")],
    ids=["fastapi-detail", "plain-text"],
)
async def test_404_for_the_path_says_to_check_v1(openai_server: FakeOpenAIServer, reply: Reply) -> None:
    openai_server.script(reply)
    root = openai_server.base_url.removesuffix("/v1")
    llm = make_llm(openai_server.base_url)
    with pytest.raises(LLMUnavailable) as info:
        await llm.complete(HELLO)
    await llm.aclose()
    message = str(info.value)
    assert "model" not in message.split("Server said")[0]  # not "model not found"
    assert "/v1" in message and "Not Found" in message and root in message


async def test_base_url_without_v1_is_named_in_the_fix() -> None:
    """The fake answers only under /v1, like llama-cpp-python: without it every path is a 404."""
    async with FakeOpenAIServer() as server:
        root = server.base_url.removesuffix("/v1")
        llm = make_llm(root)
        with pytest.raises(LLMUnavailable) as info:
            await llm.complete(HELLO)
        await llm.aclose()
    assert f"check that llm.base_url ends in /v1 (for example {root}/v1)" in str(info.value)


@pytest.mark.parametrize(
    ("reply", "words"),
    [
        (Reply.raw(503, {"detail": "model is still loading"}), "model is still loading"),
        (Reply.raw(503, {"error": "Service Unavailable: loading"}), "Service Unavailable: loading"),
        (Reply.raw(503, {"error": {"error": {"message": "nested reason"}}}), "nested reason"),
        (Reply.raw(503, {"message": "top-level message"}), "top-level message"),
        (Reply.raw(503, "upstream connect error"), "upstream connect error"),
    ],
    ids=["detail", "error-string", "error-nested", "message", "text"],
)
async def test_the_servers_own_words_are_shown(
    openai_server: FakeOpenAIServer, reply: Reply, words: str
) -> None:
    openai_server.script(reply)
    llm = make_llm(openai_server.base_url)
    with pytest.raises(LLMUnavailable) as info:
        await llm.complete(HELLO)
    await llm.aclose()
    assert f"Server said: {words}" in str(info.value) and "HTTP 503" in str(info.value)


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


async def test_a_timeout_is_not_retried_by_default(openai_server: FakeOpenAIServer) -> None:
    """A single-threaded local server keeps computing an abandoned request: a retry would
    only queue behind it. One request reaches the server, and the client hangs up on it."""
    openai_server.script(Reply.text("too late", delay=30.0))
    llm = make_llm(openai_server.base_url, timeout=0.3, max_retries=2)
    with pytest.raises(LLMTimeout, match="did not answer within 0.3 s") as info:
        await llm.complete(HELLO)
    await llm.aclose()
    await asyncio.wait_for(openai_server.wait_abandoned(1), 10)
    assert openai_server.calls == 1 and openai_server.abandoned == 1
    assert "attempts" not in str(info.value) and "llm.timeout" in str(info.value)


async def test_retry_timeouts_retries_a_bounded_number_of_times(openai_server: FakeOpenAIServer) -> None:
    openai_server.script(*[Reply.text("too late", delay=30.0)] * 2)
    llm = make_llm(
        openai_server.base_url, timeout=0.3, max_retries=1, retry_timeouts=True, retry_backoff=0.01
    )
    with pytest.raises(LLMTimeout, match=r"\(2 attempts\)"):
        await llm.complete(HELLO)
    await llm.aclose()
    await asyncio.wait_for(openai_server.wait_abandoned(2), 10)
    assert openai_server.calls == 2


async def test_a_timeout_then_an_answer_with_retry_timeouts(openai_server: FakeOpenAIServer) -> None:
    openai_server.script(Reply.text("too late", delay=30.0), "in time")
    llm = make_llm(
        openai_server.base_url, timeout=0.5, max_retries=1, retry_timeouts=True, retry_backoff=0.01
    )
    assert await llm.complete(HELLO) == "in time"
    await llm.aclose()


async def test_connection_refused_is_retried_then_reported() -> None:
    url = f"http://127.0.0.1:{unused_port()}/v1"
    llm = make_llm(url, max_retries=2, retry_backoff=0.01)
    with pytest.raises(LLMUnavailable, match=r"cannot reach the LLM at http://127.0.0.1.*\(3 attempts\)"):
        await llm.complete(HELLO)
    await llm.aclose()


async def test_a_wait_longer_than_the_cap_is_reported_not_waited_for(openai_server: FakeOpenAIServer) -> None:
    openai_server.script(Reply.error(429, "slow down", headers={"retry-after": "3600"}))
    llm = make_llm(openai_server.base_url, max_retries=3)
    with pytest.raises(LLMUnavailable, match="rate limiting"):
        await llm.complete(HELLO)
    await llm.aclose()
    assert openai_server.calls == 1


async def test_usage_is_counted(openai_server: FakeOpenAIServer) -> None:
    usage = {"prompt_tokens": 120, "completion_tokens": 7, "total_tokens": 127}
    openai_server.script(
        Reply("a", usage=usage), Reply("b", usage=usage | {"prompt_tokens_details": {"cached_tokens": 100}})
    )
    llm = make_llm(openai_server.base_url)
    await llm.complete(HELLO)
    await llm.complete(HELLO)
    await llm.aclose()
    assert (llm.usage.requests, llm.usage.prompt_tokens, llm.usage.completion_tokens) == (2, 240, 14)
    assert llm.usage.cached_prompt_tokens == 100


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

"""Structured output negotiated per endpoint: json_schema -> json_object + schema -> none,
one step per refusal, remembered; forced by ``structured_output``. Against the scripted
server, through the real openai client; the real llama.cpp server is in
tests/test_llamacpp_server.py."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from engine.errors import LLMUnavailable
from engine.llm.base import ChatMessage
from engine.llm.openai_backend import OpenAILLM
from engine.plan_schema import plan_json_schema
from tests.fakes.openai_server import FakeOpenAIServer, Reply, vllm_like_refusal

HELLO = [ChatMessage("system", "plan"), ChatMessage("user", "caption cat.png")]
SCHEMA = plan_json_schema(["image-to-text"], 2)


def make_llm(base_url: str, **kwargs: Any) -> OpenAILLM:
    options: dict[str, Any] = {"model": "fake-model", "timeout": 5.0, "max_retries": 2} | kwargs
    return OpenAILLM(base_url=base_url, **options)


def formats(server: FakeOpenAIServer) -> list[str | None]:
    """The response_format type of every request the server got, in order."""
    return [(r.get("response_format") or {}).get("type") for r in server.requests]


async def test_json_schema_first_and_kept_when_accepted(openai_server: FakeOpenAIServer) -> None:
    openai_server.script("[]", "[]")
    llm = make_llm(openai_server.base_url)
    assert await llm.complete(HELLO, json_schema=SCHEMA) == "[]"
    assert await llm.complete(HELLO, json_schema=SCHEMA) == "[]"
    await llm.aclose()
    assert formats(openai_server) == ["json_schema", "json_schema"]
    assert openai_server.requests[0]["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "plan", "schema": SCHEMA},
    }
    assert llm.structured_output == "json_schema" and llm.supports_json_schema


async def test_no_schema_sends_no_response_format(openai_server: FakeOpenAIServer) -> None:
    openai_server.script("hello")
    llm = make_llm(openai_server.base_url)
    assert await llm.complete(HELLO) == "hello"
    await llm.aclose()
    assert formats(openai_server) == [None]


@pytest.mark.parametrize(
    "refusal",
    [
        Reply.error(400, "json_schema is not supported", param="response_format"),
        Reply.error(400, "Invalid value for 'response_format.type'"),
        # FastAPI's validation answer, as a server with a stricter request model sends it
        Reply.raw(
            422,
            {"detail": [{"loc": ["body", "response_format", "type"], "msg": "Input should be 'text'"}]},
        ),
        # llama-cpp-python 0.3.x: a pydantic literal_error, answered with HTTP 500
        Reply.error(
            500,
            "1 validation error: {'type': 'literal_error', 'loc': ('body', 'response_format', 'type'), "
            "'msg': \"Input should be 'text' or 'json_object'\", 'input': 'json_schema'}",
            type="internal_server_error",
        ),
    ],
    ids=["400-param", "400-message", "422-detail", "500-literal-error"],
)
async def test_a_refusal_steps_down_to_json_object_once_and_is_remembered(
    openai_server: FakeOpenAIServer, refusal: Reply
) -> None:
    openai_server.script(refusal, "[]", "[]")
    llm = make_llm(openai_server.base_url)
    assert await llm.complete(HELLO, json_schema=SCHEMA) == "[]"
    assert await llm.complete(HELLO, json_schema=SCHEMA) == "[]"
    await llm.aclose()
    # the refused request is sent once more in the next mode, never retried as it was
    assert formats(openai_server) == ["json_schema", "json_object", "json_object"]
    assert openai_server.requests[1]["response_format"] == {"type": "json_object", "schema": SCHEMA}
    assert llm.structured_output == "json_object" and llm.supports_json_schema


async def test_vllm_like_500_naming_response_format_is_not_retried(openai_server: FakeOpenAIServer) -> None:
    openai_server.responder = vllm_like_refusal('{"tasks": []}')
    llm = make_llm(openai_server.base_url, max_retries=3)
    for _ in range(3):
        assert await llm.complete(HELLO, json_schema=SCHEMA) == '{"tasks": []}'
    await llm.aclose()
    assert formats(openai_server) == ["json_schema", "json_object", "json_object", "json_object"]


async def test_a_server_refusing_both_ends_with_plain_json(openai_server: FakeOpenAIServer) -> None:
    openai_server.script(
        Reply.error(400, "response_format json_schema is not supported"),
        Reply.error(400, "'response_format.type' must be 'json_schema'"),  # LM Studio's answer to json_object
        "[]",
        "[]",
    )
    llm = make_llm(openai_server.base_url)
    assert await llm.complete(HELLO, json_schema=SCHEMA) == "[]"
    assert await llm.complete(HELLO, json_schema=SCHEMA) == "[]"
    await llm.aclose()
    assert formats(openai_server) == ["json_schema", "json_object", None, None]
    assert llm.structured_output == "none" and not llm.supports_json_schema


async def test_concurrent_refusals_step_down_only_once(openai_server: FakeOpenAIServer) -> None:
    openai_server.responder = vllm_like_refusal("[]")
    llm = make_llm(openai_server.base_url)
    answers = await asyncio.gather(*(llm.complete(HELLO, json_schema=SCHEMA) for _ in range(4)))
    await llm.aclose()
    assert answers == ["[]"] * 4
    assert llm.structured_output == "json_object"  # not "none": four refusals of one mode are one step
    assert formats(openai_server).count("json_object") == 4


async def test_other_errors_do_not_step_down(openai_server: FakeOpenAIServer) -> None:
    openai_server.script(
        Reply.error(400, "maximum context length exceeded"),
        *[Reply.error(500, "CUDA out of memory", headers={"retry-after-ms": "1"})] * 2,
    )
    llm = make_llm(openai_server.base_url, max_retries=1)
    with pytest.raises(LLMUnavailable, match="maximum context length"):
        await llm.complete(HELLO, json_schema=SCHEMA)
    with pytest.raises(LLMUnavailable, match="CUDA out of memory"):
        await llm.complete(HELLO, json_schema=SCHEMA)
    await llm.aclose()
    assert formats(openai_server) == ["json_schema"] * 3  # the 500 was retried, in the same mode
    assert llm.structured_output == "json_schema"


@pytest.mark.parametrize("mode", ["json_schema", "json_object"])
async def test_a_forced_mode_is_used_and_a_refusal_says_which_key(
    openai_server: FakeOpenAIServer, mode: str
) -> None:
    openai_server.script("[]", Reply.error(400, f"response_format {mode} is not supported"))
    llm = make_llm(openai_server.base_url, structured_output=mode)
    assert await llm.complete(HELLO, json_schema=SCHEMA) == "[]"
    with pytest.raises(LLMUnavailable) as info:
        await llm.complete(HELLO, json_schema=SCHEMA)
    await llm.aclose()
    assert formats(openai_server) == [mode, mode]  # no step down, no retry
    assert "llm.structured_output" in str(info.value) and "not supported" in str(info.value)
    assert llm.structured_output == mode


async def test_forced_none_sends_no_response_format(openai_server: FakeOpenAIServer) -> None:
    openai_server.script("[]")
    llm = make_llm(openai_server.base_url, structured_output="none")
    assert await llm.complete(HELLO, json_schema=SCHEMA) == "[]"
    await llm.aclose()
    assert formats(openai_server) == [None] and not llm.supports_json_schema


async def test_each_endpoint_negotiates_for_itself(openai_server: FakeOpenAIServer) -> None:
    async with FakeOpenAIServer(["[]"]) as other:
        openai_server.script(Reply.error(400, "no json_schema here"), "[]")
        refusing, accepting = make_llm(openai_server.base_url), make_llm(other.base_url)
        await refusing.complete(HELLO, json_schema=SCHEMA)
        await accepting.complete(HELLO, json_schema=SCHEMA)
        await refusing.aclose()
        await accepting.aclose()
        assert formats(other) == ["json_schema"]
    assert (refusing.structured_output, accepting.structured_output) == ("json_object", "json_schema")

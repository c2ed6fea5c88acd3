"""Contract tests against a server nobody here wrote: llama-cpp-python's own
OpenAI-compatible server (``python -m llama_cpp.server``) with SmolLM2-135M, on
127.0.0.1, through the real openai client (tests/llamacpp.py starts it once a session).

What they pin: this server refuses ``response_format`` ``json_schema`` (HTTP 500, a
pydantic literal_error), so negotiation lands on ``json_object`` with a schema, which it
turns into a grammar, and the answer parses as a plan; the step is taken once per
endpoint; a base_url without ``/v1`` gets a message that says to add it; the planning
prompt's system message is a prefix the server reuses from its cache.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import LLMUnavailable
from engine.llm.base import ChatMessage
from engine.llm.openai_backend import OpenAILLM
from engine.plan_parser import parse_plan
from engine.plan_schema import plan_json_schema
from engine.planner import Planner
from engine.prompts import plan_system
from engine.types import Request, Resource
from tests.llamacpp import LlamaCppServer

pytestmark = pytest.mark.slow

SCHEMA = {
    "type": "object",
    "properties": {"tasks": plan_json_schema(["image-to-text"], 1)},
    "required": ["tasks"],
    "additionalProperties": False,
}
CAPTION = [
    ChatMessage("system", plan_system()),
    ChatMessage("user", "Describe this picture\nFiles available: cat.jpg (image)"),
]


def chat_statuses(server: LlamaCppServer, offset: int) -> list[int]:
    return [r.status for r in server.requests_since(offset) if r.path.endswith("/chat/completions")]


def make_llm(base_url: str) -> OpenAILLM:
    return OpenAILLM(base_url=base_url, model="smollm2", timeout=300, max_retries=2)


async def test_negotiation_lands_on_json_object_with_schema_and_a_plan_parses(
    llamacpp_server: LlamaCppServer,
) -> None:
    offset = llamacpp_server.log_offset()
    llm = make_llm(llamacpp_server.base_url)
    try:
        raw = await llm.complete(CAPTION, json_schema=SCHEMA, max_tokens=120)
    finally:
        await llm.aclose()
    assert chat_statuses(llamacpp_server, offset) == [500, 200]  # json_schema refused, not retried
    assert llm.structured_output == "json_object"
    plan = parse_plan(raw, max_tasks=1)
    assert [t.task for t in plan.tasks] == ["image-to-text"] and "image" in plan.tasks[0].args
    assert llm.usage.requests == 1 and llm.usage.prompt_tokens > 0


async def test_the_step_down_is_remembered(llamacpp_server: LlamaCppServer) -> None:
    offset = llamacpp_server.log_offset()
    llm = make_llm(llamacpp_server.base_url)
    try:
        for _ in range(3):
            await llm.complete(CAPTION, json_schema=SCHEMA, max_tokens=60)
    finally:
        await llm.aclose()
    assert chat_statuses(llamacpp_server, offset) == [500, 200, 200, 200]


async def test_a_base_url_without_v1_gets_a_reply_naming_v1(llamacpp_server: LlamaCppServer) -> None:
    offset = llamacpp_server.log_offset()
    llm = make_llm(llamacpp_server.root_url)
    try:
        with pytest.raises(LLMUnavailable) as info:
            await llm.complete(CAPTION, json_schema=SCHEMA, max_tokens=60)
    finally:
        await llm.aclose()
    message = str(info.value)
    assert f"check that llm.base_url ends in /v1 (for example {llamacpp_server.root_url}/v1)" in message
    assert "Server said: Not Found" in message and "model" not in message.split("Server said")[0]
    assert [(r.path, r.status) for r in llamacpp_server.requests_since(offset)] == [
        ("/chat/completions", 404)
    ]


async def test_the_planning_prompt_prefix_is_reused_across_requests(
    llamacpp_server: LlamaCppServer, tmp_path: Path
) -> None:
    """Two different requests through the real planner: the second request's prompt is
    evaluated from where the static system message ends, not from its start."""
    llm = make_llm(llamacpp_server.base_url)
    planner = Planner("llm", n_demos=0, max_tasks=1)
    photo = Resource(kind="image", path=tmp_path / "cat.jpg", name="cat.jpg")
    try:
        await planner.plan(Request("Describe this picture", tmp_path, attachments=(photo,)), llm)
        offset = llamacpp_server.log_offset()
        before = llm.usage.prompt_tokens
        await planner.plan(Request("Say 'good morning' out loud", tmp_path), llm)
    finally:
        await llm.aclose()
    reused, evaluated = llamacpp_server.prompt_evaluations_since(offset)[0]
    system_tokens = len(plan_system()) // 5  # a conservative floor: English runs 3-4 characters a token
    assert reused >= system_tokens and evaluated < reused
    assert llm.usage.prompt_tokens - before >= reused + evaluated

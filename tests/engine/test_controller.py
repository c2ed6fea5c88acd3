"""The controller LLM as an expert: it gets the request's LLM through RunContext.llm."""

from __future__ import annotations

import pytest

from engine.errors import ExpertError
from engine.experts.base import RunContext
from engine.experts.controller import ControllerBackend
from engine.llm.base import ChatMessage
from engine.types import Resource, Task


class _EchoLLM:
    name = "echo"
    supports_json_schema = False

    def __init__(self) -> None:
        self.seen: list[list[ChatMessage]] = []

    async def complete(self, messages, **kwargs) -> str:
        self.seen.append(list(messages))
        return "  the summary  "

    async def aclose(self) -> None:
        return None


async def test_the_controller_answers_with_the_llm_of_the_run_context(tmp_path):
    backend = ControllerBackend("echo", offline=True)
    [card] = [c for c in backend.cards() if c.task == "summarization"]
    llm = _EchoLLM()
    task = Task(0, "summarization", {"text": "a long text"})
    ctx = RunContext(output_dir=tmp_path, request_text="summarise this", llm=llm)
    [out] = await backend.run(card, task, {"text": Resource(kind="text", text="a long text")}, ctx)
    assert out.text == "the summary"
    assert "summarise this" in llm.seen[0][0].content and llm.seen[0][1].content == "text: a long text"
    assert backend.offline and backend.own_cards and card.backend == "llm"


async def test_without_an_llm_the_controller_says_so(tmp_path):
    backend = ControllerBackend("echo")
    [card] = [c for c in backend.cards() if c.task == "summarization"]
    with pytest.raises(ExpertError, match="no controller LLM"):
        await backend.run(card, Task(0, "summarization", {}), {}, RunContext(output_dir=tmp_path))

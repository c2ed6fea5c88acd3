"""The planning prompt's layout: a system message that is the same for every request (a
server's prompt cache reuses it), and everything request-specific after it, the
candidate models of the request's likely task types only."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from engine.llm.base import ChatMessage
from engine.planner import Planner
from engine.prompts import CANDIDATES_HEADING
from engine.types import ModelCard, Plan, Request, Resource, Task, Turn

PLAN = json.dumps({"tasks": [{"task": "image-to-text", "id": 0, "dep": [-1], "args": {"image": "page.png"}}]})
DEMOS = [
    (
        "Read the sign in street.jpg out loud.",
        json.dumps([{"task": "image-to-text", "id": 0, "dep": [-1], "args": {"image": "street.jpg"}}]),
    ),
    ("Draw a cat.", json.dumps([{"task": "text-to-image", "id": 0, "dep": [-1], "args": {"text": "a cat"}}])),
]


class RecordingLLM:
    """A scripted controller that keeps the messages of every call."""

    name = "recording"
    supports_json_schema = True

    def __init__(self) -> None:
        self.calls: list[list[ChatMessage]] = []

    async def complete(self, messages: Sequence[ChatMessage], **kwargs: Any) -> str:
        self.calls.append(list(messages))
        return PLAN

    async def aclose(self) -> None:
        pass


class FixedPicker:
    def __init__(self, *tasks: str) -> None:
        self.tasks = tasks

    def propose(self, text: str, attachments: Any = ()) -> Plan | None:
        return Plan(tuple(Task(id=i, task=t, args={}) for i, t in enumerate(self.tasks)), source="picker")


def cards(*tasks: str) -> dict[str, list[ModelCard]]:
    return {
        t: [ModelCard(f"org/{t}-a", t, "local", 10), ModelCard(f"org/{t}-b", t, "builtin", 5)] for t in tasks
    }


MODELS = cards("image-to-text", "text-to-speech", "translation", "object-detection")


def page(tmp_path: Path, name: str = "page.png") -> Resource:
    return Resource(kind="image", path=tmp_path / name, name=name)


async def messages_for(planner: Planner, request: Request, models: Any = MODELS) -> list[ChatMessage]:
    llm = RecordingLLM()
    await planner.plan(request, llm, models=models)  # type: ignore[arg-type]
    return llm.calls[0]


async def test_the_system_message_is_the_same_for_every_request(tmp_path: Path) -> None:
    planner = Planner("llm", demos=lambda text, k: DEMOS[:k], n_demos=2)
    first = await messages_for(planner, Request("Read this aloud", tmp_path, attachments=(page(tmp_path),)))
    second = await messages_for(
        planner,
        Request(
            "Translate 'hola' and draw it",
            tmp_path,
            history=(Turn("user", "earlier"), Turn("assistant", "reply")),
        ),
        models=cards("translation"),
    )
    assert first[0].role == "system" and first[0].content == second[0].content
    for card in (c for cs in MODELS.values() for c in cs):
        assert card.id not in first[0].content


async def test_request_specific_parts_come_last(tmp_path: Path) -> None:
    planner = Planner(
        "llm", picker=FixedPicker("image-to-text", "text-to-speech"), demos=lambda t, k: DEMOS[:k], n_demos=2
    )
    messages = await messages_for(
        planner, Request("Read the text in this image aloud", tmp_path, attachments=(page(tmp_path),))
    )
    assert [m.role for m in messages] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert messages[1].content == DEMOS[0][0]
    last = messages[-1].content
    assert last.startswith(
        f"{CANDIDATES_HEADING}\n- image-to-text: org/image-to-text-a, org/image-to-text-b\n"
    )
    assert last.endswith(
        "\n\nRead the text in this image aloud\nResources (name | kind | turn | origin | text):\n"
        "- page.png | image | this message | sent by the user"
    )


async def test_only_the_likely_task_types_are_listed(tmp_path: Path) -> None:
    """The picker's task types and the nearest demo's: here image-to-text and text-to-speech
    from the picker, image-to-text again from the demo; never translation or detection."""
    planner = Planner(
        "llm", picker=FixedPicker("image-to-text", "text-to-speech"), demos=lambda t, k: DEMOS[:k], n_demos=2
    )
    last = (await messages_for(planner, Request("Read it aloud", tmp_path, attachments=(page(tmp_path),))))[
        -1
    ].content
    listed = [line.split(":")[0][2:] for line in last.split("\n\n")[0].splitlines()[1:]]
    assert listed == ["image-to-text", "text-to-speech"]


async def test_the_nearest_demo_alone_names_the_likely_types(tmp_path: Path) -> None:
    planner = Planner("llm", demos=lambda t, k: DEMOS[:k], n_demos=2)
    last = (await messages_for(planner, Request("Read it", tmp_path)))[-1].content
    assert "- image-to-text:" in last and "- text-to-speech:" not in last and "- translation:" not in last


async def test_without_picker_or_demos_every_choice_is_listed(tmp_path: Path) -> None:
    last = (await messages_for(Planner("llm", n_demos=0), Request("Read it", tmp_path)))[-1].content
    assert all(f"- {task}:" in last for task in MODELS)


async def test_no_choices_no_list(tmp_path: Path) -> None:
    planner = Planner("llm", picker=FixedPicker("translation"), n_demos=0)
    last = (await messages_for(planner, Request("hi", tmp_path), models={}))[-1].content
    assert last == "hi"


async def test_at_most_three_candidates_a_type_are_listed(tmp_path: Path) -> None:
    many = {"image-to-text": [ModelCard(f"org/m{i}", "image-to-text", "local", 10 - i) for i in range(5)]}
    planner = Planner("llm", picker=FixedPicker("image-to-text"), n_demos=0)
    llm = RecordingLLM()
    await planner.plan(Request("Caption it", tmp_path), llm, models=many)  # type: ignore[arg-type]
    assert llm.calls[0][-1].content.startswith(
        f"{CANDIDATES_HEADING}\n- image-to-text: org/m0, org/m1, org/m2\n\n"
    )

"""The LLM-free task picker and demo retriever, with the real MiniLM encoder."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.picker import DemoRetriever, Embedder, TaskPicker
from engine.picker.clauses import split_clauses
from engine.types import GENERATED_PREFIX, Plan, Resource

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return Embedder(threads=1)


@pytest.fixture(scope="module")
def picker(embedder: Embedder) -> TaskPicker:
    return TaskPicker(embedder)


def names(plan: Plan | None) -> list[str]:
    assert plan is not None
    return [t.task for t in plan.tasks]


def test_clauses_split_and_mask_literals() -> None:
    clauses = split_clauses(
        "Translate 'I'd like tea, then cake.' into French, then read it aloud. Also caption cat.png"
    )
    assert [c.text for c in clauses] == [
        "Translate the text into French",
        "then read it aloud.",
        "Also caption the image",
    ]
    assert clauses[0].quotes == ["I'd like tea, then cake."]
    assert clauses[2].files("image") == ["cat.png"]


def test_ocr_then_speech_with_attachment(picker: TaskPicker) -> None:
    page = Resource(kind="image", path=Path("/tmp/page.png"), name="page.png")
    plan = picker.propose("Read the text in this image aloud", [page])
    assert names(plan) == ["image-to-text", "text-to-speech"]
    assert plan is not None and plan.source == "picker"
    ocr, speech = plan.tasks
    assert ocr.args == {"image": "page.png"}
    assert speech.args == {"text": f"{GENERATED_PREFIX}{ocr.id}"} and speech.dep == (ocr.id,)


@pytest.mark.parametrize("text", ["Hi, how are you?", "thanks a lot!", "What is your name?"])
def test_chit_chat_needs_no_tool(picker: TaskPicker, text: str) -> None:
    assert picker.propose(text) is None


def test_generate_image(picker: TaskPicker) -> None:
    plan = picker.propose("Please draw a picture of a red fox sitting in the snow")
    assert names(plan) == ["text-to-image"]


def test_transcribe_audio_prefers_attachment_of_right_kind(picker: TaskPicker) -> None:
    files = [
        Resource(kind="image", path=Path("/tmp/a.png"), name="a.png"),
        Resource(kind="audio", path=Path("/tmp/memo.wav"), name="memo.wav"),
    ]
    plan = picker.propose("Can you transcribe this recording for me?", files)
    assert names(plan) == ["automatic-speech-recognition"]
    assert plan is not None and plan.tasks[0].args == {"audio": "memo.wav"}


def test_quoted_text_fills_text_argument(picker: TaskPicker) -> None:
    plan = picker.propose("Convert the following text into speech: 'Hello and welcome'")
    assert names(plan) == ["text-to-speech"]
    assert plan is not None and plan.tasks[0].args["text"] == "Hello and welcome"


def test_branching_request(picker: TaskPicker) -> None:
    plan = picker.propose(
        "I have an image example.jpg. Detect the objects in it and translate their labels into French, "
        "and also estimate the depth of the image."
    )
    assert sorted(names(plan)) == ["depth-estimation", "object-detection", "translation"]
    assert plan is not None
    by_name = {t.task: t for t in plan.tasks}
    assert by_name["translation"].dep == (by_name["object-detection"].id,)
    assert by_name["depth-estimation"].args == {"image": "example.jpg"}
    assert by_name["object-detection"].args == {"image": "example.jpg"}


def test_chain_with_referring_words(picker: TaskPicker) -> None:
    plan = picker.propose("Edit photo.jpg so the car is red, then detect the objects in the edited image.")
    assert names(plan) == ["image-editing", "object-detection"]
    assert plan is not None and plan.tasks[1].args["image"] == f"{GENERATED_PREFIX}0"


def test_spoken_result_as_modifier(picker: TaskPicker) -> None:
    plan = picker.propose("Describe cat.png with a spoken result")
    assert names(plan) == ["image-to-text", "text-to-speech"]


def test_demo_retriever_returns_k_relevant_demos(embedder: Embedder) -> None:
    retriever = DemoRetriever(embedder)
    assert len(retriever.demos) >= 25
    demos = retriever("Please transcribe the meeting recording call.wav", 3)
    assert len(demos) == 3
    request, plan_json = demos[0]
    assert "automatic-speech-recognition" in plan_json
    assert all(isinstance(r, str) and plan_json.startswith("[") for r, plan_json in demos)
    images = retriever.nearest("Create a picture of a castle on a hill", 2)
    assert any("text-to-image" in d.plan_json for d in images)

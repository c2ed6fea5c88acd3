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


# --- rules added for the planning evaluation (issue 6) ---------------------------------


def ref(i: int) -> str:
    return f"{GENERATED_PREFIX}{i}"


def test_text_description_of_image_is_captioning(picker: TaskPicker) -> None:
    plan = picker.propose("Please generate a text description of photo.png")
    assert names(plan) == ["image-to-text"]


def test_audio_file_as_output_needs_no_transcription(picker: TaskPicker) -> None:
    plan = picker.propose("Please generate an audio file with the following text: 'Good morning, team.'")
    assert names(plan) == ["text-to-speech"]


def test_step_without_input_is_dropped_so_plan_parses(picker: TaskPicker) -> None:
    import json

    from engine.plan_parser import parse_plan

    plan = picker.propose("Detect the objects in cat.jpg, then classify the audio based on its content.")
    assert plan is not None and "audio-classification" not in names(plan)
    parse_plan(json.dumps(plan.to_public()))


def test_spoken_instructions_are_transcribed_first(picker: TaskPicker) -> None:
    plan = picker.propose(
        "I have a recording memo.wav that describes how I want to change my photo cat.jpg. Please edit the photo."
    )
    assert names(plan) == ["automatic-speech-recognition", "image-editing"]
    assert plan is not None and plan.tasks[1].args == {"image": "cat.jpg", "text": ref(0)}


def test_spoken_question_feeds_visual_question(picker: TaskPicker) -> None:
    plan = picker.propose(
        "I have this audio file 'memo.wav' where I ask a question about what I see in the image 'room.jpg', "
        "could you please help me and answer my query?"
    )
    assert names(plan) == ["automatic-speech-recognition", "visual-question-answering"]
    assert plan is not None and plan.tasks[1].args["text"] == ref(0)


def test_answer_my_question_restates_an_earlier_question(picker: TaskPicker) -> None:
    plan = picker.propose(
        "I have an image a.jpg and a question about it: 'How many dogs are there?'. Please answer my question."
    )
    assert names(plan) == ["visual-question-answering"]


def test_unquoted_question_after_answer_this_question(picker: TaskPicker) -> None:
    plan = picker.propose(
        "I have an image street.jpg. Please answer this question: What objects are on the road?"
    )
    assert names(plan) == ["visual-question-answering"]


def test_visual_question_about_a_document_image(picker: TaskPicker) -> None:
    plan = picker.propose(
        "Answer the visual question 'What colour is the header of the document?' about form.png"
    )
    assert names(plan) == ["visual-question-answering"]


def test_edited_image_is_the_latest_version(picker: TaskPicker) -> None:
    plan = picker.propose("Enhance the audio in talk.wav, separate the speakers, and transcribe the speech.")
    assert names(plan) == ["audio-to-audio", "audio-to-audio", "automatic-speech-recognition"]
    assert plan is not None and [t.args["audio"] for t in plan.tasks] == ["talk.wav", ref(0), ref(1)]
    plan = picker.propose("Edit cat.jpg to make the sky red, then answer the question 'Is it night?'")
    assert plan is not None and plan.tasks[1].args["image"] == ref(0)


def test_edit_instruction_comes_from_its_own_clause(picker: TaskPicker) -> None:
    plan = picker.propose(
        "My question about car.jpg is 'What make is the car?'. Please change the car colour to blue in the image."
    )
    assert names(plan) == ["visual-question-answering", "image-editing"]
    assert plan is not None and not plan.tasks[1].dep


def test_text_named_after_an_image_step_is_not_its_output(picker: TaskPicker) -> None:
    plan = picker.propose(
        "Generate an image from 'a red barn', then segment the generated image, convert the segmented "
        "image to text, and finally calculate the similarity between my original text and the text obtained "
        "from the segmented image."
    )
    assert names(plan) == ["text-to-image", "image-segmentation", "image-to-text", "sentence-similarity"]
    assert plan is not None and ref(2) in plan.tasks[3].args.values()


def test_later_reference_means_the_modified_form(picker: TaskPicker) -> None:
    plan = picker.propose(
        "I need a conversational response to the message 'I love hiking' but in French. "
        "Then perform token classification on the response."
    )
    assert names(plan) == ["conversational", "translation", "token-classification"]
    assert plan is not None and plan.tasks[2].args["text"] == ref(1)


def test_similarity_to_visualized_content_reads_the_image_first(picker: TaskPicker) -> None:
    plan = picker.propose(
        "I would like to visualize the content of talk.wav. I also want to know how similar the visualized "
        "content is to the text 'A sunny beach'."
    )
    assert names(plan) == [
        "automatic-speech-recognition",
        "text-to-image",
        "image-to-text",
        "sentence-similarity",
    ]


def test_entity_list_is_not_summarised_unless_named(picker: TaskPicker) -> None:
    plan = picker.propose(
        "I have a text 'notes.txt' about a party. Please tell me the date, time, and place of the party, "
        "and provide a summary of the activities."
    )
    assert names(plan) == ["token-classification", "summarization"]
    assert plan is not None and plan.tasks[1].args["text"] == "notes.txt"


def test_nested_quote_ends_at_its_first_sentence() -> None:
    clauses = split_clauses(
        "Edit a.jpg as described: 'Make the car red. Then classify the edited image, and answer: 'What is it?''"
    )
    assert clauses[0].quotes == ["Make the car red."]
    assert [c.text for c in clauses[1:]] == ["Then classify the edited image", "answer: the question'"]


def test_second_deliverable_after_and_is_its_own_clause() -> None:
    clauses = split_clauses("I need a shorter version of the text and an image that represents the summary.")
    assert [c.text for c in clauses] == [
        "I need a shorter version of the text",
        "an image that represents the summary.",
    ]


def test_plain_image_after_depth_is_the_users_image(picker: TaskPicker) -> None:
    plan = picker.propose("Estimate the depth in room.jpg. Then, segment the image.")
    assert names(plan) == ["depth-estimation", "image-segmentation"]
    assert plan is not None and plan.tasks[1].args["image"] == "room.jpg"

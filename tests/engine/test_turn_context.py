"""Conversation state, reference resolution and the tool / no-tool decision, on their own."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.conversation import ConversationState
from engine.intent import decide
from engine.referents import resolve_scope
from engine.turn import TurnContext
from engine.types import Request, Resource, Turn


def _file(kind: str, name: str, origin: str | None = None) -> Resource:
    return Resource(kind=kind, path=Path(f"/data/{name}"), name=name, origin=origin)  # type: ignore[arg-type]


def _text(text: str, origin: str) -> Resource:
    return Resource(kind="text", text=text, origin=origin)


CAT = _file("image", "cat.png")
NOTE = _file("image", "note.png")
SPOKEN = _file("audio", "task1-0.wav", origin="text-to-speech")

# turn 1: a photo, classified; turn 2: a note read, translated and spoken
HISTORY = (
    Turn("user", "what is this?", (CAT,)),
    Turn("assistant", "It looks like: tabby cat", (_text("tabby cat", "image-classification"),)),
    Turn("user", "read this and say it in spanish", (NOTE,)),
    Turn(
        "assistant",
        "It says: ...",
        (_text("Dentist Tuesday", "image-to-text"), _text("Dentista martes", "translation"), SPOKEN),
    ),
)


def _context(text: str, history=HISTORY, attachments=()) -> TurnContext:
    return TurnContext.of(Request(text=text, artifact_dir=Path("/tmp/out"), history=history, attachments=attachments))


def test_state_names_every_resource_with_its_turn_and_origin():
    state = ConversationState.build(HISTORY, (_file("image", "cat.png"),))
    rows = [(e.name, e.kind, e.turn, e.origin) for e in state.entries]
    assert rows == [
        ("cat.png", "image", 1, None),
        ("t1-image-classification", "text", 1, "image-classification"),
        ("note.png", "image", 2, None),
        ("t2-image-to-text", "text", 2, "image-to-text"),
        ("t2-translation", "text", 2, "translation"),
        ("t2-text-to-speech.wav", "audio", 2, "text-to-speech"),
        ("cat-2.png", "image", 3, None),  # a second file of the same name gets a name of its own
    ]
    assert state.current == 3 and [e.name for e in state.attachments] == ["cat-2.png"]
    assert state.entries[4].row(3) == '- t2-translation | text | turn 2 | made by translation | "Dentista martes"'


def test_a_direct_answer_is_a_text_result_of_its_turn():
    history = (Turn("user", "write a haiku about space"), Turn("assistant", "Stars hum in the dark"))
    state = ConversationState.build(history)
    [entry] = state.entries
    assert (entry.name, entry.origin, entry.resource.text) == ("t1-reply", "reply", "Stars hum in the dark")


@pytest.mark.parametrize(
    "text",
    [
        "generate an image of a red fox in the snow",
        "cute! generate an image of a dog",
        "write me a haiku about space",
        "say 'see you tomorrow'",
        "what is the capital of france?",
    ],
)
def test_a_request_that_points_at_nothing_uses_no_earlier_resource(text):
    assert _context(text).scope.entries == ()


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("now say it out loud", "t2-translation"),
        ("read the spanish version aloud", "t2-translation"),
        ("what was the cat picture again, show me that photo", "cat.png"),
        ("show me that photo again", "note.png"),
        ("translate the transcript", None),  # nothing was transcribed
        ("play the audio again", "t2-text-to-speech.wav"),
        ("what does note.png say", "note.png"),
    ],
)
def test_words_that_point_back_find_the_newest_resource_they_mean(text, name):
    entries = _context(text).scope.referred
    assert [e.name for e in entries] == ([name] if name else [])


def test_the_attachment_is_what_this_means_and_again_repeats_the_last_request():
    photo = _file("image", "dog.png")
    context = _context("what's in this pic", attachments=(photo,))
    assert [e.name for e in context.scope.entries] == ["dog.png"]
    again = _context("do that again with this one", attachments=(photo,))
    assert again.planning_text == "read this and say it in spanish"
    assert again.decision.kind == "tool"


def test_new_words_for_the_last_request():
    history = (
        Turn("user", "whats the mood of this review: loved the food"),
        Turn("assistant", "Mood: positive", (_text("positive", "text-classification"),)),
    )
    context = _context("and this one: 'ugh my flight got cancelled again'", history=history)
    assert context.planning_text == "whats the mood of this review: ugh my flight got cancelled again"


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("hey", "chat"),
        ("lol thanks", "chat"),
        ("what is the capital of france?", "chat"),
        ("how do cameras take pictures?", "chat"),
        ("what language do they speak in brazil?", "chat"),
        ("write me a haiku about space", "chat"),
        ("can you make images?", "capability"),
        ("can u read text from photos", "capability"),
        ("what can you do", "capability"),
        ("generate an image of a red fox in the snow", "tool"),
        ("say 'see you tomorrow'", "tool"),
        ("translate good morning to spanish", "tool"),
        ("whats the mood of this review: the food was cold", "tool"),
        ("now say it out loud", "tool"),
        ("what did it say again?", "recall"),
    ],
)
def test_the_decision_follows_intent_not_topic(text, kind):
    assert _context(text).decision.kind == kind


def test_a_file_with_a_short_question_is_a_tool_request():
    assert _context("what does this say?", attachments=(NOTE,)).decision.kind == "tool"
    assert _context("can u read this", history=(), attachments=(NOTE,)).decision.kind == "tool"


def test_resolution_runs_without_history():
    scope = resolve_scope("read this aloud", ConversationState.build((), (NOTE,)))
    assert [e.name for e in scope.entries] == ["note.png"] and scope.referred == ()
    assert decide("read this aloud", scope).kind == "tool"

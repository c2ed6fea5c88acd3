"""Replies that state only what happened: capability answers, the results summary, claims
taken out of direct answers, and the plan checks."""

from __future__ import annotations

from pathlib import Path

from engine import messages as M
from engine.capabilities import Capability, answer_capability
from engine.claims import without_false_claims
from engine.plan_checks import checked, plan_for_files
from engine.summary import summary
from engine.turn import TurnContext
from engine.types import ModelCard, Plan, Request, Resource, Task, TaskResult, Turn

TABLE = [
    Capability("image-to-text", True, via="builtin/tesseract-ocr"),
    Capability("text-to-speech", True, via="builtin/espeak-ng"),
    Capability(
        "text-to-image",
        False,
        why_not="text-to-image cannot run here: it needs a GPU model or a Hugging Face token (HF_TOKEN)",
    ),
]


def test_capability_answers_say_what_runs_here_and_what_it_needs():
    no = answer_capability("can you make images?", TABLE)
    assert no.startswith("Not here yet.") and "HF_TOKEN" in no and "read text aloud" in no
    yes = answer_capability("can u read text from photos", TABLE)
    assert yes.startswith("Yes") and "read the text in images" in yes
    everything = answer_capability("what can you do", TABLE)
    assert "read text aloud" in everything and "make images from a description" in everything
    assert "Not set up here" in everything


def _result(task: str, status="ok", outputs=(), error=None, card="builtin/tesseract-ocr") -> TaskResult:
    return TaskResult(
        task=Task(id=0, task=task, args={}),
        status=status,  # type: ignore[arg-type]
        card=ModelCard(card, task, "builtin"),
        outputs=tuple(outputs),
        error=error,
    )


def test_the_summary_quotes_results_and_names_failures():
    text = summary(
        [
            _result("image-to-text", outputs=[Resource(kind="text", text="Dentist Tuesday 3pm")]),
            _result(
                "text-to-speech",
                outputs=[Resource(kind="audio", path=Path("/x/task1-0.wav"))],
                card="builtin/espeak-ng",
            ),
            _result("text-to-image", status="failed", error="needs HF_TOKEN", card="hub/sd"),
        ]
    )
    assert text.splitlines() == [
        "It says: “Dentist Tuesday 3pm”",
        "Here it is read aloud.",
        "I couldn't make the picture: needs HF_TOKEN",
    ]
    assert "Here is what I did" not in text


def test_claims_of_files_nobody_made_are_taken_out_of_a_direct_answer():
    answer = "Sure! I've converted your text to speech. Here is the audio file. Paris is the capital."
    assert without_false_claims(answer) == "Sure! Paris is the capital."
    assert without_false_claims("Here is what I did:\n- #0 text-to-speech: audio file") == M.NOTHING_MADE
    assert without_false_claims("Paris is the capital of France.") == "Paris is the capital of France."


def _context(text: str, history=(), attachments=()) -> TurnContext:
    return TurnContext.of(Request(text=text, artifact_dir=Path("/tmp"), history=history, attachments=attachments))


def test_speech_never_speaks_the_instruction():
    translated = Resource(kind="text", text="Dentista el martes", origin="translation")
    history = (Turn("user", "translate this"), Turn("assistant", "Translation: ...", (translated,)))
    context = _context("now say it out loud", history=history)
    plan = Plan((Task(0, "text-to-speech", {"text": "now say it out loud"}),))
    assert checked(plan, context).tasks[0].args["text"] == "t1-translation"
    said = checked(Plan((Task(0, "text-to-speech", {"text": "say good morning everyone"}),)), _context("say good morning everyone"))
    assert said.tasks[0].args["text"] == "good morning everyone"


def test_a_step_reading_its_own_output_is_dropped_with_what_needs_it():
    plan = Plan(
        (
            Task(0, "translation", {"text": "<GENERATED>-0"}, dep=(0,)),
            Task(1, "text-to-speech", {"text": "<GENERATED>-0"}, dep=(0,)),
            Task(2, "text-to-speech", {"text": "hello"}),
        )
    )
    assert [t.id for t in checked(plan, _context("x")).tasks] == [2]


def test_a_file_whose_words_name_no_task_gets_its_reading_task():
    note = Resource(kind="image", path=Path("/tmp/note.png"), name="note.png")
    audio = Resource(kind="audio", path=Path("/tmp/memo.wav"), name="memo.wav")
    context = _context("can u read this", attachments=(note, audio))
    plan = plan_for_files(context.scope.state.attachments, source="picker")
    assert [(t.task, dict(t.args)) for t in plan.tasks] == [
        ("image-to-text", {"image": "note.png"}),
        ("automatic-speech-recognition", {"audio": "memo.wav"}),
    ]

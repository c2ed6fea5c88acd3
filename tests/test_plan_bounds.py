"""parse_plan on hostile and sloppy answers: every failure is a quick PlanError (never a
RecursionError, a ValueError or a blow-up), self-references and arguments of the wrong
kind are refused with a message for the retry."""

from __future__ import annotations

import json
import random
import time

import pytest

from engine.errors import PlanError
from engine.json_repair import MAX_ANSWER_CHARS, NoJSON, load_json, nesting_depth
from engine.plan_parser import parse_plan


def task(tid: int, name: str, **args: object) -> dict[str, object]:
    return {"task": name, "id": tid, "dep": [-1], "args": args}


def error_of(raw: str | list, max_tasks: int = 8) -> str:
    text = raw if isinstance(raw, str) else json.dumps(raw)
    with pytest.raises(PlanError) as info:
        parse_plan(text, max_tasks=max_tasks)
    return str(info.value)


# --- self-references and kinds ----------------------------------------------------------


@pytest.mark.parametrize(
    "plan",
    [
        [task(0, "text-to-speech", text="<GENERATED>-0")],
        [task(0, "image-to-text", image="page.png"), task(1, "text-to-speech", text="<GENERATED>-1")],
        [task(0, "text-to-speech", text="Read <GENERATED>-0 aloud")],  # inside other text
        [task(0, "image-to-text", image="<GENERATED>-0")],
        [task(3, "text-to-speech", text="<GENERATED-3>")],  # a tag variant
    ],
    ids=["alone", "second", "embedded", "media", "variant"],
)
def test_a_task_using_its_own_output_is_refused(plan: list) -> None:
    assert "refers to its own output" in error_of(plan)


def test_a_file_name_as_text_is_refused_with_the_fix() -> None:
    message = error_of(
        [task(0, "image-to-text", image="page.png"), task(1, "text-to-speech", text="page.png")]
    )
    assert 'argument "text" is the file name "page.png"' in message
    assert "<GENERATED>-N" in message and "image-to-text" in message


@pytest.mark.parametrize("value", ["photo.jpg", "/tmp/uploads/voice.WAV", "clip.mp4", ["a.png"]])
def test_any_media_file_name_is_not_text(value: object) -> None:
    assert "is the file name" in error_of([task(0, "summarization", text=value)])


@pytest.mark.parametrize(
    "text",
    ["What is in photo.jpg?", "notes.txt", "version 2.5", "a.png and b.png", "Read <GENERATED>-0 aloud"],
)
def test_text_that_mentions_a_file_is_still_text(text: str) -> None:
    plan = parse_plan(
        json.dumps([task(0, "image-to-text", image="a.png"), task(1, "text-to-speech", text=text)])
    )
    assert plan.tasks[-1].args["text"] == text


def test_a_media_argument_naming_a_file_of_another_kind_is_refused() -> None:
    message = error_of([task(0, "image-to-text", image="song.mp3")])
    assert '"song.mp3", a file of kind audio; it needs image' in message


def test_a_reference_to_a_task_that_makes_no_such_kind_is_refused() -> None:
    message = error_of(
        [task(0, "text-to-speech", text="hi"), task(1, "image-to-text", image="<GENERATED>-0")]
    )
    assert "needs image" in message and "produces only audio" in message


# --- bounds ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ("[" * 1000 + "]" * 1000, "1000 levels deep"),
        ("Here is the plan: " + '[{"task": ' * 600, "levels deep"),
        (json.dumps("[" * 1000 + "]" * 1000), "1000 levels deep"),  # a plan encoded twice
        ("{'a': " * 150 + "1" + "}" * 150, "150 levels deep"),  # Python literal
        ("x" * (MAX_ANSWER_CHARS + 1), "characters long"),
    ],
    ids=["brackets", "prose", "quoted", "python", "size"],
)
def test_deep_or_huge_answers_are_refused_before_decoding(raw: str, words: str) -> None:
    assert words in error_of(raw)


def test_a_deep_value_inside_strings_does_not_count() -> None:
    assert nesting_depth('[{"text": "[[[[[[[[[[[[[[[[[[[[[[[[[["}]') == 2
    assert load_json('[{"text": "[[[[[[[[[[[[[[[[[[[[[[[[["}]') == [{"text": "[" * 25}]


def test_a_python_literal_nested_past_the_limit_is_refused_after_decoding() -> None:
    """Single-quoted strings hide brackets from the JSON scan; the decoded value is checked too."""
    raw = "[{'a': " + "{'b': " * 20 + "1" + "}" * 20 + "}]"
    with pytest.raises(NoJSON, match="nests"):
        load_json(raw, max_depth=8)


def test_the_product_of_multi_resource_arguments_is_counted_not_built() -> None:
    images = [f"i{n}.png" for n in range(1500)]
    audio = [f"a{n}.wav" for n in range(1500)]
    started = time.process_time()
    message = error_of([task(0, "image-to-video", image=images, audio=audio)])
    assert "2250000 tasks; at most 8" in message
    assert time.process_time() - started < 2.0  # building 2.25 million tasks takes far longer


def test_too_many_tasks_are_refused_before_reading_them() -> None:
    plan = [task(i, "image-to-text", image="a.png") for i in range(9)]
    assert "9 tasks; at most 8" in error_of(plan)


@pytest.mark.parametrize(
    "raw",
    [
        '[{"task": "image-to-text", "id": ' + "9" * 5000 + ', "args": {"image": "a.png"}}]',
        '[{"task": "image-to-text", "id": "' + "9" * 5000 + '", "args": {"image": "a.png"}}]',
        '[{"task": "text-to-speech", "id": 0, "args": {"text": "<GENERATED>-' + "9" * 5000 + '"}}]',
        '[{"task": "text-to-speech", "id": 0, "args": {"text": ' + "9" * 5000 + "}}]",
        '[{"task": "text-to-speech", "id": 1e400, "args": {"text": "hi"}}]',
    ],
    ids=["int-id", "str-id", "tag", "int-arg", "inf-id"],
)
def test_numbers_too_long_for_an_int_are_plan_errors(raw: str) -> None:
    error_of(raw)


def test_a_retry_message_lists_a_bounded_number_of_problems() -> None:
    plan = [task(i, "no-such-task") for i in range(10)]
    message = error_of(plan, max_tasks=32)
    assert message.count("unknown task type") == 8 and "and 2 more problems" in message


# --- fuzz: only PlanError, whatever the answer ----------------------------------------------


def _mutations(seed: int, count: int) -> list[str]:
    base = json.dumps(
        [
            task(0, "image-to-text", image="page.png"),
            task(1, "text-to-speech", text="<GENERATED>-0"),
            task(2, "image-to-video", image=["a.png", "<GENERATED>-0"], audio="<GENERATED>-1"),
        ]
    )
    alphabet = "[]{}\",:0123456789-<>GENERATED \\'ntrue"
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        chars = list(base)
        for _ in range(rng.randint(1, 12)):
            op = rng.random()
            at = rng.randrange(len(chars))
            if op < 0.4:
                chars[at] = rng.choice(alphabet)
            elif op < 0.7:
                chars.insert(at, rng.choice(alphabet) * rng.choice((1, 1, 2, 40)))
            else:
                del chars[at]
        out.append("".join(chars))
    return out


def test_mutated_answers_parse_or_raise_plan_error_only() -> None:
    for raw in _mutations(seed=7, count=1500):
        try:
            parse_plan(raw, max_tasks=8)
        except PlanError:
            pass

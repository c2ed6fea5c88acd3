"""parse_plan: the reference's own demo answers, repairs, and refusals with useful messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.errors import PlanError
from engine.plan_parser import parse_plan
from engine.plan_schema import plan_json_schema
from engine.task_aliases import TASK_ALIASES, canonical_task_name
from engine.tasks import TASK_SPECS
from engine.types import Plan

DEMOS = json.loads((Path(__file__).parent / "fixtures" / "demo_parse_task.json").read_text())
ANSWERS = [m["content"] for m in DEMOS if m["role"] == "assistant"]


def shape(plan: Plan) -> list[tuple[int, str, dict[str, str], tuple[int, ...]]]:
    return [(t.id, t.task, dict(t.args), t.dep) for t in plan.tasks]


def assert_valid(plan: Plan) -> None:
    """What every parsed plan promises: known tasks, string args, deps from references, topo order."""
    seen: set[int] = set()
    for task in plan.tasks:
        spec = TASK_SPECS[task.task]
        assert all(isinstance(v, str) for v in task.args.values())
        assert set(task.args) <= {a.name for a in spec.inputs}
        assert set(task.references()) <= set(task.dep)
        assert set(task.dep) <= seen, f"task {task.id} comes before its producers"
        seen.add(task.id)


# --- the reference's demos ---------------------------------------------------------


def test_fixture_has_six_answers() -> None:
    assert len(ANSWERS) == 6


@pytest.mark.parametrize("answer", ANSWERS, ids=[f"demo{i}" for i in range(6)])
def test_every_demo_answer_parses(answer: str) -> None:
    assert_valid(parse_plan(answer))


def test_demo_with_extra_braces() -> None:
    plan = parse_plan(ANSWERS[0])
    assert [t.id for t in plan.tasks] == list(range(9))
    deps = {t.id: t.dep for t in plan.tasks}
    assert deps == {0: (), 1: (), 2: (1,), 3: (), 4: (), 5: (4,), 6: (), 7: (), 8: (7,)}
    assert plan.tasks[2].args == {"image": "<GENERATED>-1", "text": "How many sheep in the picture"}


def test_demo_with_malformed_tag() -> None:
    plan = parse_plan(ANSWERS[1])
    by_id = {t.id: t for t in plan.tasks}
    assert by_id[3].args == {"text": "<GENERATED>-0"} and by_id[3].dep == (0,)
    assert by_id[5].args == {"text": "<GENERATED>-0"} and by_id[5].dep == (0,)
    assert by_id[4].task == "image-to-image" and by_id[4].dep == ()
    assert by_id[2].dep == (1,)


def test_demo_without_list_brackets() -> None:
    assert shape(parse_plan(ANSWERS[2])) == [
        (
            0,
            "document-question-answering",
            {"image": "/images/e.jpeg", "text": "what is the student amount?"},
            (),
        ),
        (
            1,
            "visual-question-answering",
            {"image": "/images/e.jpeg", "text": "what is the student amount?"},
            (),
        ),
        (2, "image-to-text", {"image": "/images/e.jpg"}, ()),
        (3, "text-to-speech", {"text": "<GENERATED>-2"}, (2,)),
    ]


def test_demo_controlnet_tasks_map_to_known_types() -> None:
    assert shape(parse_plan(ANSWERS[3])) == [
        (0, "pose-estimation", {"image": "/example.jpg"}, ()),
        (1, "image-to-image", {"text": "a girl is reading a book", "image": "<GENERATED>-0"}, (0,)),
    ]


def test_demo_independent_tasks_are_all_roots() -> None:
    assert [t.dep for t in parse_plan(ANSWERS[4]).tasks] == [(), (), ()]
    assert [t.task for t in parse_plan(ANSWERS[5]).tasks] == ["conversational", "text-to-image"]


# --- repairs -----------------------------------------------------------------------

CHAIN = '[{"task": "image-to-text", "id": 0, "dep": [-1], "args": {"image": "a.jpg"}}, {"task": "text-to-speech", "id": 1, "dep": [0], "args": {"text": "<GENERATED>-0"}}]'
CHAIN_SHAPE = [
    (0, "image-to-text", {"image": "a.jpg"}, ()),
    (1, "text-to-speech", {"text": "<GENERATED>-0"}, (0,)),
]


@pytest.mark.parametrize(
    "raw",
    [
        CHAIN,
        f"```json\n{CHAIN}\n```",
        f"```\n{CHAIN}",
        f"Sure! Here is the plan:\n{CHAIN}\nLet me know if you need anything else.",
        CHAIN[:-1],  # missing ]
        CHAIN[:-3],  # missing }}]
        CHAIN.replace("}}, {", "}}}}, {"),  # extra }}
        CHAIN.replace('"a.jpg"}}', '"a.jpg"}').replace("}}]", "}]"),  # missing } twice, ] kept
        json.dumps({"tasks": json.loads(CHAIN)}),
        CHAIN.replace('"', "'"),
        CHAIN.replace("}}]", "}},]"),  # trailing comma
        json.dumps(CHAIN),  # JSON-encoded twice
        CHAIN.replace("<GENERATED>-0", "<GENERATED-0>"),
        CHAIN.replace("<GENERATED>-0", "<generated>_0"),
        CHAIN.replace("<GENERATED>-0", "<node-0>"),
        CHAIN.replace('"id": 1', '"id": "1"').replace('"dep": [0]', '"dep": 0'),
    ],
    ids=[
        "clean",
        "fence",
        "open-fence",
        "prose",
        "no-close-bracket",
        "no-close-braces",
        "extra-braces",
        "inner-missing-brace",
        "tasks-wrapper",
        "single-quotes",
        "trailing-comma",
        "double-encoded",
        "tag-generated-n",
        "tag-lower-underscore",
        "tag-node",
        "string-id",
    ],
)
def test_repairs(raw: str) -> None:
    assert shape(parse_plan(raw)) == CHAIN_SHAPE


def test_bare_object_becomes_one_task() -> None:
    plan = parse_plan('{"task": "text-to-image", "id": 0, "dep": [-1], "args": {"text": "a cat"}}')
    assert shape(plan) == [(0, "text-to-image", {"text": "a cat"}, ())]


@pytest.mark.parametrize("raw", ["[]", "```json\n[]\n```", '{"tasks": []}', "Nothing to do: []"])
def test_empty_list_gives_empty_plan(raw: str) -> None:
    assert parse_plan(raw).tasks == ()


def test_task_aliases_and_title_case() -> None:
    raw = json.dumps(
        [
            {"task": "Image-to-Text", "id": 0, "dep": [-1], "args": {"image": "a.jpg"}},
            {"task": "tts", "id": 1, "dep": [0], "args": {"text": "<GENERATED>-0"}},
            {"task": "speech-to-text", "id": 2, "dep": [1], "args": {"audio": "<GENERATED>-1"}},
            {"task": "image-captioning", "id": 3, "dep": [-1], "args": {"image": "b.jpg"}},
            {
                "task": "Visual Question Answering",
                "id": 4,
                "dep": [-1],
                "args": {"image": "b.jpg", "text": "why?"},
            },
        ]
    )
    assert [t.task for t in parse_plan(raw).tasks] == [
        "image-to-text",
        "text-to-speech",
        "automatic-speech-recognition",
        "image-to-text",
        "visual-question-answering",
    ]


def test_alias_table_targets_known_tasks() -> None:
    assert set(TASK_ALIASES.values()) <= set(TASK_SPECS)
    assert canonical_task_name(" Automatic Speech Recognition ") == "automatic-speech-recognition"
    assert canonical_task_name("image_to_text") == "image-to-text"
    assert canonical_task_name("make-coffee") is None


def test_arg_names_are_mapped_dropped_and_stringified() -> None:
    raw = json.dumps(
        [
            {
                "task": "visual-question-answering",
                "id": 0,
                "dep": [-1],
                "args": {"img": "a.jpg", "question": "what colour?", "temperature": 0.5},
            },
            {
                "task": "document-question-answering",
                "id": 1,
                "dep": [-1],
                "args": {"document": "d.png", "query": "total?"},
            },
            {"task": "sentence-similarity", "id": 2, "dep": [-1], "args": {"text1": "a", "text2": "b"}},
            {"task": "translation", "id": 3, "dep": [-1], "args": {"text": 42, "language": "fr"}},
        ]
    )
    assert [dict(t.args) for t in parse_plan(raw).tasks] == [
        {"image": "a.jpg", "text": "what colour?"},
        {"image": "d.png", "text": "total?"},
        {"text": "a", "text2": "b"},
        {"text": "42"},
    ]


def test_declared_dep_fills_a_missing_required_argument() -> None:
    raw = json.dumps(
        [
            {"task": "text-to-image", "id": 0, "dep": [-1], "args": {"text": "a cat"}},
            {"task": "image-classification", "id": 1, "dep": [0], "args": {}},
        ]
    )
    assert shape(parse_plan(raw))[1] == (1, "image-classification", {"image": "<GENERATED>-0"}, (0,))


def test_dep_is_recomputed_from_references() -> None:
    raw = json.dumps(
        [
            {"task": "text-to-image", "id": 0, "dep": [5, 7], "args": {"text": "a cat"}},
            {"task": "image-to-text", "id": 1, "dep": [-1], "args": {"image": "<GENERATED>-0"}},
        ]
    )
    assert [t.dep for t in parse_plan(raw).tasks] == [(), (0,)]


def test_tasks_come_out_in_topological_order() -> None:
    raw = json.dumps(
        [
            {"task": "text-to-speech", "id": 2, "dep": [1], "args": {"text": "<GENERATED>-1"}},
            {"task": "image-to-text", "id": 1, "dep": [0], "args": {"image": "<GENERATED>-0"}},
            {"task": "text-to-image", "id": 0, "dep": [-1], "args": {"text": "a cat"}},
            {"task": "summarization", "id": 3, "dep": [-1], "args": {"text": "long text"}},
        ]
    )
    plan = parse_plan(raw)
    assert_valid(plan)
    assert [t.id for t in plan.tasks] == [0, 1, 2, 3]


def test_text_with_embedded_reference_keeps_text_and_dep() -> None:
    raw = json.dumps(
        [
            {"task": "image-to-text", "id": 0, "dep": [-1], "args": {"image": "a.jpg"}},
            {
                "task": "text-generation",
                "id": 1,
                "dep": [0],
                "args": {"text": "write a poem about <GENERATED-0>"},
            },
            {
                "task": "image-classification",
                "id": 2,
                "dep": [-1],
                "args": {"image": "the picture <GENERATED>-3"},
            },
            {"task": "text-to-image", "id": 3, "dep": [-1], "args": {"text": "a dog"}},
        ]
    )
    by_id = {t.id: t for t in parse_plan(raw).tasks}
    assert by_id[1].args == {"text": "write a poem about <GENERATED>-0"} and by_id[1].dep == (0,)
    assert by_id[2].args == {"image": "<GENERATED>-3"} and by_id[2].dep == (3,)


def test_taskbench_nodes_with_positional_arguments() -> None:
    raw = json.dumps(
        {
            "task_nodes": [
                {"task": "Text-to-Image", "arguments": ["a red car"]},
                {"task": "Image Classification", "arguments": ["<node-0>"]},
            ]
        }
    )
    assert shape(parse_plan(raw)) == [
        (0, "text-to-image", {"text": "a red car"}, ()),
        (1, "image-classification", {"image": "<GENERATED>-0"}, (0,)),
    ]


# --- splitting ---------------------------------------------------------------------


def test_argument_naming_several_resources_is_split() -> None:
    raw = json.dumps(
        [
            {"task": "text-to-image", "id": 0, "dep": [-1], "args": {"text": "a cat"}},
            {"task": "text-to-image", "id": 1, "dep": [-1], "args": {"text": "a dog"}},
            {
                "task": "image-classification",
                "id": 2,
                "dep": [0, 1],
                "args": {"image": "<GENERATED>-0, <GENERATED>-1"},
            },
            {"task": "image-to-text", "id": 3, "dep": [2], "args": {"image": "x.png"}},
        ]
    )
    assert shape(parse_plan(raw)) == [
        (0, "text-to-image", {"text": "a cat"}, ()),
        (1, "text-to-image", {"text": "a dog"}, ()),
        (2, "image-classification", {"image": "<GENERATED>-0"}, (0,)),
        (4, "image-classification", {"image": "<GENERATED>-1"}, (1,)),
        (3, "image-to-text", {"image": "x.png"}, ()),
    ]


def test_list_of_files_is_split_and_ids_stay_unique() -> None:
    raw = json.dumps(
        [
            {
                "task": "object-detection",
                "id": 0,
                "dep": [-1],
                "args": {"image": ["e1.jpg", "e2.png", "e3.jpg"]},
            },
            {"task": "image-to-text", "id": 1, "dep": [0], "args": {"image": "<GENERATED>-0"}},
        ]
    )
    plan = parse_plan(raw)
    assert_valid(plan)
    assert shape(plan) == [
        (0, "object-detection", {"image": "e1.jpg"}, ()),
        (2, "object-detection", {"image": "e2.png"}, ()),
        (3, "object-detection", {"image": "e3.jpg"}, ()),
        (1, "image-to-text", {"image": "<GENERATED>-0"}, (0,)),
    ]


def test_split_respects_max_tasks() -> None:
    raw = json.dumps([{"task": "image-to-text", "id": 0, "dep": [-1], "args": {"image": ["a", "b", "c"]}}])
    with pytest.raises(PlanError, match="3 tasks; at most 2"):
        parse_plan(raw, max_tasks=2)


# --- refusals ----------------------------------------------------------------------


def error_of(raw: str) -> str:
    with pytest.raises(PlanError) as info:
        parse_plan(raw)
    message = str(info.value)
    assert '"<GENERATED>-N"' in message and '"task": "image-to-text"' in message  # shows the shape
    return message


def test_cycle_is_rejected_with_the_ids() -> None:
    message = error_of(
        json.dumps(
            [
                {"task": "image-to-text", "id": 0, "dep": [1], "args": {"image": "<GENERATED>-1"}},
                {"task": "text-to-image", "id": 1, "dep": [0], "args": {"text": "<GENERATED>-0"}},
            ]
        )
    )
    assert "0 -> 1 -> 0" in message and "cycle" in message


def test_self_reference_is_rejected() -> None:
    message = error_of(
        json.dumps(
            [
                {"task": "image-to-image", "id": 0, "dep": [0], "args": {"image": "<GENERATED>-0"}},
            ]
        )
    )
    assert "task 0 (image-to-image)" in message and "its own output" in message


def test_unknown_task_lists_known_types() -> None:
    message = error_of('[{"task": "make-coffee", "id": 0, "dep": [-1], "args": {"text": "espresso"}}]')
    assert 'unknown task type "make-coffee"' in message and "text-to-speech" in message


def test_reference_to_missing_task() -> None:
    message = error_of('[{"task": "image-to-text", "id": 0, "dep": [3], "args": {"image": "<GENERATED>-3"}}]')
    assert "<GENERATED>-3" in message and "no task has id 3" in message


def test_kind_mismatch_names_both_tasks() -> None:
    message = error_of(
        json.dumps(
            [
                {"task": "summarization", "id": 0, "dep": [-1], "args": {"text": "long text"}},
                {"task": "image-classification", "id": 1, "dep": [0], "args": {"image": "<GENERATED>-0"}},
            ]
        )
    )
    assert 'argument "image" needs image' in message
    assert "task 0 (summarization), which produces only text" in message


def test_missing_required_argument_lists_expected_args() -> None:
    message = error_of(
        '[{"task": "visual-question-answering", "id": 0, "dep": [-1], "args": {"image": "a.jpg"}}]'
    )
    assert 'missing required argument "text"' in message and '"image" (image)' in message


def test_duplicate_ids() -> None:
    message = error_of(
        json.dumps(
            [
                {"task": "text-to-image", "id": 0, "dep": [-1], "args": {"text": "a"}},
                {"task": "text-to-image", "id": 0, "dep": [-1], "args": {"text": "b"}},
            ]
        )
    )
    assert "several tasks have id 0" in message


def test_non_string_argument_value() -> None:
    message = error_of('[{"task": "text-to-image", "id": 0, "dep": [-1], "args": {"text": {"a": 1}}}]')
    assert 'argument "text"' in message and "must be strings" in message


def test_several_problems_are_reported_together() -> None:
    message = error_of(
        json.dumps(
            [
                {"task": "make-coffee", "id": 0, "dep": [-1], "args": {}},
                {"task": "text-to-image", "id": -2, "dep": [-1], "args": {"text": "a"}},
            ]
        )
    )
    assert "make-coffee" in message and '"id": -2' in message


@pytest.mark.parametrize("raw", ["", "I cannot help with that.", '"just a string"', "[1, 2]", "{{{"])
def test_no_plan_in_answer(raw: str) -> None:
    error_of(raw)


def test_too_many_tasks() -> None:
    raw = json.dumps(
        [{"task": "text-to-image", "id": i, "dep": [-1], "args": {"text": "x"}} for i in range(5)]
    )
    with pytest.raises(PlanError, match="5 tasks; at most 4"):
        parse_plan(raw, max_tasks=4)


# --- schema ------------------------------------------------------------------------


def test_plan_json_schema() -> None:
    schema = plan_json_schema(["image-to-text", "image-to-image"], 8)
    assert schema["type"] == "array" and schema["maxItems"] == 8
    caption, transform = schema["items"]["anyOf"]  # one alternative per task type
    assert caption["properties"]["task"]["enum"] == ["image-to-text"]
    assert caption["properties"]["id"]["type"] == "integer"
    assert caption["properties"]["dep"] == {"type": "array", "items": {"type": "integer"}, "maxItems": 8}
    assert caption["properties"]["args"] == {
        "type": "object",
        "properties": {"image": {"type": "string"}},
        "required": ["image"],
        "additionalProperties": False,
    }
    assert transform["properties"]["args"]["required"] == ["image"]  # its text is optional
    assert set(transform["properties"]["args"]["properties"]) == {"image", "text"}
    assert set(caption["required"]) == {"task", "id", "dep", "args"} and "model" not in caption["properties"]
    single = plan_json_schema(["text-to-speech"], 2, models={"text-to-speech": ["a/tts", "b/tts"]})["items"]
    assert single["properties"]["task"]["enum"] == ["text-to-speech"]
    assert single["properties"]["model"] == {"type": "string", "enum": ["a/tts", "b/tts"]}
    assert "model" in single["required"]  # a listed choice is made in the planning call
    json.dumps(schema)  # serialisable as sent in response_format


def test_kindless_arg_names_fill_the_free_argument() -> None:
    raw = json.dumps(
        [
            {"task": "image-classification", "id": 0, "dep": [-1], "args": {"input": "a.jpg"}},
            {
                "task": "image-to-image",
                "id": 1,
                "dep": [-1],
                "args": {"image": "a.jpg", "input": "make it blue"},
            },
        ]
    )
    assert [dict(t.args) for t in parse_plan(raw).tasks] == [
        {"image": "a.jpg"},
        {"image": "a.jpg", "text": "make it blue"},
    ]


def test_null_args_reports_the_missing_argument() -> None:
    message = error_of('[{"task": "text-to-speech", "id": 0, "dep": [-1], "args": null}]')
    assert 'missing required argument "text"' in message


def test_normalised_tag_keeps_the_space_after_it():
    from engine.references import normalise_tags

    assert normalise_tags("a song about <GENERATED>-0 and a poem") == "a song about <GENERATED>-0 and a poem"
    assert normalise_tags("<GENERATED-1> then") == "<GENERATED>-1 then"

"""Scoring math of engine.evaluation on hand-made gold/prediction pairs."""

from __future__ import annotations

import json

import pytest

from engine.evaluation import edges_of, evaluate, nodes_of, score, task_name
from engine.types import Plan, Task


def row(nodes: list[str], links: list[tuple[object, object]] = ()) -> dict:  # type: ignore[assignment]
    return {
        "id": "x",
        "user_request": "r",
        "task_nodes": [{"task": n, "arguments": {}} for n in nodes],
        "task_links": [{"source": s, "target": t} for s, t in links],
    }


def test_title_case_names_map_to_pipeline_tags() -> None:
    assert task_name("Image-to-Text") == "image-to-text"
    assert task_name("Image Editing") == "image-editing"
    assert task_name("Automatic Speech Recognition") == "automatic-speech-recognition"
    assert task_name("Visual Question Answering") == "visual-question-answering"
    assert task_name("made-up task") == "made-up-task"  # unknown names stay (and score as wrong)


def test_links_by_index_and_by_name_agree() -> None:
    by_index = row(["Image-to-Text", "Text-to-Speech"], [(0, 1)])
    by_name = row(["image-to-text", "text-to-speech"], [("Image-to-Text", "Text-to-Speech")])
    assert edges_of(by_index) == edges_of(by_name) == [("image-to-text", "text-to-speech")]
    assert nodes_of(by_index) == nodes_of(by_name)


def test_micro_averaged_node_and_edge_f1() -> None:
    gold = [row(["a-b", "c-d"], [(0, 1)]), row(["text-to-image"])]
    pred = [row(["a-b", "x-y"], [(0, 1)]), row(["text-to-image", "text-to-image"])]
    report = score(gold, pred)
    # nodes: hits 1 + 1 = 2, predicted 4, gold 3 -> P 0.5, R 2/3
    assert report.node.hits == 2 and report.node.predicted == 4 and report.node.gold == 3
    assert report.node.f1 == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))
    # edges: (a-b, x-y) vs (a-b, c-d): no hit
    assert report.edge.hits == 0 and report.edge.f1 == 0.0
    assert report.exact == 0  # neither request has the exact task multiset


def test_multiset_counts_repeated_tasks() -> None:
    gold = [row(["audio-to-audio", "audio-to-audio", "automatic-speech-recognition"], [(0, 1), (1, 2)])]
    pred = [row(["Audio-to-Audio", "Automatic Speech Recognition"], [(0, 1)])]
    report = score(gold, pred)
    assert (report.node.hits, report.node.predicted, report.node.gold) == (2, 2, 3)
    assert (report.edge.hits, report.edge.predicted, report.edge.gold) == (
        1,
        1,
        2,
    )  # (a2a, asr) matches one gold link


def test_unparsed_counts_as_empty_and_not_parsed() -> None:
    report = score([row(["summarization"]), row(["translation"])], [row(["summarization"]), None])
    assert report.parsed == 1 and report.parsed_share == 0.5
    assert report.node.precision == 1.0 and report.node.recall == 0.5


async def test_evaluate_writes_predictions_in_gold_format(tmp_path) -> None:  # type: ignore[no-untyped-def]
    gold = [
        {**row(["image-to-text", "text-to-speech"], [(0, 1)]), "id": "1", "user_request": "read it aloud"},
        {**row(["summarization"]), "id": "2", "user_request": "boom"},
        {**row(["translation"]), "id": "3", "user_request": "nothing"},
    ]

    async def plan_fn(text: str) -> Plan | None:
        if text == "boom":
            raise RuntimeError("planner crashed")
        if text == "nothing":
            return None
        return Plan(
            (
                Task(0, "image-to-text", {"image": "a.png"}),
                Task(1, "text-to-speech", {"text": "<GENERATED>-0"}, (0,)),
            )
        )

    out = tmp_path / "pred.jsonl"
    report = await evaluate(plan_fn, gold, out)
    assert report.parsed == 1
    assert report.node.hits == 2 and report.node.gold == 4 and report.edge.hits == 1
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["1", "2", "3"]
    assert rows[0]["task_links"] == [{"source": 0, "target": 1}]
    assert rows[1]["task_nodes"] == []
    data = report.to_dict()
    assert data["parsed"] == pytest.approx(1 / 3, abs=1e-3) and "ms_per_plan" in data
    assert "node F1" in report.summary()

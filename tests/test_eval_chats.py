"""``eval chats``: scoring of turns, and a real run of the command on a small set."""

from __future__ import annotations

import json

from bot.chat_sets.scoring import TurnRecord, report
from bot.cli import main

EXPECT_READ = {"tools": True, "tasks": [["image-to-text"]], "reads": ["note.png"], "facts": [["dentist"]], "media": []}


def test_a_turn_scores_each_column_it_concerns():
    right = TurnRecord("c", 0, "en", "tool", "can u read this", EXPECT_READ, tools=True,
                       tasks=["image-to-text"], reads=["note.png"], reply="It says: “Dentist Tuesday”")
    assert right.scores() == {"decision": True, "task_set": True, "files": True, "facts": True,
                              "media": None, "language": None}
    stale = TurnRecord("c", 1, "en", "switch", "generate an image of a dog",
                       {"tools": True, "tasks": [["text-to-image"]], "reads": [], "facts": [], "media": []},
                       tools=True, tasks=["image-to-text", "text-to-image"], reads=["@0.image"])
    assert stale.scores()["files"] is False and stale.scores()["task_set"] is False
    crashed = TurnRecord("c", 2, "en", "tool", "x", EXPECT_READ, error="RuntimeError: boom")
    assert crashed.scores()["decision"] is False  # a crash is a miss, not left out
    summary = report([right, stale, crashed])
    assert summary["decision"] == {"share": 0.6667, "right": 2, "of": 3}
    assert summary["files"]["of"] == 3


def test_chinese_facts_match_without_the_spaces_ocr_puts_between_characters():
    record = TurnRecord("c", 0, "zh", "tool", "读一下", {**EXPECT_READ, "facts": [["牙医"]]},
                        tools=True, tasks=["image-to-text"], reads=["note.png"], reply="它写着：“牙 医 星期二”")
    assert record.scores()["facts"] is True


def test_eval_chats_runs_conversations_through_the_bot(tmp_path, capsys, monkeypatch):
    rows = [
        {"id": "en-dev-901", "lang": "en", "category": "follow-up", "turns": [
            {"user": "can u read this", "attach": [{"name": "note.png", "note": "Dentist Tuesday"}],
             "expect": EXPECT_READ},
            {"user": "now say it out loud",
             "expect": {"tools": True, "tasks": [["text-to-speech"]], "reads": ["@0.text"], "facts": [],
                        "media": ["audio"]}},
            {"user": "thanks!", "expect": {"tools": False, "tasks": [[]], "reads": [], "facts": [], "media": []}},
        ]},
    ]
    path = tmp_path / "set.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    monkeypatch.setenv("HUGGINGGPT_DATA_DIR", str(tmp_path / "unused"))
    out = tmp_path / "turns.jsonl"
    assert main(["eval", "chats", str(path), "--scripted-llm", "--out", str(out)]) == 0
    assert not (tmp_path / "unused").exists()  # a scratch data folder, never the configured one
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["llm"] == "scripted" and summary["turns"] == 3
    assert summary["decision"]["share"] == 1.0 and summary["files"] == {"share": 1.0, "right": 2, "of": 2}
    assert summary["media"]["share"] == 1.0
    turns = [json.loads(line) for line in out.read_text().splitlines()]
    assert turns[1]["got"]["reads"] == ["@0.text"] and turns[1]["got"]["media"] == ["audio"]

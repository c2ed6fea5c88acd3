"""The row format of the chat evaluation sets, and a checker that names every problem.

One conversation a line::

    {"id": "en-dev-007", "lang": "en", "category": "follow-up", "turns": [TURN, ...]}

    TURN   = {"user": str, "lang"?: str, "attach"?: [SPEC, ...], "expect": EXPECT}
    EXPECT = {"tools": bool, "tasks": [[task, ...], ...], "reads": [str, ...],
              "facts": [[spelling, ...], ...], "media": [kind, ...], "offline"?: false}

``reads`` names an attachment of this or an earlier turn, or an earlier turn's result as
``@T.KIND`` (T the 0-based turn, KIND text, image, audio or video). The checker holds the
labels to the task table (``engine.tasks.TASK_SPECS``): every acceptable task set must be
able to take what the turn reads and make the media the reply must carry, so a label that
no plan could satisfy is caught before anything is scored on it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from bot.chat_sets.fixtures import KIND_OF_KEY, PHOTOS, SPEC_KEYS, VOICES
from engine.tasks import TASK_SPECS

LANGS = ("en", "zh", "fr", "es")
SPLITS = ("dev", "heldout")
CATEGORIES = ("small-talk", "question", "tool", "multi-step", "follow-up", "switch", "capability", "mixed")
MEDIA = ("audio", "video", "image")
RESULT_KINDS = ("text", "image", "audio", "video")
ID_PATTERN = re.compile(r"^(en|zh|fr|es)-(dev|heldout)-(\d{3})$")
RESULT_READ = re.compile(r"^@(\d+)\.(text|image|audio|video)$")
# Tasks the embedded default cannot run offline: a turn whose every task set needs one is
# labelled "offline": false (the reply cannot carry what the user asked for).
NOT_OFFLINE = frozenset(
    {
        "text-to-image",
        "image-to-image",
        "image-editing",
        "depth-estimation",
        "text-to-video",
        "video-classification",
        "audio-to-audio",
        "visual-question-answering",
        "document-question-answering",
        "tabular-classification",
    }
)
MAX_NOTE_LINES = 3
MAX_NOTE_WORDS = 8
MAX_NOTE_CJK_CHARS = 16
MAX_FACTS = 3
TURN_KEYS = {"user", "lang", "attach", "expect"}
EXPECT_KEYS = {"tools", "tasks", "reads", "facts", "media"}


def load_set(path: Path) -> list[dict[str, Any]]:
    """The rows of one chats_*.jsonl file; ValueError names the line that is not JSON."""
    rows = []
    for number, line in enumerate(Path(path).read_text("utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{number}: not JSON: {exc}") from exc
    return rows


def validate_set(rows: Iterable[Mapping[str, Any]], *, split: str, langs: Sequence[str]) -> list[str]:
    """Every problem in a set: each row's, and ids used twice."""
    problems: list[str] = []
    seen: set[str] = set()
    for row in rows:
        row_id = str(row.get("id"))
        if row_id in seen:
            problems.append(f"{row_id}: id used twice")
        seen.add(row_id)
        problems += validate_row(row, split=split, langs=langs)
    return problems


def validate_row(row: Mapping[str, Any], *, split: str, langs: Sequence[str]) -> list[str]:
    """The problems of one conversation, each prefixed with its id (and turn)."""
    row_id = str(row.get("id"))
    problems: list[str] = []
    if set(row) != {"id", "lang", "category", "turns"}:
        problems.append(f"{row_id}: keys must be id, lang, category, turns (has {sorted(row)})")
    match = ID_PATTERN.match(row_id)
    if not match:
        problems.append(f"{row_id}: id must look like en-dev-007")
    elif match.group(1) != row.get("lang") or match.group(2) != split:
        problems.append(
            f"{row_id}: id says {match.group(1)}/{match.group(2)}, row is {row.get('lang')}/{split}"
        )
    if row.get("lang") not in langs:
        problems.append(f"{row_id}: lang {row.get('lang')!r} not one of {list(langs)}")
    if row.get("category") not in CATEGORIES:
        problems.append(f"{row_id}: category {row.get('category')!r} not one of {list(CATEGORIES)}")
    turns = row.get("turns")
    if not isinstance(turns, list) or not 1 <= len(turns) <= 6:
        return problems + [f"{row_id}: turns must be a list of 1-6 turns"]
    attached: dict[str, str] = {}  # name -> kind, over this and earlier turns
    for index, turn in enumerate(turns):
        problems += _check_turn(f"{row_id} turn {index}", index, turn, turns, attached, row.get("lang"))
    return problems


def _check_turn(
    where: str, index: int, turn: Any, turns: list[Any], attached: dict[str, str], row_lang: Any
) -> list[str]:
    if not isinstance(turn, dict):
        return [f"{where}: must be an object"]
    problems = []
    if not set(turn) <= TURN_KEYS or "user" not in turn or "expect" not in turn:
        problems.append(
            f"{where}: keys must be user, expect and optionally lang, attach (has {sorted(turn)})"
        )
    if not isinstance(turn.get("user"), str) or not turn.get("user", "").strip():
        problems.append(f"{where}: user must be the message text")
    if "lang" in turn and (turn["lang"] not in LANGS or turn["lang"] == row_lang):
        problems.append(f"{where}: a turn's lang overrides the row's with another of {list(LANGS)}")
    new_names = []
    for spec in turn.get("attach", []):
        problems += _check_spec(where, spec, attached)
        if isinstance(spec, dict) and isinstance(spec.get("name"), str):
            kinds = [KIND_OF_KEY[k] for k in SPEC_KEYS if k in spec]
            attached[spec["name"]] = kinds[0] if len(kinds) == 1 else "?"
            new_names.append(spec["name"])
    expect = turn.get("expect")
    if not isinstance(expect, dict):
        return problems + [f"{where}: expect must be an object"]
    return problems + _check_expect(where, index, expect, turns, attached, new_names)


def _check_spec(where: str, spec: Any, attached: Mapping[str, str]) -> list[str]:
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
        return [f"{where}: an attachment must be an object with a name"]
    name = spec["name"]
    problems = []
    if name in attached:
        problems.append(f"{where}: attachment name {name!r} already used in this conversation")
    keys = [k for k in SPEC_KEYS if k in spec]
    if len(keys) != 1:
        return problems + [f"{where}: attachment {name!r} needs exactly one of {list(SPEC_KEYS)}"]
    key = keys[0]
    allowed = {"name", key} | ({"voice"} if key == "speech" else set())
    if set(spec) - allowed:
        problems.append(f"{where}: attachment {name!r} has unknown keys {sorted(set(spec) - allowed)}")
    suffix = Path(name).suffix.lower()
    want = {"image": (".png", ".jpg", ".jpeg"), "audio": (".wav",), "video": (".mp4",)}[KIND_OF_KEY[key]]
    if suffix not in want:
        problems.append(f"{where}: attachment {name!r} must end in one of {want}")
    if key == "note":
        problems += _check_note(where, name, spec["note"])
    elif key == "photo" and spec["photo"] not in PHOTOS:
        problems.append(f"{where}: {name!r}: unknown photo {spec['photo']!r}")
    elif key == "speech":
        if not isinstance(spec["speech"], str) or not spec["speech"].strip():
            problems.append(f"{where}: {name!r}: speech needs its text")
        if spec.get("voice", "en") not in VOICES:
            problems.append(f"{where}: {name!r}: unknown voice {spec.get('voice')!r}")
    elif key == "video_of":
        images = spec["video_of"]
        if not isinstance(images, list) or not images or any(attached.get(n) != "image" for n in images):
            problems.append(f"{where}: {name!r}: video_of must name images attached before it")
    return problems


def _check_note(where: str, name: str, text: Any) -> list[str]:
    if not isinstance(text, str) or not text.strip():
        return [f"{where}: {name!r}: a note needs its text"]
    lines = text.split("\n")
    if len(lines) > MAX_NOTE_LINES:
        return [f"{where}: {name!r}: a note has at most {MAX_NOTE_LINES} lines"]
    for line in lines:
        cjk = sum(1 for ch in line if "\u3000" <= ch <= "\u9fff")
        if (cjk and cjk > MAX_NOTE_CJK_CHARS) or (not cjk and len(line.split()) > MAX_NOTE_WORDS):
            return [f"{where}: {name!r}: note line {line!r} is too long to read back reliably"]
    return []


def _check_expect(
    where: str,
    index: int,
    expect: dict[str, Any],
    turns: list[Any],
    attached: Mapping[str, str],
    new: list[str],
) -> list[str]:
    problems = []
    if not set(expect) >= EXPECT_KEYS or not set(expect) <= EXPECT_KEYS | {"offline"}:
        return [f"{where}: expect keys must be {sorted(EXPECT_KEYS)} and optionally offline"]
    tools, tasks, reads = expect["tools"], expect["tasks"], expect["reads"]
    if not isinstance(tools, bool):
        problems.append(f"{where}: tools must be true or false")
    if not isinstance(tasks, list) or not tasks or not all(isinstance(t, list) for t in tasks):
        return problems + [f"{where}: tasks must be a list of task sets"]
    unknown = sorted({name for alt in tasks for name in alt if name not in TASK_SPECS})
    if unknown:
        return problems + [f"{where}: unknown task types {unknown}"]
    if len({tuple(sorted(alt)) for alt in tasks}) != len(tasks):
        problems.append(f"{where}: a task set is listed twice")
    if tools is False and (tasks != [[]] or reads or expect["media"]):
        problems.append(f"{where}: tools false means tasks [[]], no reads and no media")
    if tools is True and any(not alt for alt in tasks):
        problems.append(f"{where}: tools true means every task set has a task")
    if not isinstance(reads, list) or len(set(reads)) != len(reads):
        problems.append(f"{where}: reads must be a list of distinct names")
        reads = []
    for read in reads:
        problems += _check_read(where, index, read, tasks, turns, attached)
    unread = [name for name in new if name not in reads]
    if unread:
        problems.append(f"{where}: attached {unread} but does not read them")
    problems += _check_facts(where, expect["facts"])
    media = expect["media"]
    if not isinstance(media, list) or not set(media) <= set(MEDIA) or len(set(media)) != len(media):
        problems.append(f"{where}: media must be distinct kinds of {list(MEDIA)}")
        media = []
    for kind in media:
        if not all(any(kind in TASK_SPECS[t].outputs for t in alt) for alt in tasks):
            problems.append(f"{where}: media {kind!r} but a task set makes no {kind}")
    offline = expect.get("offline", True)
    if offline is not True and (offline is not False or media):
        problems.append(f"{where}: offline is written only as false, and then media is []")
    needs_missing = tools is True and all(any(t in NOT_OFFLINE for t in alt) for alt in tasks)
    if needs_missing and offline is not False:
        problems.append(f"{where}: every task set needs a task the offline default lacks: add offline false")
    if offline is False and not needs_missing:
        problems.append(f"{where}: offline false, but a task set runs offline")
    return problems


def _check_read(
    where: str, index: int, read: Any, tasks: list[list[str]], turns: list[Any], attached: Mapping[str, str]
) -> list[str]:
    if not isinstance(read, str):
        return [f"{where}: read {read!r} must be a string"]
    match = RESULT_READ.match(read)
    if match:
        source, kind = int(match.group(1)), match.group(2)
        if source >= index:
            return [f"{where}: {read} refers to turn {source}, not an earlier one"]
        earlier = turns[source].get("expect", {}) if isinstance(turns[source], dict) else {}
        if kind != "text" and not all(
            any(kind in TASK_SPECS[t].outputs for t in alt if t in TASK_SPECS)
            for alt in earlier.get("tasks", [[]])
        ):
            return [f"{where}: {read}: turn {source} makes no {kind} in every task set"]
    elif read in attached:
        kind = attached[read]
    else:
        return [f"{where}: reads {read!r}, which no turn so far attached"]
    if not all(any(kind in TASK_SPECS[t].input_kinds.values() for t in alt) for alt in tasks):
        return [f"{where}: reads {read!r} ({kind}) but a task set takes no {kind}"]
    return []


def _check_facts(where: str, facts: Any) -> list[str]:
    if not isinstance(facts, list) or len(facts) > MAX_FACTS:
        return [f"{where}: facts must be a list of at most {MAX_FACTS} facts"]
    for fact in facts:
        if not isinstance(fact, list) or not fact or not all(isinstance(s, str) and s.strip() for s in fact):
            return [f"{where}: each fact is a non-empty list of spellings"]
    return []


def summary(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Counts for the README: conversations and turns by language and by category, turns
    by the language they are written in, and turns that need tools (or several tasks),
    carry files, read an earlier result, or cannot be done offline."""
    out: dict[str, Any] = {"conversations": 0, "turns": 0, "by_lang": {}, "by_category": {}, "turn_langs": {}}
    flags = {
        "tool_turns": 0,
        "multi_task_turns": 0,
        "attach_turns": 0,
        "earlier_result_reads": 0,
        "offline_false": 0,
    }
    for row in rows:
        n = len(row["turns"])
        out["conversations"] += 1
        out["turns"] += n
        for key, value in (("by_lang", row["lang"]), ("by_category", row["category"])):
            conv, turns = out[key].get(value, (0, 0))
            out[key][value] = (conv + 1, turns + n)
        for turn in row["turns"]:
            expect = turn["expect"]
            lang = turn.get("lang", row["lang"])
            out["turn_langs"][lang] = out["turn_langs"].get(lang, 0) + 1
            flags["tool_turns"] += expect["tools"]
            flags["multi_task_turns"] += min(len(alt) for alt in expect["tasks"]) > 1
            flags["attach_turns"] += bool(turn.get("attach"))
            flags["earlier_result_reads"] += any(r.startswith("@") for r in expect["reads"])
            flags["offline_false"] += expect.get("offline", True) is False
    out.update(flags)
    return out

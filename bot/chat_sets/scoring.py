"""Scores of a bot's turns against the chat sets' labels (benchmarks/README-chats.md).

One ``TurnRecord`` per turn says what the bot did: whether it ran tools, which task
types ran, what they read from outside the plan (attachments by name, earlier results
as ``@T.KIND``), the reply and its media kinds. The columns, each over the turns it
concerns:

- decision: tools run or not, as labelled (every turn);
- task set: the multiset of task types run is one of the acceptable sets (every turn);
- files: what the tasks read equals what the label reads (turns where either reads something);
- facts: every labelled fact appears in the reply (turns with facts);
- media: every labelled media kind is attached to the reply (turns with media);
- language: the reply is in the turn's language (turns with a language check).

A turn whose run crashed scores as a miss on every column it concerns.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

COLUMNS = ("decision", "task_set", "files", "facts", "media", "language")


@dataclass
class TurnRecord:
    row_id: str
    turn: int
    lang: str
    category: str
    user: str
    expect: Mapping[str, Any]
    tools: bool = False
    tasks: list[str] = field(default_factory=list)
    reads: list[str] = field(default_factory=list)
    reply: str = ""
    media: list[str] = field(default_factory=list)
    plan_source: str | None = None
    error: str | None = None
    reply_lang_ok: bool | None = None

    def scores(self) -> dict[str, bool | None]:
        """Each column's verdict for this turn; None where the column does not concern it."""
        expect = self.expect
        gold_reads = set(expect.get("reads", []))
        facts = expect.get("facts", [])
        media = expect.get("media", [])
        crashed = self.error is not None
        return {
            "decision": not crashed and self.tools == bool(expect["tools"]),
            "task_set": not crashed and any(Counter(self.tasks) == Counter(s) for s in expect["tasks"]),
            "files": (not crashed and set(self.reads) == gold_reads) if (gold_reads or self.reads) else None,
            "facts": (not crashed and all(_has_fact(self.reply, f, self.lang) for f in facts)) if facts else None,
            "media": (not crashed and not (Counter(media) - Counter(self.media))) if media else None,
            "language": None if self.reply_lang_ok is None else (not crashed and self.reply_lang_ok),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.row_id,
            "turn": self.turn,
            "lang": self.lang,
            "user": self.user,
            "expect": dict(self.expect),
            "got": {
                "tools": self.tools,
                "tasks": self.tasks,
                "reads": self.reads,
                "reply": self.reply,
                "media": self.media,
                "plan_source": self.plan_source,
                "error": self.error,
            },
            "scores": self.scores(),
        }


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in unicodedata.normalize("NFD", text) if not unicodedata.combining(ch))


def _has_fact(reply: str, spellings: Sequence[str], lang: str) -> bool:
    """Case- and accent-insensitive; Chinese compared without spaces (OCR puts some between characters)."""
    folded = _fold(reply)
    squeezed = "".join(folded.split())
    for spelling in spellings:
        want = _fold(spelling)
        if want in folded or "".join(want.split()) in squeezed:
            return True
    return False


def report(records: Iterable[TurnRecord], group_by: Callable[[TurnRecord], str] | None = None) -> dict[str, Any]:
    """Per column: share right, right and counted turns; per group when ``group_by`` is given."""
    records = list(records)
    out: dict[str, Any] = {"turns": len(records), **_columns(records)}
    if group_by is not None:
        groups: dict[str, list[TurnRecord]] = {}
        for record in records:
            groups.setdefault(group_by(record), []).append(record)
        out["groups"] = {name: {"turns": len(rs), **_columns(rs)} for name, rs in sorted(groups.items())}
    return out


def _columns(records: Sequence[TurnRecord]) -> dict[str, Any]:
    out = {}
    for column in COLUMNS:
        verdicts = [r.scores()[column] for r in records]
        counted = [v for v in verdicts if v is not None]
        if counted:
            out[column] = {"share": round(sum(counted) / len(counted), 4), "right": sum(counted), "of": len(counted)}
    return out


def table(summary: Mapping[str, Any]) -> str:
    """One line a group: each column's share in per cent."""
    def line(name: str, cols: Mapping[str, Any]) -> str:
        cells = [f"{c} {100 * cols[c]['share']:.0f}% ({cols[c]['right']}/{cols[c]['of']})" for c in COLUMNS if c in cols]
        return f"{name} [{cols['turns']} turns]: " + ", ".join(cells)

    lines = [line("all", summary)]
    for name, cols in summary.get("groups", {}).items():
        lines.append("  " + line(name, cols))
    return "\n".join(lines)

"""What the bot can do here, from the runtime's own selection state, and true answers to
questions about it ("can you make images?", "what can you do?").

The table comes from the selector: a task type runs here when it has a candidate
that can run (a builtin tool, a local or hosted model, the controller LLM); else the
reason says what to configure. Answers never promise what this runtime cannot do.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from engine import messages as M
from engine.i18n import Messages

__all__ = ["PHRASES", "Capability", "answer_capability", "capability_table"]

# how a user would name each task type (what the bot does), in the order a listing shows them
PHRASES: dict[str, str] = {
    "image-to-text": M.CAN_READ_IMAGES,
    "text-to-speech": M.CAN_SPEAK,
    "automatic-speech-recognition": M.CAN_TRANSCRIBE,
    "translation": M.CAN_TRANSLATE,
    "image-classification": M.CAN_CLASSIFY_IMAGES,
    "object-detection": M.CAN_DETECT,
    "pose-estimation": M.CAN_POSE,
    "image-segmentation": M.CAN_SEGMENT,
    "image-to-video": M.CAN_SLIDESHOW,
    "text-classification": M.CAN_MOOD,
    "sentence-similarity": M.CAN_SIMILARITY,
    "summarization": M.CAN_SUMMARISE,
    "question-answering": M.CAN_ANSWER_TEXT,
    "visual-question-answering": M.CAN_ANSWER_PICTURE,
    "audio-classification": M.CAN_SPEECH_OR_NOT,
    "text-to-image": M.CAN_MAKE_IMAGES,
    "image-to-image": M.CAN_RESTYLE,
    "image-editing": M.CAN_EDIT,
    "text-to-video": M.CAN_MAKE_VIDEOS,
    "depth-estimation": M.CAN_DEPTH,
    "document-question-answering": M.CAN_ANSWER_DOCUMENT,
    "audio-to-audio": M.CAN_CHANGE_AUDIO,
    "video-classification": M.CAN_LABEL_VIDEO,
}

# what a capability question asks about -> the task types that answer it
_ASKS: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...] = tuple(
    (re.compile(p), tuple(t.split()))
    for p, t in [
        (r"(?:make|create|generat|draw|paint|produce|design)\w*\b.*\b(?:images?|pictures?|pics?|photos?|drawings?|art)|"
         r"\bdraw\b|画画|画图|生成图片|做图|imágenes|images", "text-to-image"),
        (r"(?:make|create|generat|produce)\w*\b.*\b(?:videos?|clips?|animations?)|vidéos?|videos?|视频", "text-to-video image-to-video"),
        (r"\bedit\w*\b.*\b(?:images?|pictures?|photos?)", "image-editing image-to-image"),
        (r"\bread\b|\bocr\b|handwriting|documents?|\bnotes?\b|\bpdfs?\b|\btext in\b|读图|lire", "image-to-text"),
        (r"\b(?:see|look at|describe|understand|recogni[sz]e|identify)\b.*\b(?:images?|pictures?|photos?|pics?)", "image-to-text image-classification object-detection"),
        (r"\b(?:speak|talk|voice|aloud|say|read (?:out|aloud))\b|说话", "text-to-speech"),
        (r"\btranscri|\b(?:hear|listen)|\baudio\b|recordings?|voice notes?", "automatic-speech-recognition"),
        (r"\btranslat|\blanguages?\b|\bspeak (?:french|spanish|chinese|german)|翻译|tradu", "translation"),
        (r"\bsummar", "summarization"),
        (r"\bsing|\bmusic|\bsongs?", ""),
    ]
)


@dataclass(frozen=True, slots=True)
class Capability:
    task: str
    runs_here: bool
    via: str = ""  # the first expert that would run it
    why_not: str = ""


def capability_table(
    tasks: Sequence[str],
    candidates: Callable[[str], Sequence[object]],
    why_unavailable: Callable[[str], str],
) -> list[Capability]:
    """One row per task type: whether it runs here, and with what (or what it needs)."""
    rows = []
    for task in tasks:
        cards = candidates(task)
        if cards:
            rows.append(Capability(task, True, via=str(getattr(cards[0], "id", ""))))
        else:
            rows.append(Capability(task, False, why_not=why_unavailable(task)))
    return rows


def asked_tasks(question: str) -> tuple[str, ...] | None:
    """The task types a capability question asks about; None for "what can you do" in general,
    () for something no task type does (singing)."""
    low = question.lower()
    for pattern, tasks in _ASKS:
        if pattern.search(low):
            return tasks
    return None


def answer_capability(question: str, table: Sequence[Capability], say: Messages | None = None) -> str:
    say = say or Messages("en")
    rows = {c.task: c for c in table}
    asked = asked_tasks(question)
    here = sorted((c for c in table if c.runs_here and c.task in PHRASES), key=_order)
    if asked is None:
        answer = say(M.CAPABILITY_LIST, listing="; ".join(say(PHRASES[c.task]) for c in here))
        missing = sorted((c for c in table if not c.runs_here and c.task in PHRASES), key=_order)
        if missing:
            names = ", ".join(say(PHRASES[c.task]) for c in missing[:4])
            answer += " " + say(M.CAPABILITY_MISSING, names=names)
        return answer
    if not asked:
        return _joined(say(M.CAPABILITY_NO), _short_listing(here, say))
    able = [rows[t] for t in asked if t in rows and rows[t].runs_here]
    if able:
        return say(M.CAPABILITY_YES, what=" / ".join(say(PHRASES[c.task]) for c in able))
    what = say(PHRASES[asked[0]]) if asked[0] in PHRASES else asked[0]
    return _joined(say(M.CAPABILITY_NOT_HERE, what=what, why=say(M.NEEDS_SETUP)), _short_listing(here, say))


def _short_listing(here: Sequence[Capability], say: Messages) -> str:
    if not here:
        return ""
    return say(M.CAPABILITY_SHORT, listing=", ".join(say(PHRASES[c.task]) for c in here[:5]))


def _joined(*parts: str) -> str:
    return " ".join(p for p in parts if p)


def _order(c: Capability) -> int:
    return list(PHRASES).index(c.task)

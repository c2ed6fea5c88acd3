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

__all__ = ["Capability", "capability_table", "answer_capability", "PHRASES"]

# how a user would name each task type (what the bot does), in the order a listing shows them
PHRASES: dict[str, str] = {
    "image-to-text": "read the text in images or say what a photo shows",
    "text-to-speech": "read text aloud",
    "automatic-speech-recognition": "transcribe speech in audio",
    "translation": "translate text",
    "image-classification": "name what a photo shows",
    "object-detection": "find objects or faces in a picture",
    "pose-estimation": "draw a person's body pose",
    "image-segmentation": "cut out people from the background",
    "image-to-video": "turn pictures into a short video",
    "text-classification": "tell the mood of a text",
    "sentence-similarity": "compare how similar two texts are",
    "summarization": "summarise text",
    "question-answering": "answer questions about a text",
    "visual-question-answering": "answer questions about a picture",
    "audio-classification": "tell whether a recording has speech",
    "text-to-image": "make images from a description",
    "image-to-image": "restyle or transform images",
    "image-editing": "edit images as you describe",
    "text-to-video": "make videos from a description",
    "depth-estimation": "estimate depth in a photo",
    "document-question-answering": "answer questions about a document",
    "audio-to-audio": "clean up or change audio",
    "video-classification": "say what happens in a video",
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


def answer_capability(question: str, table: Sequence[Capability]) -> str:
    rows = {c.task: c for c in table}
    asked = asked_tasks(question)
    here = [c for c in table if c.runs_here and c.task in PHRASES]
    if asked is None:
        listing = "; ".join(PHRASES[c.task] for c in sorted(here, key=_order))
        missing = [c for c in table if not c.runs_here and c.task in PHRASES]
        tail = ""
        if missing:
            names = ", ".join(PHRASES[c.task] for c in sorted(missing, key=_order)[:4])
            tail = f" Not set up here: {names} (they need a GPU model or a Hugging Face token, HF_TOKEN)."
        return (
            f"Here I can {listing}. Send me a file (a picture, a recording, a video) with what you want done, "
            f"or just ask me something.{tail}"
        )
    if not asked:
        return "No, that is not something I can do. " + _short_listing(here)
    able = [rows[t] for t in asked if t in rows and rows[t].runs_here]
    if able:
        what = " and ".join(PHRASES[c.task] for c in able)
        return f"Yes: here I can {what}. Send it along with what you want."
    first = rows.get(asked[0])
    why = first.why_not if first is not None and first.why_not else "no expert for it is set up here"
    why = why.split("cannot run here: ", 1)[-1].rstrip(".")
    phrase = PHRASES.get(asked[0], asked[0])
    return f"Not here yet. To {phrase}, {_lower_first(why)}. " + _short_listing(here)


def _short_listing(here: Sequence[Capability]) -> str:
    if not here:
        return ""
    top = ", ".join(PHRASES[c.task] for c in sorted(here, key=_order)[:5])
    return f"What I can do here: {top}."


def _order(c: Capability) -> int:
    return list(PHRASES).index(c.task)


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text else text

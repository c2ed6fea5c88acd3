"""The reply built from the results alone, for controllers too small to write one.

Every sentence states a result that exists: the text a step produced, quoted; the
media a step made, named as attached; a step that failed, with its reason. Nothing
else is said, so the reply can never claim what did not happen.
"""

from __future__ import annotations

from collections.abc import Sequence

from engine import messages as M
from engine.i18n import Messages
from engine.types import MEDIA_KINDS, TaskResult

__all__ = ["summary"]

_QUOTE_CHARS = 600

# how a text result is introduced, by task type (the message's {text} is the result)
_TEXT_LEADS: dict[str, str] = {
    "image-to-text": M.SUMMARY_READ,
    "automatic-speech-recognition": M.SUMMARY_HEARD,
    "translation": M.SUMMARY_TRANSLATION,
    "summarization": M.SUMMARY_SUMMARY,
    "image-classification": M.SUMMARY_LOOKS_LIKE,
    "text-classification": M.SUMMARY_MOOD,
    "object-detection": M.SUMMARY_FOUND,
    "visual-question-answering": M.SUMMARY_ANSWER,
    "document-question-answering": M.SUMMARY_ANSWER,
    "question-answering": M.SUMMARY_ANSWER,
}

_MEDIA_LEADS: dict[str, str] = {
    "text-to-speech": M.SUMMARY_SPOKEN,
    "image-to-video": M.SUMMARY_VIDEO,
    "text-to-video": M.SUMMARY_VIDEO,
    "text-to-image": M.SUMMARY_PICTURE,
    "image-to-image": M.SUMMARY_PICTURE,
    "image-editing": M.SUMMARY_PICTURE,
    "depth-estimation": M.SUMMARY_PICTURE,
    "audio-to-audio": M.SUMMARY_AUDIO,
}
_KIND_LEADS = {"image": M.SUMMARY_PICTURE, "audio": M.SUMMARY_AUDIO, "video": M.SUMMARY_VIDEO}

_ACTIONS: dict[str, str] = {
    "image-to-text": M.ACTION_READ_IMAGE,
    "automatic-speech-recognition": M.ACTION_TRANSCRIBE,
    "text-to-speech": M.ACTION_SPEAK,
    "translation": M.ACTION_TRANSLATE,
    "text-to-image": M.ACTION_MAKE_PICTURE,
    "image-to-video": M.ACTION_MAKE_VIDEO,
    "text-to-video": M.ACTION_MAKE_VIDEO,
    "visual-question-answering": M.ACTION_ANSWER_PICTURE,
}


def summary(results: Sequence[TaskResult], say: Messages | None = None) -> str:
    """The results in plain sentences, in the language of ``say`` (English by default)."""
    say = say or Messages("en")
    lines: list[str] = []
    for r in results:
        if r.status == "ok":
            lines.extend(_ok_lines(r, say))
        elif r.status == "failed":
            lines.append(say(M.SUMMARY_FAILED, action=_action(r.task.task, say), error=_error(r, say)))
    skipped = [r for r in results if r.status == "skipped"]
    if skipped and any(r.status == "failed" for r in results):
        names = ", ".join(_action(r.task.task, say) for r in skipped)
        lines.append(say(M.SUMMARY_SKIPPED, actions=names))
    return "\n".join(lines) if lines else say(M.SUMMARY_NOTHING)


def _error(r: TaskResult, say: Messages) -> str:
    """The failure's reason; "cannot run here" in the user's language (other reasons are
    the expert's own words)."""
    error = r.error or ""
    if error.startswith(f"{r.task.task} cannot run here"):
        return say(M.CANNOT_RUN_HERE, task=r.task.task)
    return error


def _action(task: str, say: Messages) -> str:
    return say(_ACTIONS[task]) if task in _ACTIONS else say(M.ACTION_TASK, task=task)


def _ok_lines(r: TaskResult, say: Messages) -> list[str]:
    lines = []
    texts = [o.text.strip() for o in r.outputs if o.kind == "text" and o.text and o.text.strip()]
    media = [o for o in r.outputs if o.kind in MEDIA_KINDS]
    if texts:
        text = texts[0] if len(texts[0]) <= _QUOTE_CHARS else texts[0][: _QUOTE_CHARS - 1] + "…"
        lead = _TEXT_LEADS.get(r.task.task)
        if r.task.task == "image-to-text" and r.card is not None and "ocr" not in r.card.id:
            lead = M.SUMMARY_SHOWS  # a describer, not OCR: what the photo shows, not words to quote
        lines.append(say(lead, text=text) if lead else say(M.SUMMARY_RESULT, task=r.task.task, text=text))
    if media and r.task.task in _MEDIA_LEADS:
        lines.append(say(_MEDIA_LEADS[r.task.task]))
    elif media and not texts:
        lines.append(say(_KIND_LEADS[media[0].kind]))
    return lines

"""The reply built from the results alone, for controllers too small to write one.

Every sentence states a result that exists: the text a step produced, quoted; the
media a step made, named as attached; a step that failed, with its reason. Nothing
else is said, so the reply can never claim what did not happen.
"""

from __future__ import annotations

from collections.abc import Sequence

from engine.types import MEDIA_KINDS, TaskResult

__all__ = ["summary"]

_QUOTE_CHARS = 600

# how a text result is introduced, by task type ({} is the quoted text)
_TEXT_LEADS: dict[str, str] = {
    "image-to-text": "It says: {}",
    "automatic-speech-recognition": "The recording says: {}",
    "translation": "Translation: {}",
    "summarization": "Summary: {}",
    "image-classification": "It looks like: {}",
    "text-classification": "Mood: {}",
    "audio-classification": "The recording: {}",
    "sentence-similarity": "Similarity: {}",
    "object-detection": "Found: {}",
    "pose-estimation": "Pose: {}",
    "image-segmentation": "Segments: {}",
    "visual-question-answering": "Answer: {}",
    "document-question-answering": "Answer: {}",
    "question-answering": "Answer: {}",
    "video-classification": "The video: {}",
}
_DESCRIBED = "It shows: {}"  # image-to-text by a describer, not OCR: no quotes to read

_MEDIA_LEADS: dict[str, str] = {
    "text-to-speech": "Here it is read aloud.",
    "image-to-video": "Here is the video.",
    "text-to-video": "Here is the video.",
    "text-to-image": "Here is the picture.",
    "image-to-image": "Here is the new picture.",
    "image-editing": "Here is the edited picture.",
    "audio-to-audio": "Here is the new audio.",
    "depth-estimation": "Here is the depth map.",
}

_ACTIONS: dict[str, str] = {
    "image-to-text": "read the image",
    "automatic-speech-recognition": "transcribe the audio",
    "text-to-speech": "read it aloud",
    "translation": "translate it",
    "text-to-image": "make the picture",
    "image-to-video": "make the video",
    "text-to-video": "make the video",
    "visual-question-answering": "answer about the picture",
}


def summary(results: Sequence[TaskResult]) -> str:
    lines: list[str] = []
    for r in results:
        if r.status == "ok":
            lines.extend(_ok_lines(r))
        elif r.status == "failed":
            lines.append(f"I couldn't {_ACTIONS.get(r.task.task, r.task.task)}: {r.error}")
    skipped = [r for r in results if r.status == "skipped"]
    if skipped and any(r.status == "failed" for r in results):
        names = ", ".join(_ACTIONS.get(r.task.task, r.task.task) for r in skipped)
        lines.append(f"So I didn't {names}.")
    return "\n".join(lines) if lines else "Nothing came of that: no step produced a result."


def _ok_lines(r: TaskResult) -> list[str]:
    lines = []
    texts = [o.text.strip() for o in r.outputs if o.kind == "text" and o.text and o.text.strip()]
    media = [o for o in r.outputs if o.kind in MEDIA_KINDS]
    if texts:
        lead = _TEXT_LEADS.get(r.task.task, r.task.task + ": {}")
        if r.task.task == "image-to-text" and r.card is not None and "ocr" not in r.card.id:
            lead = _DESCRIBED
        text = texts[0]
        shown = text if len(text) <= _QUOTE_CHARS else text[: _QUOTE_CHARS - 1] + "…"
        quoted = f"“{shown}”" if "{}" in lead and not lead.startswith(("It looks", "Mood", "Found")) else shown
        if lead is _DESCRIBED or r.task.task in ("object-detection", "pose-estimation", "image-segmentation"):
            quoted = shown
        lines.append(lead.format(quoted))
    if media and r.task.task in _MEDIA_LEADS:
        lines.append(_MEDIA_LEADS[r.task.task])
    elif media and not texts:
        lines.append(f"Here is the {media[0].kind}.")
    return lines

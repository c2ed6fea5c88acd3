"""Names LLMs use for task types, mapped onto the canonical names of ``TASK_SPECS``.

Models trained on other vocabularies (TaskBench's Title Case tools, pipeline names
such as "sentiment-analysis", HuggingGPT's ControlNet variants, plain words like
"tts") write task names that mean one of our types. Mapping them here, once, lets
the plan parser, the planner prompt and the catalogue agree on one vocabulary
instead of each keeping its own list.
"""

from __future__ import annotations

import re

from engine.tasks import TASK_SPECS

# Keys are written in normalised form (see ``normalise_task_name``).
TASK_ALIASES: dict[str, str] = {
    # image -> text
    "image-captioning": "image-to-text",
    "image-caption": "image-to-text",
    "captioning": "image-to-text",
    "caption": "image-to-text",
    "ocr": "image-to-text",
    "image-to-text-generation": "image-to-text",
    # speech
    "speech-to-text": "automatic-speech-recognition",
    "speech-recognition": "automatic-speech-recognition",
    "asr": "automatic-speech-recognition",
    "transcription": "automatic-speech-recognition",
    "tts": "text-to-speech",
    "speech-synthesis": "text-to-speech",
    "text-to-audio": "text-to-speech",
    # question answering
    "vqa": "visual-question-answering",
    "image-question-answering": "visual-question-answering",
    "dqa": "document-question-answering",
    "document-qa": "document-question-answering",
    "qa": "question-answering",
    # language
    "sentiment-analysis": "text-classification",
    "ner": "token-classification",
    "named-entity-recognition": "token-classification",
    "chat": "conversational",
    "chitchat": "conversational",
    "conversation": "conversational",
    "summarisation": "summarization",
    "summarize": "summarization",
    "translate": "translation",
    "text-to-text-generation": "text2text-generation",
    "paraphrase": "text2text-generation",
    # vision
    "detection": "object-detection",
    "segmentation": "image-segmentation",
    "depth": "depth-estimation",
    "pose-detection": "pose-estimation",
    "image-generation": "text-to-image",
    "text2image": "text-to-image",
    "video-generation": "text-to-video",
    "text2video": "text-to-video",
    "image-edit": "image-editing",
    # HuggingGPT's ControlNet tasks: "<x>-control" derives a control map from an image,
    # "<x>-text-to-image" draws a new image from a control map and a prompt.
    "openpose-control": "pose-estimation",
    "depth-control": "depth-estimation",
    "seg-control": "image-segmentation",
    "segmentation-control": "image-segmentation",
    "canny-control": "image-to-image",
    "hed-control": "image-to-image",
    "mlsd-control": "image-to-image",
    "normal-control": "image-to-image",
    "scribble-control": "image-to-image",
    "openpose-text-to-image": "image-to-image",
    "depth-text-to-image": "image-to-image",
    "seg-text-to-image": "image-to-image",
    "canny-text-to-image": "image-to-image",
    "hed-text-to-image": "image-to-image",
    "mlsd-text-to-image": "image-to-image",
    "normal-text-to-image": "image-to-image",
    "scribble-text-to-image": "image-to-image",
}

_SEPARATORS = re.compile(r"[\s_]+")


def normalise_task_name(name: str) -> str:
    """Lower-case kebab form: "Image-to-Text", "image_to_text", "Image to Text" -> "image-to-text"."""
    return _SEPARATORS.sub("-", name.strip().lower()).strip("-")


def canonical_task_name(name: str) -> str | None:
    """The ``TASK_SPECS`` name that ``name`` means, or None when it means none of them."""
    key = normalise_task_name(name)
    if key in TASK_SPECS:
        return key
    return TASK_ALIASES.get(key)

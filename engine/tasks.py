"""The task types the planner may use, with their argument and output kinds.

This table is the contract between planning, selection and execution: the planner
prompt lists it, the parser checks argument kinds against it, the scheduler uses the
output kinds to resolve ``<GENERATED>-N`` to a value of the kind the consumer wants.
Names are Hugging Face pipeline tags (kebab-case), as in HuggingGPT and TaskBench.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from engine.types import ResourceKind


@dataclass(frozen=True)
class ArgSpec:
    name: str
    kind: ResourceKind
    required: bool = True


@dataclass(frozen=True)
class TaskSpec:
    name: str
    description: str
    inputs: tuple[ArgSpec, ...]
    outputs: tuple[ResourceKind, ...]
    language_only: bool = False  # the controller LLM can do it when no expert is set up

    @property
    def input_kinds(self) -> Mapping[str, ResourceKind]:
        return {a.name: a.kind for a in self.inputs}

    def arg(self, name: str) -> ArgSpec | None:
        return next((a for a in self.inputs if a.name == name), None)


def _t(name: str, description: str, inputs: str, outputs: str, language_only: bool = False) -> TaskSpec:
    """Compact spec builder: inputs like "image text?" (``?`` marks optional), arg name = kind
    unless written ``name:kind``."""
    args = []
    for token in inputs.split():
        required = not token.endswith("?")
        token = token.rstrip("?")
        arg_name, _, kind = token.partition(":")
        args.append(ArgSpec(arg_name, (kind or arg_name), required))  # type: ignore[arg-type]
    return TaskSpec(name, description, tuple(args), tuple(outputs.split()), language_only)  # type: ignore[arg-type]


TASK_SPECS: dict[str, TaskSpec] = {
    s.name: s
    for s in [
        # language
        _t("text-classification", "label a text, e.g. its sentiment or topic", "text", "text json"),
        _t(
            "token-classification",
            "label words in a text: named entities, parts of speech",
            "text",
            "text json",
        ),
        _t(
            "text2text-generation",
            "rewrite or transform a text (paraphrase, correct grammar)",
            "text",
            "text",
            True,
        ),
        _t("summarization", "write a shorter version of a long text", "text", "text", True),
        _t("translation", "translate a text into another language", "text", "text", True),
        _t(
            "question-answering",
            "answer a question from a given context text",
            "text context:text?",
            "text",
            True,
        ),
        _t("conversational", "chat: reply to a message in a dialogue", "text", "text", True),
        _t("text-generation", "continue or write new text from a prompt", "text", "text", True),
        _t("sentence-similarity", "score how similar two texts are", "text text2:text", "text json"),
        _t("tabular-classification", "classify a table given as an image", "image", "text"),
        # vision
        _t("image-classification", "name the main object or class in an image", "image", "text json"),
        _t("object-detection", "find and box the objects in an image", "image", "image text json"),
        _t("image-segmentation", "split an image into labelled regions or masks", "image", "image text json"),
        _t("depth-estimation", "predict a depth map of an image", "image", "image"),
        _t("image-to-text", "caption an image or read the text in it (OCR)", "image", "text"),
        _t("text-to-image", "generate an image from a text description", "text", "image"),
        _t("image-to-image", "transform an image into a new image", "image text?", "image"),
        _t("image-editing", "edit an image as a text instruction says", "image text", "image"),
        _t("visual-question-answering", "answer a question about an image", "image text", "text"),
        _t("document-question-answering", "answer a question about a document image", "image text", "text"),
        _t(
            "pose-estimation", "detect a person's body pose and draw the skeleton", "image", "image text json"
        ),
        # audio
        _t("text-to-speech", "speak a text aloud as audio", "text", "audio"),
        _t("automatic-speech-recognition", "transcribe speech in audio into text", "audio", "text"),
        _t(
            "audio-classification",
            "label an audio clip (e.g. speech or not, sound type)",
            "audio",
            "text json",
        ),
        _t("audio-to-audio", "transform audio: enhance, separate or convert it", "audio", "audio"),
        # video
        _t("text-to-video", "generate a video from a text description", "text", "video"),
        _t("video-classification", "label what happens in a video", "video", "text json"),
        _t(
            "image-to-video",
            "make a video from one or more images, with optional audio",
            "image image2:image? image3:image? image4:image? audio?",
            "video",
        ),
    ]
}

# Tasks the controller LLM can run itself (HuggingGPT runs these without an expert).
LANGUAGE_TASKS: frozenset[str] = frozenset(n for n, s in TASK_SPECS.items() if s.language_only)


def spec(name: str) -> TaskSpec:
    """The spec of a task type; KeyError names the type when it is unknown."""
    return TASK_SPECS[name]

"""Runners: one per task type, turning a loaded model's output into typed Resources.

The Runner contract and shared helpers live in runners_base.py; the runners, by
family, in runners_text.py, runners_vision.py and runners_audio.py (diffusers
runners in diffusion.py). This module gathers them: import any runner or helper
from here.
"""

from __future__ import annotations

from engine.experts.local.runners_audio import AudioClassification, SpeechRecognition, TextToSpeech
from engine.experts.local.runners_base import (
    MAX_NEW_TOKENS,
    Loaded,
    LoadSpec,
    PipelineRunner,
    Runner,
    RunOptions,
    image_arg,
    jsonable,
    labels_outputs,
    place,
    required_arg,
    text_arg,
    to_device,
    top_labels,
)
from engine.experts.local.runners_text import (
    QuestionAnswering,
    SentenceSimilarity,
    Seq2SeqRunner,
    Summarization,
    Text2Text,
    TextClassification,
    TextGeneration,
    TokenClassification,
    Translation,
)
from engine.experts.local.runners_vision import (
    DepthEstimation,
    DocumentQuestionAnswering,
    ImageClassification,
    ImageSegmentation,
    ImageToText,
    ObjectDetection,
    VisualQuestionAnswering,
    detection_outputs,
)

TRANSFORMERS_RUNNERS: tuple[type[Runner], ...] = (
    TextClassification,
    TokenClassification,
    Text2Text,
    Summarization,
    Translation,
    QuestionAnswering,
    TextGeneration,
    SentenceSimilarity,
    ImageToText,
    ImageClassification,
    ObjectDetection,
    ImageSegmentation,
    DepthEstimation,
    VisualQuestionAnswering,
    DocumentQuestionAnswering,
    SpeechRecognition,
    AudioClassification,
    TextToSpeech,
)

__all__ = [
    "MAX_NEW_TOKENS",
    "TRANSFORMERS_RUNNERS",
    "AudioClassification",
    "DepthEstimation",
    "DocumentQuestionAnswering",
    "ImageClassification",
    "ImageSegmentation",
    "ImageToText",
    "LoadSpec",
    "Loaded",
    "ObjectDetection",
    "PipelineRunner",
    "QuestionAnswering",
    "RunOptions",
    "Runner",
    "SentenceSimilarity",
    "Seq2SeqRunner",
    "SpeechRecognition",
    "Summarization",
    "Text2Text",
    "TextClassification",
    "TextGeneration",
    "TextToSpeech",
    "TokenClassification",
    "Translation",
    "VisualQuestionAnswering",
    "detection_outputs",
    "image_arg",
    "jsonable",
    "labels_outputs",
    "place",
    "required_arg",
    "text_arg",
    "to_device",
    "top_labels",
]

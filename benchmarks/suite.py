"""The scripted request suite: realistic multi-task requests with the plan a good
controller writes for each, and a model line-up where some task types have several
runnable candidates (so the selection call happens where it would in production).

Shapes covered: chit-chat, single tasks, chains (OCR -> speech, draw -> caption ->
speech), fan-out (several questions about one image), language tasks the
controller runs itself (summarise, translate, write), and mixed audio/vision.
"""

from __future__ import annotations

import json
import wave
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from engine.types import ModelCard, Resource


@dataclass(frozen=True)
class Case:
    text: str
    files: tuple[str, ...]
    plan: tuple[Mapping[str, Any], ...]

    def plan_json(self) -> str:
        return json.dumps(list(self.plan))


def _t(task: str, tid: int, args: Mapping[str, str], dep: Sequence[int] = ()) -> dict[str, Any]:
    return {"task": task, "id": tid, "dep": list(dep) or [-1], "args": dict(args)}


G = "<GENERATED>-{}".format

CASES: tuple[Case, ...] = (
    Case("hi there, how are you today?", (), ()),
    Case("what kinds of things can you do for me?", (), ()),
    Case("tell me a short joke about robots", (), ()),
    Case(
        "Read the text in page.png aloud",
        ("page.png",),
        (_t("image-to-text", 0, {"image": "page.png"}), _t("text-to-speech", 1, {"text": G(0)}, [0])),
    ),
    Case(
        "What objects are in street.jpg?",
        ("street.jpg",),
        (_t("object-detection", 0, {"image": "street.jpg"}),),
    ),
    Case(
        "Describe photo.jpg, find the objects in it and say what kind of scene it is",
        ("photo.jpg",),
        (
            _t("image-to-text", 0, {"image": "photo.jpg"}),
            _t("object-detection", 1, {"image": "photo.jpg"}),
            _t("image-classification", 2, {"image": "photo.jpg"}),
        ),
    ),
    Case(
        "Transcribe memo.wav", ("memo.wav",), (_t("automatic-speech-recognition", 0, {"audio": "memo.wav"}),)
    ),
    Case(
        "Transcribe memo.wav and summarize it in one sentence",
        ("memo.wav",),
        (
            _t("automatic-speech-recognition", 0, {"audio": "memo.wav"}),
            _t("summarization", 1, {"text": G(0)}, [0]),
        ),
    ),
    Case(
        "Translate 'good morning, how did you sleep' into French and read it out loud",
        (),
        (
            _t("translation", 0, {"text": "good morning, how did you sleep"}),
            _t("text-to-speech", 1, {"text": G(0)}, [0]),
        ),
    ),
    Case(
        "Summarize: The committee met for three hours and agreed to fund the new library, "
        "delay the road works to spring, and hold a public vote on the park.",
        (),
        (
            _t(
                "summarization",
                0,
                {
                    "text": "The committee met for three hours and agreed to fund the new "
                    "library, delay the road works to spring, and hold a public vote "
                    "on the park."
                },
            ),
        ),
    ),
    Case("Draw a red fox in the snow", (), (_t("text-to-image", 0, {"text": "a red fox in the snow"}),)),
    Case(
        "Draw a lighthouse at dusk and tell me which objects the picture contains",
        (),
        (
            _t("text-to-image", 0, {"text": "a lighthouse at dusk"}),
            _t("object-detection", 1, {"image": G(0)}, [0]),
        ),
    ),
    Case(
        "Generate a picture of a cat playing piano, caption it, and read the caption aloud",
        (),
        (
            _t("text-to-image", 0, {"text": "a cat playing piano"}),
            _t("image-to-text", 1, {"image": G(0)}, [0]),
            _t("text-to-speech", 2, {"text": G(1)}, [1]),
        ),
    ),
    Case(
        "Estimate the depth of room.jpg and segment it into regions",
        ("room.jpg",),
        (
            _t("depth-estimation", 0, {"image": "room.jpg"}),
            _t("image-segmentation", 1, {"image": "room.jpg"}),
        ),
    ),
    Case(
        "What pose is the person in dancer.jpg in?",
        ("dancer.jpg",),
        (_t("pose-estimation", 0, {"image": "dancer.jpg"}),),
    ),
    Case(
        "Is the review 'the food was cold and the waiter rude' positive or negative?",
        (),
        (_t("text-classification", 0, {"text": "the food was cold and the waiter rude"}),),
    ),
    Case(
        "Which named entities are in 'Ada Lovelace worked with Charles Babbage in London'?",
        (),
        (_t("token-classification", 0, {"text": "Ada Lovelace worked with Charles Babbage in London"}),),
    ),
    Case(
        "Say 'the meeting starts at noon' as speech",
        (),
        (_t("text-to-speech", 0, {"text": "the meeting starts at noon"}),),
    ),
    Case(
        "How many people are in crowd.jpg, and what is the weather like there?",
        ("crowd.jpg",),
        (
            _t("object-detection", 0, {"image": "crowd.jpg"}),
            _t("visual-question-answering", 1, {"image": "crowd.jpg", "text": "what is the weather like?"}),
        ),
    ),
    Case(
        "Read the sign in sign.png and translate it into German",
        ("sign.png",),
        (_t("image-to-text", 0, {"image": "sign.png"}), _t("translation", 1, {"text": G(0)}, [0])),
    ),
    Case(
        "Is there speech in clip.wav? If so, transcribe it",
        ("clip.wav",),
        (
            _t("audio-classification", 0, {"audio": "clip.wav"}),
            _t("automatic-speech-recognition", 1, {"audio": "clip.wav"}),
        ),
    ),
    Case(
        "Make a short video from photo.jpg with memo.wav as narration",
        ("photo.jpg", "memo.wav"),
        (_t("image-to-video", 0, {"image": "photo.jpg", "audio": "memo.wav"}),),
    ),
    Case(
        "From this context: 'The Nile is about 6650 km long.' How long is the Nile?",
        (),
        (
            _t(
                "question-answering",
                0,
                {"text": "How long is the Nile?", "context": "The Nile is about 6650 km long."},
            ),
        ),
    ),
    Case(
        "Caption photo.jpg and write a short poem about it",
        ("photo.jpg",),
        (_t("image-to-text", 0, {"image": "photo.jpg"}), _t("text-generation", 1, {"text": G(0)}, [0])),
    ),
    Case(
        "How similar are 'a cat sits on the mat' and 'a kitten is sitting on a rug'?",
        (),
        (
            _t(
                "sentence-similarity",
                0,
                {"text": "a cat sits on the mat", "text2": "a kitten is sitting on a rug"},
            ),
        ),
    ),
)

# Runnable experts per task type, as a machine with the builtin tools, a few cached local
# models and the controller LLM sees them. Several candidates where that is realistic.
BUILTIN: Mapping[str, tuple[str, ...]] = {
    "image-to-text": ("builtin/tesseract-ocr",),
    "object-detection": ("builtin/opencv-cascade",),
    "image-classification": ("builtin/efficientnet-lite0",),
    "automatic-speech-recognition": ("builtin/whisper-base",),
    "text-to-speech": ("builtin/espeak-ng",),
    "translation": ("builtin/apertium",),
    "text-classification": ("builtin/vader",),
    "image-segmentation": ("builtin/mediapipe-segment",),
    "pose-estimation": ("builtin/mediapipe-pose",),
    "audio-classification": ("builtin/silero-vad",),
    "image-to-video": ("builtin/ffmpeg-slideshow",),
    "sentence-similarity": ("builtin/all-minilm-l6-v2",),
}
LOCAL: Mapping[str, tuple[str, ...]] = {
    "image-to-text": ("Salesforce/blip-image-captioning-base", "nlpconnect/vit-gpt2-image-captioning"),
    "object-detection": ("facebook/detr-resnet-50",),
    "automatic-speech-recognition": ("openai/whisper-tiny",),
    "text-to-image": ("stabilityai/sd-turbo", "runwayml/stable-diffusion-v1-5"),
    "depth-estimation": ("Intel/dpt-large",),
    "token-classification": ("dslim/bert-base-NER",),
    "visual-question-answering": ("dandelin/vilt-b32-finetuned-vqa",),
}


def cards(line_up: Mapping[str, tuple[str, ...]], backend: str) -> list[ModelCard]:
    out = []
    for task, ids in line_up.items():
        for rank, model_id in enumerate(ids):
            out.append(
                ModelCard(
                    id=model_id,
                    task=task,
                    backend=backend,  # type: ignore[arg-type]
                    downloads=1000 - rank,
                    description=f"{task} model {model_id}",
                )
            )
    return out


def make_files(folder: Path) -> dict[str, Resource]:
    """The attachments the suite refers to, as small real files."""
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, Resource] = {}
    for name in ("page.png", "street.jpg", "photo.jpg", "room.jpg", "dancer.jpg", "crowd.jpg", "sign.png"):
        path = folder / name
        Image.new("RGB", (16, 16), (120, 160, 200)).save(path)
        files[name] = Resource(
            kind="image", path=path, name=name, mime="image/png" if name.endswith(".png") else "image/jpeg"
        )
    for name in ("memo.wav", "clip.wav"):
        path = folder / name
        with wave.open(str(path), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(8000)
            w.writeframes(b"\x00\x00" * 800)
        files[name] = Resource(kind="audio", path=path, name=name, mime="audio/wav")
    return files


def plan_lookup(cases: Sequence[Case]) -> dict[str, str]:
    """Request text -> plan JSON, for the scripted controllers."""
    return {c.text: c.plan_json() for c in cases}

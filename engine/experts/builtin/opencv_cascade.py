"""Classical face and full-body detection with OpenCV's Haar cascades.

Fast and dependency-light but dated: frontal faces only, and the body cascade wants
upright, whole people. Cascades give no calibrated score, so detections carry none.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import ExpertUnavailable
from engine.experts.base import Availability, RunContext
from engine.experts.builtin.base import ModelTool
from engine.experts.builtin.draw import draw_boxes, open_rgb
from engine.experts.builtin.resources import Detection, count_summary, drawn_outputs, path_arg
from engine.types import Resource, Task

CASCADES = {"face": "haarcascade_frontalface_default.xml", "person": "haarcascade_fullbody.xml"}
INSTALL = 'install OpenCV with its cascades: pip install "opencv-python-headless<5" (5.x dropped them)'


def _cascade_dir() -> Path | None:
    spec = importlib.util.find_spec("cv2")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _load() -> dict[str, Any]:
    import cv2

    folder = _cascade_dir()
    if folder is None:
        raise ExpertUnavailable(INSTALL)
    return {label: cv2.CascadeClassifier(str(folder / name)) for label, name in CASCADES.items()}


class OpenCVCascade(ModelTool):
    tool_id = "builtin/opencv-cascade"
    task = "object-detection"
    description = (
        "OpenCV Haar cascades: finds frontal faces and whole standing people in a photo "
        "(two classes only; quick, less accurate than neural detectors)."
    )
    licence = "bsd-3-clause"

    def load_model(self) -> dict[str, Any]:
        return _load()

    def available(self) -> Availability:
        folder = _cascade_dir()
        if folder is None or not all((folder / name).is_file() for name in CASCADES.values()):
            return Availability(False, INSTALL)
        return Availability(True)

    def run(self, task: Task, inputs: Mapping[str, Resource], ctx: RunContext) -> Sequence[Resource]:
        import cv2

        image = open_rgb(path_arg(inputs, "image"))
        gray = cv2.equalizeHist(cv2.cvtColor(np.asarray(image), cv2.COLOR_RGB2GRAY))
        shortest = min(image.size)
        found: list[Detection] = []
        for label, cascade in self._model.get().items():
            min_side = max(24, shortest // (20 if label == "face" else 6))
            boxes = cascade.detectMultiScale(
                gray, scaleFactor=1.1, minNeighbors=5, minSize=(min_side, min_side)
            )
            found += [
                Detection(label, None, (int(x), int(y), int(x + w), int(y + h))) for x, y, w, h in boxes
            ]
        summary = count_summary([d.label for d in found], "no faces or people found")
        out = draw_boxes(image, found, ctx.new_path(task.id, ".png"))
        return drawn_outputs(out, summary, {"summary": summary, "detections": [d.to_json() for d in found]})

"""Person segmentation with MediaPipe Selfie Segmentation: a person/background mask."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from engine.experts.base import RunContext
from engine.experts.builtin.draw import draw_mask, open_rgb
from engine.experts.builtin.mediapipe_files import MediaPipeTool
from engine.experts.builtin.resources import drawn_outputs, path_arg
from engine.types import Resource, Task

THRESHOLD = 0.5
MIN_AREA = 0.005  # masks smaller than 0.5 % of the image are noise


def _load() -> Any:
    import mediapipe as mp

    return mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0)


class MediaPipeSegment(MediaPipeTool):
    tool_id = "builtin/mediapipe-person-segmentation"
    task = "image-segmentation"
    description = (
        "MediaPipe selfie segmentation: masks the people in an image apart from the background "
        "(one 'person' class only)."
    )
    licence = "apache-2.0"
    model_files = ("selfie_segmentation/selfie_segmentation.tflite",)

    def load_model(self) -> Any:
        return _load()

    def run(self, task: Task, inputs: Mapping[str, Resource], ctx: RunContext) -> Sequence[Resource]:
        image = open_rgb(path_arg(inputs, "image"))
        prob = np.array(self.process(image).segmentation_mask, dtype=np.float32)
        mask = prob > THRESHOLD
        area = float(mask.mean())
        out = ctx.new_path(task.id, ".png")
        if area < MIN_AREA:
            image.save(out)
            summary = "no person found"
            return drawn_outputs(out, summary, {"summary": summary, "segments": []})
        draw_mask(image, mask, out)
        rows, cols = np.nonzero(mask)
        segment = {
            "label": "person",
            "score": round(float(prob[mask].mean()), 4),
            "area": round(area, 4),
            "box": [int(cols.min()), int(rows.min()), int(cols.max()), int(rows.max())],
        }
        summary = f"person mask covering {area:.0%} of the image"
        return drawn_outputs(out, summary, {"summary": summary, "segments": [segment]})

"""Face detection with MediaPipe's BlazeFace (full-range model: faces up to ~5 m away)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from engine.experts.base import RunContext
from engine.experts.builtin.draw import draw_boxes, open_rgb
from engine.experts.builtin.mediapipe_files import MediaPipeTool
from engine.experts.builtin.resources import Detection, count_summary, drawn_outputs, path_arg
from engine.types import Resource, Task


def _load() -> Any:
    import mediapipe as mp

    return mp.solutions.face_detection.FaceDetection(model_selection=1, min_detection_confidence=0.5)


class MediaPipeFace(MediaPipeTool):
    tool_id = "builtin/mediapipe-face"
    task = "object-detection"
    description = (
        "MediaPipe face detection: finds and boxes human faces in a photo (faces only, no other objects)."
    )
    licence = "apache-2.0"
    model_files = ("face_detection/face_detection_full_range_sparse.tflite",)

    def load_model(self) -> Any:
        return _load()

    def run(self, task: Task, inputs: Mapping[str, Resource], ctx: RunContext) -> Sequence[Resource]:
        image = open_rgb(path_arg(inputs, "image"))
        result = self.process(image)
        found = [_detection(d, image.width, image.height) for d in result.detections or []]
        summary = count_summary([d.label for d in found], "no faces found")
        out = draw_boxes(image, found, ctx.new_path(task.id, ".png"))
        return drawn_outputs(out, summary, {"summary": summary, "detections": [d.to_json() for d in found]})


def _detection(det: Any, width: int, height: int) -> Detection:
    rel = det.location_data.relative_bounding_box
    left, top = max(0, round(rel.xmin * width)), max(0, round(rel.ymin * height))
    right = min(width - 1, round((rel.xmin + rel.width) * width))
    bottom = min(height - 1, round((rel.ymin + rel.height) * height))
    return Detection("face", float(det.score[0]), (left, top, right, bottom))

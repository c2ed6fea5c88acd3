"""Body pose with MediaPipe Pose (BlazePose full): 33 keypoints of one person."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from engine.experts.base import RunContext
from engine.experts.builtin.draw import draw_skeleton, open_rgb
from engine.experts.builtin.mediapipe_files import MediaPipeTool
from engine.experts.builtin.resources import drawn_outputs, path_arg
from engine.types import Resource, Task

MIN_VISIBILITY = 0.5


def _load() -> Any:
    import mediapipe as mp

    # Complexity 1 is the only landmark model bundled in the wheel (0 and 2 download).
    return mp.solutions.pose.Pose(static_image_mode=True, model_complexity=1, min_detection_confidence=0.5)


class MediaPipePose(MediaPipeTool):
    tool_id = "builtin/mediapipe-pose"
    task = "pose-estimation"
    description = "MediaPipe Pose: finds one person's body pose (33 keypoints) and draws the skeleton."
    licence = "apache-2.0"
    model_files = ("pose_detection/pose_detection.tflite", "pose_landmark/pose_landmark_full.tflite")

    def load_model(self) -> Any:
        return _load()

    def run(self, task: Task, inputs: Mapping[str, Resource], ctx: RunContext) -> Sequence[Resource]:
        import mediapipe as mp

        image = open_rgb(path_arg(inputs, "image"))
        result = self.process(image)
        out = ctx.new_path(task.id, ".png")
        if result.pose_landmarks is None:
            image.save(out)
            summary = "no person found"
            return drawn_outputs(out, summary, {"summary": summary, "people": 0, "keypoints": []})
        names = [lm.name.lower() for lm in mp.solutions.pose.PoseLandmark]
        points = [
            (p.x * image.width, p.y * image.height, p.visibility) for p in result.pose_landmarks.landmark
        ]
        draw_skeleton(image, points, mp.solutions.pose.POSE_CONNECTIONS, out, MIN_VISIBILITY)
        keypoints = [
            {"name": name, "x": round(x, 1), "y": round(y, 1), "visibility": round(v, 3)}
            for name, (x, y, v) in zip(names, points, strict=True)
        ]
        visible = sum(v >= MIN_VISIBILITY for _, _, v in points)
        summary = f"1 person, {visible} of {len(points)} keypoints visible"
        return drawn_outputs(out, summary, {"summary": summary, "people": 1, "keypoints": keypoints})

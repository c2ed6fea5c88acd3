"""Speech tools on real audio: eSpeak NG speaks, Whisper transcribes, Silero hears speech."""

from __future__ import annotations

import subprocess
import wave
from pathlib import Path

import pytest

from engine.experts.builtin.espeak import EspeakTTS
from engine.experts.builtin.silero_vad import SileroVAD
from engine.experts.builtin.whisper import NO_SPEECH, WhisperASR
from tests.experts.builtin_helpers import audio_file, require, run_tool, silence, spoken, text

WORDS = "Please send the report to Maria before Friday."


@pytest.fixture(scope="module")
def whisper() -> WhisperASR:
    # The default cache: the joined model (145 MB) is written once, not per test run.
    return require(WhisperASR())  # type: ignore[return-value]


@pytest.fixture(scope="module")
def speech_mp3(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("speech")
    wav = spoken(WORDS, folder / "words.wav")
    mp3 = folder / "words.mp3"
    try:
        subprocess.run(["ffmpeg", "-v", "error", "-i", str(wav), str(mp3)], check=True)
    except FileNotFoundError:
        pytest.skip("ffmpeg is not installed")
    return mp3


def test_tts_writes_a_valid_wav(tmp_path: Path) -> None:
    tool = require(EspeakTTS())
    [out] = run_tool(tool, tmp_path, {"text": text("-v Hello from the bot.")})
    assert out.mime == "audio/wav" and out.path is not None and out.path.suffix == ".wav"
    with wave.open(str(out.path)) as wav:
        assert wav.getnframes() / wav.getframerate() > 0.5


def test_asr_transcribes_speech_from_mp3(tmp_path: Path, whisper: WhisperASR, speech_mp3: Path) -> None:
    [out] = run_tool(whisper, tmp_path, {"audio": audio_file(speech_mp3)})
    heard = out.text.lower()
    for word in ("send", "report", "maria", "friday"):
        assert word in heard
    assert whisper.loaded


def test_asr_on_silence_says_no_speech(tmp_path: Path, whisper: WhisperASR) -> None:
    [out] = run_tool(whisper, tmp_path, {"audio": audio_file(silence(tmp_path / "quiet.wav"))})
    assert out.text == NO_SPEECH


def test_vad_tells_speech_from_silence(tmp_path: Path, speech_mp3: Path) -> None:
    tool = require(SileroVAD())
    summary, data = run_tool(tool, tmp_path, {"audio": audio_file(speech_mp3)})
    assert data.data["label"] == "speech" and data.data["scores"]["speech"] > 0.8
    assert data.data["segments"] and summary.text.startswith("speech")
    summary, data = run_tool(tool, tmp_path, {"audio": audio_file(silence(tmp_path / "quiet.wav"))})
    assert data.data["label"] == "no speech" and data.data["segments"] == []
    assert summary.text.startswith("no speech")

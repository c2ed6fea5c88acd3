"""Typing files by content: real formats are recognised; text that merely starts with
a magic-looking word stays text."""

from __future__ import annotations

import io
import subprocess
import wave

import pytest
from PIL import Image

from engine.media import sniff


def _image(fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(buf, format=fmt)
    return buf.getvalue()


@pytest.mark.parametrize(
    "fmt,mime",
    [
        ("PNG", "image/png"),
        ("JPEG", "image/jpeg"),
        ("GIF", "image/gif"),
        ("BMP", "image/bmp"),
        ("WEBP", "image/webp"),
        ("TIFF", "image/tiff"),
    ],
)
def test_images(fmt, mime):
    assert sniff(_image(fmt)).mime == mime


def test_audio_formats(tmp_path):
    wav = tmp_path / "a.wav"
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(8000)
        w.writeframes(b"\x00\x01" * 4000)
    assert sniff(wav.read_bytes()).mime == "audio/wav"
    mp3 = tmp_path / "a.mp3"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(wav), str(mp3)], check=True)
    assert sniff(mp3.read_bytes()).mime == "audio/mpeg"


@pytest.mark.parametrize(
    "text",
    [b"BMW sales rose 4 % this year", b"ID3 tags explained: a short guide", b"plain notes\nwith lines"],
)
def test_text_that_looks_like_magic_is_text(text):
    assert sniff(text).kind == "text"


def test_binary_junk_is_unsupported():
    assert sniff(b"\x00\x01\x02\x03binary") is None

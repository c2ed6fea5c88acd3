"""The embedded offline default end to end, as a user runs it: the real CLI in a
subprocess, the real picker, Tesseract, eSpeak NG and the SmolLM2 controller."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import wave
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parent.parent
TEXT = "The meeting starts at noon."


def _config(tmp_path: Path) -> Path:
    config = tmp_path / "config.yaml"
    config.write_text(f"llm:\n  backend: local\ndata_dir: {tmp_path / 'data'}\n")
    return config


def _cli(tmp_path: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    env.pop("HUGGINGGPT_DATA_DIR", None)
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "--config", str(_config(tmp_path)), *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=280,
    )


def _page(path: Path) -> Path:
    img = Image.new("RGB", (900, 200), "white")
    font_file = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
    font = ImageFont.truetype(str(font_file), 48) if font_file.exists() else ImageFont.load_default(48)
    ImageDraw.Draw(img).text((30, 60), TEXT, fill="black", font=font)
    img.save(path)
    return path


def test_read_the_text_in_this_image_aloud(tmp_path):
    page = _page(tmp_path / "page.png")
    done = _cli(tmp_path, "ask", "Read the text in this image aloud", "--attach", str(page), "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout)
    assert [t["task"] for t in out["plan"]] == ["image-to-text", "text-to-speech"]
    assert out["plan"][1]["args"]["text"] == "<GENERATED>-0"
    assert [r["status"] for r in out["results"]] == ["ok", "ok"]
    assert out["results"][0]["outputs"][0]["text"].strip() == TEXT
    [audio] = out["media"]
    with wave.open(audio) as w:
        assert w.getnframes() / w.getframerate() > 0.5
    assert "meeting starts at noon" in out["reply"].lower()
    assert set(out["timings"]) >= {"plan", "select", "execute", "respond", "total"}
    assert out["llm_calls"] == 0  # the picker planned and the summary answered: no LLM needed


def test_missing_attachment_is_a_clear_error(tmp_path):
    done = _cli(tmp_path, "ask", "describe this", "--attach", str(tmp_path / "nope.png"))
    assert done.returncode == 2
    assert "nope.png: no such file" in done.stderr


def test_chat_session_with_attach_and_forget(tmp_path):
    page = _page(tmp_path / "page.png")
    session = f"/help\n/attach {page}\nwhat text is in this image?\n/forget\n/quit\n"
    done = _cli(tmp_path, "chat", stdin=session)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "/attach PATH" in done.stdout and "attached page.png" in done.stdout
    assert "image-to-text" in done.stdout and "Context cleared." in done.stdout
    assert TEXT.lower().rstrip(".") in done.stdout.lower()


def test_next_turn_reads_the_earlier_image_aloud(tmp_path):
    page = _page(tmp_path / "page.png")
    first = _cli(tmp_path, "ask", "here is a scanned page", "--attach", str(page), "--conversation", "mt")
    assert first.returncode == 0, first.stderr[-2000:]
    done = _cli(
        tmp_path, "ask", "now read the text of the image above aloud", "--conversation", "mt", "--json"
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout)
    assert [t["task"] for t in out["plan"]] == ["image-to-text", "text-to-speech"]
    assert out["results"][0]["outputs"][0]["text"].strip() == TEXT
    [audio] = out["media"]
    assert Path(audio).suffix == ".wav" and "terminal-local-mt" in audio

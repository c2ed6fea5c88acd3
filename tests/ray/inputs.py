"""Inputs made on the spot for the Ray tests: a rendered page that Tesseract reads."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

TEXT = "The meeting starts at noon."


def page(path: Path, text: str = TEXT) -> Path:
    img = Image.new("RGB", (900, 200), "white")
    font_file = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
    font = ImageFont.truetype(str(font_file), 48) if font_file.exists() else ImageFont.load_default(48)
    ImageDraw.Draw(img).text((30, 60), text, fill="black", font=font)
    img.save(path)
    return path

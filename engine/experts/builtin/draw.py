"""Pillow drawing for the vision tools: labelled boxes, pose skeletons, mask overlays.

Every function reads the source image, draws on a copy and writes a PNG to ``dst``;
the user's file is never modified.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont, ImageOps

from engine.errors import ExpertError
from engine.experts.builtin.resources import Detection
from engine.media_limits import MAX_PIXELS_CEILING

PALETTE = [(230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180), (70, 240, 240)]


def open_rgb(path: Path, max_pixels: int = MAX_PIXELS_CEILING) -> Image.Image:
    """The image as RGB (EXIF orientation applied), so all tools see the same pixels.
    The size is read from the header first: past ``max_pixels`` nothing is decoded
    (the backend has checked the configured limit; this is the ceiling for any caller)."""
    try:
        with Image.open(path) as img:
            width, height = img.size
            if width * height > max_pixels:
                raise ExpertError(
                    f"{path.name}: the image is {width} x {height} pixels, more than the "
                    f"{max_pixels / 1e6:.0f} megapixels a tool decodes"
                )
            img.load()
            return ImageOps.exif_transpose(img).convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ExpertError(f"cannot read {path.name} as an image: {exc}") from exc


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has no sized default font
        return ImageFont.load_default()


def _stroke(img: Image.Image) -> int:
    return max(2, round(min(img.size) / 200))


def draw_boxes(src: Image.Image, detections: Sequence[Detection], dst: Path) -> Path:
    """Boxes with "label 0.93" tags, one colour per label."""
    img = src.copy()
    draw = ImageDraw.Draw(img)
    width = _stroke(img)
    font = _font(max(12, min(img.size) // 30))
    colours: dict[str, tuple[int, int, int]] = {}
    for det in detections:
        colour = colours.setdefault(det.label, PALETTE[len(colours) % len(PALETTE)])
        draw.rectangle(det.box, outline=colour, width=width)
        tag = det.label if det.score is None else f"{det.label} {det.score:.2f}"
        left, top = det.box[0], det.box[1]
        x0, y0, x1, y1 = draw.textbbox((left, top), tag, font=font)
        y_shift = (y1 - y0) + 2 * width if top - (y1 - y0) - 2 * width >= 0 else 0
        draw.rectangle((x0, y0 - y_shift, x1 + 2 * width, y1 - y_shift + width), fill=colour)
        draw.text((left + width, top - y_shift), tag, fill=(255, 255, 255), font=font)
    img.save(dst)
    return dst


def draw_skeleton(
    src: Image.Image,
    points: Sequence[tuple[float, float, float]],
    connections: Iterable[tuple[int, int]],
    dst: Path,
    min_visibility: float = 0.5,
) -> Path:
    """Keypoints (pixel x, y, visibility) joined by ``connections``; hidden points skipped."""
    img = src.copy()
    draw = ImageDraw.Draw(img)
    width = _stroke(img)
    seen = [vis >= min_visibility for _, _, vis in points]
    for a, b in connections:
        if seen[a] and seen[b]:
            draw.line((points[a][:2], points[b][:2]), fill=(0, 255, 0), width=width)
    radius = width + 2
    for (x, y, _), visible in zip(points, seen, strict=True):
        if visible:
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=(255, 0, 0))
    img.save(dst)
    return dst


def draw_mask(
    src: Image.Image,
    mask: np.ndarray,
    dst: Path,
    colour: tuple[int, int, int] = (0, 130, 200),
    alpha: float = 0.5,
) -> Path:
    """Tint the pixels where ``mask`` (bool, same height and width as the image) is set."""
    base = np.asarray(src, dtype=np.float32)
    tint = np.array(colour, dtype=np.float32)
    out = base.copy()
    out[mask] = (1 - alpha) * base[mask] + alpha * tint
    Image.fromarray(out.round().astype(np.uint8)).save(dst)
    return dst

"""Fit generated media within Discord's upload limit.

Discord refuses an upload over the guild's ``filesize_limit`` (10 MiB unboosted and
in DMs) with 413 / error 40005. Before posting, each file is checked: images are
re-encoded as JPEG and downscaled step by step; audio and video are transcoded with
ffmpeg at falling bitrates; whatever still does not fit is left out and the reply
carries a note saying so, never a silent drop. Shrunk copies go to ``workdir`` (the
caller's temporary folder); originals are never modified.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageSequence

from engine.types import Resource

log = logging.getLogger(__name__)

MAX_FILES_PER_MESSAGE = 10
FFMPEG_TIMEOUT = 120.0

# (bitrate) ladders tried in order until the file fits.
_AUDIO_LADDER = ("96k", "48k", "24k")
# (max height, crf, audio bitrate)
_VIDEO_LADDER = ((720, 28, "96k"), (480, 32, "64k"), (360, 38, "32k"))


@dataclass(frozen=True)
class Upload:
    """A file ready to attach: where it lies and the name the user sees."""

    path: Path
    filename: str
    size: int
    resource: Resource  # the original, to shrink further if Discord still refuses the upload


@dataclass(frozen=True)
class Fitted:
    uploads: tuple[Upload, ...]
    notes: tuple[str, ...]


def _human(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MiB"


def _display_name(res: Resource) -> str:
    if res.name:
        return Path(res.name).name
    return res.path.name if res.path else "file"


def _shrink_image(src: Path, dest_stem: Path, limit: int) -> Path | None:
    """Re-encode as JPEG, then downscale, until the file is at most ``limit`` bytes."""
    with Image.open(src) as opened:
        img: Image.Image = opened
        if getattr(opened, "is_animated", False):
            img = next(iter(ImageSequence.Iterator(opened)))  # first frame beats nothing
        rgb = img.convert("RGB") if img.mode != "RGB" else img.copy()
    dest = dest_stem.with_suffix(".jpg")
    scale = 1.0
    for attempt in range(10):
        size = (max(1, int(rgb.width * scale)), max(1, int(rgb.height * scale)))
        frame = rgb if scale == 1.0 else rgb.resize(size, Image.Resampling.LANCZOS)
        frame.save(dest, "JPEG", quality=85 if attempt == 0 else 80, optimize=True)
        if dest.stat().st_size <= limit:
            return dest
        scale *= 0.7
    return None


async def _ffmpeg(ffmpeg: str, args: list[str]) -> bool:
    try:
        proc = await asyncio.create_subprocess_exec(
            ffmpeg,
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
    except OSError as exc:
        log.warning("cannot run %s: %s", ffmpeg, exc)
        return False
    try:
        _, err = await asyncio.wait_for(proc.communicate(), FFMPEG_TIMEOUT)
    except BaseException as exc:  # timeout, or the turn cancelled: never leave ffmpeg running
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        if isinstance(exc, TimeoutError):
            return False
        raise
    if proc.returncode != 0:
        log.info("ffmpeg failed: %s", err.decode(errors="replace")[-300:])
    return proc.returncode == 0


async def _shrink_audio(src: Path, dest_stem: Path, limit: int, ffmpeg: str) -> Path | None:
    dest = dest_stem.with_suffix(".mp3")
    for bitrate in _AUDIO_LADDER:
        args = ["-i", str(src), "-vn", "-ac", "1", "-c:a", "libmp3lame", "-b:a", bitrate, str(dest)]
        if not await _ffmpeg(ffmpeg, args):
            return None
        if dest.stat().st_size <= limit:
            return dest
    return None


async def _shrink_video(src: Path, dest_stem: Path, limit: int, ffmpeg: str) -> Path | None:
    dest = dest_stem.with_suffix(".mp4")
    for height, crf, abr in _VIDEO_LADDER:
        args = [
            "-i",
            str(src),
            "-vf",
            f"scale=-2:'min({height},ih)'",
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-crf",
            str(crf),
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-b:a",
            abr,
            "-movflags",
            "+faststart",
            str(dest),
        ]
        if not await _ffmpeg(ffmpeg, args):
            return None
        if dest.stat().st_size <= limit:
            return dest
    return None


async def fit_one(res: Resource, limit: int, workdir: Path, index: int, ffmpeg: str) -> Upload | str:
    """An ``Upload`` within ``limit`` bytes, or a note for the user explaining why not."""
    name = _display_name(res)
    path = res.path
    if path is None or not path.is_file():
        return f"{name} could not be attached (the file is missing)."
    size = path.stat().st_size
    if size <= limit:
        return Upload(path, name, size, res)
    stem = workdir / f"{index}-{Path(name).stem or 'file'}"
    shrunk: Path | None = None
    try:
        if res.kind == "image":
            shrunk = await asyncio.to_thread(_shrink_image, path, stem, limit)
        elif res.kind == "audio":
            shrunk = await _shrink_audio(path, stem, limit, ffmpeg)
        elif res.kind == "video":
            shrunk = await _shrink_video(path, stem, limit, ffmpeg)
    except (OSError, ValueError, Image.DecompressionBombError) as exc:  # unreadable or too many pixels
        log.info("could not shrink %s: %s", path, exc)
        shrunk = None
    if shrunk is None:
        return f"{name} ({_human(size)}) was left out: it is over the {_human(limit)} upload limit here."
    new_name = Path(name).stem + shrunk.suffix
    return Upload(shrunk, new_name, shrunk.stat().st_size, res)


async def fit_media(media: tuple[Resource, ...], limit: int, workdir: Path, ffmpeg: str = "ffmpeg") -> Fitted:
    uploads: list[Upload] = []
    notes: list[str] = []
    for i, res in enumerate(media):
        got = await fit_one(res, limit, workdir, i, ffmpeg)
        if isinstance(got, Upload):
            uploads.append(got)
        else:
            notes.append(got)
    return Fitted(tuple(uploads), tuple(notes))


def batches(uploads: tuple[Upload, ...], limit: int) -> list[list[Upload]]:
    """Group uploads into messages of at most 10 files and ``limit`` bytes in total."""
    out: list[list[Upload]] = []
    current: list[Upload] = []
    total = 0
    for up in uploads:
        if current and (len(current) >= MAX_FILES_PER_MESSAGE or total + up.size > limit):
            out.append(current)
            current, total = [], 0
        current.append(up)
        total += up.size
    if current:
        out.append(current)
    return out

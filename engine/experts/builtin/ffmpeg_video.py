"""Image-to-video with ffmpeg: a slideshow of one or more images, with optional audio.

Frames are letterboxed to the first image's size (at most 1280 px, even sides) with
Pillow, then encoded as H.264 yuv420p with AAC audio and ``+faststart`` so chat
apps play the file inline. With audio, the images share its length; without, each
image shows for a few seconds.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from PIL import ImageOps

from engine.errors import ExpertError
from engine.experts.base import Availability, RunContext
from engine.experts.builtin.base import BuiltinTool
from engine.experts.builtin.draw import open_rgb
from engine.experts.builtin.resources import media_args, path_arg, run_program
from engine.types import Resource, Task

MAX_SIDE = 1280
MAX_IMAGES = 100
FPS = 25
SECONDS_PER_IMAGE = 2.0
SECONDS_SINGLE = 3.0
MAX_SECONDS = 600.0


class FfmpegImagesToVideo(BuiltinTool):
    tool_id = "builtin/ffmpeg-slideshow"
    task = "image-to-video"
    description = (
        "ffmpeg: makes an MP4 video from one or more images (a slideshow), with an audio track if given."
    )
    licence = "lgpl-2.1"

    def available(self) -> Availability:
        missing = [p for p in ("ffmpeg", "ffprobe") if shutil.which(p) is None]
        if missing:
            return Availability(False, "install ffmpeg (Debian: apt-get install ffmpeg)")
        return Availability(True)

    def run(self, task: Task, inputs: Mapping[str, Resource], ctx: RunContext) -> Sequence[Resource]:
        images = media_args(inputs, "image")
        if not images:
            raise ExpertError("no image to make a video from")
        if len(images) > MAX_IMAGES:
            raise ExpertError(f"too many images for one video ({len(images)}, at most {MAX_IMAGES})")
        audio = path_arg(inputs, "audio") if "audio" in inputs else None
        if audio is not None:
            total = min(probe_duration(audio, ctx.timeout), MAX_SECONDS)
            per_image = total / len(images)
        else:
            per_image = SECONDS_SINGLE if len(images) == 1 else SECONDS_PER_IMAGE
            total = per_image * len(images)
        out = ctx.new_path(task.id, ".mp4")
        with tempfile.TemporaryDirectory() as tmp:
            frames = _frames(images, Path(tmp))
            run_program(_command(frames, per_image, audio, total, out), timeout=ctx.timeout)
        summary = f"video, {len(images)} image{'s' if len(images) > 1 else ''}, {total:.1f} s" + (
            ", with audio" if audio else ""
        )
        return [Resource(kind="video", path=out, mime="video/mp4", text=summary)]


def _frames(images: list[Path], folder: Path) -> list[Path]:
    """Each image as a PNG of one common size, letterboxed in black."""
    first = open_rgb(images[0])
    scale = min(1.0, MAX_SIDE / max(first.size))
    size = (max(2, round(first.width * scale) // 2 * 2), max(2, round(first.height * scale) // 2 * 2))
    frames = []
    for n, path in enumerate(images):
        image = first if n == 0 else open_rgb(path)
        frame = folder / f"frame{n:03d}.png"
        ImageOps.pad(image, size, color=(0, 0, 0)).save(frame)
        frames.append(frame)
    return frames


def _command(frames: list[Path], per_image: float, audio: Path | None, total: float, out: Path) -> list[str]:
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-y"]
    for frame in frames:
        cmd += ["-framerate", str(FPS), "-loop", "1", "-t", f"{per_image:.3f}", "-i", str(frame)]
    if audio is not None:
        cmd += ["-i", str(audio)]
    joined = "".join(f"[{i}:v]" for i in range(len(frames)))
    cmd += ["-filter_complex", f"{joined}concat=n={len(frames)}:v=1:a=0,format=yuv420p[v]", "-map", "[v]"]
    if audio is not None:
        cmd += ["-map", f"{len(frames)}:a:0", "-c:a", "aac", "-b:a", "128k"]
    cmd += [
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-tune",
        "stillimage",
        "-pix_fmt",
        "yuv420p",
        "-r",
        str(FPS),
        "-t",
        f"{total:.3f}",
        "-movflags",
        "+faststart",
        str(out),
    ]
    return cmd


def probe_duration(path: Path, timeout: float) -> float:
    """Seconds of media in ``path`` per ffprobe; an unreadable file is an ExpertError."""
    text = run_program(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
        timeout=timeout,
    ).strip()
    try:
        seconds = float(text)
    except ValueError as exc:
        raise ExpertError(f"cannot tell how long {path.name} is") from exc
    if seconds <= 0:
        raise ExpertError(f"{path.name} is empty")
    return seconds

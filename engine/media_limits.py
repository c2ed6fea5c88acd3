"""Limits on media, checked from the file's header before anything decodes it.

A 189 KB PNG can declare 13,000 x 13,000 pixels (half a gigabyte once decoded, more
in an OCR engine); a short file can declare hours of audio. The byte limit cannot
see that, so the header is read first: ``Image.open`` reads only the header (width
and height), ffprobe reads the container's duration, frame rate and frame count
(with ``ffmpeg -i``'s summary or the WAV header where ffprobe is missing).

What holds: ``media_problem`` answers in words naming the file, what it is and the
limit with its setting, or None when the file is within every limit. It is asked at
ingest (bot/ingest.py: the file is left out, the user warned; a file whose header
cannot be read is left out the same way) and by the expert backends before a tool
or model decodes an input (``check_inputs``: the task fails with an error that says
the same). Nothing here decodes pixels or samples.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import wave
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from engine.errors import ExpertError
from engine.types import Resource

__all__ = ["MAX_PIXELS_CEILING", "MediaInfo", "MediaLimits", "check_inputs", "media_problem", "probe"]

# The most pixels any decoder here is ever asked for, whatever the config says (the
# largest ``limits.max_image_megapixels`` accepted): under twice Pillow's default
# bomb limit, past which Pillow refuses on its own.
MAX_PIXELS_CEILING = 170_000_000


@dataclass(frozen=True, slots=True)
class MediaLimits:
    """The largest media the bot decodes (``limits`` in the config)."""

    max_pixels: int = 50_000_000  # per image or video frame; Pillow's own bomb check is at 89M
    max_audio_seconds: float = 600.0
    max_video_seconds: float = 600.0
    max_video_frames: int = 36_000
    probe_timeout: float = 15.0


@dataclass(frozen=True, slots=True)
class MediaInfo:
    width: int | None = None
    height: int | None = None
    seconds: float | None = None
    frames: int | None = None

    @property
    def pixels(self) -> int | None:
        return self.width * self.height if self.width and self.height else None


class Unreadable(Exception):
    """The header could not be read; the message says why."""


def probe(path: Path, kind: str, timeout: float = 15.0) -> MediaInfo:
    """What ``path``'s header says: size for images, duration (and size, frames) for
    audio and video. Raises Unreadable."""
    if kind == "image":
        return _probe_image(path)
    if kind in ("audio", "video"):
        return _probe_stream(path, kind, timeout)
    return MediaInfo()


def media_problem(
    path: Path, kind: str, limits: MediaLimits, label: str | None = None, *, refuse_unreadable: bool = True
) -> str | None:
    """Why ``path`` (a ``kind`` file) is refused, in words that name it and the limit,
    or None when it is within every limit. A header that cannot be read is a problem
    too, unless ``refuse_unreadable`` is False (the decoder will then say what is wrong)."""
    label = label or path.name
    if kind not in ("image", "audio", "video"):
        return None
    try:
        info = probe(path, kind, limits.probe_timeout)
    except Unreadable as exc:
        if not refuse_unreadable:
            return None
        return f"{label}: cannot be read as {'an' if kind in ('image', 'audio') else 'a'} {kind} ({exc})"
    pixels = info.pixels
    if pixels is not None and pixels > limits.max_pixels:
        what = "image" if kind == "image" else "video's frames"
        return (
            f"{label}: the {what} {'is' if kind == 'image' else 'are'} {info.width} x {info.height} pixels "
            f"({_mp(pixels)} megapixels) and the limit is {_mp(limits.max_pixels)} megapixels "
            f"(limits.max_image_megapixels)"
        )
    if info.seconds is not None:
        limit = limits.max_audio_seconds if kind == "audio" else limits.max_video_seconds
        if info.seconds > limit:
            return (
                f"{label}: the {kind} lasts {_duration(info.seconds)} and the limit is {_duration(limit)} "
                f"(limits.max_{kind}_seconds)"
            )
    if kind == "video" and info.frames is not None and info.frames > limits.max_video_frames:
        return (
            f"{label}: the video has {info.frames:,} frames and the limit is {limits.max_video_frames:,} "
            f"(limits.max_video_frames)"
        )
    return None


def check_inputs(inputs: Mapping[str, Resource], limits: MediaLimits) -> None:
    """Raise ExpertError (a failed task, as every refusal by an expert backend is) for
    the first media input over a limit; see ``media_problem``. An unreadable file is
    left for the tool, which names what is wrong with it."""
    for res in inputs.values():
        if res.path is None or res.kind not in ("image", "audio", "video"):
            continue
        label = res.name or res.path.name
        problem = media_problem(res.path, res.kind, limits, label=label, refuse_unreadable=False)
        if problem is not None:
            raise ExpertError(problem)


def _probe_image(path: Path) -> MediaInfo:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:  # reads the header only; pixels are decoded on load()
            width, height = img.size
    except Image.DecompressionBombError as exc:  # past twice Pillow's own limit: no size given
        raise Unreadable(f"Pillow refuses it as a decompression bomb: {exc}") from exc
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise Unreadable(str(exc) or type(exc).__name__) from exc
    return MediaInfo(width=width, height=height)


def _probe_stream(path: Path, kind: str, timeout: float) -> MediaInfo:
    ffprobe = shutil.which("ffprobe")
    if ffprobe is not None:
        return _ffprobe(ffprobe, path, kind, timeout)
    from engine.audio import ffmpeg_exe

    ffmpeg = ffmpeg_exe()
    if ffmpeg is not None:
        return _ffmpeg_summary(ffmpeg, path, kind, timeout)
    if kind == "audio":
        return _wav_header(path)
    raise Unreadable("neither ffprobe nor ffmpeg is installed to read its header")


def _run(cmd: list[str], timeout: float) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(
            cmd, capture_output=True, check=False, timeout=timeout, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired as exc:
        raise Unreadable(f"reading its header took longer than {timeout:g} s") from exc
    except OSError as exc:
        raise Unreadable(f"cannot run {Path(cmd[0]).name}: {exc.strerror}") from exc


def _ffprobe(exe: str, path: Path, kind: str, timeout: float) -> MediaInfo:
    done = _run(
        [
            exe,
            "-v",
            "error",
            "-show_entries",
            "format=duration:stream=codec_type,width,height,nb_frames,duration,avg_frame_rate",
            "-of",
            "json",
            str(path),
        ],
        timeout,
    )
    if done.returncode != 0:
        raise Unreadable(done.stderr.decode("utf-8", "replace").strip()[:200] or "ffprobe refused it")
    try:
        data = json.loads(done.stdout or b"{}")
    except ValueError as exc:
        raise Unreadable("ffprobe gave no readable answer") from exc
    streams = [s for s in data.get("streams", []) if isinstance(s, dict)]
    wanted = "video" if kind == "video" else "audio"
    stream = next((s for s in streams if s.get("codec_type") == wanted), None)
    if stream is None:
        raise Unreadable(f"it has no {wanted} stream")
    seconds = _number(data.get("format", {}).get("duration")) or _number(stream.get("duration"))
    if kind == "audio":
        return MediaInfo(seconds=seconds)
    frames = _number(stream.get("nb_frames"))
    rate = _rate(stream.get("avg_frame_rate"))
    if frames is None and seconds is not None and rate:
        frames = seconds * rate
    return MediaInfo(
        width=_int(stream.get("width")),
        height=_int(stream.get("height")),
        seconds=seconds,
        frames=None if frames is None else int(frames),
    )


_DURATION = re.compile(r"Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)")
_VIDEO = re.compile(r"Video: .*?, (\d{1,6})x(\d{1,6})")
_FPS = re.compile(r"(\d+(?:\.\d+)?) (?:fps|tbr)")


def _ffmpeg_summary(exe: str, path: Path, kind: str, timeout: float) -> MediaInfo:
    """What ``ffmpeg -i`` prints about the input (it exits 1: no output was named)."""
    text = _run([exe, "-hide_banner", "-nostdin", "-i", str(path)], timeout).stderr.decode("utf-8", "replace")
    found = _DURATION.search(text)
    if found is None:
        raise Unreadable(text.strip().splitlines()[-1][:200] if text.strip() else "ffmpeg cannot read it")
    hours, minutes, secs = found.groups()
    seconds = int(hours) * 3600 + int(minutes) * 60 + float(secs)
    if kind == "audio":
        return MediaInfo(seconds=seconds)
    video = _VIDEO.search(text)
    if video is None:
        raise Unreadable("it has no video stream")
    fps = _FPS.search(text[video.end() :])
    frames = int(seconds * float(fps.group(1))) if fps else None
    return MediaInfo(width=int(video.group(1)), height=int(video.group(2)), seconds=seconds, frames=frames)


def _wav_header(path: Path) -> MediaInfo:
    try:
        with wave.open(str(path), "rb") as w:
            return MediaInfo(seconds=w.getnframes() / float(w.getframerate() or 1))
    except (wave.Error, OSError, EOFError) as exc:
        raise Unreadable(f"not a WAV file, and no ffmpeg to read it ({exc})") from exc


def _number(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if number == number and number >= 0 else None  # NaN is not a duration


def _int(value: object) -> int | None:
    number = _number(value)
    return None if number is None else int(number)


def _rate(value: object) -> float | None:
    if not isinstance(value, str) or "/" not in value:
        return _number(value)
    num, _, den = value.partition("/")
    n, d = _number(num), _number(den)
    return n / d if n is not None and d else None


def _mp(pixels: float) -> str:
    return f"{pixels / 1e6:.0f}" if pixels >= 10e6 else f"{pixels / 1e6:.2g}"


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 120:
        return f"{minutes} min {secs:02d} s" if secs else f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"

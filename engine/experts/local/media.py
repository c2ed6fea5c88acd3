"""Turning model outputs into files (PNG, WAV, MP4) and reading media inputs.

Shared by the local and hosted backends: both hand back ``Resource`` values whose
media live under ``RunContext.new_path``. Only numpy, Pillow, the standard library
and an ``ffmpeg`` program (system or imageio-ffmpeg) are used here.
"""

from __future__ import annotations

import io
import subprocess
import wave
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from engine.audio import decode_audio, ffmpeg_exe
from engine.errors import ExpertError, InputError
from engine.experts.base import RunContext
from engine.media_limits import MAX_PIXELS_CEILING
from engine.types import Resource


def open_image(resource: Resource) -> Image.Image:
    if resource.path is None:
        raise InputError(f"expected an image file, got a {resource.kind} value")
    try:
        with Image.open(resource.path) as img:
            width, height = img.size  # the header only: checked before any pixel is decoded
            if width * height > MAX_PIXELS_CEILING:
                raise InputError(
                    f"{resource.name or resource.path.name}: the image is {width} x {height} pixels, "
                    f"more than the {MAX_PIXELS_CEILING / 1e6:.0f} megapixels a model is given"
                )
            return img.convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise InputError(f"{resource.name or resource.path.name}: not a readable image ({exc})") from exc


def load_audio(resource: Resource, sampling_rate: int = 16000) -> np.ndarray:
    """Mono float32 samples at ``sampling_rate`` (see engine.audio.decode_audio)."""
    if resource.path is None:
        raise InputError(f"expected an audio file, got a {resource.kind} value")
    return decode_audio(resource.path, sampling_rate, label=resource.name)


def save_image(
    image: Any, ctx: RunContext, task_id: int, text: str | None = None, data: Any = None
) -> Resource:
    """A PIL image, numpy array (HWC, 0-1 floats or uint8) or encoded bytes -> PNG resource."""
    if isinstance(image, (bytes, bytearray)):
        image = Image.open(io.BytesIO(image))
    elif isinstance(image, np.ndarray):
        image = to_pil(image)
    if not isinstance(image, Image.Image):
        raise ExpertError(f"the model returned {type(image).__name__}, not an image")
    path = ctx.new_path(task_id, ".png")
    image.save(path, format="PNG")
    return Resource(kind="image", path=path, mime="image/png", text=text, data=data)


def to_pil(array: np.ndarray) -> Image.Image:
    arr = np.asarray(array)
    if arr.dtype != np.uint8:
        arr = (np.clip(arr, 0.0, 1.0) * 255).round().astype(np.uint8)
    if arr.ndim == 3 and arr.shape[0] in (1, 3) and arr.shape[-1] not in (1, 3):
        arr = arr.transpose(1, 2, 0)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    return Image.fromarray(arr)


def save_wav(samples: Any, sampling_rate: int, ctx: RunContext, task_id: int) -> Resource:
    """Float samples in [-1, 1] (any shape; channels last or first) -> 16-bit PCM WAV."""
    arr = np.asarray(samples, dtype=np.float32).squeeze()
    if arr.ndim == 2 and arr.shape[0] < arr.shape[1]:
        arr = arr.T  # (channels, n) -> (n, channels)
    channels = 1 if arr.ndim == 1 else arr.shape[1]
    pcm = (np.clip(arr, -1.0, 1.0) * 32767).astype("<i2")
    path = ctx.new_path(task_id, ".wav")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(int(sampling_rate))
        w.writeframes(pcm.tobytes())
    seconds = len(arr) / float(sampling_rate) if sampling_rate else 0.0
    return Resource(kind="audio", path=path, mime="audio/wav", text=f"{seconds:.1f} s of audio")


def save_audio_bytes(blob: bytes, ctx: RunContext, task_id: int, content_type: str | None = None) -> Resource:
    """Encoded audio as a server sent it; the suffix follows the content type or magic bytes."""
    suffix = ".wav"
    ctype = (content_type or "").lower()
    if blob[:3] == b"ID3" or blob[:2] == b"\xff\xfb" or "mpeg" in ctype:
        suffix = ".mp3"
    elif blob[:4] == b"fLaC" or "flac" in ctype:
        suffix = ".flac"
    elif blob[:4] == b"OggS" or "ogg" in ctype:
        suffix = ".ogg"
    path = ctx.new_path(task_id, suffix)
    path.write_bytes(blob)
    mime = {".wav": "audio/wav", ".mp3": "audio/mpeg", ".flac": "audio/flac", ".ogg": "audio/ogg"}[suffix]
    return Resource(kind="audio", path=path, mime=mime)


def save_video_bytes(blob: bytes, ctx: RunContext, task_id: int) -> Resource:
    path = ctx.new_path(task_id, ".mp4")
    path.write_bytes(blob)
    return Resource(kind="video", path=path, mime="video/mp4")


def save_mp4(frames: Sequence[Any], ctx: RunContext, task_id: int, fps: int = 8) -> Resource:
    """Frames (PIL images or HWC arrays) -> H.264 MP4 through ffmpeg (OpenCV as a fallback)."""
    pil_frames = [f if isinstance(f, Image.Image) else to_pil(np.asarray(f)) for f in frames]
    if not pil_frames:
        raise ExpertError("the model returned no video frames")
    rgb = [np.asarray(f.convert("RGB")) for f in pil_frames]
    height, width = rgb[0].shape[:2]
    path = ctx.new_path(task_id, ".mp4")
    exe = ffmpeg_exe()
    if exe is not None:
        cmd = [
            exe,
            "-nostdin",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-s",
            f"{width}x{height}",
            "-r",
            str(fps),
            "-i",
            "-",
            "-vf",
            "pad=ceil(iw/2)*2:ceil(ih/2)*2",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "-movflags",
            "+faststart",
            str(path),
        ]
        done = subprocess.run(cmd, input=b"".join(f.tobytes() for f in rgb), capture_output=True, check=False)
        if done.returncode != 0:
            raise ExpertError(
                f"ffmpeg could not encode the video: {done.stderr.decode(errors='replace')[:300]}"
            )
    else:
        _write_mp4_opencv(rgb, path, fps)
    return Resource(
        kind="video",
        path=path,
        mime="video/mp4",
        text=f"{len(rgb)} frames, {width}x{height}, {len(rgb) / fps:.1f} s",
    )


def _write_mp4_opencv(rgb: list[np.ndarray], path: Path, fps: int) -> None:
    try:
        import cv2  # type: ignore[import-not-found]
    except ImportError as exc:
        raise ExpertError(
            "writing a video needs ffmpeg (apt install ffmpeg, or pip install "
            "imageio-ffmpeg) or opencv-python-headless"
        ) from exc
    height, width = rgb[0].shape[:2]
    fourcc = cv2.VideoWriter_fourcc(*"mp4v")  # type: ignore[attr-defined]
    writer = cv2.VideoWriter(str(path), fourcc, fps, (width, height))
    try:
        for frame in rgb:
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    finally:
        writer.release()

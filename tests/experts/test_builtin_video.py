"""ffmpeg slideshow: images (+ speech) become an H.264 MP4 that chat apps play."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from PIL import Image

from engine.experts.builtin.ffmpeg_video import FfmpegImagesToVideo
from tests.experts.builtin_helpers import audio_file, image_file, require, run_tool, spoken


def probe(path: Path) -> dict:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out)


def test_images_and_audio_make_an_h264_video(tmp_path: Path) -> None:
    tool = require(FfmpegImagesToVideo())
    red, blue = tmp_path / "red.png", tmp_path / "blue.jpg"
    Image.new("RGB", (321, 240), "red").save(red)  # odd width: must still encode
    Image.new("RGB", (200, 300), "blue").save(blue)
    speech = spoken("One, two, three.", tmp_path / "count.wav")
    [out] = run_tool(
        tool, tmp_path, {"image": image_file(red), "image2": image_file(blue), "audio": audio_file(speech)}
    )
    info = probe(out.path)  # type: ignore[arg-type]
    video = [s for s in info["streams"] if s["codec_type"] == "video"]
    audio = [s for s in info["streams"] if s["codec_type"] == "audio"]
    assert video[0]["codec_name"] == "h264" and video[0]["pix_fmt"] == "yuv420p"
    assert video[0]["width"] % 2 == 0 and video[0]["height"] % 2 == 0
    assert audio and audio[0]["codec_name"] == "aac"
    assert out.mime == "video/mp4" and "with audio" in (out.text or "")


def test_single_image_without_audio(tmp_path: Path) -> None:
    tool = require(FfmpegImagesToVideo())
    still = tmp_path / "still.png"
    Image.new("RGB", (64, 48), "green").save(still)
    [out] = run_tool(tool, tmp_path, {"image": image_file(still)})
    info = probe(out.path)  # type: ignore[arg-type]
    assert [s["codec_type"] for s in info["streams"]] == ["video"]
    assert 2.5 < float(info["format"]["duration"]) < 3.5

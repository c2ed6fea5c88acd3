"""Shared set-up for the builtin tool tests: real inputs made on the spot."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from engine.experts.base import RunContext
from engine.experts.builtin.base import BuiltinTool
from engine.tasks import TASK_SPECS
from engine.types import Resource, Task


def require(tool: BuiltinTool) -> BuiltinTool:
    state = tool.available()
    if not state.ok:
        pytest.skip(f"{tool.tool_id} unavailable: {state.why}")
    return tool


def run_tool(
    tool: BuiltinTool,
    tmp_path: Path,
    inputs: Mapping[str, Resource],
    request: str = "",
    args: Mapping[str, str] | None = None,
) -> Sequence[Resource]:
    """Run ``tool`` and check its outputs have the kinds its task promises."""
    task = Task(id=1, task=tool.task, args=dict(args or {}))
    outputs = tool.run(task, inputs, RunContext(output_dir=tmp_path / "out", request_text=request))
    assert tuple(o.kind for o in outputs) == TASK_SPECS[tool.task].outputs
    for out in outputs:
        if out.path is not None:
            assert out.path.is_file() and out.path.parent == tmp_path / "out"
    return outputs


def text(value: str) -> Resource:
    return Resource(kind="text", text=value)


def image_file(path: Path) -> Resource:
    return Resource(kind="image", path=path, name=path.name)


def audio_file(path: Path) -> Resource:
    return Resource(kind="audio", path=path, name=path.name)


def skimage_photo(name: str, folder: Path) -> Path:
    """A photo from scikit-image's bundled data (astronaut, coffee, chelsea ...) as PNG."""
    data = pytest.importorskip("skimage.data")
    path = folder / f"{name}.png"
    Image.fromarray(getattr(data, name)()).save(path)
    return path


CJK_FONTS = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
)


def cjk_font() -> Path:
    """A font with Chinese characters (Debian fonts-wqy-microhei or fonts-noto-cjk), or skip."""
    for candidate in CJK_FONTS:
        if Path(candidate).is_file():
            return Path(candidate)
    pytest.skip("no CJK font installed (apt-get install fonts-wqy-microhei)")


def text_image(lines: Sequence[str], path: Path, font_path: Path | None = None) -> Path:
    """Black text on white, 64 px; Pillow's own font unless ``font_path`` names one."""
    img = Image.new("RGB", (900, 110 * len(lines) + 40), "white")
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(str(font_path), 64) if font_path else ImageFont.load_default(size=64)
    for n, line in enumerate(lines):
        draw.text((30, 30 + 110 * n), line, fill="black", font=font)
    img.save(path)
    return path


def spoken(words: str, path: Path, voice: str = "en") -> Path:
    """Speech rendered by eSpeak NG (skips when it is not installed)."""
    try:
        subprocess.run(["espeak-ng", "-v", voice, "-w", str(path), words], check=True, capture_output=True)
    except FileNotFoundError:
        pytest.skip("espeak-ng is not installed")
    return path


def silence(path: Path, seconds: float = 2.0) -> Path:
    import wave

    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16000)
        wav.writeframes(b"\0\0" * int(16000 * seconds))
    return path

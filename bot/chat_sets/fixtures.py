"""Builds the files a chat set's turns attach, from the spec in the row, offline.

A spec is one of (``name`` is the file name the user sent, unique within a conversation):

    {"name": "note.png", "note": "Dentist Tuesday 3pm"}      black text on white, for OCR
    {"name": "cat.png", "photo": "chelsea"}                   a photo bundled with scikit-image
    {"name": "memo.wav", "speech": "Call mom", "voice": "en"}  espeak-ng speech (en, fr, es, cmn)
    {"name": "clip.mp4", "video_of": ["cat.png", "dog.png"]}  an ffmpeg slideshow of earlier images

The same spec always gives the same bytes on one machine (no randomness, no time stamps:
PNG and WAV carry none, ffmpeg runs single-threaded with bit-exact flags), so a scored run
can be repeated. Nothing is downloaded: the fonts and programs are Debian packages
(scripts/bootstrap.sh installs them) and the photos ship inside the scikit-image wheel.
A spec that names something unknown raises ``InputError`` naming the attachment; a missing
font or program raises ``FileNotFoundError`` naming the package to install.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from engine.errors import InputError

NOTE_FONT_SIZE = 48
NOTE_MARGIN = 48
NOTE_LINE_GAP = 24
LATIN_FONTS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
)
CJK_FONTS = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
)
VOICES = {"en": "en", "fr": "fr", "es": "es", "cmn": "cmn"}
SLIDE_SECONDS = 2
IMAGE_SUFFIXES = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}
SPEC_KEYS = ("note", "photo", "speech", "video_of")
KIND_OF_KEY = {"note": "image", "photo": "image", "speech": "audio", "video_of": "video"}


def _photo_loaders() -> dict[str, Callable[[], Any]]:
    """The scikit-image photos that load from the wheel itself (no pooch download)."""
    from skimage import data

    return {
        "astronaut": data.astronaut,  # a woman in a spacesuit, head and shoulders
        "camera": data.camera,  # a man with a camera on a tripod (greyscale)
        "chelsea": data.chelsea,  # a tabby cat
        "cat": data.chelsea,
        "coffee": data.coffee,  # a cup of coffee on a saucer
        "rocket": data.rocket,  # a rocket on its launch pad
        "motorcycle": lambda: data.stereo_motorcycle()[0],  # a motorbike in a garage
        "page": data.page,  # a scanned page of a book (greyscale)
        "coins": data.coins,  # old coins on a plain background (greyscale)
        "moon": data.moon,  # the surface of the moon (greyscale)
        "horse": data.horse,  # a horse's silhouette (black on white)
        "hubble": data.hubble_deep_field,  # galaxies in the Hubble deep field
    }


PHOTOS = (
    "astronaut",
    "camera",
    "chelsea",
    "cat",
    "coffee",
    "rocket",
    "motorcycle",
    "page",
    "coins",
    "moon",
    "horse",
    "hubble",
)


def spec_kind(spec: Mapping[str, Any]) -> str:
    """The resource kind the attachment is (image, audio or video); InputError when the
    spec has not exactly one of the known keys."""
    keys = [k for k in SPEC_KEYS if k in spec]
    if len(keys) != 1:
        raise InputError(
            f"attachment {spec.get('name')!r}: needs exactly one of {', '.join(SPEC_KEYS)}, has {keys or 'none'}"
        )
    return KIND_OF_KEY[keys[0]]


def build_attachment(spec: Mapping[str, Any], folder: Path) -> Path:
    """Write the file ``spec`` describes to ``folder / spec["name"]`` and return its path.

    A ``video_of`` spec reads the images it names from ``folder``, so they must be built
    first (``build_all`` keeps the order of the turns)."""
    name = spec.get("name")
    if not isinstance(name, str) or not name or Path(name).name != name:
        raise InputError(f"attachment name {name!r} must be a plain file name")
    kind = spec_kind(spec)
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / name
    suffix = out.suffix.lower()
    if kind == "image":
        if suffix not in IMAGE_SUFFIXES:
            raise InputError(f"attachment {name!r}: an image must end in {', '.join(IMAGE_SUFFIXES)}")
        image = _render_note(spec["note"], name) if "note" in spec else _load_photo(spec["photo"], name)
        fmt = IMAGE_SUFFIXES[suffix]
        image.save(out, fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    elif kind == "audio":
        if suffix != ".wav":
            raise InputError(f"attachment {name!r}: speech is written as .wav")
        _speak(spec["speech"], spec.get("voice", "en"), out, name)
    else:
        if suffix != ".mp4":
            raise InputError(f"attachment {name!r}: a video is written as .mp4")
        _slideshow([folder / n for n in spec["video_of"]], out, name)
    return out


def build_all(rows: Iterable[Mapping[str, Any]], folder: Path) -> dict[str, Path]:
    """Build every attachment of every conversation, each in ``folder / ROW_ID``.

    Returns ``{"ROW_ID/NAME": path}`` (names are unique within a conversation only).
    Turns are built in order, so a video may show the images of its own or earlier turns."""
    built: dict[str, Path] = {}
    for row in rows:
        row_folder = folder / row["id"]
        for turn in row["turns"]:
            specs = sorted(turn.get("attach", []), key=lambda s: "video_of" in s)  # images before videos
            for spec in specs:
                key = f"{row['id']}/{spec['name']}"
                if key in built:
                    raise InputError(f"{row['id']}: the attachment name {spec['name']!r} is used twice")
                built[key] = build_attachment(spec, row_folder)
    return built


def find_font(text: str) -> Path:
    """A scalable font that has ``text``'s glyphs: a CJK font when the text has Han or kana."""
    cjk = any(_is_cjk(ch) for ch in text)
    candidates = CJK_FONTS if cjk else LATIN_FONTS
    for candidate in candidates:
        if Path(candidate).is_file():
            return Path(candidate)
    package = "fonts-wqy-microhei (or fonts-noto-cjk)" if cjk else "fonts-dejavu-core"
    raise FileNotFoundError(
        f"no {'CJK' if cjk else 'Latin'} font found (looked for {', '.join(candidates)}); "
        f"install it with: apt-get install -y {package}"
    )


def _is_cjk(ch: str) -> bool:
    code = ord(ch)
    return 0x3000 <= code <= 0x9FFF or 0xF900 <= code <= 0xFAFF or 0xFF00 <= code <= 0xFFEF


def _render_note(text: Any, name: str) -> Any:
    from PIL import Image, ImageDraw, ImageFont

    if not isinstance(text, str) or not text.strip():
        raise InputError(f"attachment {name!r}: a note needs its text")
    lines = text.split("\n")
    font = ImageFont.truetype(str(find_font(text)), NOTE_FONT_SIZE)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    boxes = [probe.textbbox((0, 0), line or " ", font=font) for line in lines]
    line_height = NOTE_FONT_SIZE + NOTE_LINE_GAP
    width = max(box[2] for box in boxes) + 2 * NOTE_MARGIN
    height = line_height * len(lines) + 2 * NOTE_MARGIN
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        draw.text((NOTE_MARGIN, NOTE_MARGIN + i * line_height), line, fill="black", font=font)
    return image


def _load_photo(photo: Any, name: str) -> Any:
    import numpy as np
    from PIL import Image

    loaders = _photo_loaders()
    if photo not in loaders:
        raise InputError(f"attachment {name!r}: unknown photo {photo!r}; known: {', '.join(PHOTOS)}")
    pixels = np.asarray(loaders[photo]())
    if pixels.dtype == bool:
        pixels = np.where(pixels, 0, 255).astype(np.uint8)  # the horse: black shape on white
    image = Image.fromarray(pixels)
    return image.convert("RGB")


def _speak(text: Any, voice: Any, out: Path, name: str) -> None:
    if not isinstance(text, str) or not text.strip():
        raise InputError(f"attachment {name!r}: speech needs its text")
    if voice not in VOICES:
        raise InputError(f"attachment {name!r}: unknown voice {voice!r}; known: {', '.join(VOICES)}")
    program = _program("espeak-ng", "espeak-ng")
    subprocess.run(
        [program, "-v", VOICES[voice], "--stdin", "-w", str(out)],
        input=text.encode("utf-8"),
        check=True,
        capture_output=True,
        timeout=60,
    )


def _slideshow(images: list[Path], out: Path, name: str) -> None:
    if not images:
        raise InputError(f"attachment {name!r}: video_of names no images")
    missing = [p.name for p in images if not p.is_file()]
    if missing:
        raise InputError(f"attachment {name!r}: video_of names images not built before it: {missing}")
    program = _program("ffmpeg", "ffmpeg")
    args = [program, "-hide_banner", "-loglevel", "error", "-y"]
    for path in images:
        args += ["-loop", "1", "-t", str(SLIDE_SECONDS), "-i", str(path)]
    scaled = "".join(f"[{i}:v]scale=640:480,setsar=1,fps=10[v{i}];" for i in range(len(images)))
    joined = "".join(f"[v{i}]" for i in range(len(images)))
    args += [
        "-filter_complex",
        f"{scaled}{joined}concat=n={len(images)}:v=1:a=0,format=yuv420p[out]",
        "-map",
        "[out]",
        "-c:v",
        "libx264",
        "-threads",
        "1",
        "-map_metadata",
        "-1",
        "-fflags",
        "+bitexact",
        "-flags:v",
        "+bitexact",
        str(out),
    ]
    subprocess.run(args, check=True, capture_output=True, timeout=120)


def _program(command: str, package: str) -> str:
    found = shutil.which(command)
    if found is None:
        raise FileNotFoundError(f"{command} is not installed; install it with: apt-get install -y {package}")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the attachments of chat sets into a folder.")
    parser.add_argument("sets", nargs="+", type=Path, help="chats_*.jsonl files")
    parser.add_argument("--out", type=Path, required=True, help="folder to build into (one sub-folder a row)")
    args = parser.parse_args(argv)
    rows = [
        json.loads(line)
        for path in args.sets
        for line in path.read_text("utf-8").splitlines()
        if line.strip()
    ]
    built = build_all(rows, args.out)
    json.dump({key: str(path) for key, path in built.items()}, sys.stdout, indent=1, ensure_ascii=False)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

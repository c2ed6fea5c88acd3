"""Files from users: typed by content, size-checked, saved into the turn's folder.

Nothing is dropped silently: every file left out produces a warning that names the
file and the reason (too large, too many, unsupported type, over a media limit), and
the warnings reach the user with the reply. Text files are read into the request text.

Names are the user's and untrusted: the name shown in warnings and in the request
text is ``clean_name``'d (no newline to start a fake line, no bidi override to
reverse it); the name on disk keeps only ``[A-Za-z0-9._-]``. Files are created new
(``O_EXCL``, ``O_NOFOLLOW``) in a folder whose real path must lie inside ``root``:
a symlink planted in a conversation's folder is never written through. Media is
checked against ``MediaLimits`` from its header before anything decodes it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from adapters.base import IncomingFile
from engine.media import sniff
from engine.media_limits import MediaLimits, media_problem
from engine.text_hygiene import clean_name
from engine.types import Resource


@dataclass
class Ingested:
    resources: list[Resource] = field(default_factory=list)
    texts: list[tuple[str, str]] = field(default_factory=list)  # (name, content) of text files
    warnings: list[str] = field(default_factory=list)


def safe_name(name: str, fallback: str) -> str:
    base = Path(name.replace("\\", "/")).name
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", base).strip("._")
    return cleaned[:80] or fallback


def _mb(n: float) -> str:
    return f"{n / (1024 * 1024):.1f} MB"


def ingest_files(
    files: Sequence[IncomingFile],
    folder: Path,
    max_bytes: int,
    max_files: int,
    max_text_chars: int,
    limits: MediaLimits | None = None,
    root: Path | None = None,
) -> Ingested:
    """Type, check and save ``files`` into ``folder`` (which must lie inside ``root``,
    the conversation's folder, when given)."""
    limits = limits or MediaLimits()
    out = Ingested()
    for index, incoming in enumerate(files):
        label = clean_name(incoming.name) or f"file {index + 1}"
        if index >= max_files:
            out.warnings.append(f"{label}: left out, at most {max_files} files per message")
            continue
        if len(incoming.data) > max_bytes:
            out.warnings.append(
                f"{label}: left out, it is {_mb(len(incoming.data))} and the limit is {_mb(max_bytes)}"
            )
            continue
        if not incoming.data:
            out.warnings.append(f"{label}: left out, the file is empty")
            continue
        found = sniff(incoming.data)
        if found is None:
            out.warnings.append(f"{label}: left out, unsupported type (send images, audio, video or text)")
            continue
        if found.kind == "text":
            content = incoming.data.decode("utf-8", errors="replace")
            if len(content) > max_text_chars:
                out.warnings.append(f"{label}: only the first {max_text_chars} characters were read")
                content = content[:max_text_chars]
            out.texts.append((label, content))
            continue
        name = safe_name(incoming.name, f"file{index}{found.suffix}")
        if Path(name).suffix.lower() != found.suffix and not _same_family(Path(name).suffix, found.suffix):
            name = f"{Path(name).stem}{found.suffix}"
        try:
            path = _write_new(folder, name, found.suffix, incoming.data, root)
        except OSError as exc:
            out.warnings.append(f"{label}: left out, it could not be saved ({exc.strerror or exc})")
            continue
        problem = media_problem(path, found.kind, limits, label=label)
        if problem is not None:
            path.unlink(missing_ok=True)
            out.warnings.append(f"{problem}: left out")
            continue
        out.resources.append(Resource(kind=found.kind, path=path, mime=found.mime, name=path.name))
    return out


def _write_new(folder: Path, name: str, suffix: str, data: bytes, root: Path | None) -> Path:
    """Create a new file in ``folder`` (never overwriting, never through a symlink)."""
    folder.mkdir(parents=True, exist_ok=True)
    real = folder.resolve(strict=True)
    if root is not None and not real.is_relative_to(root.resolve()):
        raise OSError(f"the turn's folder resolves to {real}, outside the conversation's folder")
    stem, n = Path(name).stem, 0
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    while True:
        path = real / (name if n == 0 else f"{stem}-{n}{suffix}")
        try:
            fd = os.open(path, flags, 0o644)
        except FileExistsError:  # also a symlink of that name, dangling or not
            n += 1
            continue
        break
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return folder / path.name


_FAMILIES = [{".jpg", ".jpeg", ".jpe"}, {".tif", ".tiff"}, {".mp4", ".m4v"}, {".ogg", ".oga", ".opus"}]


def _same_family(a: str, b: str) -> bool:
    a, b = a.lower(), b.lower()
    return any(a in fam and b in fam for fam in _FAMILIES)

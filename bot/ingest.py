"""Files from users: typed by content, size-checked, saved into the turn's folder.

Nothing is dropped silently: every file left out produces a warning that names the
file and the reason (too large, too many, unsupported type), and the warnings reach
the user with the reply. Text files are read into the request text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from adapters.base import IncomingFile
from engine.media import sniff
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
    files: Sequence[IncomingFile], folder: Path, max_bytes: int, max_files: int, max_text_chars: int
) -> Ingested:
    out = Ingested()
    for index, incoming in enumerate(files):
        label = incoming.name or f"file {index + 1}"
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
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / name
        n = 1
        while path.exists():
            path = folder / f"{Path(name).stem}-{n}{found.suffix}"
            n += 1
        path.write_bytes(incoming.data)
        out.resources.append(Resource(kind=found.kind, path=path, mime=found.mime, name=path.name))
    return out


_FAMILIES = [{".jpg", ".jpeg", ".jpe"}, {".tif", ".tiff"}, {".mp4", ".m4v"}, {".ogg", ".oga", ".opus"}]


def _same_family(a: str, b: str) -> bool:
    a, b = a.lower(), b.lower()
    return any(a in fam and b in fam for fam in _FAMILIES)

"""Input accessors and output builders shared by the builtin tools.

Tools get resolved, kind-checked inputs keyed by argument name; these helpers turn a
missing or unreadable input into an ExpertError that names the argument, and build
the ``[image, text, json]`` outputs of the detection-style tools.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import ExpertError, ExpertTimeout
from engine.types import Resource


def text_arg(inputs: Mapping[str, Resource], name: str = "text") -> str:
    """The text of argument ``name``; a json input is rendered, media is refused."""
    res = inputs.get(name)
    if res is None:
        raise ExpertError(f"missing the {name!r} argument")
    if res.kind == "text" and res.text is not None:
        return res.text
    if res.kind == "json":
        return res.describe()
    if res.text:  # a media resource with a side description
        return res.text
    raise ExpertError(f"argument {name!r} is a {res.kind}, not text")


def path_arg(inputs: Mapping[str, Resource], name: str) -> Path:
    """The file of media argument ``name``; it must exist."""
    res = inputs.get(name)
    if res is None or res.path is None:
        raise ExpertError(f"missing the {name!r} argument")
    if not res.path.is_file():
        raise ExpertError(f"{name!r} file not found: {res.path.name}")
    return res.path


def media_args(inputs: Mapping[str, Resource], kind: str) -> list[Path]:
    """Every input of ``kind``, in argument-name order (image, image2, image3 ...)."""
    names = sorted((n for n, r in inputs.items() if r.kind == kind and r.path is not None), key=_arg_order)
    return [path_arg(inputs, n) for n in names]


def _arg_order(name: str) -> tuple[int, str]:
    digits = "".join(ch for ch in name if ch.isdigit())
    return (int(digits) if digits else 0, name)


def need_program(name: str) -> str:
    """Path of program ``name`` on PATH, or ExpertError saying to install it."""
    found = shutil.which(name)
    if found is None:
        raise ExpertError(f"program {name!r} is not installed")
    return found


def run_program(args: Sequence[str], *, timeout: float, stdin: str | None = None) -> str:
    """Run a command, return its stdout; a non-zero exit is an ExpertError with stderr."""
    try:
        proc = subprocess.run(
            list(args), input=stdin, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise ExpertTimeout(f"{Path(args[0]).name} ran past {timeout:.0f} s") from exc
    except OSError as exc:
        raise ExpertError(f"cannot run {Path(args[0]).name}: {exc.strerror}") from exc
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip()[-500:]
        raise ExpertError(f"{Path(args[0]).name} failed (exit {proc.returncode}): {tail}")
    return proc.stdout


@dataclass(frozen=True)
class Detection:
    """One found thing: a label, a score in [0, 1] (None when the method has none) and
    a pixel box (left, top, right, bottom)."""

    label: str
    score: float | None
    box: tuple[int, int, int, int]

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "score": None if self.score is None else round(self.score, 4),
            "box": list(self.box),
        }


def count_summary(labels: Sequence[str], nothing: str) -> str:
    """ "2 faces, 1 person" style summary; ``nothing`` when the list is empty."""
    if not labels:
        return nothing
    counts: dict[str, int] = {}
    for label in labels:
        counts[label] = counts.get(label, 0) + 1
    return ", ".join(f"{n} {plural(label, n)}" for label, n in counts.items())


def plural(word: str, n: int) -> str:
    if n == 1:
        return word
    if word == "person":
        return "people"
    return word + ("es" if word.endswith(("s", "x", "ch", "sh")) else "s")


def drawn_outputs(image: Path, summary: str, data: Any) -> list[Resource]:
    """The ``image text json`` outputs of detection, pose and segmentation tools."""
    return [
        Resource(kind="image", path=image, mime="image/png", text=summary),
        Resource(kind="text", text=summary),
        Resource(kind="json", data=data),
    ]

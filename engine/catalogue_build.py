"""Build the shipped model catalogue (engine/data/catalogue.jsonl).

Two sources:

- the reference's model list (``p0_models.jsonl`` from microsoft/JARVIS: id, task,
  downloads, likes, model-card metadata and README text), converted by
  ``build_from_jarvis``;
- the Hugging Face Hub, by ``refresh``: ``HfApi(endpoint).list_models(pipeline_tag=task,
  sort="downloads")`` for each task, keeping descriptions already known for an id.

Both are merged with ``EXTRA_CARDS``: experts HuggingGPT runs that neither source
lists under an engine task (the ControlNets, which JARVIS serves itself).

Every card is written with backend ``local``; the engine derives the ``hosted`` twin
of a card when that backend is enabled, so the file does not list each model twice.

    python -m engine.catalogue_build --from-jarvis /path/p0_models.jsonl
    python -m engine.catalogue_build --refresh --limit 20 [--tasks text-to-image ...]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from engine.catalogue import SHIPPED_CATALOGUE
from engine.errors import ConfigError
from engine.tasks import TASK_SPECS

log = logging.getLogger(__name__)

MAX_DESCRIPTION = 200
_JUNK = {"entry not found", "paper:", "model card", "readme"}
FIELDS = ("id", "task", "backend", "downloads", "likes", "description", "licence")

_CODE_BLOCK = re.compile(r"(```|~~~).*?(\1|$)", re.S)
_SHELL_LINE = re.compile(r"^\s*(!?pip |\$ |>>> |import |from \S+ import ).*$", re.M)
_FRONT_MATTER = re.compile(r"\A---\n.*?\n---\n", re.S)
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.S)
_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_REF_LINK = re.compile(r"\[([^\]]+)\]\[[^\]]*\]")
_TAG = re.compile(r"<[^>]+>")
_URL = re.compile(r"https?://\S+")
_INLINE_CODE = re.compile(r"`([^`]*)`")
_EMPHASIS = re.compile(r"(\*\*|__|\*|_)(\S(?:.*?\S)?)\1")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s*", re.M)


# HuggingGPT's ControlNet experts (on runwayml/stable-diffusion-v1-5): image-to-image
# from a control map and a prompt. Downloads 0, so ranking by downloads keeps general
# image-to-image models first unless the planner or the LLM asks for a ControlNet.
_CONTROLNETS = {
    "canny": "the Canny edges of the input image",
    "depth": "a depth map given as the input image (for instance from depth-estimation)",
    "hed": "the soft (HED) edges of the input image",
    "mlsd": "the straight lines (M-LSD) of the input image",
    "normal": "a normal map given as the input image",
    "openpose": "an OpenPose skeleton given as the input image",
    "scribble": "a scribble, or the main edges of the input image",
    "seg": "an ADE20K-coloured segmentation map given as the input image",
}
EXTRA_CARDS: tuple[dict[str, Any], ...] = tuple(
    {
        "id": f"lllyasviel/sd-controlnet-{name}",
        "task": "image-to-image",
        "backend": "local",
        "downloads": 0,
        "likes": 0,
        "description": f"ControlNet on Stable Diffusion 1.5: draws a new image from {what} and a text prompt",
        "licence": "openrail",
    }
    for name, what in _CONTROLNETS.items()
)


def with_extra_cards(
    records: Iterable[dict[str, Any]], tasks: Iterable[str] | None = None
) -> list[dict[str, Any]]:
    """``records`` plus the ``EXTRA_CARDS`` of ``tasks`` (all by default), sorted; a
    record already there for an extra card's id and task wins."""
    wanted = None if tasks is None else set(tasks)
    extra = [dict(r) for r in EXTRA_CARDS if wanted is None or r["task"] in wanted]
    return sort_records([*records, *extra])


def clean_description(text: str | None, limit: int = MAX_DESCRIPTION) -> str:
    """Plain prose from a model card's markdown: no code, links, images, tables,
    headings or HTML; whitespace collapsed; cut at a word boundary within ``limit``."""
    if not text:
        return ""
    text = _FRONT_MATTER.sub("", text.replace("\r\n", "\n"))
    text = _HTML_COMMENT.sub(" ", text)
    text = _CODE_BLOCK.sub(" ", text)
    text = _SHELL_LINE.sub(" ", text)
    text = _IMAGE.sub(" ", text)
    text = _LINK.sub(r"\1", text)
    text = _REF_LINK.sub(r"\1", text)
    text = _TAG.sub(" ", text)
    text = _URL.sub(" ", text)
    lines = [ln for ln in text.split("\n") if not ln.lstrip().startswith(("|", ">", "[!"))]
    text = _HEADING.sub("", "\n".join(lines))
    text = _INLINE_CODE.sub(r"\1", text)
    text = _EMPHASIS.sub(r"\2", text)
    text = re.sub(r"^\s*([-*+]|\d+\.)\s+", "", text, flags=re.M)
    text = " ".join(text.split())
    text = re.sub(r"\s+([.,;:!?])", r"\1", text)
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut:
        cut = cut[: cut.rfind(" ")]
    return cut.rstrip(" ,;:-") + "…"


def licence_of(meta: Mapping[str, Any] | None, tags: Iterable[str] = ()) -> str | None:
    """``license`` from model-card metadata (string or list), else a ``license:...`` tag."""
    value = (meta or {}).get("license")
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, str) and value.strip():
        return value.strip()
    for tag in tags:
        if isinstance(tag, str) and tag.startswith("license:"):
            return tag.split(":", 1)[1] or None
    return None


def card_record(
    model_id: str,
    task: str,
    *,
    downloads: Any = 0,
    likes: Any = 0,
    description: str = "",
    licence: str | None = None,
) -> dict[str, Any]:
    return {
        "id": model_id,
        "task": task,
        "backend": "local",
        "downloads": int(downloads or 0),
        "likes": int(likes or 0),
        "description": description,
        "licence": licence,
    }


def from_jarvis_line(raw: Mapping[str, Any]) -> dict[str, Any] | None:
    """One p0_models.jsonl entry as a card record, or None for a task the engine lacks."""
    task = raw.get("task") or raw.get("pipeline_tag")
    if not raw.get("id") or task not in TASK_SPECS:
        return None
    raw_meta = raw.get("meta")
    meta: Mapping[str, Any] = raw_meta if isinstance(raw_meta, Mapping) else {}
    raw_tags = meta.get("tags")
    tags: list[str] = raw_tags if isinstance(raw_tags, list) else []
    description = clean_description(raw.get("description"))
    if description.lower() in _JUNK or len(description) < 12:  # failed README fetches, bare titles
        description = metadata_description(str(task), meta)
    return card_record(
        str(raw["id"]),
        str(task),
        downloads=raw.get("downloads"),
        likes=raw.get("likes"),
        description=description,
        licence=licence_of(meta, tags),
    )


def sort_records(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One record per (id, task), ordered by task then downloads (the file diffs well)."""
    unique: dict[tuple[str, str], dict[str, Any]] = {}
    for rec in records:
        unique.setdefault((rec["id"], rec["task"]), rec)
    return sorted(unique.values(), key=lambda r: (r["task"], -r["downloads"], -r["likes"], r["id"]))


def build_from_jarvis(source: Path) -> list[dict[str, Any]]:
    records = []
    for n, line in enumerate(source.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = from_jarvis_line(json.loads(line))
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"{source}:{n}: not a model entry ({exc})") from exc
        if rec is not None:
            records.append(rec)
    return with_extra_cards(records)


def read_records(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def write_records(records: Sequence[Mapping[str, Any]], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for rec in records:
            f.write(json.dumps({k: rec.get(k) for k in FIELDS}, ensure_ascii=False) + "\n")
    tmp.replace(path)


def metadata_description(task: str, meta: Mapping[str, Any] | None, library: str | None = None) -> str:
    """A one-line description from card metadata, for models without README text
    (list_models returns metadata, not READMEs)."""
    meta = meta or {}
    parts: list[str] = [library] if library else []
    language = meta.get("language")
    if isinstance(language, list):
        language = ", ".join(map(str, language[:4]))
    if language:
        parts.append(str(language))
    datasets = meta.get("datasets")
    if isinstance(datasets, str):
        datasets = [datasets]
    if isinstance(datasets, list) and datasets:
        parts.append("trained on " + ", ".join(map(str, datasets[:3])))
    detail = "; ".join(parts)
    return clean_description(f"{task} model" + (f" ({detail})" if detail else ""))


def refresh(
    tasks: Iterable[str] | None = None,
    limit_per_task: int = 20,
    endpoint: str | None = None,
    token: str | None = None,
    known: Iterable[Mapping[str, Any]] = (),
) -> list[dict[str, Any]]:
    """Cards for the most downloaded Hub models of each task (all engine tasks by default).

    ``known`` records (for example the current file) lend their descriptions to the same
    ids, since list_models returns metadata, not READMEs. Network errors propagate as
    ConfigError naming the endpoint.
    """
    from huggingface_hub import HfApi, constants

    if constants.is_offline_mode():
        raise ConfigError("cannot refresh the catalogue: HF_HUB_OFFLINE is set (unset it to reach the Hub)")
    api = HfApi(endpoint=endpoint, token=token)
    descriptions = {(r["id"], r["task"]): r.get("description", "") for r in known}
    records = []
    tasks = list(tasks or sorted(TASK_SPECS))
    for task in tasks:
        if task not in TASK_SPECS:
            raise ConfigError(f"unknown task {task!r}; known: {', '.join(sorted(TASK_SPECS))}")
        try:
            infos = list(
                api.list_models(
                    pipeline_tag=task,
                    sort="downloads",
                    limit=limit_per_task,
                    expand=["downloads", "likes", "tags", "cardData", "library_name", "pipeline_tag"],
                )
            )
        except Exception as exc:  # noqa: BLE001 - any client/network failure, reported with the endpoint
            where = endpoint or constants.ENDPOINT
            raise ConfigError(f"cannot list {task} models from {where}: {type(exc).__name__}: {exc}") from exc
        for info in infos:
            card: Any = getattr(info, "card_data", None)
            meta = card.to_dict() if hasattr(card, "to_dict") else dict(card or {})
            records.append(
                card_record(
                    info.id,
                    task,
                    downloads=info.downloads,
                    likes=info.likes,
                    description=descriptions.get((info.id, task))
                    or metadata_description(task, meta, getattr(info, "library_name", None)),
                    licence=licence_of(meta, info.tags or []),
                )
            )
        log.info("%s: %d models", task, len(infos))
    return with_extra_cards(records, tasks)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m engine.catalogue_build", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--out", type=Path, default=SHIPPED_CATALOGUE, help="catalogue file to write")
    parser.add_argument("--from-jarvis", type=Path, help="build from the reference's p0_models.jsonl")
    parser.add_argument("--refresh", action="store_true", help="rebuild from the Hugging Face Hub")
    parser.add_argument("--tasks", nargs="*", help="tasks to refresh (default: all)")
    parser.add_argument("--limit", type=int, default=20, help="models per task")
    parser.add_argument("--endpoint", help="Hub endpoint (default: HF_ENDPOINT or huggingface.co)")
    parser.add_argument("--token-env", default="HF_TOKEN", help="environment variable holding a token")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if bool(args.from_jarvis) == bool(args.refresh):
        parser.error("give exactly one of --from-jarvis PATH or --refresh")
    try:
        if args.from_jarvis:
            records = build_from_jarvis(args.from_jarvis)
        else:
            records = refresh(
                args.tasks,
                args.limit,
                args.endpoint,
                os.environ.get(args.token_env),
                known=read_records(args.out),
            )
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    write_records(records, args.out)
    print(f"wrote {len(records)} cards to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

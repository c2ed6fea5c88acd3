"""Reading one task of an LLM's plan into a draft: its id, type, model and arguments.

The repair half of plan parsing for a single task (engine/plan_parser.py does the
whole plan): task-name aliases, argument-name variants, positional arguments,
several resources in one argument, tag variants such as ``<GENERATED-0>``. What
cannot be meant safely is a problem, written to be sent back to the LLM: a task
that is not an object, an id that is not a small integer, a value that is not a
string, a text argument that is only a media file's name ("photo.jpg": the user's
file goes in an image argument, the words in a text argument), a media argument
naming a file of another kind. ``Draft.copies`` says how many tasks a draft becomes
once split, so a plan's size is checked before anything is expanded.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from engine.references import is_only_refs, normalise_tags, ref, tag_ids
from engine.task_aliases import canonical_task_name
from engine.tasks import TASK_SPECS, TaskSpec
from engine.types import ResourceKind

__all__ = ["Draft", "MAX_TASK_ID", "read_task"]

MAX_TASK_ID = 9999  # ids are small; a bigger one is a model's mistake, not a plan

# Argument names models use, mapped to the kind of spec argument they fill
# (None: whatever required argument is still free, for names that say nothing of kind).
_ARG_ALIASES: dict[str, ResourceKind | None] = {
    **dict.fromkeys(["input", "inputs", "data", "file", "path", "url", "source"], None),
    **dict.fromkeys(
        [
            "question",
            "query",
            "prompt",
            "sentence",
            "sentence1",
            "sentence2",
            "text1",
            "input_text",
            "instruction",
            "caption",
            "content",
            "message",
            "source_text",
        ],
        "text",
    ),
    **dict.fromkeys(
        ["img", "image_url", "image_path", "picture", "photo", "document", "doc", "input_image"], "image"
    ),
    **dict.fromkeys(["audio_url", "audio_path", "speech", "sound", "input_audio"], "audio"),
    **dict.fromkeys(["video_url", "video_path", "clip", "input_video"], "video"),
}

_MEDIA_SUFFIXES: dict[str, ResourceKind] = {
    **dict.fromkeys(("jpg", "jpeg", "png", "gif", "bmp", "webp", "tif", "tiff"), "image"),
    **dict.fromkeys(("wav", "mp3", "flac", "ogg", "m4a", "aac", "opus"), "audio"),
    **dict.fromkeys(("mp4", "avi", "mov", "mkv", "webm"), "video"),
}
# A whole value that is one file name or path ("photo.jpg", "/tmp/a b/c.wav"), nothing else.
_FILE_NAME = re.compile(r"[^\s'\"]*[\w-]\.(" + "|".join(_MEDIA_SUFFIXES) + r")", re.I)


@dataclass
class Draft:
    """A task being repaired: each argument holds one value or, before splitting, several."""

    position: int
    id: int
    spec: TaskSpec
    args: dict[str, list[str]]
    declared_dep: list[int] = field(default_factory=list)
    model: str | None = None

    @property
    def label(self) -> str:
        return f"task {self.id} ({self.spec.name})"

    def ref_ids(self) -> list[int]:
        return sorted({i for values in self.args.values() for v in values for i in tag_ids(v)})

    def copies(self) -> int:
        """How many tasks this draft becomes once every multi-resource argument is split."""
        count = 1
        for values in self.args.values():
            count *= max(1, len(values))
        return count


def read_task(position: int, item: Any, problems: list[str]) -> Draft | None:
    """The draft of one task, or None with the reasons appended to ``problems``."""
    where = f"task #{position + 1}"
    if not isinstance(item, dict):
        problems.append(f"{where} is not a JSON object but {_show(item)}.")
        return None
    task_id = read_id(item.get("id", position))
    if task_id is None:
        problems.append(
            f'{where} has "id": {_show(item.get("id"))}; ids are integers from 0 to {MAX_TASK_ID}.'
        )
        return None
    where = f"task {task_id}"
    name = item.get("task", item.get("tool", item.get("name")))
    if not isinstance(name, str) or not name.strip():
        problems.append(f'{where} has no "task" type.')
        return None
    canonical = canonical_task_name(name[:100])
    if canonical is None:
        problems.append(
            f'{where} has unknown task type "{name[:100]}"; known types: {", ".join(TASK_SPECS)}.'
        )
        return None
    spec = TASK_SPECS[canonical]
    raw_args = item.get("args", item.get("arguments"))
    if raw_args is None:  # "args": null or no args at all; the required-args check explains
        raw_args = {}
    args = _read_args(spec, raw_args, f"{where} ({canonical})", problems)
    if args is None:
        return None
    model = item.get("model")
    return Draft(
        position,
        task_id,
        spec,
        args,
        _read_dep(item.get("dep")),
        model.strip()[:200] if isinstance(model, str) and model.strip() else None,
    )


def read_id(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer() and abs(value) <= MAX_TASK_ID:
        value = int(value)
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 4:
        value = int(value)
    return value if isinstance(value, int) and 0 <= value <= MAX_TASK_ID else None


def _read_dep(value: Any) -> list[int]:
    values = value if isinstance(value, list) else [value]
    ids = [read_id(v) for v in values[:64]]
    return [i for i in ids if i is not None]


def _show(value: Any) -> str:
    """A short rendering of a model's value for an error message."""
    try:
        return json.dumps(value, ensure_ascii=False)[:80]
    except (TypeError, ValueError, RecursionError):
        return type(value).__name__


def _read_args(spec: TaskSpec, raw: Any, where: str, problems: list[str]) -> dict[str, list[str]] | None:
    """Arguments keyed by the spec's names; each value split into its resources."""
    if isinstance(raw, list):  # TaskBench writes arguments positionally
        raw = {a.name: v for a, v in zip(spec.inputs, raw, strict=False)}
    if not isinstance(raw, dict):
        problems.append(f'{where} has "args" {_show(raw)}; "args" must be an object of strings.')
        return None
    given_args = {str(k): v for k, v in list(raw.items())[:64]}
    named = _match_arg_names(spec, list(given_args))
    args: dict[str, list[str]] = {}
    for given, value in given_args.items():
        target = named.get(given)
        if target is None:
            continue  # an argument the task does not take
        kind = spec.input_kinds[target]
        try:
            values = _arg_values(value, kind)
        except ValueError:  # a number too long for an int (Python's 4,300-digit limit)
            problems.append(
                f'{where}: argument "{given}" holds a number too long to be a task id or a value.'
            )
            continue
        if values is None:
            problems.append(
                f'{where}: argument "{given}" is {_show(value)}; argument values must be strings.'
            )
            continue
        wrong = _wrong_kind(values, kind)
        if wrong:
            problems.append(f'{where}: argument "{given}" is {wrong}')
            continue
        if values:
            args[target] = values
    return args


def _wrong_kind(values: list[str], kind: ResourceKind) -> str | None:
    """Why literal ``values`` cannot fill an argument of ``kind``, if they cannot."""
    for value in values:
        if not _FILE_NAME.fullmatch(value):
            continue
        named = _MEDIA_SUFFIXES[value.rsplit(".", 1)[1].lower()]
        if kind == "text":
            return (
                f'the file name "{value[:80]}"; a text argument takes the text itself, or '
                f'"<GENERATED>-N" of a task that makes text (for example image-to-text for a picture\'s '
                f"words); the {named} file goes in an {named} argument."
            )
        if named != kind:
            return f'"{value[:80]}", a file of kind {named}; it needs {kind}.'
    return None


def _match_arg_names(spec: TaskSpec, given: list[str]) -> dict[str, str]:
    """Given name -> spec name: exact names first, then aliases fill free args of their kind."""
    taken: dict[str, str] = {}
    for name in given:
        if spec.arg(name.strip().lower()) is not None:
            taken[name] = name.strip().lower()
    for name in given:
        if name in taken:
            continue
        key = name.strip().lower()
        if key not in _ARG_ALIASES:
            continue
        kind = _ARG_ALIASES[key]
        free = [
            a.name
            for a in sorted(spec.inputs, key=lambda a: not a.required)
            if a.name not in taken.values() and kind in (None, a.kind)
        ]
        if free:
            taken[name] = free[0]
    return taken


def _arg_values(value: Any, kind: ResourceKind) -> list[str] | None:
    """The resources one argument names; None when the value is not string-like."""
    if isinstance(value, bool) or value is None:
        return None if value is not None else []
    if isinstance(value, int | float):
        return [str(value)]
    if isinstance(value, list):
        if not all(isinstance(v, str | int | float) and not isinstance(v, bool) for v in value):
            return None
        items = [str(v).strip() for v in value if str(v).strip()]
        if kind == "text" and not all(is_only_refs(v) for v in items):
            return [" ".join(items)] if items else []
        return [x for v in items for x in _arg_values(v, kind) or []]
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text:
        return []
    if is_only_refs(text):
        return [ref(i) for i in tag_ids(text)]
    if kind != "text" and tag_ids(text):  # "the image <GENERATED>-1": only the reference is usable
        return [ref(i) for i in tag_ids(text)]
    return [normalise_tags(text)]

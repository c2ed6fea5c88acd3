"""The JSON Schema of a plan, for constrained decoding (response_format, llama.cpp grammars)."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from engine.tasks import TASK_SPECS, TaskSpec

__all__ = ["plan_json_schema"]


def plan_json_schema(
    task_names: Sequence[str], max_tasks: int, models: Mapping[str, Sequence[str]] | None = None
) -> dict[str, Any]:
    """JSON Schema of a plan, for constrained decoding (response_format, llama.cpp grammars).

    Each task type is its own alternative (``anyOf``) whose ``args`` are exactly that
    type's arguments, its required ones required: a grammar built from it cannot
    invent an argument name or leave one out, which small models otherwise do. Every
    array is bounded (a grammar-bound model otherwise repeats an array item until cut
    off). ``models`` (task type -> candidate model ids) makes a task of such a type
    name one of its candidates in ``"model"``, so the planning call also chooses the
    model and the selection stage needs no call of its own. References and kinds are
    still checked by ``parse_plan``, which a schema cannot express.

    Built once per distinct argument set (every request of a planner asks for the same
    few): the returned schema is shared, so callers copy it before changing it.
    """
    choices = tuple(sorted((task, tuple(ids)) for task, ids in (models or {}).items()))
    return _cached_schema(tuple(task_names), max_tasks, choices)


@functools.lru_cache(maxsize=256)
def _cached_schema(
    task_names: tuple[str, ...], max_tasks: int, choices: tuple[tuple[str, tuple[str, ...]], ...]
) -> dict[str, Any]:
    candidates = dict(choices)
    variants = [_task_schema(TASK_SPECS[name], max_tasks, candidates.get(name)) for name in task_names]
    return {
        "title": "plan",
        "type": "array",
        "maxItems": max_tasks,
        "items": variants[0] if len(variants) == 1 else {"anyOf": variants},
    }


def _task_schema(spec: TaskSpec, max_tasks: int, candidates: Sequence[str] | None) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "task": {"type": "string", "enum": [spec.name]},
        "id": {"type": "integer", "minimum": 0},
        "dep": {"type": "array", "items": {"type": "integer"}, "maxItems": max_tasks},
        "args": {
            "type": "object",
            "properties": {a.name: {"type": "string"} for a in spec.inputs},
            "required": [a.name for a in spec.inputs if a.required],
            "additionalProperties": False,
        },
    }
    required = ["task", "id", "dep", "args"]
    if candidates:
        properties["model"] = {"type": "string", "enum": list(candidates)}
        required.append("model")
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}

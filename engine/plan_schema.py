"""The JSON Schema of a plan, for constrained decoding (response_format, llama.cpp grammars)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["plan_json_schema"]


def plan_json_schema(task_names: Sequence[str], max_tasks: int, with_model: bool = False) -> dict[str, Any]:
    """JSON Schema of a plan, for constrained decoding (response_format, llama.cpp grammars).

    It fixes the shape and the task vocabulary; references and kinds are still checked
    by ``parse_plan``, which a schema cannot express. ``with_model`` allows an optional
    "model" per task, for a planner that also chooses models.
    """
    properties: dict[str, Any] = {
        "task": {"type": "string", "enum": list(task_names)},
        "id": {"type": "integer", "minimum": 0},
        "dep": {"type": "array", "items": {"type": "integer"}},
        "args": {"type": "object", "additionalProperties": {"type": "string"}},
    }
    if with_model:
        properties["model"] = {"type": "string"}
    return {
        "title": "plan",
        "type": "array",
        "maxItems": max_tasks,
        "items": {
            "type": "object",
            "properties": properties,
            "required": ["task", "id", "dep", "args"],
            "additionalProperties": False,
        },
    }

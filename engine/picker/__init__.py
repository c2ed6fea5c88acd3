"""The LLM-free planner: clause splitting, exemplar similarity, rules and linking.

``TaskPicker`` proposes a runnable plan from the request alone; ``DemoRetriever``
finds the nearest few-shot demos for the LLM planner's prompt. Both share one
``Embedder`` (all-MiniLM-L6-v2 on ONNX Runtime, loaded on first use).

Names are imported on first access, so ``python -m engine.picker.embedder --prepare``
runs its module once, not after an earlier import of it by this package.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__all__ = ["DemoRetriever", "Embedder", "TaskPicker"]

_HOMES = {
    "DemoRetriever": "engine.picker.demos",
    "Embedder": "engine.picker.embedder",
    "TaskPicker": "engine.picker.picker",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'engine.picker' has no attribute {name!r}")

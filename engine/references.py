"""``<GENERATED>-N`` references: how plans name another task's output.

Models write the tag many ways (``<GENERATED-1>``, ``<GENERATED>1``, ``<generated>_1``,
TaskBench's ``<node-1>``, ...); these helpers find the ids in any of them and write
the one canonical form.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from engine.types import GENERATED_PREFIX

__all__ = ["exact_ref", "is_only_refs", "normalise_tags", "ref", "substitute_refs", "tag_ids"]


# <GENERATED>-1, <GENERATED-1>, <GENERATED>1, <generated>_1, <GENERATED>-<1>, GENERATED-1, <node-1>
_TAG = re.compile(
    r"[<\[]\s*(?:generated|node)\s*[>\]]?\s*[-_:]?\s*<?\s*(\d+)(?:\s*[>\]])?"
    r"|(?<![\w<\[])generated\s*-\s*(\d+)",
    re.I,
)
_ONLY_SEPARATORS = re.compile(r"(?:[\s,;&+]|\band\b)*", re.I)


def tag_ids(value: str) -> list[int]:
    return [int(m.group(1) or m.group(2)) for m in _TAG.finditer(value)]


def ref(task_id: int) -> str:
    return f"{GENERATED_PREFIX}{task_id}"


def is_only_refs(value: str) -> bool:
    return bool(tag_ids(value)) and _ONLY_SEPARATORS.fullmatch(_TAG.sub("", value)) is not None


def normalise_tags(value: str) -> str:
    return _TAG.sub(lambda m: ref(int(m.group(1) or m.group(2))), value)


_CANONICAL = re.compile(re.escape(GENERATED_PREFIX) + r"(\d+)")


def exact_ref(value: str) -> int | None:
    """The id when ``value`` is exactly one canonical reference, else None."""
    match = _CANONICAL.fullmatch(value.strip())
    return int(match.group(1)) if match else None


def substitute_refs(text: str, value_of: Callable[[int], str]) -> str:
    """``text`` with each canonical reference inside it replaced by ``value_of(id)``
    ("a poem about <GENERATED>-0" -> "a poem about a red fox")."""
    return _CANONICAL.sub(lambda m: value_of(int(m.group(1))), text)

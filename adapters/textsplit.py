"""Split long replies under a platform's message limit without breaking code blocks.

Cuts prefer paragraph breaks, then line breaks, then spaces; a cut inside a fenced
code block closes the fence in one part and reopens it (with its language) in the
next, so every part renders on its own.
"""

from __future__ import annotations

FENCE = "```"


def _cut_point(text: str, limit: int) -> int:
    window = text[:limit]
    for sep in ("\n\n", "\n", " "):
        idx = window.rfind(sep)
        if idx > limit // 4:
            return idx + len(sep)
    return limit


def _open_fence(text: str) -> str | None:
    """The opening fence line (e.g. "```python") if ``text`` ends inside a code block."""
    opener = None
    for line in text.split("\n"):
        stripped = line.strip()
        if stripped.startswith(FENCE):
            opener = None if opener is not None else stripped
    return opener


def split_text(text: str, limit: int) -> list[str]:
    """Parts of at most ``limit`` characters each; empty text gives no parts."""
    if limit < 20:
        raise ValueError("limit too small to split with code fences")
    parts: list[str] = []
    rest = text.strip()
    while rest:
        if len(rest) <= limit:
            parts.append(rest)
            break
        budget = limit - len(FENCE) - 1  # room to close a fence
        cut = _cut_point(rest, budget)
        head, rest = rest[:cut].rstrip(), rest[cut:].lstrip("\n")
        fence = _open_fence(head)
        if fence is not None:
            head = head + "\n" + FENCE
            rest = fence + "\n" + rest
        if head.strip():
            parts.append(head)
    return parts

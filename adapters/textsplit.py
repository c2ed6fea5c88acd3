"""Split long replies under a platform's message limit without breaking code blocks.

Cuts prefer paragraph breaks, then line breaks, then spaces; inside a code block only
line breaks (a cut mid-line would change the code). A cut inside a fenced block closes
the fence in one part and reopens it (with its language) in the next, so every part
renders on its own. A fence closes only on a line of at least as many backticks as
opened it, so a ```` ````md ```` block may contain ```` ``` ```` lines. Every step
shortens what is left, whatever the input: the loop always ends.
"""

from __future__ import annotations

import re

FENCE = "```"
_FENCE_RUN = re.compile(r"`{3,}")


def _open_fence(text: str) -> str | None:
    """The opening fence line (e.g. "```python") if ``text`` ends inside a code block."""
    opener: str | None = None
    ticks = 0
    for line in text.split("\n"):
        stripped = line.strip()
        run = _FENCE_RUN.match(stripped)
        if run is None:
            continue
        if opener is None:
            opener, ticks = stripped, len(run.group(0))
        elif len(run.group(0)) >= ticks and stripped == run.group(0):
            opener, ticks = None, 0
    return opener


def _cut_point(text: str, limit: int) -> int:
    window = text[:limit]
    separators = ("\n",) if _open_fence(window) is not None else ("\n\n", "\n", " ")
    for sep in separators:
        idx = window.rfind(sep)
        if idx > limit // 4:
            return idx + len(sep)
    return limit


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
            ticks = _FENCE_RUN.match(fence)
            close = ticks.group(0) if ticks else FENCE
            head = head + "\n" + close
            # Reopen with the language only when that keeps the rest shorter than before.
            reopen = fence if len(fence) + 1 < cut else close
            rest = reopen + "\n" + rest
        if head.strip():
            parts.append(head)
    return parts

"""Direct chat answers must not claim work that was not done.

When no tool ran, a sentence that says a file was made, attached, played or read
("Here is the audio file", "I've converted your text to speech", a copied
"- #0 text-to-speech ..." result line) is false by construction. Such sentences are
taken out; an answer made only of them becomes a plain statement of what happened.
"""

from __future__ import annotations

import re

from engine import messages as M
from engine.i18n import Messages

__all__ = ["without_false_claims"]

_CLAIM = re.compile(
    r"\b(?:i(?:'ve| have)?|i've just|we(?:'ve| have)?)\s+(?:just\s+)?(?:generated|created|made|drawn|drew|converted|"
    r"attached|recorded|produced|rendered|saved|uploaded|transcribed|synthesi[sz]ed|played|sent)\b|"
    r"\bhere(?:'s| is| are)\s+(?:the|your|an?|my)\s+(?:\w+\s+){0,2}?(?:audio|image|picture|photo|video|file|"
    r"recording|speech|drawing|clip|mp3|wav|png|transcript)s?\b|"
    r"\b(?:audio|image|video|wav|mp3|png) file\b|\battached (?:is|below|above|here)\b|\bsee (?:the )?attach|"
    r"\bhere is what i did\b|^\s*-\s*#\d+\s|\btext-to-speech\b|\bimage-to-text\b|\btext-to-image\b",
    re.I | re.M,
)
_SENTENCES = re.compile(r"(?<=[.!?。！？])\s+|\n+")


def without_false_claims(answer: str, say: Messages | None = None) -> str:
    sentences = [s for s in _SENTENCES.split(answer) if s.strip()]
    kept = [s for s in sentences if not _CLAIM.search(s)]
    if len(kept) == len(sentences):
        return answer
    text = " ".join(s.strip() for s in kept).strip()
    return text or (say or Messages("en"))(M.NOTHING_MADE)

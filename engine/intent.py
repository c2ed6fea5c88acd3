"""The tool / no-tool decision, made before any planner runs.

Evidence is intent, not topic: an attachment, an imperative that asks for something
made or read ("say ...", "read this out loud", "draw a fox", "transcribe"), or a
reference to an earlier file with such a verb means tools. A general question is
answered in chat even when it mentions a language or pictures ("what is the
capital of France?", "how do cameras take pictures?"); a question about the bot
itself ("can you make images?", "what can you do?") is answered from the
capability table. What none of these settles is left to the planner
(``Decision.kind == "undecided"``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from engine.intent_words import (
    CAPABILITY,
    CHAT_ONLY,
    GENERAL_QUESTION,
    HOW_TO_SAY,
    MAKE_MEDIA,
    SMALL_TALK,
    TOOL_VERBS,
)
from engine.referents import Scope, unquoted

__all__ = ["Decision", "decide"]

DecisionKind = Literal["tool", "chat", "capability", "recall", "undecided"]


@dataclass(frozen=True, slots=True)
class Decision:
    kind: DecisionKind
    why: str

    @property
    def needs_tools(self) -> bool:
        return self.kind == "tool"


_WORDS = re.compile(r"\w+")


def decide(text: str, scope: Scope) -> Decision:
    words = unquoted(text).lower().strip()
    quoted = words != text.lower().strip()
    payload = quoted or ":" in words  # "whats the mood of this review: ...": text to work on
    if scope.repeat:
        return Decision("tool", "the last request again, on the new file")
    if scope.state.attachments:
        if SMALL_TALK.fullmatch(words) and not quoted:
            return Decision("undecided", "a file with small talk")
        return Decision("tool", "a file came with the message")
    referred = bool(scope.referred)
    if scope.why == "said" and not payload:
        return Decision("recall", "asks what an earlier result said")
    if CAPABILITY.search(words) and not referred and not payload:
        return Decision("capability", "a question about what the bot can do")
    if HOW_TO_SAY.search(words) and not referred:
        return Decision("chat", "asks how to say something")
    if MAKE_MEDIA.search(words):
        return Decision("tool", "asks for an image, audio or video to be made")
    if TOOL_VERBS.search(words) and (payload or referred):
        return Decision("tool", "a tool verb with something to work on")
    if SMALL_TALK.fullmatch(words) or CHAT_ONLY.search(words):
        return Decision("chat", "small talk or writing help")
    if GENERAL_QUESTION.search(words) and not referred and not payload:
        return Decision("chat", "a general question")
    if TOOL_VERBS.search(words) and _has_object(words):
        return Decision("tool", "a tool verb with something to work on")
    return Decision("undecided", "")


def _has_object(words: str) -> bool:
    """A tool verb acts on the words after it ("translate good morning to spanish")."""
    match = TOOL_VERBS.search(words)
    return match is not None and len(_WORDS.findall(words[match.end() :])) >= 2

"""What the engine settles about a turn before planning: its scope and the decision.

Every planner (picker, LLM, hybrid) gets the same ``TurnContext``: the resources the
request may read (engine/referents.py), whether it needs tools (engine/intent.py),
and the text to plan ("do that again with this one" plans the earlier request).
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.conversation import ConversationState
from engine.i18n import Messages
from engine.intent import Decision, decide
from engine.language import detect_language
from engine.referents import Scope, resolve_scope
from engine.types import Request, Resource, Turn

__all__ = ["TurnContext"]


@dataclass(frozen=True, slots=True)
class TurnContext:
    text: str
    scope: Scope
    decision: Decision
    language: str = "en"  # the language the user writes in (ISO 639-1): replies and tools follow it

    @classmethod
    def of(cls, request: Request) -> TurnContext:
        scope = resolve_scope(request.text, ConversationState.of(request))
        language = user_language(request.text, request.history)
        return cls(request.text, scope, decide(request.text, scope), language)

    @property
    def say(self) -> Messages:
        return Messages(self.language)

    @property
    def planning_text(self) -> str:
        return self.scope.repeat or self.text

    @property
    def files(self) -> list[Resource]:
        """What a plan may read, most relevant first: this message's files, then what it refers to."""
        return self.scope.resources


_SURE = 0.5


def user_language(text: str, history: tuple[Turn, ...] = ()) -> str:
    """The language of ``text``; a message too short to tell ("ok", "thx") takes the
    language of the user's last messages, and English when nothing tells."""
    guess = detect_language(text)
    if guess.known and guess.confidence >= _SURE:
        return guess.code
    earlier = " ".join(t.text for t in history[-6:] if t.role == "user")
    before = detect_language(earlier) if earlier.strip() else None
    if before is not None and before.known and before.confidence >= _SURE:
        return before.code
    return guess.code if guess.known else "en"

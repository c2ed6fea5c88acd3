"""What the engine settles about a turn before planning: its scope and the decision.

Every planner (picker, LLM, hybrid) gets the same ``TurnContext``: the resources the
request may read (engine/referents.py), whether it needs tools (engine/intent.py),
and the text to plan ("do that again with this one" plans the earlier request).
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.conversation import ConversationState
from engine.intent import Decision, decide
from engine.referents import Scope, resolve_scope
from engine.types import Request, Resource

__all__ = ["TurnContext"]


@dataclass(frozen=True, slots=True)
class TurnContext:
    text: str
    scope: Scope
    decision: Decision

    @classmethod
    def of(cls, request: Request) -> TurnContext:
        scope = resolve_scope(request.text, ConversationState.of(request))
        return cls(request.text, scope, decide(request.text, scope))

    @property
    def planning_text(self) -> str:
        return self.scope.repeat or self.text

    @property
    def files(self) -> list[Resource]:
        """What a plan may read, most relevant first: this message's files, then what it refers to."""
        return self.scope.resources

"""Which engine stage an LLM call belongs to, read from its system prompt.

Scripted controllers (the fake OpenAI server's responders in tests, the benchmark's
in-process LLM) answer by stage; this is the one place that knows the prompts apart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from engine.prompts import CHAT_SYSTEM, RESPOND_SYSTEM

PLANNER_MARK = "You are the planner"


def stage_of(messages: Sequence[Mapping[str, str]]) -> str:
    """plan, select, respond, chat or task (a language task run by the controller)."""
    system = messages[0]["content"]
    if system.startswith(PLANNER_MARK):
        return "plan"
    if system.startswith(RESPOND_SYSTEM):
        return "respond"
    if system.startswith(CHAT_SYSTEM):
        return "chat"
    if "choose the best model" in system:
        return "select"
    return "task"

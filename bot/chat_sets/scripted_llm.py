"""A scripted controller for ``eval chats --scripted-llm``: an LLM planner that answers
each planning call with the turn's labelled plan, written against the resource table
the engine put in the prompt.

It measures everything around an LLM planner (the decision step, the table the planner
is shown, how plan arguments are resolved, execution, the reply) with the planner's own
judgement taken out. It plans the first acceptable task set of the label as a chain,
taking each task's files from the table rows the label's ``reads`` name. Chat answers
are a fixed "OK." (so reply facts measure the tools alone) and the response stage
quotes the results it is given.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from engine.llm.base import ChatMessage
from engine.prompts import CHAT_SYSTEM, RESPOND_SYSTEM
from engine.tasks import TASK_SPECS

_ROW = re.compile(r"^- (?P<name>.+?) \| (?P<kind>\w+) \| (?P<when>this message|turn (?P<turn>\d+)) \| (?P<who>[^|]+)", re.M)


class ScriptedPlanner:
    """The ``LLM`` protocol, answering from the label of the turn being run (``expect``)."""

    name = "scripted"
    supports_json_schema = True

    def __init__(self) -> None:
        self.expect: Mapping[str, Any] = {}

    async def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        json_schema: dict[str, Any] | None = None,
        max_tokens: int = 512,
        temperature: float = 0.0,
    ) -> str:
        system = messages[0].content
        if system.startswith("You are the planner"):
            return json.dumps({"tasks": self._plan(messages[-1].content)})
        if system == RESPOND_SYSTEM:
            return messages[-1].content.split("Results:\n", 1)[-1]
        if system == CHAT_SYSTEM:
            return "OK."
        if "choose the best model" in system:
            return '{"choices": []}'
        return messages[-1].content  # a language task run by the controller: echo its input

    async def aclose(self) -> None:
        return None

    def _plan(self, prompt: str) -> list[dict[str, Any]]:
        sets = self.expect.get("tasks") or [[]]
        names = list(sets[0])
        rows = [m.groupdict() for m in _ROW.finditer(prompt)]
        reads = [_row_for(label, rows) for label in self.expect.get("reads", [])]
        available = [r for r in reads if r is not None]
        tasks: list[dict[str, Any]] = []
        for index, task in enumerate(names):
            args: dict[str, str] = {}
            for arg in TASK_SPECS[task].inputs:
                value = _argument(arg.kind, arg.name, index, names, available, prompt)
                if value is not None:
                    args[arg.name] = value
                elif arg.required:
                    args[arg.name] = prompt.split("\n", 1)[0]
            tasks.append({"task": task, "id": index, "dep": [-1], "args": args})
        return tasks


def _row_for(label: str, rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The table row a label names: an attachment by name, ``@T.KIND`` by turn and kind."""
    if label.startswith("@"):
        turn, _, kind = label[1:].partition(".")
        matches = [r for r in rows if r["turn"] == str(int(turn) + 1) and r["kind"] == kind]
        return matches[-1] if matches else None
    stem = label.rsplit(".", 1)[0]
    return next((r for r in rows if r["name"] == label or r["name"].startswith(stem + "-")), None)


def _argument(
    kind: str, name: str, index: int, names: list[str], available: list[dict[str, Any]], prompt: str
) -> str | None:
    for earlier in range(index - 1, -1, -1):  # chain: the newest earlier task making this kind
        if kind in TASK_SPECS[names[earlier]].outputs:
            return f"<GENERATED>-{earlier}"
    of_kind = [r["name"] for r in available if r["kind"] == kind]
    nth = int("".join(ch for ch in name if ch.isdigit()) or 1) - 1
    if nth < len(of_kind):
        return of_kind[nth]
    if kind == "text" and nth == 0:
        return prompt.split("\n", 1)[0]  # the user's own words
    return None

"""Checks on a parsed plan for what a user would never want, whichever planner made it.

- A text-to-speech step whose text is the instruction itself ("now say it out loud"
  spoken word for word) speaks what the request refers to instead, or the words after
  the verb ("say see you tomorrow" speaks "see you tomorrow").
- A step that reads its own output is dropped (with what depends on it).
- A request that needs tools but whose words name none ("can u read this" with a
  note) gets the plan its files imply (``plan_for_files``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from engine.conversation import StateEntry
from engine.references import exact_ref, tag_ids
from engine.turn import TurnContext
from engine.types import Plan, Task

__all__ = ["checked", "plan_for_files"]

# the task a file implies when the words name none
FILE_TASKS = {"image": "image-to-text", "audio": "automatic-speech-recognition", "video": "video-classification"}

_LEAD = re.compile(
    r"^\W*(?:(?:ok|okay|now|and|so|then|pls|please|hey|can you|could you|would you|can u|could u|just)\W+)*"
    r"(?:say|speak|pronounce|read(?: out)?(?: loud| aloud)?|tell me)\b\W*",
    re.I,
)
_TAIL = re.compile(
    r"\W*\b(?:out loud|aloud|for me|pls|please|in (?:a|your) voice|to me)\b[\W]*$", re.I
)
_INSTRUCTION = re.compile(
    r"^\W*(?:(?:ok|okay|now|and|so|then|pls|please|can you|could you|can u)\W+)*"
    r"(?:say|speak|read|pronounce)\W+(?:it|that|this|them|the \w+(?: \w+)?)\W*(?:out loud|aloud|again)?\W*"
    r"(?:pls|please)?\W*$",
    re.I,
)


def plan_for_files(files: Sequence[StateEntry], source: str) -> Plan:
    """One reading task per attached file (its text or what it shows, its transcript)."""
    tasks = []
    for entry in files:
        task = FILE_TASKS.get(entry.kind)
        if task is None:
            continue
        arg = "image" if entry.kind == "image" else entry.kind
        tasks.append(Task(id=len(tasks), task=task, args={arg: entry.name}))
    return Plan(tuple(tasks), source=source)


def checked(plan: Plan, context: TurnContext) -> Plan:
    if not plan.tasks:
        return plan
    tasks = [_spoken_text_fixed(t, context) for t in plan.tasks]
    tasks = _without_self_reading(tasks)
    if tasks == list(plan.tasks):
        return plan
    return replace(plan, tasks=tuple(tasks))


def _spoken_text_fixed(task: Task, context: TurnContext) -> Task:
    if task.task != "text-to-speech":
        return task
    value = task.args.get("text", "")
    if not value or exact_ref(value) is not None or tag_ids(value):
        return task
    if value.strip().lower() not in context.planning_text.strip().lower():
        return task  # not the request's own words: the planner chose a text
    texts = [e for e in context.scope.entries if e.kind == "text"]
    if texts and (_INSTRUCTION.match(value) or value.strip() == context.planning_text.strip()):
        return replace(task, args={**task.args, "text": texts[0].name})
    spoken = _TAIL.sub("", _LEAD.sub("", value, count=1)).strip(" \"'“”")
    if spoken and spoken != value and not _INSTRUCTION.match(value):
        return replace(task, args={**task.args, "text": spoken})
    return task


def _without_self_reading(tasks: list[Task]) -> list[Task]:
    bad = {t.id for t in tasks if t.id in t.references() or t.id in t.dep}
    if not bad:
        return tasks
    while True:  # and whatever needs a dropped task
        more = {t.id for t in tasks if t.id not in bad and bad & set(t.dep)}
        if not more:
            break
        bad |= more
    return [t for t in tasks if t.id not in bad]

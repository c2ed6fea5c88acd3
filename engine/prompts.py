"""Prompt text for the planning, choosing and answering stages.

Kept apart from the stage logic so wording can change without touching control
flow, and so the benchmark and tests can see exactly what the LLM is told.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from engine.conversation import table
from engine.tasks import TASK_SPECS
from engine.types import ModelCard, Turn

if TYPE_CHECKING:
    from engine.turn import TurnContext

PLAN_SYSTEM = """You are the planner of HuggingGPT. Turn the user's request into a JSON list of tasks for expert models:
{{"tasks": [{{"task": TASK, "id": N, "dep": [IDS], "args": {{ARG: VALUE}}}}]}}
Rules:
- "task" is one of the task types below; use the fewest tasks that do what the user asked.
- "id" counts from 0. "dep" lists the ids whose output this task needs, or [-1] when none.
- An argument that is another task's output is written "<GENERATED>-ID" (for example "<GENERATED>-0").
- An image, audio or video argument is a name from the resources listed with the request; a text argument is the text itself, or the name of a text resource from that list (an earlier result), never a file name.
- Use an earlier resource only when the request refers to it ("it", "the picture", "the translation").
- Where the request lists candidate models for a task type (best tested first), add "model": ID to that task: the candidate that best fits the request (its language, content and kind of output).
- If the request needs no expert (greetings, general questions), answer with {{"tasks": []}}.
Task types: name (arguments; ? = optional) -> outputs: what it does
{tasks}"""

PLAN_RETRY = (
    "That answer is not a valid plan: {error}\n"
    'Answer again with only the JSON {{"tasks": [...]}}, nothing else.'
)

# Starts the request-specific list of model choices that opens the planner's last message.
CANDIDATES_HEADING = "Candidate models:"


def plan_system() -> str:
    """The planner's system message: the same text for every request, so a server's
    prompt cache reuses it; what varies per request goes in later messages."""
    return PLAN_SYSTEM.format(tasks=task_catalogue())


def candidate_models(models: Mapping[str, Sequence[ModelCard]]) -> str:
    """The model choices for this request's likely task types, put before the request in
    its message: the request stays the last thing the planner reads (a listing after it
    made a small model plan only the listed task types)."""
    if not models:
        return ""
    return f"{CANDIDATES_HEADING}\n{model_listing(models)}\n\n"


def model_listing(models: Mapping[str, Sequence[ModelCard]]) -> str:
    """``- task: id, id``: the ids in the order the selector would try them (ranked by
    where they run and their downloads), which the prompt calls "best tested first"."""
    return "\n".join(f"- {task}: " + ", ".join(c.id for c in cards) for task, cards in sorted(models.items()))


RESPOND_SYSTEM = (
    "You are HuggingGPT. Expert models worked on the user's request; their results follow. "
    "Tell the user in one to three sentences what was found or made: quote text results "
    "exactly, name generated files, and say which step failed and why. Add nothing else."
)

CHAT_SYSTEM = (
    "You are HuggingGPT, a helpful assistant in a chat. Answer the user's message briefly, "
    "plainly and correctly, in the language they write in. In this answer you use no tools: "
    "never say you made, attached, played, drew or read a file."
)


def answer_language(lang: str | None) -> str:
    """The sentence that holds a model to the user's language, English too: after earlier
    turns in another language, a small model otherwise carries on in that one."""
    if not lang or lang == "und":
        return ""
    from engine.language_names import language_label

    name = language_label(lang)
    return f" The user writes in {name}: answer in {name}."


def plan_language(lang: str | None) -> str:
    """The planning prompt's note of the user's language: text arguments stay in it."""
    if not lang or lang in ("en", "und"):
        return ""
    from engine.language_names import language_label

    name = language_label(lang)
    return f"\n(The user writes in {name}; text arguments you write stay in {name}.)"


def task_catalogue() -> str:
    """One line a task type: ``- name (image, text?) -> text: what it does``; an argument
    is written by its kind, or ``name:kind`` where its name says something else."""
    lines = []
    for spec in TASK_SPECS.values():
        args = ", ".join(
            f"{a.name if a.name == a.kind else f'{a.name}:{a.kind}'}{'' if a.required else '?'}"
            for a in spec.inputs
        )
        lines.append(f"- {spec.name} ({args}) -> {'/'.join(spec.outputs)}: {spec.description}")
    return "\n".join(lines)


def resource_table(context: TurnContext) -> str:
    """The resources this request may use, as the rows a planner reads (engine/conversation.py)."""
    entries = context.scope.entries
    if not entries:
        return ""
    return f"\nResources (name | kind | turn | origin | text):\n{table(entries, context.scope.state.current)}"


def history_text(turns: Sequence[Turn], budget_tokens: int) -> list[tuple[str, str]]:
    """Recent turns as (role, text), newest kept within an approximate token budget
    (4 characters a token). Files are not listed: what a request may use comes with it
    (``resource_table``), so no plan reaches for an old file the user did not mean."""
    kept: list[tuple[str, str]] = []
    used = 0
    for turn in reversed(turns):
        text = turn.text
        cost = len(text) // 4 + 4
        if used + cost > budget_tokens:
            break
        kept.append((turn.role, text))
        used += cost
    kept.reverse()
    return kept

"""Turn a controller LLM's planning answer into a validated ``Plan``.

HuggingGPT asks the LLM for ``[{"task", "id", "dep", "args"}]`` and trusts what comes
back; its own few-shot demos contain broken JSON and a malformed ``<GENERATED>`` tag,
and open models drift further. So the parser does two jobs:

1. *Repair* what a model plausibly meant: code fences, prose around the JSON, stray
   or missing brackets and braces, a bare object or a ``{"tasks": [...]}`` wrapper,
   single quotes, task-name aliases (engine.task_aliases), argument-name variants,
   tag variants such as ``<GENERATED-0>`` or TaskBench's ``<node-0>``.
2. *Refuse* what cannot be meant safely, with a ``PlanError`` whose message is written
   to be sent back to the LLM on a retry: it says exactly what is wrong and shows the
   expected shape.

What holds for a returned plan: task types are ``TASK_SPECS`` names; every argument
is a string named as in the task's spec; required arguments are present; every
``<GENERATED>-N`` points to another task whose output kinds include the argument's
kind; ``dep`` is recomputed from those references (as HuggingGPT does; ``()`` for
roots); there are no cycles; tasks come in a topological order.

Two conventions worth knowing downstream:

- A media argument naming several resources ("<GENERATED>-1, <GENERATED>-2", or a
  list of files) is split into one task per resource. The first copy keeps the
  original id (so references to it still resolve); the others get fresh ids after the
  largest one in the plan.
- A text argument may embed references inside other text ("a poem about
  <GENERATED>-0"). Tags are normalised to ``<GENERATED>-N`` and counted in ``dep``;
  the scheduler substitutes the producer's text (engine/resolve.py). ``Task.references()`` lists only
  arguments that are exactly one reference.
"""

from __future__ import annotations

from typing import Any

from engine.dag import CycleError, topological_order
from engine.errors import PlanError
from engine.json_repair import NoJSON, load_json
from engine.plan_draft import Draft, read_task
from engine.references import ref, tag_ids
from engine.types import Plan, Task

__all__ = ["parse_plan", "SHAPE_HINT"]

_MAX_PROBLEMS_SHOWN = 8  # a retry prompt names the first problems, not hundreds

SHAPE_HINT = (
    "Expected: only a JSON list of tasks, for example "
    '[{"task": "image-to-text", "id": 0, "dep": [-1], "args": {"image": "e1.jpg"}}, '
    '{"task": "text-to-speech", "id": 1, "dep": [0], "args": {"text": "<GENERATED>-0"}}]. '
    'Each task has "task" (a known task type), an integer "id", "dep" (ids it needs, or [-1]) '
    'and "args" (an object of strings); write "<GENERATED>-N" to use the output of task N. '
    "Answer [] if no task is needed."
)


def _load_json(raw: str) -> Any:
    try:
        return load_json(raw)
    except NoJSON as exc:
        reason = str(exc) or "The answer contains no JSON list of tasks."
        raise PlanError(f"{reason} {SHAPE_HINT}") from exc


def _task_items(value: Any) -> list[Any]:
    """The list of task objects inside the decoded answer."""
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        if "task" in value:
            return [value]
        for key in ("tasks", "plan", "steps", "task_nodes"):
            if isinstance(value.get(key), list):
                return value[key]
        lists = [v for v in value.values() if isinstance(v, list)]
        if len(lists) == 1:
            return lists[0]
    raise PlanError(f"The answer is JSON but not a list of tasks (got {type(value).__name__}). {SHAPE_HINT}")


# ---------------------------------------------------------------------------
# Whole-plan repair and checks
# ---------------------------------------------------------------------------


def _fill_from_dep(draft: Draft, by_id: dict[int, Draft]) -> None:
    """A required argument left out while ``dep`` names a producer of its kind is that
    producer's output: the model said where the input comes from, just not in args."""
    used = set(draft.ref_ids())
    for arg in draft.spec.inputs:
        if not arg.required or arg.name in draft.args:
            continue
        for dep in draft.declared_dep:
            producer = by_id.get(dep)
            if dep != draft.id and dep not in used and producer and arg.kind in producer.spec.outputs:
                draft.args[arg.name] = [ref(dep)]
                used.add(dep)
                break


def _check_required(draft: Draft, problems: list[str]) -> None:
    for arg in draft.spec.inputs:
        if arg.required and arg.name not in draft.args:
            expected = ", ".join(
                f'"{a.name}" ({a.kind}{"" if a.required else ", optional"})' for a in draft.spec.inputs
            )
            problems.append(f'{draft.label} is missing required argument "{arg.name}"; it takes {expected}.')


def _split_multi(drafts: list[Draft]) -> list[Draft]:
    """One task per resource where an argument names several (HuggingGPT's unfold)."""
    next_id = max((d.id for d in drafts), default=-1) + 1
    out: list[Draft] = []
    pending = list(drafts)
    while pending:
        draft = pending.pop(0)
        multi = next((name for name, values in draft.args.items() if len(values) > 1), None)
        if multi is None:
            out.append(draft)
            continue
        copies = []
        for n, value in enumerate(draft.args[multi]):
            if n == 0:
                new_id = draft.id
            else:
                new_id, next_id = next_id, next_id + 1
            args = {k: ([value] if k == multi else list(v)) for k, v in draft.args.items()}
            copies.append(
                Draft(draft.position, new_id, draft.spec, args, list(draft.declared_dep), draft.model)
            )
        pending[:0] = copies
    return out


def _check_references(draft: Draft, by_id: dict[int, Draft], problems: list[str]) -> None:
    for name, values in draft.args.items():
        kind = draft.spec.input_kinds[name]
        for ref_id in tag_ids(values[0]):
            producer = by_id.get(ref_id)
            if ref_id == draft.id:
                problems.append(
                    f'{draft.label}: argument "{name}" refers to its own output {ref(ref_id)}; '
                    "a task can only use the outputs of other tasks."
                )
            elif producer is None:
                problems.append(
                    f'{draft.label}: argument "{name}" refers to {ref(ref_id)}, but no task has id {ref_id} '
                    f"(ids in the plan: {', '.join(str(i) for i in sorted(by_id))})."
                )
            elif kind not in producer.spec.outputs:
                problems.append(
                    f'{draft.label}: argument "{name}" needs {kind}, but {ref(ref_id)} is the output of '
                    f"{producer.label}, which produces only {', '.join(producer.spec.outputs)}."
                )


def _topological(drafts: list[Draft], refs: dict[int, list[int]]) -> list[Draft]:
    """Producers before consumers, otherwise in the order the model wrote them."""
    if len(drafts) == 1:  # one task cannot wait for another (a self-reference was refused)
        return drafts
    by_id = {d.id: d for d in drafts}
    try:
        order = topological_order({d.id: (d.position, set(refs[d.id]) & by_id.keys()) for d in drafts})
    except CycleError as exc:
        raise PlanError(
            f"The plan is invalid: tasks {' -> '.join(map(str, exc.cycle))} depend on each other in a cycle; "
            f"a task can only use outputs of tasks that do not depend on it. {SHAPE_HINT}"
        ) from exc
    return [by_id[i] for i in order]


def _fail(problems: list[str]) -> PlanError:
    shown = problems[:_MAX_PROBLEMS_SHOWN]
    more = len(problems) - len(shown)
    listed = "\n".join(f"- {p}" for p in shown) + (f"\n- ... and {more} more problems" if more > 0 else "")
    return PlanError(f"The plan is invalid:\n{listed}\n{SHAPE_HINT}")


def _too_many(count: int, max_tasks: int, what: str = "") -> PlanError:
    return PlanError(
        f"The plan has {count} tasks; at most {max_tasks} are allowed{what}. Combine or drop steps. {SHAPE_HINT}"
    )


def parse_plan(raw: str, *, max_tasks: int = 16) -> Plan:
    """Parse, repair and validate an LLM's plan (see the module docstring for what holds).

    An empty list gives a ``Plan`` with no tasks: whether that means "answer directly"
    is the caller's decision. Raises ``PlanError`` with a retry-ready message, and only
    that: the answer's size and nesting are bounded before it is decoded
    (engine/json_repair.py), and the plan's size before anything is expanded.
    """
    items = _task_items(_load_json(raw))
    if not items:  # "no task needed": the commonest answer of a chatting bot
        return Plan(tasks=())
    if len(items) > max_tasks:
        raise _too_many(len(items), max_tasks)
    problems: list[str] = []
    drafts = [d for pos, item in enumerate(items) if (d := read_task(pos, item, problems)) is not None]
    seen: set[int] = set()
    for draft in drafts:
        if draft.id in seen:
            problems.append(f"several tasks have id {draft.id}; each task needs its own id.")
        seen.add(draft.id)
    if problems:
        raise _fail(problems)
    by_id = {d.id: d for d in drafts}
    for draft in drafts:
        _fill_from_dep(draft, by_id)
        _check_required(draft, problems)
    expanded = _expanded_size(drafts)
    if expanded > max_tasks:
        raise _too_many(expanded, max_tasks, " (a task gets one copy per file or output an argument lists)")
    drafts = _split_multi(drafts)
    by_id = {d.id: d for d in drafts}
    for draft in drafts:
        _check_references(draft, by_id, problems)
    if problems:
        raise _fail(problems)
    refs = {d.id: d.ref_ids() for d in drafts}
    tasks = tuple(
        Task(
            id=d.id,
            task=d.spec.name,
            args={k: v[0] for k, v in d.args.items()},
            dep=tuple(refs[d.id]),
            model=d.model,
        )
        for d in _topological(drafts, refs)
    )
    return Plan(tasks=tasks)


def _expanded_size(drafts: list[Draft]) -> int:
    """How many tasks the plan has after splitting, counted without splitting
    (1,500 images times 1,500 recordings is a number here, not 2.25 million tasks)."""
    return sum(draft.copies() for draft in drafts)

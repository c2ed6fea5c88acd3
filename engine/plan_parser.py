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

import json
from dataclasses import dataclass, field
from typing import Any

from engine.dag import CycleError, topological_order
from engine.errors import PlanError
from engine.json_repair import NoJSON, load_json
from engine.references import is_only_refs, normalise_tags, ref, tag_ids
from engine.task_aliases import canonical_task_name
from engine.tasks import TASK_SPECS, TaskSpec
from engine.types import Plan, ResourceKind, Task

__all__ = ["parse_plan", "SHAPE_HINT"]

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
# Reading one task
# ---------------------------------------------------------------------------

# Argument names models use, mapped to the kind of spec argument they fill
# (None: whatever required argument is still free, for names that say nothing of kind).
_ARG_ALIASES: dict[str, ResourceKind | None] = {
    **dict.fromkeys(["input", "inputs", "data", "file", "path", "url", "source"], None),
    **dict.fromkeys(
        [
            "question",
            "query",
            "prompt",
            "sentence",
            "sentence1",
            "sentence2",
            "text1",
            "input_text",
            "instruction",
            "caption",
            "content",
            "message",
            "source_text",
        ],
        "text",
    ),
    **dict.fromkeys(
        ["img", "image_url", "image_path", "picture", "photo", "document", "doc", "input_image"], "image"
    ),
    **dict.fromkeys(["audio_url", "audio_path", "speech", "sound", "input_audio"], "audio"),
    **dict.fromkeys(["video_url", "video_path", "clip", "input_video"], "video"),
}


@dataclass
class _Draft:
    """A task being repaired: each argument holds one value or, before splitting, several."""

    position: int
    id: int
    spec: TaskSpec
    args: dict[str, list[str]]
    declared_dep: list[int] = field(default_factory=list)
    model: str | None = None

    @property
    def label(self) -> str:
        return f"task {self.id} ({self.spec.name})"

    def ref_ids(self) -> list[int]:
        return sorted({i for values in self.args.values() for v in values for i in tag_ids(v)})


def _read_task(position: int, item: Any, problems: list[str]) -> _Draft | None:
    where = f"task #{position + 1}"
    if not isinstance(item, dict):
        problems.append(f"{where} is not a JSON object but {json.dumps(item)[:80]}.")
        return None
    task_id = _read_id(item.get("id", position))
    if task_id is None:
        problems.append(f'{where} has "id": {json.dumps(item.get("id"))}; ids are integers >= 0.')
        return None
    where = f"task {task_id}"
    name = item.get("task", item.get("tool", item.get("name")))
    if not isinstance(name, str) or not name.strip():
        problems.append(f'{where} has no "task" type.')
        return None
    canonical = canonical_task_name(name)
    if canonical is None:
        problems.append(f'{where} has unknown task type "{name}"; known types: {", ".join(TASK_SPECS)}.')
        return None
    spec = TASK_SPECS[canonical]
    raw_args = item.get("args", item.get("arguments"))
    if raw_args is None:  # "args": null or no args at all; the required-args check explains
        raw_args = {}
    args = _read_args(spec, raw_args, f"{where} ({canonical})", problems)
    if args is None:
        return None
    model = item.get("model")
    return _Draft(
        position,
        task_id,
        spec,
        args,
        _read_dep(item.get("dep")),
        model.strip() if isinstance(model, str) and model.strip() else None,
    )


def _read_id(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    return value if isinstance(value, int) and value >= 0 else None


def _read_dep(value: Any) -> list[int]:
    values = value if isinstance(value, list) else [value]
    ids = [_read_id(v) for v in values]
    return [i for i in ids if i is not None]


def _read_args(spec: TaskSpec, raw: Any, where: str, problems: list[str]) -> dict[str, list[str]] | None:
    """Arguments keyed by the spec's names; each value split into its resources."""
    if isinstance(raw, list):  # TaskBench writes arguments positionally
        raw = {a.name: v for a, v in zip(spec.inputs, raw, strict=False)}
    if not isinstance(raw, dict):
        problems.append(f'{where} has "args" {json.dumps(raw)[:80]}; "args" must be an object of strings.')
        return None
    named = _match_arg_names(spec, [str(k) for k in raw])
    args: dict[str, list[str]] = {}
    for given, value in raw.items():
        target = named.get(str(given))
        if target is None:
            continue  # an argument the task does not take
        values = _arg_values(value, spec.input_kinds[target])
        if values is None:
            problems.append(
                f'{where}: argument "{given}" is {json.dumps(value)[:80]}; argument values must be strings.'
            )
            continue
        if values:
            args[target] = values
    return args


def _match_arg_names(spec: TaskSpec, given: list[str]) -> dict[str, str]:
    """Given name -> spec name: exact names first, then aliases fill free args of their kind."""
    taken: dict[str, str] = {}
    for name in given:
        if spec.arg(name.strip().lower()) is not None:
            taken[name] = name.strip().lower()
    for name in given:
        if name in taken:
            continue
        key = name.strip().lower()
        if key not in _ARG_ALIASES:
            continue
        kind = _ARG_ALIASES[key]
        free = [
            a.name
            for a in sorted(spec.inputs, key=lambda a: not a.required)
            if a.name not in taken.values() and kind in (None, a.kind)
        ]
        if free:
            taken[name] = free[0]
    return taken


def _arg_values(value: Any, kind: ResourceKind) -> list[str] | None:
    """The resources one argument names; None when the value is not string-like."""
    if isinstance(value, bool) or value is None:
        return None if value is not None else []
    if isinstance(value, int | float):
        return [str(value)]
    if isinstance(value, list):
        if not all(isinstance(v, str | int | float) and not isinstance(v, bool) for v in value):
            return None
        items = [str(v).strip() for v in value if str(v).strip()]
        if kind == "text" and not all(is_only_refs(v) for v in items):
            return [" ".join(items)] if items else []
        return [x for v in items for x in _arg_values(v, kind) or []]
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text:
        return []
    if is_only_refs(text):
        return [ref(i) for i in tag_ids(text)]
    if kind != "text" and tag_ids(text):  # "the image <GENERATED>-1": only the reference is usable
        return [ref(i) for i in tag_ids(text)]
    return [normalise_tags(text)]


# ---------------------------------------------------------------------------
# Whole-plan repair and checks
# ---------------------------------------------------------------------------


def _fill_from_dep(draft: _Draft, by_id: dict[int, _Draft]) -> None:
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


def _check_required(draft: _Draft, problems: list[str]) -> None:
    for arg in draft.spec.inputs:
        if arg.required and arg.name not in draft.args:
            expected = ", ".join(
                f'"{a.name}" ({a.kind}{"" if a.required else ", optional"})' for a in draft.spec.inputs
            )
            problems.append(f'{draft.label} is missing required argument "{arg.name}"; it takes {expected}.')


def _split_multi(drafts: list[_Draft]) -> list[_Draft]:
    """One task per resource where an argument names several (HuggingGPT's unfold)."""
    next_id = max((d.id for d in drafts), default=-1) + 1
    out: list[_Draft] = []
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
                _Draft(draft.position, new_id, draft.spec, args, list(draft.declared_dep), draft.model)
            )
        pending[:0] = copies
    return out


def _check_references(draft: _Draft, by_id: dict[int, _Draft], problems: list[str]) -> None:
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


def _topological(drafts: list[_Draft], refs: dict[int, list[int]]) -> list[_Draft]:
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
    listed = "\n".join(f"- {p}" for p in problems)
    return PlanError(f"The plan is invalid:\n{listed}\n{SHAPE_HINT}")


def parse_plan(raw: str, *, max_tasks: int = 16) -> Plan:
    """Parse, repair and validate an LLM's plan (see the module docstring for what holds).

    An empty list gives a ``Plan`` with no tasks: whether that means "answer directly"
    is the caller's decision. Raises ``PlanError`` with a retry-ready message.
    """
    items = _task_items(_load_json(raw))
    if not items:  # "no task needed": the commonest answer of a chatting bot
        return Plan(tasks=())
    problems: list[str] = []
    drafts = [d for pos, item in enumerate(items) if (d := _read_task(pos, item, problems)) is not None]
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
    drafts = _split_multi(drafts)
    by_id = {d.id: d for d in drafts}
    for draft in drafts:
        _check_references(draft, by_id, problems)
    if problems:
        raise _fail(problems)
    if len(drafts) > max_tasks:
        raise PlanError(
            f"The plan has {len(drafts)} tasks; at most {max_tasks} are allowed. "
            f"Combine or drop steps. {SHAPE_HINT}"
        )
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

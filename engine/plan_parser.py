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
  substituting them is the scheduler's choice. ``Task.references()`` lists only
  arguments that are exactly one reference.
"""

from __future__ import annotations

import ast
import heapq
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.errors import PlanError
from engine.task_aliases import canonical_task_name
from engine.tasks import TASK_SPECS, TaskSpec
from engine.types import GENERATED_PREFIX, Plan, ResourceKind, Task

__all__ = ["parse_plan", "plan_json_schema", "SHAPE_HINT"]

SHAPE_HINT = (
    "Expected: only a JSON list of tasks, for example "
    '[{"task": "image-to-text", "id": 0, "dep": [-1], "args": {"image": "e1.jpg"}}, '
    '{"task": "text-to-speech", "id": 1, "dep": [0], "args": {"text": "<GENERATED>-0"}}]. '
    'Each task has "task" (a known task type), an integer "id", "dep" (ids it needs, or [-1]) '
    'and "args" (an object of strings); write "<GENERATED>-N" to use the output of task N. '
    "Answer [] if no task is needed."
)

# ---------------------------------------------------------------------------
# JSON extraction and repair
# ---------------------------------------------------------------------------

_FENCE = re.compile(r"```[\w+-]*[ \t]*\n?(.*?)```", re.S)
_JSON_START = re.compile(r"\[\s*\{|\[\s*\]|\{")
_TRAILING_COMMA = re.compile(r",\s*([}\]])")
_CLOSER = {"{": "}", "[": "]"}


def _load_json(raw: str) -> Any:
    """The JSON value the answer most plausibly holds; PlanError when none can be read."""
    text = _unquote(raw.strip())
    fenced = _FENCE.search(text)
    if fenced:
        text = fenced.group(1).strip()
    elif text.startswith("```"):  # an unterminated fence: drop its opening line
        text = text.partition("\n")[2]
    start = _JSON_START.search(text)
    if start is None:
        raise PlanError(f"The answer contains no JSON list of tasks. {SHAPE_HINT}")
    body = text[start.start() :]
    try:
        value, end = json.JSONDecoder().raw_decode(body)
    except json.JSONDecodeError as exc:
        first_error: Exception = exc
    else:
        # A bare run of objects `{...}, {...}` decodes as its first object only.
        if not (isinstance(value, dict) and body[end:].lstrip().startswith(",")):
            return value
        first_error = ValueError("several objects without a surrounding list")
    objects = _scan_objects(body)
    if objects:
        return objects
    raise PlanError(f"The answer is not valid JSON ({first_error}). {SHAPE_HINT}")


def _unquote(text: str) -> str:
    """A plan JSON-encoded twice arrives as one JSON string holding the list."""
    if text.startswith('"'):
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            return text
        if isinstance(value, str):
            return value.strip()
    return text


def _scan_objects(body: str) -> list[Any]:
    """Read every top-level ``{...}`` in ``body``, skipping junk (stray ``}}``, missing
    ``[``/``]``, commas) between them and closing braces a model forgot."""
    objects: list[Any] = []
    index = body.find("{")
    while index >= 0:
        chunk, end = _balanced_chunk(body, index)
        value = _loads_lenient(chunk)
        if value is None:
            raise PlanError(
                f"Task #{len(objects) + 1} of the answer is not valid JSON: {chunk[:200]!r}. {SHAPE_HINT}"
            )
        objects.append(value)
        index = body.find("{", end)
    return objects


def _balanced_chunk(text: str, start: int) -> tuple[str, int]:
    """The object starting at ``start`` with its brackets balanced, and where it ended.

    Closers that match nothing are dropped, missing inner closers are inserted, and an
    object that runs into the next one (``..., {"task"`` where a key should be) or into
    the end of the text is closed there.
    """
    out: list[str] = []
    stack: list[str] = []
    quote: str | None = None
    i = start
    while i < len(text):
        ch = text[i]
        if quote:
            out.append(ch)
            if ch == "\\" and i + 1 < len(text):
                out.append(text[i + 1])
                i += 1
            elif ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
            out.append(ch)
        elif ch in _CLOSER:
            if ch == "{" and stack and stack[-1] == "}" and _last_significant(out) == ",":
                _strip_trailing_comma(out)
                out.extend(reversed(stack))
                return "".join(out), i
            stack.append(_CLOSER[ch])
            out.append(ch)
        elif ch in "}]":
            if ch in stack:
                while stack[-1] != ch:
                    out.append(stack.pop())
                out.append(stack.pop())
                if not stack:
                    return "".join(out), i + 1
            # else: a closer that opens nothing; drop it
        else:
            out.append(ch)
        i += 1
    if quote:
        out.append(quote)
    out.extend(reversed(stack))
    return "".join(out), len(text)


def _last_significant(chars: list[str]) -> str:
    for ch in reversed(chars):
        if not ch.isspace():
            return ch
    return ""


def _strip_trailing_comma(chars: list[str]) -> None:
    while chars and chars[-1].isspace():
        chars.pop()
    if chars and chars[-1] == ",":
        chars.pop()


def _loads_lenient(chunk: str) -> Any | None:
    """JSON, then JSON without trailing commas, then a Python literal (single quotes)."""
    for candidate in (chunk, _TRAILING_COMMA.sub(r"\1", chunk)):
        try:
            return json.loads(candidate)
        except json.JSONDecodeError:
            pass
    try:
        return ast.literal_eval(chunk)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None


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
# <GENERATED>-N references
# ---------------------------------------------------------------------------

# <GENERATED>-1, <GENERATED-1>, <GENERATED>1, <generated>_1, <GENERATED>-<1>, GENERATED-1, <node-1>
_TAG = re.compile(
    r"[<\[]\s*(?:generated|node)\s*[>\]]?\s*[-_:]?\s*<?\s*(\d+)\s*[>\]]?"
    r"|(?<![\w<\[])generated\s*-\s*(\d+)",
    re.I,
)
_ONLY_SEPARATORS = re.compile(r"(?:[\s,;&+]|\band\b)*", re.I)


def _tag_ids(value: str) -> list[int]:
    return [int(m.group(1) or m.group(2)) for m in _TAG.finditer(value)]


def _ref(task_id: int) -> str:
    return f"{GENERATED_PREFIX}{task_id}"


def _is_only_refs(value: str) -> bool:
    return bool(_tag_ids(value)) and _ONLY_SEPARATORS.fullmatch(_TAG.sub("", value)) is not None


def _normalise_tags(value: str) -> str:
    return _TAG.sub(lambda m: _ref(int(m.group(1) or m.group(2))), value)


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
        return sorted({i for values in self.args.values() for v in values for i in _tag_ids(v)})


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
    return _Draft(position, task_id, spec, args, _read_dep(item.get("dep")),
                  model.strip() if isinstance(model, str) and model.strip() else None)


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
        if kind == "text" and not all(_is_only_refs(v) for v in items):
            return [" ".join(items)] if items else []
        return [x for v in items for x in _arg_values(v, kind) or []]
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text:
        return []
    if _is_only_refs(text):
        return [_ref(i) for i in _tag_ids(text)]
    if kind != "text" and _tag_ids(text):  # "the image <GENERATED>-1": only the reference is usable
        return [_ref(i) for i in _tag_ids(text)]
    return [_normalise_tags(text)]


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
                draft.args[arg.name] = [_ref(dep)]
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
            copies.append(_Draft(draft.position, new_id, draft.spec, args, list(draft.declared_dep), draft.model))
        pending[:0] = copies
    return out


def _check_references(draft: _Draft, by_id: dict[int, _Draft], problems: list[str]) -> None:
    for name, values in draft.args.items():
        kind = draft.spec.input_kinds[name]
        for ref_id in _tag_ids(values[0]):
            producer = by_id.get(ref_id)
            if ref_id == draft.id:
                problems.append(
                    f'{draft.label}: argument "{name}" refers to its own output {_ref(ref_id)}; '
                    "a task can only use the outputs of other tasks."
                )
            elif producer is None:
                problems.append(
                    f'{draft.label}: argument "{name}" refers to {_ref(ref_id)}, but no task has id {ref_id} '
                    f"(ids in the plan: {', '.join(str(i) for i in sorted(by_id))})."
                )
            elif kind not in producer.spec.outputs:
                problems.append(
                    f'{draft.label}: argument "{name}" needs {kind}, but {_ref(ref_id)} is the output of '
                    f"{producer.label}, which produces only {', '.join(producer.spec.outputs)}."
                )


def _topological(drafts: list[_Draft]) -> list[_Draft]:
    """Producers before consumers, otherwise in the order the model wrote them."""
    by_id = {d.id: d for d in drafts}
    deps = {d.id: set(d.ref_ids()) & by_id.keys() for d in drafts}
    users: dict[int, list[int]] = {d.id: [] for d in drafts}
    for consumer, producers in deps.items():
        for producer in producers:
            users[producer].append(consumer)
    waiting = {i: len(p) for i, p in deps.items()}
    ready = [(by_id[i].position, i) for i, n in waiting.items() if n == 0]
    heapq.heapify(ready)
    order: list[_Draft] = []
    while ready:
        _, task_id = heapq.heappop(ready)
        order.append(by_id[task_id])
        for consumer in users[task_id]:
            waiting[consumer] -= 1
            if waiting[consumer] == 0:
                heapq.heappush(ready, (by_id[consumer].position, consumer))
    if len(order) < len(drafts):
        cycle = _find_cycle({i: deps[i] for i, n in waiting.items() if n > 0})
        raise PlanError(
            f"The plan is invalid: tasks {' -> '.join(map(str, cycle))} depend on each other in a cycle; "
            f"a task can only use outputs of tasks that do not depend on it. {SHAPE_HINT}"
        )
    return order


def _find_cycle(deps: dict[int, set[int]]) -> list[int]:
    """One cycle among tasks that never became ready (each waits on another of them)."""
    node = min(deps)
    seen: list[int] = []
    while node not in seen:
        seen.append(node)
        node = min(p for p in deps[node] if p in deps)
    cycle = seen[seen.index(node) :]
    return [*cycle, node]


def _fail(problems: list[str]) -> PlanError:
    listed = "\n".join(f"- {p}" for p in problems)
    return PlanError(f"The plan is invalid:\n{listed}\n{SHAPE_HINT}")


def parse_plan(raw: str, *, max_tasks: int = 16) -> Plan:
    """Parse, repair and validate an LLM's plan (see the module docstring for what holds).

    An empty list gives a ``Plan`` with no tasks: whether that means "answer directly"
    is the caller's decision. Raises ``PlanError`` with a retry-ready message.
    """
    items = _task_items(_load_json(raw))
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
    tasks = tuple(
        Task(id=d.id, task=d.spec.name, args={k: v[0] for k, v in d.args.items()}, dep=tuple(d.ref_ids()),
             model=d.model)
        for d in _topological(drafts)
    )
    return Plan(tasks=tasks)


def plan_json_schema(task_names: Sequence[str], max_tasks: int, with_model: bool = False) -> dict[str, Any]:
    """JSON Schema of a plan, for constrained decoding (response_format, llama.cpp grammars).

    It fixes the shape and the task vocabulary; references and kinds are still checked
    by ``parse_plan``, which a schema cannot express. ``with_model`` allows an optional
    "model" per task, for a planner that also chooses models.
    """
    properties: dict[str, Any] = {
        "task": {"type": "string", "enum": list(task_names)},
        "id": {"type": "integer", "minimum": 0},
        "dep": {"type": "array", "items": {"type": "integer"}},
        "args": {"type": "object", "additionalProperties": {"type": "string"}},
    }
    if with_model:
        properties["model"] = {"type": "string"}
    return {
        "title": "plan",
        "type": "array",
        "maxItems": max_tasks,
        "items": {
            "type": "object",
            "properties": properties,
            "required": ["task", "id", "dep", "args"],
            "additionalProperties": False,
        },
    }

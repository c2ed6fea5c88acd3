"""The LLM-free task picker: one task per clause, chosen by sentence similarity.

Why: a 135M-0.5B controller picks the right task types in half the tries at best,
while clause-by-clause similarity to exemplar phrases, corrected by modality and
direction rules, gets most of them right in ~15 ms (see notes/offline-models.md).

How: split the request into clauses; score each clause against every task's
exemplars and description; apply the rules in ``rules``; keep the best task when
it clears ``threshold`` and beats "no task"; add the steps a clause implies without
naming (a converter for a source of the wrong kind, speech or translation asked
for as a modifier); then fill arguments and links (``linker``).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence

import numpy as np

from engine.picker.clauses import Clause, file_kind, split_clauses
from engine.picker.embedder import Embedder
from engine.picker.exemplars import NO_TASK, exemplar_table
from engine.picker.linker import RequestContext, Step, build_tasks, named_tasks, refers_back
from engine.picker.rules import CONVERTERS, adjust, source_kinds, target_language, wants_speech
from engine.tasks import TASK_SPECS
from engine.types import Plan, Resource, Task

_RESTATES = re.compile(r"^(?:after|once|when)\b", re.I)
_ANSWER_MINE = re.compile(r"\banswer (?:my|the|this) (?:question|query)\W*$", re.I)
# "I have an audio file containing a description of how to modify my image": the
# recording holds the words a later step needs, so transcribe it first
_SPOKEN_TEXT = re.compile(
    r"\b(?:audio|recording|voice)\b.*\b(?:describ\w*|description|instructions?|ask\w*|question|query|prompt|"
    r"request|command|how (?:I want )?to)\b",
    re.I,
)


class TaskPicker:
    """Proposes a runnable plan from the request text alone, or None when no tool is needed."""

    def __init__(self, embedder: Embedder | None = None, threshold: float = 0.45, max_tasks: int = 8) -> None:
        self.embedder = embedder or Embedder()
        self.threshold = threshold
        self.max_tasks = max_tasks
        self._labels: list[str] = []
        self._matrix: np.ndarray | None = None
        self._lock = threading.Lock()

    def _index(self) -> tuple[list[str], np.ndarray]:
        with self._lock:
            if self._matrix is None:
                rows = exemplar_table()
                self._matrix = self.embedder.encode([phrase for _, phrase in rows])
                self._labels = [task for task, _ in rows]
            return self._labels, self._matrix

    def clause_scores(self, clauses: Sequence[Clause]) -> list[dict[str, float]]:
        """Per clause, each task's best similarity to its exemplars (before rules)."""
        labels, matrix = self._index()
        sims = self.embedder.encode([c.text for c in clauses]) @ matrix.T
        out = []
        for row in sims:
            scores: dict[str, float] = {}
            for label, value in zip(labels, row, strict=False):
                if value > scores.get(label, -1.0):
                    scores[label] = float(value)
            out.append(scores)
        return out

    def _choose(self, scores: dict[str, float], clause: Clause, steps: Sequence[Step]) -> str | None:
        """The clause's task, or None. A clause that names the step just planned again
        ("..., then transform the image based on the depth") means its runner-up."""
        ranked = sorted(scores.items(), key=lambda item: item[1], reverse=True)
        task, score = ranked[0]
        if task == NO_TASK or score < self.threshold:
            return None
        if _RESTATES.match(clause.text) and any(s.task == task for s in steps):
            return None
        if _ANSWER_MINE.search(clause.text) and not clause.quotes and any(s.task == task for s in steps):
            return None  # "... a question about it: '...'. Please answer my question": planned already
        if steps and steps[-1].task == task and task not in _SELF_CHAINING:
            if not refers_back(clause.text):
                return None
            runner, runner_score = ranked[1]
            return runner if runner != NO_TASK and runner_score >= self.threshold else None
        return task

    def propose(self, text: str, attachments: Sequence[Resource] = ()) -> Plan | None:
        clauses = split_clauses(text)
        if not clauses:
            return None
        ctx = _context(text, clauses, attachments)
        available = {kind for kind, names in ctx.files.items() if names} | {"text"}
        steps: list[Step] = []
        spoken: int | None = None  # an ASR step whose transcript the next step reads
        for clause, scores in zip(clauses, self.clause_scores(clauses), strict=False):
            adjust(scores, clause.text, clause.quotes, available)
            if (
                spoken is not None
                and spoken == len(steps) - 1
                and max(scores, key=scores.__getitem__) == steps[-1].task
            ):
                continue  # "... that describes an object. Convert it into text": transcribed already
            task = self._choose(scores, clause, steps)
            if task is None:
                if spoken is None and _SPOKEN_TEXT.search(clause.text) and ctx.files.get("audio"):
                    spoken = len(steps)
                    steps.append(Step(CONVERTERS["audio"], clause))
                continue
            expanded = _expand(task, clause, steps, set(ctx.files))
            if spoken is not None and spoken == len(steps) - 1 and _reads_text(expanded[0].task):
                expanded[0] = Step(expanded[0].task, expanded[0].clause, feeds_from=spoken)
            for step in expanded:
                steps.append(step)
                available.update(TASK_SPECS[step.task].outputs)
        if not steps:
            return None
        steps = _add_missing_converter(steps, ctx)
        return Plan(_runnable(steps[: self.max_tasks], ctx), source="picker")


_SELF_CHAINING = {"audio-to-audio", "image-to-image", "image-editing"}


def _add_missing_converter(steps: list[Step], ctx: RequestContext) -> list[Step]:
    """ "I have a recording of a meeting. Summarize it": the first step reads text that only
    the request's audio (or image) holds, so transcribe (or read) it first."""
    first = steps[0]
    kinds = {a.kind for a in TASK_SPECS[first.task].inputs if a.required}
    if kinds != {"text"} or first.clause.quotes or ctx.quotes or ctx.files.get("text"):
        return steps
    for kind in ("audio", "image"):
        if ctx.files.get(kind):
            converter = Step(CONVERTERS[kind], first.clause)
            shifted = [
                Step(s.task, s.clause, None if s.feeds_from is None else s.feeds_from + 1) for s in steps
            ]
            shifted[0] = Step(first.task, first.clause, feeds_from=0)
            return [converter, *shifted]
    return steps


def _reads_text(task: str) -> bool:
    return any(a.kind == "text" and a.required for a in TASK_SPECS[task].inputs)


def _runnable(steps: list[Step], ctx: RequestContext) -> tuple[Task, ...]:
    """The built tasks, less any step whose required input nothing in the request can fill
    ("classify the audio" with no audio and no step that makes one): the plan must parse."""
    while True:
        tasks = build_tasks(steps, ctx)
        bad = next(
            (
                t.id
                for t in tasks
                if any(a.required and not t.args.get(a.name) for a in TASK_SPECS[t.task].inputs)
            ),
            None,
        )
        if bad is None or len(steps) == 1:
            return tasks if bad is None else ()
        steps = [
            Step(
                s.task, s.clause, None if s.feeds_from in (None, bad) else s.feeds_from - (s.feeds_from > bad)
            )
            for i, s in enumerate(steps)
            if i != bad
        ]


def _expand(task: str, clause: Clause, steps: Sequence[Step], have: set[str]) -> list[Step]:
    """The clause's task plus what it implies: a converter before, speech or translation after."""
    out: list[Step] = []
    spec = TASK_SPECS[task]
    kinds_in = {a.kind for a in spec.inputs}
    file_kinds = {lit.kind for lit in clause.literals if lit.is_file}
    made = {k for s in steps for k in TASK_SPECS[s.task].outputs}
    for kind in sorted(source_kinds(clause.text, file_kinds)):
        if (
            kind in have
            and kind not in kinds_in
            and "text" in kinds_in
            and kind not in made
            and not refers_back(clause.text)
        ):
            out.append(Step(CONVERTERS[kind], clause))
    last = steps[-1] if steps else None
    if not out and last is not None and _reads_text(task) and last.task in named_tasks(clause.text):
        # "how similar the visualized content is to ...": a text step about an earlier image reads it first
        made_last = [k for k in TASK_SPECS[last.task].outputs if k in CONVERTERS]
        if "text" not in TASK_SPECS[last.task].outputs and made_last:
            out.append(Step(CONVERTERS[made_last[0]], clause, feeds_from=len(steps) - 1))
    language = target_language(clause.text)
    if task == "text-to-speech" and language and not any(s.task == "translation" for s in steps):
        # "say it in spanish out loud": translate first, then speak the translation
        out.append(Step("translation", clause, feeds_from=len(steps) + len(out) - 1 if out else None))
    main_index = len(steps) + len(out)
    out.append(Step(task, clause, feeds_from=main_index - 1 if len(out) else None))
    if task != "text-to-speech" and wants_speech(clause.text) and "text" in spec.outputs:
        out.append(Step("text-to-speech", clause, feeds_from=main_index))
    if (
        language
        and task not in ("translation", "text-to-speech")
        and "text" in spec.outputs
        and not any(s.task == "translation" for s in steps)
    ):
        out.append(Step("translation", clause, feeds_from=main_index))
    return out


def _context(text: str, clauses: Sequence[Clause], attachments: Sequence[Resource]) -> RequestContext:
    files: dict[str, list[str]] = {}
    for resource in attachments:
        name = resource.name or (resource.path.name if resource.path else None)
        if name:  # a text here is an earlier result the request refers to, by its name
            files.setdefault(resource.kind, []).append(name)
    for clause in clauses:
        for lit in clause.literals:
            if lit.is_file and lit.value not in files.get(lit.kind, []):
                files.setdefault(lit.kind, []).append(lit.value)
    quotes = [q for c in clauses for q in c.quotes if not q.rstrip().endswith("?") and not file_kind(q)]
    return RequestContext(files=files, quotes=quotes, text=text)

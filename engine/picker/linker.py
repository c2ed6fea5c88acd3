"""Fill the arguments of picked steps and link them into a plan.

A media argument takes a file the clause names, or the output of an earlier step
when the clause refers back ("the edited image", "it") or the request has no such
file; a text argument takes the clause's quoted text, or an earlier step's text, or
the request's own text. References are written ``<GENERATED>-N`` so the engine can
run the plan as it stands.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from engine.picker.clauses import Clause
from engine.tasks import TASK_SPECS
from engine.types import GENERATED_PREFIX, Task


@dataclass(frozen=True)
class Step:
    task: str
    clause: Clause
    feeds_from: int | None = None  # a step this one must read (a modifier's or converter's partner)


@dataclass(frozen=True)
class RequestContext:
    files: Mapping[str, Sequence[str]]  # kind -> names, attachments of that kind first
    quotes: Sequence[str]  # quoted texts that are not questions, in request order
    text: str


_REFER = re.compile(
    r"\b(?:it|its|them|their|that|these|those|the results?|the outputs?|the answer|based on|"
    r"(?:the|this) (?:edited|modified|generated|new|transformed|resulting|segmented|translated|summari[sz]ed|transcribed|"
    r"detected|classified|extracted|enhanced|stylized|final|depth-estimated|updated|paraphrased|same|returned|"
    r"cleaned|separated|converted|created|produced|spoken|new|visuali[sz]ed))\b",
    re.I,
)
_NOUN_TASKS: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...] = tuple(
    (re.compile(p, re.I), tuple(t.split()))
    for p, t in [
        (r"caption|description of the image", "image-to-text"),
        (r"transcri", "automatic-speech-recognition"),
        (r"summar", "summarization"),
        (r"translat", "translation"),
        (r"paraphras", "text2text-generation"),
        (r"\banswer", "question-answering visual-question-answering document-question-answering"),
        (r"\bresponse|\breply", "conversational"),
        (r"\bdetected|\bobjects? (?:found|labels)", "object-detection"),
        (
            r"classifi|\blabels?\b",
            "image-classification object-detection tabular-classification text-classification audio-classification",
        ),
        (r"\b(?:edited|modified) ", "image-editing"),
        (r"\bgenerated (?:image|picture)|\bvisuali[sz]ed", "text-to-image"),
        (r"\bgenerated text|\bnew text|\bextended text", "text-generation"),
        (r"depth", "depth-estimation"),
        (r"segment", "image-segmentation"),
        (r"transformed|styli", "image-to-image"),
        (r"enhanced|cleaned|separated|denoised", "audio-to-audio"),
        (r"speech|spoken|audio", "text-to-speech"),
        (r"extracted", "image-to-text"),
    ]
)
_BY_NAME_ONLY = {
    "depth-estimation",
    "image-segmentation",
    "pose-estimation",
    "object-detection",
    "token-classification",
    "text-classification",
    "sentence-similarity",
}
# their output is meant to be used: the next step on the same kind reads it
_TRANSFORMERS = {"audio-to-audio", "image-to-image", "image-editing"}
_QUESTION_TASKS = {"visual-question-answering", "document-question-answering", "question-answering"}


_TEXT_SOURCE = re.compile(
    r"\b(?:based on|according to|using|use|with|from|following|reflect\w*|match\w*) (?:the|this|that|its|their|these) "
    r"(?:\w+ )?(?:answer|transcri\w*|caption|text|description|result|output|summary|translation|labels?|class\w*|"
    r"instructions?|information|response|words|prompt|category|topic)",
    re.I,
)
_AFTER = re.compile(
    r"^(?:after|once|when|having) \w+ing\b|^(?:and )?(?:then|after that|afterwards|next)\b", re.I
)


def named_tasks(text: str) -> set[str]:
    """Tasks whose output the words name ("the caption", "the visualized content")."""
    return {t for pattern, tasks in _NOUN_TASKS if pattern.search(text) for t in tasks}


def refers_back(text: str) -> bool:
    return bool(_REFER.search(text))


def _producer(steps: Sequence[Step], k: int, kind: str, used: set[int], strict: bool = False) -> int | None:
    """The earlier step whose output of ``kind`` this clause most likely means."""
    candidates = [
        j for j in range(k - 1, -1, -1) if kind in TASK_SPECS[steps[j].task].outputs and j not in used
    ]
    if not candidates:
        return None
    # depth maps, masks and entity lists are end results; a later step reads them only when it says so
    plain = [j for j in candidates if steps[j].task not in _BY_NAME_ONLY | _QUESTION_TASKS]
    forced = steps[k].feeds_from
    if forced is not None and forced in candidates:
        return forced
    text = steps[k].clause.text
    for pattern, tasks in _NOUN_TASKS:
        m = pattern.search(text)
        # "the text obtained from the segmented image": the word names an image, not this kind
        if m and not (kind != "image" and _IMAGE_NEXT.match(text, m.end())):
            named = [j for j in candidates if steps[j].task in tasks]
            if named:
                return _last_form(steps, named[0], k, kind, used)
    if strict and not plain and not (_AFTER.match(text) and candidates[0] == k - 1):
        return None  # the request has its own text: an entity list or answer is read only when named
    return _last_form(steps, (plain or candidates)[0], k, kind, used)


_IMAGE_NEXT = re.compile(r"[\w-]*\s+(?:image|picture|photo)\b", re.I)


def _last_form(steps: Sequence[Step], j: int, k: int, kind: str, used: set[int]) -> int:
    """ "a response ... but in French", then "the response": the translated (or otherwise
    modified) form the clause itself asked for, not the step before its modifier."""
    for m in range(j + 1, k):
        if steps[m].feeds_from == j and steps[m].clause is steps[j].clause and m not in used:
            if kind in TASK_SPECS[steps[m].task].outputs:
                j = m
    return j


def _media_arg(steps: Sequence[Step], k: int, kind: str, ctx: RequestContext, used: set[int]) -> str | None:
    clause = steps[k].clause
    own = clause.files(kind)
    producer = _producer(steps, k, kind, used)
    if producer is not None and producer == steps[k].feeds_from:
        return _ref(producer, used)
    if own and not (producer is not None and refers_back(clause.text) and not _names_file(clause.text)):
        return own[0]
    if producer is not None and (refers_back(clause.text) or not ctx.files.get(kind)):
        return _ref(producer, used)
    latest = None if own else _latest_version(steps, k, kind, used)
    if latest is not None:
        return _ref(latest, used)
    if ctx.files.get(kind):
        return ctx.files[kind][0]
    return _ref(producer, used) if producer is not None else None


def _latest_version(steps: Sequence[Step], k: int, kind: str, used: set[int]) -> int | None:
    """ "enhance the audio, separate the speakers, and transcribe the speech": once the user's
    image or audio has been edited or enhanced, a plain "the image" means the latest version."""
    if re.search(r"\boriginal\b", steps[k].clause.text, re.I):
        return None
    for j in range(k - 1, -1, -1):
        if steps[j].task in _TRANSFORMERS and kind in TASK_SPECS[steps[j].task].outputs:
            return None if j in used else j
    return None


def _names_file(text: str) -> bool:
    return bool(re.search(r"\bthe (?:image|audio|video)\b", text)) and not re.search(
        r"\bthe (?:edited|modified|generated|new|transformed|resulting|segmented) ", text
    )


def _text_arg(steps: Sequence[Step], k: int, ctx: RequestContext, used: set[int], name: str) -> str:
    step = steps[k]
    clause = step.clause
    quotes = clause.quotes
    if step.task in _QUESTION_TASKS and name == "text":
        if step.feeds_from is not None and not quotes:
            return _ref(step.feeds_from, used)
        return quotes[0] if quotes else clause.raw
    if step.task == "sentence-similarity":
        return _similarity_arg(steps, k, ctx, used, name)
    producer = _producer(steps, k, "text", used, strict=bool(ctx.quotes or ctx.files.get("text")))
    if step.feeds_from is not None and producer == step.feeds_from:
        return _ref(producer, used)
    if step.task == "image-editing" and not _TEXT_SOURCE.search(clause.text):
        producer = None  # "modify the car colour to blue": the clause is the instruction
    if quotes and not (producer is not None and refers_back(clause.text)):
        return quotes[0] if name != "text2" or len(quotes) < 2 else quotes[1]
    if producer is not None:
        return _ref(producer, used)
    if name == "text2" and quotes:
        return quotes[0]
    if ctx.quotes:
        return ctx.quotes[0] if name != "text2" or len(ctx.quotes) < 2 else ctx.quotes[1]
    if ctx.files.get("text"):
        return ctx.files["text"][0]
    return clause.raw


def _similarity_arg(steps: Sequence[Step], k: int, ctx: RequestContext, used: set[int], name: str) -> str:
    """Compare an earlier output with the clause's quote, else with the original text, else
    two outputs; with no outputs, compare the request's two quotes."""
    clause = steps[k].clause
    producer = _producer(steps, k, "text", used)
    if name == "text":
        if producer is not None:
            return _ref(producer, used)
        return ctx.quotes[0] if ctx.quotes else clause.raw
    if clause.quotes and producer is None and len(ctx.quotes) > 1:
        return ctx.quotes[1]
    if clause.quotes:
        return (
            clause.quotes[0] if used else (clause.quotes[1] if len(clause.quotes) > 1 else clause.quotes[0])
        )
    if re.search(r"\boriginal|\bmy text|\bthe input", clause.text, re.I):
        if ctx.quotes:
            return ctx.quotes[0]
        first = next(
            (j for j in range(k) if "text" in TASK_SPECS[steps[j].task].outputs and j not in used), None
        )
        if first is not None:
            return _ref(first, used)
    if producer is not None:
        return _ref(producer, used)
    return ctx.quotes[1] if len(ctx.quotes) > 1 else (ctx.quotes[0] if ctx.quotes else clause.raw)


def _ref(j: int, used: set[int]) -> str:
    used.add(j)
    return f"{GENERATED_PREFIX}{j}"


def build_tasks(steps: Sequence[Step], ctx: RequestContext) -> tuple[Task, ...]:
    tasks = []
    for k, step in enumerate(steps):
        args: dict[str, str] = {}
        used: set[int] = set()
        for arg in TASK_SPECS[step.task].inputs:
            if arg.kind == "text":
                if not arg.required and step.task != "question-answering" and not step.clause.quotes:
                    continue
                if arg.name == "context":
                    value = _context_arg(steps, k, ctx, used)
                else:
                    value = _text_arg(steps, k, ctx, used, arg.name)
            elif arg.name != arg.kind:  # image2, image3: the request's further files of the kind
                nth = int("".join(ch for ch in arg.name if ch.isdigit()) or 1) - 1
                names = list(ctx.files.get(arg.kind, ()))
                value = names[nth] if 0 < nth < len(names) else ""
            else:
                value = _media_arg(steps, k, arg.kind, ctx, used)  # type: ignore[assignment]
            if value:
                args[arg.name] = value
        task = Task(id=k, task=step.task, args=args)
        tasks.append(Task(id=k, task=step.task, args=args, dep=task.references()))
    return tuple(tasks)


def _context_arg(steps: Sequence[Step], k: int, ctx: RequestContext, used: set[int]) -> str:
    producer = _producer(steps, k, "text", used)
    if producer is not None:
        return _ref(producer, used)
    others = [q for q in ctx.quotes if q not in steps[k].clause.quotes]
    if others:
        return others[0]
    return ctx.files["text"][0] if ctx.files.get("text") else ""

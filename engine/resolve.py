"""Turn a task's planned arguments into typed input resources.

Planned values are ``<GENERATED>-N`` references, names of the user's files
("e1.jpg"), paths, or literal text. A reference resolves to the producing task's
output of the kind the argument wants (a detection task's image for an image
argument, its summary for a text argument).

One file-access rule, whichever way a file is named (by path, by the name of one of
the user's files, by a placeholder, by reference to another task's output): the
file's real path, every symlink followed, must lie inside the request's folders
(``Request.allowed_roots`` and ``artifact_dir``), or the file is refused, never read.
The resource handed on carries that real path, so a tool opens what was checked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from engine.errors import InputError
from engine.references import exact_ref, substitute_refs
from engine.tasks import TASK_SPECS
from engine.types import Resource, ResourceKind, Task, TaskResult

_URL_PREFIXES = ("http://", "https://", "ftp://", "file://")


def _refused(label: str) -> InputError:
    return InputError(f"'{label}' is not one of the files of this conversation; it was refused")


def checked_file(res: Resource, roots: Sequence[Path], label: str | None = None) -> Resource:
    """``res`` with its path made real, if that real path is a file inside ``roots``;
    InputError otherwise. Resources without a path pass unchanged."""
    if res.path is None:
        return res
    label = label or res.name or res.path.name
    try:
        real = res.path.resolve()
        inside = any(real.is_relative_to(root.resolve()) for root in roots)
    except (OSError, RuntimeError):  # a symlink loop, an unreadable folder
        raise _refused(label) from None
    if not inside:
        raise _refused(label)
    if not real.is_file():
        raise InputError(f"'{label}' does not exist")
    return res if real == res.path else replace(res, path=real)


def find_file(value: str, kind: ResourceKind, files: Sequence[Resource], roots: Sequence[Path]) -> Resource:
    """The user's file that ``value`` names. ``files`` is ordered most relevant first."""
    wanted = value.strip().strip("'\"")
    if wanted.lower().startswith(_URL_PREFIXES):
        raise InputError(f"'{wanted}' is a link; send the file itself as an attachment instead")
    base = Path(wanted).name
    for res in files:
        names = {res.name, res.path.name if res.path else None, str(res.path) if res.path else None}
        if wanted in names or base in names:
            if res.kind != kind:
                raise InputError(f"'{wanted}' is {res.kind}, but this step needs {kind}")
            return checked_file(res, roots, wanted)
    candidate = Path(wanted)
    if candidate.is_absolute() or "/" in wanted:
        # a path names a file only if it is one of the files offered to this request: an
        # earlier turn's file inside the conversation's folders is not one unless referred to
        offered = checked_file(Resource(kind=kind, path=candidate, name=candidate.name), roots, wanted)
        for res in files:
            if res.path is not None and offered.path is not None and res.path.resolve() == offered.path:
                if res.kind != kind:
                    raise InputError(f"'{wanted}' is {res.kind}, but this step needs {kind}")
                return checked_file(res, roots, wanted)
        raise InputError(f"'{wanted}' is not one of the files of this request; it was refused")
    # The planner wrote a placeholder ("image.jpg", "the image"): take the newest file of that kind.
    same_kind = [r for r in files if r.kind == kind]
    if same_kind:
        return checked_file(same_kind[0], roots)
    raise InputError(
        f"this step needs {'an' if kind in ('image', 'audio') else 'a'} {kind}, "
        f"but '{wanted}' is not among your files: attach it"
    )


def _named_text(value: str, files: Sequence[Resource]) -> Resource | None:
    wanted = value.strip()
    return next((r for r in files if r.kind == "text" and r.name and r.name == wanted), None)


def pick_output(result: TaskResult, kind: ResourceKind) -> Resource:
    """The output of ``result`` that fits an argument of ``kind``."""
    for out in result.outputs:
        if out.kind == kind:
            return out
    if kind == "text" and result.outputs:
        # e.g. a json-only output feeding a text argument: describe it
        return Resource(kind="text", text=result.outputs[0].describe())
    raise InputError(f"task {result.task.id} ({result.task.task}) produced no {kind}")


def _result(done: Mapping[int, TaskResult], task_id: int) -> TaskResult:
    if task_id not in done:
        raise InputError(f"this step refers to task {task_id}, which it does not depend on")
    return done[task_id]


def resolve_inputs(
    task: Task,
    done: Mapping[int, TaskResult],
    files: Sequence[Resource],
    roots: Sequence[Path],
) -> dict[str, Resource]:
    """Inputs of ``task`` keyed by argument name, each of the kind its spec wants."""
    spec = TASK_SPECS[task.task]
    inputs: dict[str, Resource] = {}
    for arg in spec.inputs:
        value = task.args.get(arg.name)
        if value is None or value == "":
            if arg.required:
                raise InputError(f"{task.task} needs a {arg.name} argument")
            continue
        ref_id = exact_ref(value)
        if ref_id is not None:
            inputs[arg.name] = checked_file(pick_output(_result(done, ref_id), arg.kind), roots)
        elif arg.kind == "text":
            named = _named_text(value, files)
            if named is not None:  # an earlier text result, named as in the conversation's table
                inputs[arg.name] = named
                continue
            # references inside text ("a poem about <GENERATED>-0") take the producer's text
            text = substitute_refs(value, lambda i: pick_output(_result(done, i), "text").text or "")
            inputs[arg.name] = Resource(kind="text", text=text)
        else:
            inputs[arg.name] = find_file(value, arg.kind, files, roots)
    return inputs

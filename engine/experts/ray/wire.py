"""Files travel as bytes: the cluster does not share the bot's disk.

Inputs go with the call (bytes, the user-facing name, kind and MIME type); outputs
come back as bytes with their file suffix and are saved where the bot saves every
output, ``RunContext.new_path``. Sizes are checked on both sides: an input over
``limits.max_attachment_mb`` never leaves the bot, and a replica refuses to send
outputs over ``experts.ray.max_output_mb`` (the bot checks again on arrival).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import ExpertError
from engine.experts.base import RunContext
from engine.types import RESOURCE_KINDS, Resource, Task

MB = 1024 * 1024
_SUFFIX = re.compile(r"^\.[A-Za-z0-9]{1,8}$")


@dataclass(frozen=True, slots=True)
class PackedResource:
    """A Resource with its file's bytes instead of its path."""

    kind: str
    text: str | None = None
    data: Any = None
    mime: str | None = None
    name: str | None = None
    content: bytes | None = None
    suffix: str = ""

    @property
    def size(self) -> int:
        return len(self.content or b"")


@dataclass(frozen=True, slots=True)
class CallRequest:
    task: Task
    inputs: Mapping[str, PackedResource]
    request_text: str = ""
    timeout: float = 120.0
    max_output_bytes: int = 50 * MB
    language: str | None = None  # the user's language, for tools that follow it (OCR, speech)


@dataclass(frozen=True, slots=True)
class CallReply:
    outputs: tuple[PackedResource, ...] = ()
    error: str | None = None
    unavailable: bool = False  # the expert cannot run there (as ExpertUnavailable)


def pack(resource: Resource, label: str, limit: int, setting: str) -> PackedResource:
    """``resource`` with its file read into memory; a file over ``limit`` bytes is an
    ExpertError naming ``setting`` (blocking: call it from a worker thread)."""
    content = None
    suffix = ""
    if resource.path is not None:
        try:
            size = resource.path.stat().st_size
            if size > limit:
                raise ExpertError(
                    f"{label} is {size / MB:.1f} MB, more than {setting} ({limit / MB:g} MB) "
                    "allows to travel to or from the Ray cluster"
                )
            content = resource.path.read_bytes()
        except OSError as exc:
            raise ExpertError(f"{label}: cannot read {resource.path.name}: {exc.strerror}") from exc
        suffix = resource.path.suffix if _SUFFIX.match(resource.path.suffix) else ".bin"
    return PackedResource(
        kind=resource.kind,
        text=resource.text,
        data=resource.data,
        mime=resource.mime,
        name=resource.name,
        content=content,
        suffix=suffix,
    )


def pack_request(
    task: Task, inputs: Mapping[str, Resource], ctx: RunContext, max_input_bytes: int, max_output_bytes: int
) -> CallRequest:
    packed = {
        name: pack(res, f"input {name!r}", max_input_bytes, "limits.max_attachment_mb")
        for name, res in inputs.items()
    }
    return CallRequest(
        task=task,
        inputs=packed,
        request_text=ctx.request_text,
        timeout=ctx.timeout,
        max_output_bytes=max_output_bytes,
        language=ctx.language,
    )


def pack_outputs(outputs: Sequence[Resource], limit: int) -> tuple[PackedResource, ...]:
    """A replica's outputs for the way back, within ``limit`` bytes in all."""
    packed = tuple(
        pack(res, f"output {i}", limit, "experts.ray.max_output_mb") for i, res in enumerate(outputs)
    )
    total = sum(p.size for p in packed)
    if total > limit:
        raise ExpertError(
            f"the outputs are {total / MB:.1f} MB, more than experts.ray.max_output_mb ({limit / MB:g} MB)"
        )
    return packed


def materialise(packed: Mapping[str, PackedResource], folder: Path) -> dict[str, Resource]:
    """Inputs on the replica's side: each file written under ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    inputs = {}
    for i, (name, item) in enumerate(packed.items()):
        path = None
        if item.content is not None:
            path = folder / f"input{i}{_safe_suffix(item.suffix)}"
            path.write_bytes(item.content)
        inputs[name] = _resource(item, path)
    return inputs


def unpack_outputs(
    packed: Sequence[PackedResource], ctx: RunContext, task_id: int, limit: int
) -> list[Resource]:
    """Outputs on the bot's side, saved as this task's files in the request's folder."""
    total = sum(p.size for p in packed)
    if total > limit:
        raise ExpertError(
            f"the Ray expert sent {total / MB:.1f} MB of outputs, more than experts.ray.max_output_mb "
            f"({limit / MB:g} MB)"
        )
    outputs = []
    for item in packed:
        if item.kind not in RESOURCE_KINDS:
            raise ExpertError(f"the Ray expert returned an output of unknown kind {item.kind!r}")
        path = None
        if item.content is not None:
            path = ctx.new_path(task_id, _safe_suffix(item.suffix))
            path.write_bytes(item.content)
        outputs.append(_resource(item, path))
    return outputs


def _resource(item: PackedResource, path: Path | None) -> Resource:
    try:
        return Resource(
            kind=item.kind,  # type: ignore[arg-type]
            text=item.text,
            path=path,
            data=item.data,
            mime=item.mime,
            name=item.name,
        )
    except ValueError as exc:  # a media kind without bytes, a text kind without text
        raise ExpertError(f"the Ray expert returned a malformed {item.kind} output: {exc}") from exc


def _safe_suffix(suffix: str) -> str:
    return suffix if _SUFFIX.match(suffix) else ".bin"

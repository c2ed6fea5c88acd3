"""An Outcome -> what the OpenAI-compatible API answers.

The answer text is the reply, then a link per generated file (``![name](url)`` for an
image, ``[audio: name](url)`` otherwise: links under ``/files/`` that need the key),
then the warnings. Clients that want the media inline ask with OpenAI's
``modalities`` field: ``"audio"`` puts the first audio in ``message.audio`` (OpenAI's
shape: base64 ``data``, ``transcript``, ``id``, ``expires_at``), ``"image"`` and
``"video"`` put data URLs in ``message.images`` / ``message.videos`` as
``{"type": "image_url", "image_url": {"url": ...}}`` parts (the convention other
OpenAI-compatible servers use for generated images). Every answer also carries a
``hugginggpt`` object (plan, results, media links, warnings, conversation), which
OpenAI's clients keep as an extra field.
"""

from __future__ import annotations

import base64
import mimetypes
import secrets
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adapters.http.files import FileArea
from engine.types import Outcome, Resource

MODEL = "hugginggpt"


@dataclass(frozen=True, slots=True)
class MediaLink:
    kind: str
    url: str
    mime: str
    name: str
    path: Path
    transcript: str = ""

    def to_public(self) -> dict[str, str]:
        return {"kind": self.kind, "url": self.url, "mime": self.mime, "name": self.name}


def media_links(media: Iterable[Resource], area: FileArea, base: str) -> tuple[list[MediaLink], list[str]]:
    links, warnings = [], []
    for resource in media:
        if resource.path is None:
            continue
        url = area.url_for(resource.path, base)
        if url is None:  # not under the data folder: never served
            warnings.append(f"a generated {resource.kind} could not be linked")
            continue
        mime = resource.mime or mimetypes.guess_type(resource.path.name)[0] or "application/octet-stream"
        links.append(
            MediaLink(
                resource.kind,
                url,
                mime,
                resource.name or resource.path.name,
                resource.path,
                resource.text or "",
            )
        )
    return links, warnings


def answer_text(text: str, links: Sequence[MediaLink], warnings: Sequence[str]) -> str:
    lines = [text.strip()] if text.strip() else []
    shown = [
        f"![{m.name}]({m.url})" if m.kind == "image" else f"[{m.kind}: {m.name}]({m.url})" for m in links
    ]
    if shown:
        lines.append("\n".join(shown))
    if warnings:
        lines.append("\n".join(f"⚠️ {w}" for w in warnings))
    return "\n\n".join(lines)


def inline_media(
    links: Sequence[MediaLink], modalities: Sequence[str], max_bytes: int
) -> tuple[dict[str, Any], list[str]]:
    """The ``message`` fields for media asked inline (blocking: reads the files)."""
    extras: dict[str, Any] = {}
    warnings = []
    wanted = set(modalities)
    for link in links:
        if link.kind not in wanted or (link.kind == "audio" and "audio" in extras):
            continue
        size = link.path.stat().st_size
        if size > max_bytes:
            warnings.append(
                f"{link.name} is too large to send inline ({size / 1048576:.1f} MB): use its link"
            )
            continue
        data = base64.b64encode(link.path.read_bytes()).decode("ascii")
        if link.kind == "audio":
            extras["audio"] = {
                "id": f"audio_{secrets.token_hex(8)}",
                "data": data,
                "expires_at": int(time.time()) + 3600,
                "transcript": link.transcript,
                "format": Path(link.name).suffix.lstrip(".") or "wav",
            }
        else:
            field = "images" if link.kind == "image" else "videos"
            part = f"{link.kind}_url"
            extras.setdefault(field, []).append(
                {"type": part, part: {"url": f"data:{link.mime};base64,{data}"}}
            )
    return extras, warnings


def extension(
    outcome: Outcome,
    links: Sequence[MediaLink],
    warnings: Sequence[str],
    conversation: str | None,
    url_of: Callable[[Path], str | None],
) -> dict[str, Any]:
    """The ``hugginggpt`` object: what the pipeline did, for clients that want more than text."""
    public = outcome.to_public()
    return {
        "conversation": conversation,
        "plan": public["plan"],
        "plan_source": public["plan_source"],
        "results": [public_result(r, url_of) for r in public["results"]],
        "media": [m.to_public() for m in links],
        "warnings": list(warnings),
        "error": outcome.error,
        "llm_calls": outcome.llm_calls,
        "timings": public["timings"],
    }


def public_result(result: dict[str, Any], url_of: Callable[[Path], str | None]) -> dict[str, Any]:
    """A task result with links instead of server paths (a path never leaves the server)."""
    outputs = []
    for output in result["outputs"]:
        shown = {k: v for k, v in output.items() if k != "path"}
        if "path" in output:
            shown["url"] = url_of(Path(output["path"]))
        outputs.append(shown)
    shown_result = {**result, "outputs": outputs}
    if "read" in result:  # what the task read: files as links, earlier results by name
        shown_result["read"] = [
            (url_of(Path(item)) or Path(item).name) if "/" in item else item for item in result["read"]
        ]
    return shown_result


def new_completion_id() -> str:
    return f"chatcmpl-{secrets.token_hex(12)}"


def completion_body(
    completion_id: str, created: int, content: str, extras: dict[str, Any], ext: dict[str, Any]
) -> dict[str, Any]:
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": MODEL,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": None, **extras},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "hugginggpt": ext,
    }


def chunk_body(
    completion_id: str,
    created: int,
    delta: dict[str, Any],
    finish_reason: str | None = None,
    ext: dict[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": MODEL,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}],
    }
    if ext is not None:
        body["hugginggpt"] = ext
    return body

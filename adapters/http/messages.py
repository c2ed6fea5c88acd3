"""OpenAI chat messages -> the turn's text, files and history.

Content is a string or a list of parts: ``text``, ``image_url`` (a data URL, or a
``/files/`` link this server gave out), ``input_audio`` (base64 with its format) and
``file`` (``file_id`` of an upload, or ``file_data`` inline). Nothing is ever fetched
from elsewhere. Sizes are checked from the encoded length before anything is
decoded; too many or too large files are a 400 that names the limit.

The last message is the turn and must be the user's. The earlier ones become the
history when the request keys no stored conversation (text only: their files are
not decoded, and the reply says so); system and tool messages are not used (the
engine writes its own prompts).
"""

from __future__ import annotations

import base64
import binascii
import mimetypes
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote_to_bytes

from adapters.base import IncomingFile
from adapters.http.errors import ApiError, bad_request
from engine.types import Turn

_DATA_URL = re.compile(
    r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?P<params>(?:;[\w.+-]+=[^;,]*)*)(?P<b64>;base64)?,", re.I
)
_IGNORED_ROLES = frozenset({"system", "developer", "tool", "function"})
_FILE_PARTS = frozenset({"image_url", "input_audio", "file"})
EARLIER_FILES_NOTE = (
    "files in earlier messages were not used: only the last message's files are read when no "
    "conversation is named (send X-Conversation-Id or `user` to keep files across turns)"
)


@dataclass(frozen=True, slots=True)
class Limits:
    max_attachment_bytes: int
    max_attachments: int


@dataclass(frozen=True, slots=True)
class ChatInput:
    text: str
    files: tuple[IncomingFile, ...] = ()
    history: tuple[Turn, ...] = ()
    warnings: tuple[str, ...] = ()


class FileSource(Protocol):
    """Local files a message may name (see adapters/http/files.py)."""

    def link(self, url: str) -> Path: ...

    def upload(self, file_id: str) -> Path: ...


def needs_files(messages: Any) -> bool:
    """Whether reading the messages means decoding or reading files (worth a thread)."""
    return isinstance(messages, list) and any(
        isinstance(m, dict) and isinstance(m.get("content"), list) for m in messages
    )


def read_messages(messages: Any, source: FileSource, limits: Limits, *, with_history: bool) -> ChatInput:
    if not isinstance(messages, list) or not messages:
        raise bad_request("`messages` must be a non-empty list of {role, content} objects", "messages")
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise bad_request(f"messages[{index}] must be an object with a `role`", "messages")
        if message["role"] not in _IGNORED_ROLES | {"user", "assistant"}:
            raise bad_request(f"messages[{index}]: unknown role {message['role']!r}", "messages")
    last = messages[-1]
    if last["role"] != "user":
        raise bad_request("the last message must be the user's (role `user`): it is the request", "messages")
    reader = _PartReader(source, limits)
    text = reader.read(last.get("content"), len(messages) - 1)
    history: list[Turn] = []
    earlier_files = False
    if with_history:
        for message in messages[:-1]:
            if message["role"] in _IGNORED_ROLES:
                continue
            said, has_files = _text_only(message.get("content"))
            earlier_files = earlier_files or has_files
            if said:
                history.append(Turn(role=message["role"], text=said))
    return ChatInput(
        text=text,
        files=tuple(reader.files),
        history=tuple(history),
        warnings=(EARLIER_FILES_NOTE,) if earlier_files else (),
    )


def _text_only(content: Any) -> tuple[str, bool]:
    if content is None:
        return "", False
    if isinstance(content, str):
        return content.strip(), False
    if not isinstance(content, list):
        return "", False
    texts = [
        str(p.get("text", ""))
        for p in content
        if isinstance(p, dict) and p.get("type") in ("text", "input_text")
    ]
    files = any(isinstance(p, dict) and p.get("type") in _FILE_PARTS for p in content)
    return "\n".join(t for t in texts if t).strip(), files


class _PartReader:
    def __init__(self, source: FileSource, limits: Limits) -> None:
        self.source, self.limits = source, limits
        self.files: list[IncomingFile] = []

    def read(self, content: Any, index: int) -> str:
        where = f"messages[{index}].content"
        if isinstance(content, str):
            return content
        if not isinstance(content, list):
            raise bad_request(f"{where} must be a string or a list of content parts", "messages")
        texts = []
        for n, part in enumerate(content):
            kind = part.get("type") if isinstance(part, dict) else None
            label = f"{where}[{n}]"
            if kind in ("text", "input_text"):
                texts.append(str(part.get("text", "")))
            elif kind == "image_url":
                self._image(part.get("image_url"), label)
            elif kind == "input_audio":
                self._audio(part.get("input_audio"), label)
            elif kind == "file":
                self._file(part.get("file"), label)
            else:
                raise bad_request(
                    f"{label}: unsupported content part type {kind!r} "
                    "(use text, image_url, input_audio or file)",
                    "messages",
                )
        return "\n".join(t for t in texts if t)

    # -- the part types -----------------------------------------------------------------

    def _image(self, image: Any, label: str) -> None:
        url = image.get("url") if isinstance(image, dict) else image
        if not isinstance(url, str) or not url:
            raise bad_request(f"{label}: image_url needs a `url`", "messages")
        if url[:5].lower() == "data:":
            mime, data = self._data_url(url, label)
            self._add(IncomingFile(f"image-{len(self.files) + 1}{_suffix(mime, '.png')}", data, mime), label)
        else:
            self._add_local(self.source.link(url), label)

    def _audio(self, audio: Any, label: str) -> None:
        if not isinstance(audio, dict) or not isinstance(audio.get("data"), str):
            raise bad_request(f"{label}: input_audio needs `data` (base64) and `format`", "messages")
        fmt = re.sub(r"[^a-z0-9]", "", str(audio.get("format") or "wav").lower())[:8] or "wav"
        data = self._base64(audio["data"], label)
        self._add(IncomingFile(f"audio-{len(self.files) + 1}.{fmt}", data, f"audio/{fmt}"), label)

    def _file(self, file: Any, label: str) -> None:
        if not isinstance(file, dict):
            raise bad_request(f"{label}: a file part needs `file_id` or `file_data`", "messages")
        if isinstance(file.get("file_id"), str):
            self._add_local(self.source.upload(file["file_id"]), label)
            return
        raw = file.get("file_data")
        if not isinstance(raw, str) or not raw:
            raise bad_request(f"{label}: a file part needs `file_id` or `file_data`", "messages")
        if raw[:5].lower() == "data:":
            mime, data = self._data_url(raw, label)
        else:
            mime, data = None, self._base64(raw, label)
        name = str(file.get("filename") or f"file-{len(self.files) + 1}{_suffix(mime, '')}")
        self._add(IncomingFile(name, data, mime), label)

    # -- decoding, within the limits ----------------------------------------------------

    def _check_count(self, label: str) -> None:
        if len(self.files) >= self.limits.max_attachments:
            raise ApiError(
                400,
                f"{label}: at most {self.limits.max_attachments} files a message (limits.max_attachments)",
                param="messages",
                code="too_many_files",
            )

    def _check_size(self, size: int, label: str) -> None:
        limit = self.limits.max_attachment_bytes
        if size > limit:
            raise ApiError(
                413,
                f"{label}: the file is {size / 1048576:.1f} MB and the limit is "
                f"{limit / 1048576:.1f} MB a file (limits.max_attachment_mb)",
                param="messages",
                code="file_too_large",
            )

    def _data_url(self, url: str, label: str) -> tuple[str | None, bytes]:
        match = _DATA_URL.match(url)
        if match is None:
            raise bad_request(f"{label}: not a valid data URL (data:<type>;base64,<data>)", "messages")
        payload = url[match.end() :]
        mime = match["mime"].lower() if match["mime"] else None
        if match["b64"]:
            return mime, self._base64(payload, label)
        self._check_size(len(payload) // 3, label)  # percent-encoding takes up to 3 characters a byte
        data = unquote_to_bytes(payload)
        self._check_size(len(data), label)
        return mime, data

    def _base64(self, payload: str, label: str) -> bytes:
        self._check_count(label)
        self._check_size(len(payload) * 3 // 4 - 2, label)
        try:
            return base64.b64decode("".join(payload.split()), validate=True)
        except (binascii.Error, ValueError):
            raise bad_request(f"{label}: the data is not valid base64", "messages") from None

    def _add(self, file: IncomingFile, label: str) -> None:
        self._check_count(label)
        self._check_size(len(file.data), label)
        self.files.append(file)

    def _add_local(self, path: Path, label: str) -> None:
        self._check_count(label)
        self._check_size(path.stat().st_size, label)
        self.files.append(IncomingFile(path.name, path.read_bytes()))


def _suffix(mime: str | None, default: str) -> str:
    if not mime:
        return default
    guessed = mimetypes.guess_extension(mime, strict=False)
    return {".jpe": ".jpg", ".jpeg": ".jpg"}.get(guessed or "", guessed or default)

"""The files the API hands out and takes in: links under ``/files/``, and uploads.

Every file a conversation brought or produced lives in the conversation service's
folder for it (``<data>/artifacts/<conversation slug>/...``). An HTTP conversation's
slug starts with ``http-<workspace>-``, so the first part of a ``/files/`` path tells
whose file it is: a key is served the files of its own workspace and no others, and a
path that leaves the artifacts folder (``..``, a symbolic link out) is refused.
Uploads (``POST /v1/files``) go to the workspace's own ``uploads`` folder, one folder
per file id.

Nothing here fetches a URL: a link is only ever turned back into a local file.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from adapters.base import ConversationKey
from adapters.http.errors import ApiError
from adapters.http.keys import Caller

FILES_PREFIX = "/files/"
_FILE_ID = re.compile(r"^file-[0-9a-f]{24}$")
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def conversation_key(caller: Caller, conversation: str | None) -> ConversationKey:
    """The key of a named conversation, or of the workspace's ephemeral turns (None).

    Names made of safe characters (up to 64) are kept readable; others are hashed, so
    two names never share a folder (folder names are the key's slug)."""
    if conversation is None:
        return ConversationKey("http", caller.workspace, "ephemeral")
    if re.fullmatch(r"[A-Za-z0-9._-]{1,64}", conversation):
        return ConversationKey("http", caller.workspace, f"c:{conversation}")
    digest = hashlib.sha256(conversation.encode("utf-8")).hexdigest()[:32]
    return ConversationKey("http", caller.workspace, f"h:{digest}")


@dataclass(frozen=True, slots=True)
class Upload:
    id: str
    filename: str
    bytes: int
    created_at: int
    path: Path

    def to_public(self) -> dict[str, object]:
        """OpenAI's file object, so ``client.files.create(...)`` reads it."""
        return {
            "id": self.id,
            "object": "file",
            "bytes": self.bytes,
            "created_at": self.created_at,
            "filename": self.filename,
            "purpose": "user_data",
            "status": "processed",
        }


class FileArea:
    def __init__(self, artifacts: Path) -> None:
        self.root = artifacts

    # -- ownership --------------------------------------------------------------------

    @staticmethod
    def _prefix(caller: Caller) -> str:
        return f"http-{caller.workspace}-"

    def local_path(self, caller: Caller, url_path: str) -> Path:
        """The file behind ``/files/<relative>`` if it is the caller's; else 404 (a
        file of another key is not told apart from one that does not exist)."""
        relative = unquote(url_path[len(FILES_PREFIX) :]) if url_path.startswith(FILES_PREFIX) else ""
        parts = relative.split("/")
        if (
            not relative
            or not parts[0].startswith(self._prefix(caller))
            or any(p in ("", ".", "..") for p in parts)
            or "\x00" in relative
        ):
            raise ApiError(404, "no such file")
        root = self.root.resolve()
        path = (root / relative).resolve()
        if not path.is_relative_to(root / parts[0]) or not path.is_file():
            raise ApiError(404, "no such file")
        return path

    def url_for(self, path: Path, base: str) -> str | None:
        """The link for a file under the artifacts folder; None for a file elsewhere."""
        try:
            relative = path.resolve().relative_to(self.root.resolve())
        except ValueError:
            return None
        return base + FILES_PREFIX + quote(relative.as_posix())

    def from_link(self, caller: Caller, url: str, own_origins: tuple[str, ...]) -> Path:
        """A link this server gave out (``/files/...``, relative or on one of its own
        origins) back to the caller's local file. Any other URL is refused: the server
        never fetches."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}" if parts.scheme else ""
        if parts.path.startswith(FILES_PREFIX) and (not origin or origin in own_origins):
            return self.local_path(caller, parts.path)
        raise ApiError(
            400,
            "this server does not fetch URLs: send the file inline as a data URL "
            "(data:image/png;base64,...), upload it first (POST /v1/files) and refer to its id, "
            "or use a /files/ link this server gave you",
            param="messages",
            code="url_not_fetched",
        )

    # -- uploads ----------------------------------------------------------------------

    def uploads_folder(self, caller: Caller) -> Path:
        return self.root / ConversationKey("http", caller.workspace, "uploads").slug()

    def new_upload_path(self, caller: Caller, filename: str) -> tuple[str, Path]:
        file_id = f"file-{secrets.token_hex(12)}"
        name = _SAFE_NAME.sub("_", Path(filename.replace("\\", "/")).name).strip("._")[:80] or "upload"
        folder = self.uploads_folder(caller) / file_id
        folder.mkdir(parents=True, exist_ok=False)
        return file_id, folder / name

    def upload(self, caller: Caller, file_id: str) -> Upload:
        if not _FILE_ID.match(file_id):
            raise ApiError(404, f"no uploaded file {file_id!r}", param="file_id")
        folder = self.uploads_folder(caller) / file_id
        files = [p for p in folder.iterdir() if p.is_file()] if folder.is_dir() else []
        if not files:
            raise ApiError(404, f"no uploaded file {file_id!r}", param="file_id")
        path = files[0]
        stat = path.stat()
        return Upload(file_id, path.name, stat.st_size, int(stat.st_mtime), path)

    @staticmethod
    def describe(file_id: str, path: Path) -> Upload:
        return Upload(file_id, path.name, path.stat().st_size, int(time.time()), path)

    @staticmethod
    def remove(path: Path) -> None:
        """Drop a half-written upload and its folder."""
        try:
            path.unlink(missing_ok=True)
            os.rmdir(path.parent)
        except OSError:
            pass


class CallerFiles:
    """The files one caller may name in a message (``messages.FileSource``)."""

    def __init__(self, area: FileArea, caller: Caller, own_origins: tuple[str, ...]) -> None:
        self.area, self.caller, self.own_origins = area, caller, own_origins

    def link(self, url: str) -> Path:
        return self.area.from_link(self.caller, url, self.own_origins)

    def upload(self, file_id: str) -> Path:
        return self.area.upload(self.caller, file_id).path

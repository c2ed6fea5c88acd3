"""Downloading the files a user shared with a request.

Slack serves private files only to a request carrying the bot token (without it the
answer is an HTML sign-in page, which we refuse to pass on as an "image"). Every
file is capped in size: first by its declared ``size``, then while streaming, so a
wrong declaration cannot make us read past the cap. Problems become short warnings
for the user, never errors: the request goes on with the files that did arrive.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp

from adapters.base import IncomingFile

log = logging.getLogger(__name__)

_SKIPPED_MODES = {"tombstone", "hidden_by_limit", "external"}


class _Refused(Exception):
    """A file that cannot be used; the message is the user-facing reason."""


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB"


class FileFetcher:
    """Downloads Slack files with the bot token. Owns one aiohttp session; close it."""

    def __init__(self, token: str, max_bytes: int, max_files: int, timeout: float = 60.0):
        self._token = token
        self._max_bytes = max_bytes
        self._max_files = max_files
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def fetch(
        self, files: Sequence[Mapping[str, Any]]
    ) -> tuple[tuple[IncomingFile, ...], tuple[str, ...]]:
        """The downloaded files and a warning for each one left out."""
        got: list[IncomingFile] = []
        warnings: list[str] = []
        for index, info in enumerate(files):
            name = str(info.get("name") or info.get("title") or info.get("id") or "file")
            if index >= self._max_files:
                warnings.append(f"Only the first {self._max_files} files are used: {name} was skipped.")
                continue
            try:
                data = await self._download(info)
            except _Refused as exc:
                warnings.append(f"{name}: {exc}")
                continue
            got.append(IncomingFile(name=name, data=data, declared_mime=info.get("mimetype") or None))
        return tuple(got), tuple(warnings)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _download(self, info: Mapping[str, Any]) -> bytes:
        if info.get("mode") in _SKIPPED_MODES or info.get("file_access") == "check_file_info":
            raise _Refused("I can't read this file (external, deleted or not shared with me); skipped.")
        size = int(info.get("size") or 0)
        if size > self._max_bytes:
            raise _Refused(f"{_mb(size)} is over the {_mb(self._max_bytes)} limit; skipped.")
        url = info.get("url_private_download") or info.get("url_private")
        if not url:
            raise _Refused("Slack gave no download link; skipped.")
        try:
            return await self._get(str(url), declared_mime=str(info.get("mimetype") or ""))
        except (TimeoutError, aiohttp.ClientError) as exc:
            log.warning("download of %s failed: %r", url, exc)
            raise _Refused(f"the download failed ({type(exc).__name__}); skipped.") from exc

    async def _get(self, url: str, declared_mime: str) -> bytes:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        headers = {"Authorization": f"Bearer {self._token}"}
        async with self._session.get(url, headers=headers) as resp:
            if resp.status != 200:
                raise _Refused(f"Slack answered {resp.status} to the download; skipped.")
            if resp.content_type == "text/html" and "html" not in declared_mime:
                raise _Refused(
                    "Slack sent a sign-in page instead of the file (does the app have files:read?); skipped."
                )
            if (resp.content_length or 0) > self._max_bytes:
                raise _Refused(
                    f"{_mb(resp.content_length or 0)} is over the {_mb(self._max_bytes)} limit; skipped."
                )
            chunks: list[bytes] = []
            total = 0
            async for chunk in resp.content.iter_chunked(64 * 1024):
                total += len(chunk)
                if total > self._max_bytes:
                    raise _Refused(f"it is over the {_mb(self._max_bytes)} limit; skipped.")
                chunks.append(chunk)
            return b"".join(chunks)

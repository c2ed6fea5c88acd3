"""Posting a turn's progress and answer back to Discord.

Two destinations share one posting routine: a channel message (the status message
and the answer are replies to the user's message, with the typing indicator while
the turn runs) and a slash-command interaction (the deferred "thinking" response
becomes the status message, the answer goes in follow-ups).

The answer is split under 2000 characters (adapters.textsplit keeps code blocks
whole); files ride on the last text part, in batches within the upload limit. An
upload refused for size (413 / error 40005) is retried once with the files shrunk
to half the limit, then sent without them and with a note. 429, 500, 502, 504 and 524
are retried by discord.py itself; any other 5xx (503, Discord's "service
unavailable") is retried here, twice, before the turn ends in an apology.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol

import discord

from adapters.discord.media import Upload, batches, fit_media
from adapters.textsplit import split_text
from engine.types import Resource

log = logging.getLogger(__name__)

MESSAGE_LIMIT = 2000
TYPING_EVERY = 8.0  # Discord shows "typing" for 10 s after each call
NO_MENTIONS = discord.AllowedMentions.none()
INVALID_WEBHOOK_TOKEN = 50027  # the interaction's 15 minutes are over
SERVER_ERROR_WAITS = (1.0, 3.0)  # before the second and third try of a post Discord failed with 5xx


class Target(Protocol):
    upload_limit: int

    async def publish_status(self, text: str) -> None: ...

    async def send(self, content: str | None, uploads: list[Upload]) -> None: ...

    def working(self) -> contextlib.AbstractAsyncContextManager[None]: ...


def is_upload_refused(exc: discord.HTTPException) -> bool:
    return exc.status == 413 or exc.code == 40005


def _files(batch: list[Upload]) -> list[discord.File]:
    """Fresh File objects: discord.py closes them after each request."""
    return [discord.File(up.path, filename=up.filename) for up in batch]


class ChannelTarget:
    """Answer a message in its channel: replies, one edited status message, typing."""

    def __init__(self, message: discord.Message, upload_limit: int) -> None:
        self.message = message
        self.upload_limit = upload_limit
        self._status: discord.Message | None = None
        self._replied = False

    async def publish_status(self, text: str) -> None:
        if self._status is None:
            self._status = await self._post(text[:MESSAGE_LIMIT], [])
        else:
            await self._status.edit(content=text[:MESSAGE_LIMIT])

    async def send(self, content: str | None, uploads: list[Upload]) -> None:
        await self._post(content, uploads)

    async def _post(self, content: str | None, uploads: list[Upload]) -> discord.Message:
        ref = self.message.to_reference(fail_if_not_exists=False)
        return await self.message.channel.send(
            content, files=_files(uploads), reference=ref, allowed_mentions=NO_MENTIONS
        )

    @contextlib.asynccontextmanager
    async def working(self) -> AsyncIterator[None]:
        task = asyncio.get_running_loop().create_task(self._typing())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _typing(self) -> None:
        channel = self.message.channel
        while True:
            try:
                await channel._state.http.send_typing(channel.id)
            except discord.HTTPException as exc:  # cosmetic: never fail the turn for it
                log.debug("typing indicator failed: %s", exc)
            await asyncio.sleep(TYPING_EVERY)


class InteractionTarget:
    """Answer a deferred slash command: status in the original response, answer in follow-ups.

    The deferred response must be resolved: when no status was shown, the first part of
    the answer goes into it. The interaction token lasts 15 minutes; past that, the
    answer goes to the channel instead of being lost.
    """

    def __init__(self, interaction: discord.Interaction, upload_limit: int) -> None:
        self.interaction = interaction
        self.upload_limit = upload_limit
        self._original_used = False

    async def publish_status(self, text: str) -> None:
        await self.interaction.edit_original_response(content=text[:MESSAGE_LIMIT])
        self._original_used = True

    async def send(self, content: str | None, uploads: list[Upload]) -> None:
        try:
            if not self._original_used:
                await self.interaction.edit_original_response(content=content, attachments=_files(uploads))
                self._original_used = True
            elif content is None:
                await self.interaction.followup.send(files=_files(uploads), allowed_mentions=NO_MENTIONS)
            else:
                await self.interaction.followup.send(
                    content, files=_files(uploads), allowed_mentions=NO_MENTIONS
                )
        except discord.HTTPException as exc:
            channel = self.interaction.channel
            if exc.code != INVALID_WEBHOOK_TOKEN or not isinstance(channel, discord.abc.Messageable):
                raise
            await channel.send(content, files=_files(uploads), allowed_mentions=NO_MENTIONS)

    @contextlib.asynccontextmanager
    async def working(self) -> AsyncIterator[None]:
        yield  # the deferred response already shows "thinking…"


def compose(text: str, notes: tuple[str, ...]) -> list[str]:
    """The answer with its notes, split into message-sized parts."""
    body = text.strip()
    if notes:
        body = (body + "\n\n" if body else "") + "\n".join(f"⚠️ {n}" for n in notes)
    return split_text(body, MESSAGE_LIMIT)


async def _send(target: Target, content: str | None, uploads: list[Upload]) -> None:
    """One message; a server error discord.py gave up on (or never retries) is tried again."""
    for wait in (*SERVER_ERROR_WAITS, None):
        try:
            await target.send(content, uploads)
            return
        except discord.DiscordServerError as exc:
            if wait is None:
                raise
            log.info("Discord answered %s to a post; trying again in %.0f s", exc.status, wait)
            await asyncio.sleep(wait)


async def _send_batch(
    target: Target, content: str | None, batch: list[Upload], workdir: Path, ffmpeg: str
) -> list[str]:
    """Send one message with files; on a size refusal shrink and retry, then drop with notes."""
    try:
        await _send(target, content, batch)
        return []
    except discord.HTTPException as exc:
        if not is_upload_refused(exc):
            raise
        log.info("upload refused (%s); retrying with smaller files", exc.status)
    half = max(1, target.upload_limit // 2)
    smaller = await fit_media(tuple(up.resource for up in batch), half, workdir / "retry", ffmpeg)
    if smaller.uploads:
        try:
            await _send(target, content, list(smaller.uploads))
            return list(smaller.notes)
        except discord.HTTPException as exc:
            if not is_upload_refused(exc):
                raise
    notes = [f"{up.filename} was left out: Discord refused the upload as too large." for up in batch]
    if content is not None:
        await _send(target, content, [])
    return notes


async def post_answer(
    target: Target, text: str, notes: tuple[str, ...], media: tuple[Resource, ...], workdir: Path, ffmpeg: str
) -> None:
    """Post the answer: text parts, then files on the last part, within every limit."""
    (workdir / "retry").mkdir(parents=True, exist_ok=True)
    fitted = await fit_media(media, target.upload_limit, workdir, ffmpeg)
    parts = compose(text, notes + fitted.notes)
    groups = batches(fitted.uploads, target.upload_limit)
    if not parts and not groups:
        parts = ["(no answer)"]
    for part in parts[:-1] if groups else parts:
        await _send(target, part, [])
    late_notes: list[str] = []
    for i, group in enumerate(groups):
        content = parts[-1] if (i == 0 and parts) else None
        late_notes += await _send_batch(target, content, group, workdir, ffmpeg)
    if late_notes:
        for part in split_text("\n".join(f"⚠️ {n}" for n in late_notes), MESSAGE_LIMIT):
            await _send(target, part, [])

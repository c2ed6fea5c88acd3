"""Posting one turn's output to Slack: the status message, the text, the media.

A ``SlackReplier`` is bound to one place (a channel, and a thread or not). It posts
one status message and edits it with chat.update (``ThrottledStatus`` decides when),
then posts the reply text split under the length limit, then uploads the media with
files_upload_v2 into the same channel and thread. Slack errors are translated here
into sentences for the user (``explain``); a failed upload is reported, not raised.
All text but the bot's own header is escaped (``&``, ``<``, ``>``), so a reply cannot
ping anyone (``<!channel>``); the status message is cut to the length limit.

Where the bot cannot post into the channel (a slash command in a channel it is not
in), the replier falls back to the command's ``response_url``: text still arrives,
files cannot, and the user is told how to fix it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any, Protocol

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.textsplit import split_text
from engine.types import Outcome, Resource

log = logging.getLogger(__name__)

# errors that mean "this bot cannot post here", where a slash command's response_url still works
CANNOT_POST = frozenset({"not_in_channel", "channel_not_found", "is_archived", "restricted_action"})
RESPONSE_URL_USES = 5  # Slack accepts five posts to one response_url
ELLIPSIS_LINE = "\n…"


def escape(text: str) -> str:
    """Slack's control characters as entities, so untrusted text cannot ping (``<!channel>``)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class Respond(Protocol):
    async def __call__(
        self, text: str = ..., *, response_type: str | None = ..., replace_original: bool | None = ...
    ) -> Any: ...


def explain(exc: BaseException) -> str:
    """A short sentence for the user about a failed Slack call."""
    if isinstance(exc, SlackApiError):
        code = str(exc.response.get("error") or "unknown_error")
        if code in ("not_in_channel", "channel_not_found"):
            return "I'm not a member of this channel: add me with `/invite @HuggingGPT` and try again."
        if code == "is_archived":
            return "This channel is archived, so I can't post in it."
        if code == "missing_scope":
            needed = exc.response.get("needed") or "a scope"
            return f"The Slack app is missing the `{needed}` permission: reinstall it from the manifest."
        if code in ("ratelimited", "rate_limited"):
            return "Slack is rate limiting me right now: try again in a minute."
        if code == "file_uploads_disabled":
            return "File uploads are disabled in this workspace."
        if code == "msg_too_long":
            return "The message was too long for Slack."
        return f"Slack refused the request ({code})."
    if isinstance(exc, SlackClientError):
        return "The upload to Slack failed."
    return f"Something went wrong talking to Slack ({type(exc).__name__})."


class SlackReplier:
    def __init__(
        self,
        client: AsyncWebClient,
        channel: str,
        thread_ts: str | None,
        max_chars: int,
        header: str = "",
        respond: Respond | None = None,
    ):
        self.client = client
        self.channel = channel
        self.thread_ts = thread_ts or None
        self.max_chars = max_chars
        self.header = header  # trusted mrkdwn (the bot's own <@user>); all other text is escaped
        self._respond = respond
        self._respond_left = RESPONSE_URL_USES
        self.status_ts: str | None = None
        self.via_response_url = False
        self._header_shown = not header

    async def open_status(self, text: str) -> None:
        """Post the status message; on CANNOT_POST switch to the response_url if there is one."""
        try:
            resp = await self.client.chat_postMessage(
                channel=self.channel, thread_ts=self.thread_ts, text=self._status_text(text)
            )
            self.status_ts = resp.get("ts")
            self._header_shown = True
        except SlackApiError as exc:
            if exc.response.get("error") in CANNOT_POST and self._respond is not None:
                log.info(
                    "cannot post in %s (%s): answering through response_url",
                    self.channel,
                    exc.response.get("error"),
                )
                self.via_response_url = True
            else:
                log.warning("status message in %s failed: %s", self.channel, exc.response.get("error"))

    async def publish_status(self, text: str) -> None:
        """Edit the status message; a failed edit is logged and ignored (it is only progress)."""
        if self.status_ts is None:
            return
        try:
            await self.client.chat_update(
                channel=self.channel, ts=self.status_ts, text=self._status_text(text)
            )
        except SlackApiError as exc:
            log.warning("status update in %s failed: %s", self.channel, exc.response.get("error"))

    async def post_text(self, text: str) -> None:
        text = escape(text)
        if not self._header_shown:
            text, self._header_shown = self._head(text), True
        parts = split_text(text, self.max_chars)
        for part in parts:
            if self.via_response_url:
                await self._post_via_response_url(part)
            else:
                await self.client.chat_postMessage(channel=self.channel, thread_ts=self.thread_ts, text=part)

    async def say(self, text: str) -> None:
        """Post a short note, never raising (used to report problems)."""
        try:
            await self.post_text(text)
        except Exception:  # noqa: BLE001 - nothing more we can tell the user
            log.exception("could not post a note in %s", self.channel)

    async def deliver(self, outcome: Outcome, extra_warnings: Iterable[str] = ()) -> None:
        """Post the reply text (with warnings and the error, if any), then the media."""
        reply = outcome.reply
        text = reply.text.strip()
        if not text and outcome.error:
            text = f"Sorry, that request failed: {outcome.error}"
        warnings = list(dict.fromkeys([*extra_warnings, *reply.warnings]))
        if warnings:
            text = "\n".join([text, "", *(f":warning: {w}" for w in warnings)]).strip()
        try:
            if text:
                await self.post_text(text)
        except SlackApiError as exc:
            log.warning("reply in %s failed: %s", self.channel, exc.response.get("error"))
            await self._notify_user_of(exc)
            return
        await self.upload([m for m in reply.media if m.path is not None])

    async def upload(self, media: list[Resource]) -> None:
        if not media:
            return
        if self.via_response_url:
            await self.say("I can't upload files in a channel I'm not in: add me with `/invite @HuggingGPT`.")
            return
        uploads = [
            {"file": str(m.path), "filename": m.name or m.path.name, "title": m.name or m.path.name}
            for m in media
            if m.path is not None
        ]
        try:
            await self.client.files_upload_v2(
                file_uploads=uploads, channel=self.channel, thread_ts=self.thread_ts
            )
        except (SlackClientError, OSError) as exc:
            log.warning("upload in %s failed: %r", self.channel, exc)
            names = ", ".join(str(u["filename"]) for u in uploads)
            reason = (
                explain(exc) if isinstance(exc, SlackClientError) else "a result file is missing on my side."
            )
            await self.say(f"I couldn't upload {names}: {reason}")

    async def _notify_user_of(self, exc: SlackApiError) -> None:
        """The channel refused our post: tell the user through the response_url if we have one."""
        if self._respond is not None and self._respond_left > 0:
            self.via_response_url = True
            await self.say(explain(exc))

    async def _post_via_response_url(self, text: str) -> None:
        if self._respond is None or self._respond_left <= 0:
            log.warning("response_url exhausted; dropped a message for %s", self.channel)
            return
        self._respond_left -= 1
        await self._respond(text, response_type="in_channel", replace_original=False)

    def _head(self, text: str) -> str:
        return f"{self.header}\n{text}" if self.header else text

    def _status_text(self, text: str) -> str:
        """The escaped status under the header, cut at a line to ``max_chars`` with a "…" line."""
        full = self._head(escape(text))
        if len(full) <= self.max_chars:
            return full
        cut = full[: self.max_chars - len(ELLIPSIS_LINE)]
        if "\n" in cut:
            cut = cut[: cut.rindex("\n")]
        return cut + ELLIPSIS_LINE

"""The Slack bot: Bolt listeners that turn Slack events into turns of a TurnHandler.

Three ways in, one way through:

- ``/hugginggpt TEXT`` (slash command): acked at once with an ephemeral note; the
  channel (thread "") is the conversation; the answer is posted in the channel, or
  through ``response_url`` where the bot is not a member. ``/hugginggpt forget``
  clears the channel's context (acked at once: a running turn holds the context for
  minutes; the confirmation follows through ``response_url``).
- ``app_mention``: the thread of the mention is the conversation; the bot answers in
  it and remembers the thread, so later messages there continue without a mention.
- ``message.im``: each DM channel is one multi-turn conversation.

Every listener only checks (dedup, access, rate limit) and acks; the turn itself runs
in a background task (Slack wants an ack within 3 s), where files are downloaded,
a status message is kept up to date, and the outcome is delivered (replies.py).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import replace
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.base import ConversationKey, IncomingMessage, TurnHandler
from adapters.ordering import ArrivalOrder, Ticket
from adapters.progress import ThrottledStatus
from adapters.ratelimit import RateLimiter
from adapters.slack.access import AccessRules
from adapters.slack.client import make_client
from adapters.slack.dedup import RecentIds
from adapters.slack.files import FileFetcher
from adapters.slack.replies import Respond, SlackReplier, escape
from adapters.slack.settings import SlackSettings

log = logging.getLogger(__name__)

PLATFORM = "slack"
FORGET_WORDS = frozenset({"forget", "reset", "clear"})
_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")
# message subtypes that are a person talking; the rest (edits, joins, bot posts) are ignored
_USER_SUBTYPES = frozenset({None, "file_share", "thread_broadcast"})


def _strip_mentions(text: str) -> str:
    return " ".join(_MENTION.sub(" ", text or "").split())


class SlackBot:
    """Owns the AsyncApp, the Web API client and the state of the running bot.

    ``drain()`` waits for turns in flight (tests use it); ``aclose()`` cancels them
    and releases the download session.
    """

    def __init__(
        self,
        settings: SlackSettings,
        handler: TurnHandler,
        client: AsyncWebClient,
        signing_secret: str | None = None,
    ):
        self.settings = settings
        self.handler = handler
        self.client = client
        self.access = AccessRules.from_settings(settings)
        self.limiter = RateLimiter(per_minute=settings.rate_limit_per_minute, burst=settings.rate_limit_burst)
        self.events = RecentIds()
        self.threads = RecentIds(ttl=7 * 24 * 3600.0)  # (team, channel, thread_ts) the bot answers in
        self.order = ArrivalOrder()  # turns of a conversation reach the handler in arrival order
        self.fetcher = FileFetcher(client.token or "", settings.max_file_bytes, settings.max_files)
        self._tasks: set[asyncio.Task[None]] = set()
        self.app = AsyncApp(
            client=client,
            signing_secret=signing_secret or "",
            name="hugginggpt-bot",
            logger=logging.getLogger("slack_bolt.hugginggpt"),
        )
        self._register()

    # ---- lifecycle

    async def drain(self, timeout: float = 10.0) -> None:
        """Wait until no turn is running (including turns started meanwhile)."""
        async with asyncio.timeout(timeout):
            while self._tasks:
                await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
        await self.fetcher.aclose()

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---- listeners

    def _register(self) -> None:
        app = self.app

        @app.command(self.settings.command_name)
        async def on_command(ack: Any, command: dict[str, Any], respond: Respond) -> None:
            await self._on_command(ack, command, respond)

        @app.event("app_mention")
        async def on_mention(body: dict[str, Any], event: dict[str, Any]) -> None:
            await self._on_mention(body, event)

        @app.event("message")
        async def on_message(body: dict[str, Any], event: dict[str, Any], context: Any) -> None:
            await self._on_message(body, event, context.bot_user_id or "")

    async def _on_command(self, ack: Any, command: Mapping[str, Any], respond: Respond) -> None:
        team, channel, user = (
            command.get("team_id", ""),
            command.get("channel_id", ""),
            command.get("user_id", ""),
        )
        text = (command.get("text") or "").strip()
        name = self.settings.command_name
        if not self.access.allows(team, channel, user, is_dm=channel.startswith("D")):
            await ack("Sorry, I'm not enabled for you in this channel.")
            return
        key = ConversationKey(PLATFORM, team, channel, "")
        if text.lower() in FORGET_WORDS:
            await ack("Clearing this channel's context…")
            self._spawn(self._forget_and_respond(key, respond))
            return
        if not text:
            await ack(
                f"Ask me something: `{name} draw a cat and describe it`, or `{name} forget` to start over."
            )
            return
        wait = self.limiter.try_acquire(user)
        if wait:
            await ack(RateLimiter.wait_message(wait))
            return
        await ack("Working on it: the answer will appear in this channel.")
        message = IncomingMessage(key=key, author=user, text=text, message_id=command.get("trigger_id", ""))
        header = f"<@{user}> asked: {escape(text[:300])}"
        replier = SlackReplier(self.client, channel, None, self.settings.max_message_chars, header, respond)
        self._spawn(self._run_turn(message, replier, (), self.order.ticket(key)))

    async def _on_mention(self, body: Mapping[str, Any], event: Mapping[str, Any]) -> None:
        channel = event.get("channel", "")
        if event.get("bot_id") or not event.get("user"):
            return  # another bot (or ourselves): never answer, or bots could loop
        if channel.startswith("D") or self.events.seen(body.get("event_id", "")):
            return  # DMs arrive as message.im
        thread = event.get("thread_ts") or event.get("ts", "")
        await self._start_turn(body, event, thread_ts=thread, key_thread=thread)

    async def _on_message(self, body: Mapping[str, Any], event: Mapping[str, Any], bot_user: str) -> None:
        if event.get("subtype") not in _USER_SUBTYPES or event.get("bot_id") or not event.get("user"):
            return
        if event.get("channel_type") == "im":
            if not self.events.seen(body.get("event_id", "")):
                await self._start_turn(body, event, thread_ts=None, key_thread="")
            return
        thread = event.get("thread_ts")
        if not thread or (bot_user and f"<@{bot_user}" in (event.get("text") or "")):
            return  # not in a thread, or a mention (app_mention handles those)
        # tracked, so drain() and shutdown wait for the store look-up and the turn it starts
        self._spawn(self._continue_thread(body, event, thread, bot_user))

    async def _continue_thread(
        self, body: Mapping[str, Any], event: Mapping[str, Any], thread: str, bot_user: str
    ) -> None:
        """Answer a message in a thread the bot is part of: one it answered in (remembered,
        or known to the store after a restart), or a thread under one of its own messages."""
        team = body.get("team_id") or event.get("team", "")
        channel = event.get("channel", "")
        key = ConversationKey(PLATFORM, team, channel, thread)
        ticket: Ticket | None = self.order.ticket(key)  # before the look-up: keeps arrival order
        try:
            ours = (
                (team, channel, thread) in self.threads
                or event.get("parent_user_id") == bot_user
                or await self.handler.knows(key)
            )
            if ours and not self.events.seen(body.get("event_id", "")):
                await self._start_turn(body, event, thread_ts=thread, key_thread=thread, ticket=ticket)
                ticket = None  # the turn owns it now
        finally:
            if ticket is not None:
                ticket.release()

    async def _start_turn(
        self,
        body: Mapping[str, Any],
        event: Mapping[str, Any],
        thread_ts: str | None,
        key_thread: str,
        ticket: Ticket | None = None,
    ) -> None:
        team = body.get("team_id") or event.get("team", "")
        channel, user = event.get("channel", ""), event.get("user", "")
        is_dm = event.get("channel_type") == "im"
        if not self.access.allows(team, channel, user, is_dm=is_dm):
            log.info("ignored a message from %s in %s/%s (not allowed)", user, team, channel)
            if ticket is not None:
                ticket.release()
            return
        key = ConversationKey(PLATFORM, team, channel, key_thread)
        ticket = ticket or self.order.ticket(key)
        replier = SlackReplier(self.client, channel, thread_ts, self.settings.max_message_chars)
        if key_thread:
            self.threads.add((team, channel, key_thread))
        text = _strip_mentions(event.get("text", ""))
        if text.lower() in FORGET_WORDS and not event.get("files"):
            self._spawn(self._forget_and_say(key, replier, ticket))
            return
        if not text and not event.get("files"):
            ticket.release()
            self._spawn(replier.say("Ask me something: for example `draw a cat and describe it`."))
            return
        wait = self.limiter.try_acquire(user)
        if wait:
            ticket.release()
            self._spawn(
                self._tell_user(channel, user, thread_ts, RateLimiter.wait_message(wait), is_dm, replier)
            )
            return
        message = IncomingMessage(key=key, author=user, text=text, message_id=event.get("ts", ""))
        self._spawn(self._run_turn(message, replier, event.get("files") or (), ticket))

    # ---- the work, after the ack

    async def _run_turn(
        self,
        message: IncomingMessage,
        replier: SlackReplier,
        files: Sequence[Mapping[str, Any]],
        ticket: Ticket,
    ) -> None:
        try:
            if files:
                got, warnings = await self.fetcher.fetch(files)
                message = replace(message, files=got, warnings=message.warnings + warnings)
            await ticket.wait()  # earlier turns of this conversation go first, however slow their files
            await replier.open_status("Thinking…")
            status = ThrottledStatus(replier.publish_status, self.settings.status_edit_interval)
            try:
                outcome = await self.handler.handle(message, status.on_event)
            finally:
                await status.flush()
            await replier.deliver(outcome, message.warnings)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # we broke: tell the user in one line, keep the traceback in the log
            log.exception("turn failed in %s", message.key)
            await replier.say(
                f"Sorry, something went wrong on my side ({type(exc).__name__}). Please try again."
            )
        finally:
            ticket.release()

    async def _forget(self, key: ConversationKey) -> str:
        try:
            # no timeout: forget waits for the conversation's lock, which a running turn holds
            await self.handler.forget(key)
        except Exception:  # noqa: BLE001 - reported to the user, logged with its traceback
            log.exception("forget failed for %s", key)
            return "Sorry, I couldn't clear the context just now; please try again."
        return "Done: I forgot our conversation here. The next message starts afresh."

    async def _forget_and_say(self, key: ConversationKey, replier: SlackReplier, ticket: Ticket) -> None:
        try:
            await ticket.wait()
            await replier.say(await self._forget(key))
        finally:
            ticket.release()

    async def _forget_and_respond(self, key: ConversationKey, respond: Respond) -> None:
        text = await self._forget(key)
        try:
            await respond(text, response_type="ephemeral", replace_original=False)
        except Exception:  # noqa: BLE001 - nothing more we can tell the user
            log.exception("could not confirm forget in %s", key)

    async def _tell_user(
        self, channel: str, user: str, thread_ts: str | None, text: str, is_dm: bool, replier: SlackReplier
    ) -> None:
        """A note only the user sees (ephemeral); in a DM a plain message does the same."""
        if is_dm:
            await replier.say(text)
            return
        try:
            await self.client.chat_postEphemeral(channel=channel, user=user, thread_ts=thread_ts, text=text)
        except SlackApiError as exc:
            log.warning("ephemeral note in %s failed: %s", channel, exc.response.get("error"))


def build_slack_bot(
    settings: SlackSettings,
    handler: TurnHandler,
    bot_token: str | None = None,
    signing_secret: str | None = None,
    client: AsyncWebClient | None = None,
) -> SlackBot:
    """A SlackBot on ``client`` or on a new client for ``bot_token`` (429s retried)."""
    if client is None:
        if not bot_token:
            raise ValueError("build_slack_bot needs a bot_token or a client")
        client = make_client(settings, bot_token)
    return SlackBot(settings, handler, client, signing_secret)


def build_slack_app(
    settings: SlackSettings,
    handler: TurnHandler,
    bot_token: str | None = None,
    signing_secret: str | None = None,
    client: AsyncWebClient | None = None,
) -> AsyncApp:
    """The Bolt AsyncApp alone, for callers that mount it themselves."""
    return build_slack_bot(settings, handler, bot_token, signing_secret, client).app

"""The Discord bot: which messages start a turn, and running each turn as its own task.

A guild message starts a turn when it mentions the bot or replies to one of the
bot's messages; a DM always does (``forget`` alone clears the session). The
``/hugginggpt`` command does the same and defers first, within Discord's 3 s; the
``/forget`` command clears the conversation. Bots (this one included) are ignored,
then the allow-lists and the per-user rate limit apply, all before any download.

Each turn runs in its own task, so a slow conversation never holds up another; the
injected ``TurnHandler`` keeps the turns of one conversation in order.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import discord
from discord import app_commands

from adapters.base import ConversationKey, IncomingMessage, TurnHandler
from adapters.discord.access import AccessPolicy
from adapters.discord.incoming import conversation_key, is_forget, read_attachments, requester, strip_mention
from adapters.discord.reply import ChannelTarget, InteractionTarget, Target, compose, post_answer
from adapters.discord.settings import DiscordSettings
from adapters.ordering import ArrivalOrder, Ticket
from adapters.progress import ThrottledStatus
from adapters.ratelimit import RateLimiter
from engine.events import Event

log = logging.getLogger(__name__)

HINT = "Mention me with a request, for example: “describe this picture” with an image attached."
FORGOT = "Done: I have forgotten this conversation."
NOT_ALLOWED = "Sorry, I'm not enabled for you here."


def apology(exc: BaseException) -> str:
    reason = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else exc.__class__.__name__
    return f"Sorry, something went wrong and I couldn't finish that: {reason}"


class DiscordBot(discord.Client):
    """discord.py client wired to a ``TurnHandler``; see the module docstring for the rules."""

    def __init__(self, settings: DiscordSettings, handler: TurnHandler, **options: object) -> None:
        intents = discord.Intents.default()
        intents.message_content = True
        if settings.shard_count is not None:  # Discord sends this process its shard's guilds only
            options = {"shard_id": settings.shard_id, "shard_count": settings.shard_count, **options}
        super().__init__(intents=intents, allowed_mentions=discord.AllowedMentions.none(), **options)  # type: ignore[arg-type]
        self.settings = settings
        self.handler = handler
        self.policy = AccessPolicy.from_settings(settings)
        self.limiter = RateLimiter(settings.rate_limit_per_minute, settings.rate_limit_burst)
        self.order = ArrivalOrder()  # turns of a conversation reach the handler in arrival order
        self._fetched_channels: dict[int, Any] = {}  # uncached channels fetched once (bounded)
        self.tree = app_commands.CommandTree(self)
        self._turns: set[asyncio.Task[None]] = set()
        self._add_commands()

    # -- start-up and shutdown -------------------------------------------------------

    async def setup_hook(self) -> None:
        if self.settings.sync_commands:
            try:
                await self.tree.sync()
            except discord.HTTPException as exc:  # the bot still works by mention and DM
                log.warning("could not register slash commands: %s", exc)

    async def close(self) -> None:
        for task in list(self._turns):
            task.cancel()
        if self._turns:
            await asyncio.gather(*self._turns, return_exceptions=True)
        await super().close()

    async def wait_idle(self) -> None:
        """Wait until every running turn has finished (tests and graceful shutdown)."""
        while self._turns:
            await asyncio.gather(*list(self._turns), return_exceptions=True)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._turns.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._turns.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("a Discord task failed", exc_info=task.exception())

    # -- limits -------------------------------------------------------------------------

    def upload_limit(self, guild: discord.Guild | None) -> int:
        return guild.filesize_limit if guild is not None else self.settings.dm_upload_limit_bytes

    @property
    def max_attachment_bytes(self) -> int:
        return int(self.settings.max_attachment_mb * 1024 * 1024)

    # -- messages -----------------------------------------------------------------------

    async def on_message(self, message: discord.Message) -> None:
        me = self.user
        if me is None or message.author.bot or message.author.id == me.id:
            return
        guild = message.guild
        if guild is not None and not await self._addressed_to_me(message, me.id):
            return
        channel = await self._full_channel(message.channel, guild)
        if not self.policy.allows(requester(message.author, channel, guild)):
            log.info("ignored %s from %s: not on the allow-lists", message.id, message.author.id)
            return
        key = conversation_key(channel, guild)
        text = strip_mention(message.content, me.id)
        target = ChannelTarget(message, self.upload_limit(guild))
        if is_forget(text) and not message.attachments:
            self._spawn(self._forget(key, target, self.order.ticket(key)))
            return
        if not text and not message.attachments:
            self._spawn(target.send(HINT, []))
            return
        wait = self.limiter.try_acquire(str(message.author.id))
        if wait > 0:
            self._spawn(target.send(RateLimiter.wait_message(wait), []))
            return
        self._spawn(self._message_turn(message, key, text, target, self.order.ticket(key)))

    async def _full_channel(self, channel: Any, guild: discord.Guild | None) -> Any:
        """A guild channel discord.py has not cached (a thread made while the bot was away)
        comes as a PartialMessageable, which cannot tell a thread from its parent: fetch it
        once, so the thread is its own conversation and channel allow-lists see its parent."""
        if guild is None or not isinstance(channel, discord.PartialMessageable):
            return channel
        cached = self._fetched_channels.get(channel.id)
        if cached is None:
            try:
                cached = await self.fetch_channel(channel.id)
            except discord.HTTPException:
                return channel
            if len(self._fetched_channels) >= 1024:
                self._fetched_channels.pop(next(iter(self._fetched_channels)))
            self._fetched_channels[channel.id] = cached
        return cached

    async def _addressed_to_me(self, message: discord.Message, my_id: int) -> bool:
        if any(u.id == my_id for u in message.mentions):
            return True
        ref = message.reference
        if ref is None or ref.message_id is None:
            return False
        replied = ref.resolved if isinstance(ref.resolved, discord.Message) else ref.cached_message
        if replied is None:
            try:
                replied = await message.channel.fetch_message(ref.message_id)
            except discord.HTTPException:
                return False
        return replied.author.id == my_id

    async def _message_turn(
        self, message: discord.Message, key: ConversationKey, text: str, target: Target, ticket: Ticket
    ) -> None:
        try:
            files, warnings = await read_attachments(message.attachments, self.max_attachment_bytes)
            incoming = IncomingMessage(
                key=key,
                author=str(message.author.id),
                text=text,
                files=files,
                message_id=str(message.id),
                warnings=warnings,
            )
            await ticket.wait()  # earlier turns of this conversation go first, however slow their files
            await self._turn(incoming, target)
        finally:
            ticket.release()

    async def _forget(self, key: ConversationKey, target: Target, ticket: Ticket) -> None:
        try:
            await ticket.wait()
            await self.handler.forget(key)
            await target.send(FORGOT, [])
        except Exception as exc:  # noqa: BLE001 - the user gets the reason, the log the trace
            log.exception("forget failed for %s", key)
            await target.send(apology(exc), [])
        finally:
            ticket.release()

    # -- one turn ---------------------------------------------------------------------

    async def _turn(self, incoming: IncomingMessage, target: Target) -> None:
        """Run the handler with live progress, then post its answer; failures become apologies."""

        async def publish(text: str) -> None:
            try:
                await target.publish_status(text)
            except discord.HTTPException as exc:  # progress is cosmetic
                log.info("status update failed: %s", exc)

        status = ThrottledStatus(publish, self.settings.status_edit_interval)
        seen: list[Event] = []

        async def on_event(event: Event) -> None:
            seen.append(event)
            await status.on_event(event)

        try:
            try:
                async with target.working():
                    outcome = await self.handler.handle(incoming, on_event)
                    if seen:  # no events, no status message
                        await status.flush()
            finally:  # stop the status sender even when the handler fails or is cancelled
                await status.aclose()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - "we broke": apologise with the reason
            log.exception("turn failed for %s", incoming.key)
            await self._safe_send(target, apology(exc))
            return
        reply = outcome.reply
        notes = tuple(reply.warnings) + tuple(w for w in incoming.warnings if w not in reply.warnings)
        try:
            with tempfile.TemporaryDirectory(prefix="hgbot-discord-") as tmp:
                await post_answer(target, reply.text, notes, reply.media, Path(tmp), self.settings.ffmpeg)
        except Exception as exc:  # noqa: BLE001 - HTTP, network, PIL...: never end the turn silently
            log.exception("posting the answer failed for %s", incoming.key)
            await self._safe_send(target, apology(exc))

    async def _safe_send(self, target: Target, text: str) -> None:
        try:
            for part in compose(text, ()):
                await target.send(part, [])
        except Exception:  # noqa: BLE001 - the network may be what failed in the first place
            log.exception("could not even post the apology")

    # -- slash commands -----------------------------------------------------------------

    def _add_commands(self) -> None:
        async def ask(
            interaction: discord.Interaction, request: str, file: discord.Attachment | None = None
        ) -> None:
            await self._on_ask(interaction, request, file)

        async def forget(interaction: discord.Interaction) -> None:
            await self._on_forget(interaction)

        described = app_commands.describe(
            request="What you want done", file="An optional image, audio, video or document"
        )(ask)
        self.tree.add_command(
            app_commands.Command(
                name=self.settings.command_name,
                description="Ask HuggingGPT: an LLM plans, Hugging Face models do the work.",
                callback=described,
            )
        )
        self.tree.add_command(
            app_commands.Command(
                name="forget", description="Clear this conversation's context.", callback=forget
            )
        )

    def _interaction_allowed(self, interaction: discord.Interaction) -> bool:
        return self.policy.allows(requester(interaction.user, interaction.channel, interaction.guild))

    async def _on_ask(
        self, interaction: discord.Interaction, request: str, file: discord.Attachment | None
    ) -> None:
        if not self._interaction_allowed(interaction):
            await interaction.response.send_message(NOT_ALLOWED, ephemeral=True)
            return
        wait = self.limiter.try_acquire(str(interaction.user.id))
        if wait > 0:
            await interaction.response.send_message(RateLimiter.wait_message(wait), ephemeral=True)
            return
        ticket = self.order.ticket(conversation_key(interaction.channel, interaction.guild))
        try:
            await interaction.response.defer(thinking=True)  # within 3 s; the work follows
        except BaseException:
            ticket.release()
            raise
        self._spawn(self._interaction_turn(interaction, request, file, ticket))

    async def _interaction_turn(
        self, interaction: discord.Interaction, request: str, file: discord.Attachment | None, ticket: Ticket
    ) -> None:
        try:
            files, warnings = await read_attachments([file] if file else [], self.max_attachment_bytes)
            incoming = IncomingMessage(
                key=conversation_key(interaction.channel, interaction.guild),
                author=str(interaction.user.id),
                text=request.strip(),
                files=files,
                message_id=str(interaction.id),
                warnings=warnings,
            )
            await ticket.wait()
            # Discord tells each interaction its upload limit (the guild's, or 10 MiB in DMs).
            await self._turn(incoming, InteractionTarget(interaction, interaction.filesize_limit))
        finally:
            ticket.release()

    async def _on_forget(self, interaction: discord.Interaction) -> None:
        if not self._interaction_allowed(interaction):
            await interaction.response.send_message(NOT_ALLOWED, ephemeral=True)
            return
        await interaction.response.defer(ephemeral=True)
        try:
            await self.handler.forget(conversation_key(interaction.channel, interaction.guild))
            await interaction.followup.send(FORGOT, ephemeral=True)
        except Exception as exc:  # noqa: BLE001
            log.exception("forget failed")
            await interaction.followup.send(apology(exc), ephemeral=True)

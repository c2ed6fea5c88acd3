"""From discord.py objects to the adapter's neutral types: keys, request text, files.

Conversation keys: ``("discord", guild id or "" for a DM, channel id, thread id)``.
A thread is its own conversation: its key holds the *parent* channel id in
``channel`` and the thread id in ``thread``, so channel allow-lists and per-channel
views keep working. A DM's key is its DM channel id, which Discord keeps for the
pair (bot, user), so a DM session survives a restart of the bot.
"""

from __future__ import annotations

import re

import discord

from adapters.base import ConversationKey, IncomingFile
from adapters.discord.access import Requester

PLATFORM = "discord"
FORGET_WORDS = frozenset({"forget", "/forget", "!forget"})


def conversation_key(channel: object, guild: discord.Guild | None) -> ConversationKey:
    if guild is None:
        return ConversationKey(PLATFORM, "", str(getattr(channel, "id", "")))
    if isinstance(channel, discord.Thread):
        return ConversationKey(PLATFORM, str(guild.id), str(channel.parent_id), str(channel.id))
    return ConversationKey(PLATFORM, str(guild.id), str(getattr(channel, "id", "")))


def requester(user: discord.abc.User, channel: object, guild: discord.Guild | None) -> Requester:
    channel_ids = [str(getattr(channel, "id", ""))]
    if isinstance(channel, discord.Thread) and channel.parent_id:
        channel_ids.append(str(channel.parent_id))
    roles: list[str] = []
    if isinstance(user, discord.Member):
        for role in user.roles:
            roles += [str(role.id), role.name]
    return Requester(
        user_id=str(user.id),
        guild_id=str(guild.id) if guild else "",
        channel_ids=tuple(channel_ids),
        roles=tuple(roles),
    )


def strip_mention(text: str, bot_id: int) -> str:
    """The request without the bot's mention (``<@id>`` or the legacy ``<@!id>``)."""
    return re.sub(rf"<@!?{bot_id}>", " ", text).strip()


def is_forget(text: str) -> bool:
    return text.strip().lower() in FORGET_WORDS


async def read_attachments(
    attachments: list[discord.Attachment], max_bytes: int
) -> tuple[tuple[IncomingFile, ...], tuple[str, ...]]:
    """Download the attachments under the size cap; the rest become warnings, never silent drops."""
    files: list[IncomingFile] = []
    warnings: list[str] = []
    cap_mb = max_bytes / (1024 * 1024)
    for att in attachments:
        if att.size > max_bytes:
            warnings.append(
                f"{att.filename} ({att.size / (1024 * 1024):.1f} MiB) was not read: "
                f"files over {cap_mb:g} MiB are not accepted."
            )
            continue
        try:
            data = await att.read()
        except (discord.HTTPException, discord.ClientException) as exc:
            warnings.append(f"{att.filename} could not be downloaded ({exc.__class__.__name__}).")
            continue
        files.append(IncomingFile(name=att.filename, data=data, declared_mime=att.content_type))
    return tuple(files), tuple(warnings)

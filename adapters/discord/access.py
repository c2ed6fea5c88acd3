"""Who may talk to the bot: allow-lists for guilds, channels, roles and users, and DMs.

Kept free of discord.py objects so the rules can be read and tested on their own.
An empty list means "everyone"; a thread passes the channel list when either the
thread or its parent channel is listed; roles match by id or by name.
"""

from __future__ import annotations

from dataclasses import dataclass

from adapters.discord.settings import DiscordSettings


@dataclass(frozen=True)
class Requester:
    """The facts about one message that the allow-lists look at."""

    user_id: str
    guild_id: str = ""  # "" for a DM
    channel_ids: tuple[str, ...] = ()  # the channel, and the parent channel for a thread
    roles: tuple[str, ...] = ()  # role ids and names


@dataclass(frozen=True)
class AccessPolicy:
    allow_guilds: frozenset[str] = frozenset()
    allow_channels: frozenset[str] = frozenset()
    allow_roles: frozenset[str] = frozenset()
    allow_users: frozenset[str] = frozenset()
    allow_dms: bool = True

    @classmethod
    def from_settings(cls, settings: DiscordSettings) -> AccessPolicy:
        return cls(
            allow_guilds=frozenset(settings.allow_guilds),
            allow_channels=frozenset(settings.allow_channels),
            allow_roles=frozenset(settings.allow_roles),
            allow_users=frozenset(settings.allow_users),
            allow_dms=settings.allow_dms,
        )

    def allows(self, who: Requester) -> bool:
        if self.allow_users and who.user_id not in self.allow_users:
            return False
        if not who.guild_id:
            # Roles, guilds and channels do not exist in a DM; the user list still applies.
            return self.allow_dms
        if self.allow_guilds and who.guild_id not in self.allow_guilds:
            return False
        if self.allow_channels and not self.allow_channels.intersection(who.channel_ids):
            return False
        if self.allow_roles and not self.allow_roles.intersection(who.roles):
            return False
        return True

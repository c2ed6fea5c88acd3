"""Who may use the bot where: allow-lists for workspaces, channels and users.

An empty list allows everyone. DMs are checked against the user list and the
workspace list only, so a channel allow-list does not lock people out of DMs.
"""

from __future__ import annotations

from dataclasses import dataclass

from adapters.slack.settings import SlackSettings


@dataclass(frozen=True)
class AccessRules:
    workspaces: frozenset[str] = frozenset()
    channels: frozenset[str] = frozenset()
    users: frozenset[str] = frozenset()

    @classmethod
    def from_settings(cls, settings: SlackSettings) -> AccessRules:
        return cls(
            frozenset(settings.allow_workspaces),
            frozenset(settings.allow_channels),
            frozenset(settings.allow_users),
        )

    def allows(self, workspace: str, channel: str, user: str, is_dm: bool = False) -> bool:
        if self.workspaces and workspace not in self.workspaces:
            return False
        if self.users and user not in self.users:
            return False
        if self.channels and not is_dm and channel not in self.channels:
            return False
        return True

"""Settings of the Discord adapter (the ``discord:`` section of the YAML config)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class DiscordSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token_env: str = Field("DISCORD_TOKEN", description="environment variable holding the bot token")
    allow_guilds: list[str] = Field(default_factory=list, description="guild ids; empty = all")
    allow_channels: list[str] = Field(default_factory=list, description="channel ids; empty = all")
    allow_roles: list[str] = Field(default_factory=list, description="role ids or names; empty = all")
    allow_users: list[str] = Field(default_factory=list, description="user ids; empty = all")
    allow_dms: bool = True
    rate_limit_per_minute: float = 6.0
    rate_limit_burst: int = 3
    status_edit_interval: float = 1.0
    dm_upload_limit_bytes: int = 10 * 1024 * 1024
    command_name: str = "hugginggpt"
    max_attachment_mb: float = Field(
        25.0, gt=0, description="incoming files larger than this are not downloaded (the reply says so)"
    )
    sync_commands: bool = Field(True, description="register the slash commands with Discord at start-up")
    ffmpeg: str = Field("ffmpeg", description="ffmpeg executable used to shrink audio/video replies")

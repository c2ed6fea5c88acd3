"""Settings of the Discord adapter (the ``discord:`` section of the YAML config)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


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
    shard_id: int | None = Field(
        None,
        ge=0,
        description="this process's gateway shard (with shard_count): run one process per shard to use more cores",
    )
    shard_count: int | None = Field(None, ge=1, description="how many shard processes serve the bot")

    @model_validator(mode="after")
    def _shard_pair(self) -> DiscordSettings:
        if (self.shard_id is None) != (self.shard_count is None):
            raise ValueError("discord: set shard_id and shard_count together (or neither)")
        if self.shard_id is not None and self.shard_count is not None and self.shard_id >= self.shard_count:
            raise ValueError(f"discord: shard_id must be below shard_count ({self.shard_count})")
        return self

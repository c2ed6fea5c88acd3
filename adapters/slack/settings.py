"""Settings of the Slack adapter (the ``slack:`` section of the YAML config)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class SlackSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: Literal["socket", "http"] = "socket"
    bot_token_env: str = "SLACK_BOT_TOKEN"
    app_token_env: str = "SLACK_APP_TOKEN"
    signing_secret_env: str = "SLACK_SIGNING_SECRET"
    http_port: int = 3000
    http_path: str = "/slack/events"
    command_name: str = Field("/hugginggpt", description="slash command, with its leading slash")
    allow_workspaces: list[str] = Field(default_factory=list)
    allow_channels: list[str] = Field(default_factory=list)
    allow_users: list[str] = Field(default_factory=list)
    rate_limit_per_minute: float = 6.0
    rate_limit_burst: int = 3
    status_edit_interval: float = 1.0
    max_message_chars: int = 3900
    api_base_url: str | None = Field(None, description="Web API base URL (tests point it at a fake)")
    max_file_bytes: int = Field(
        25 * 1024 * 1024, ge=1, description="files larger than this are skipped with a warning"
    )
    max_files: int = Field(10, ge=1, description="files taken from one message; the rest are skipped")

"""Configuration: YAML validated once at start-up by pydantic models.

Errors name the key and the fix (``llm.backend: must be one of local, openai``).
Secrets never live in the file: keys ending in ``_env`` name environment variables.
Paths may start with ``~``; relative paths are taken from the current directory.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from adapters.discord.settings import DiscordSettings
from adapters.slack.settings import SlackSettings
from engine.errors import ConfigError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LLMSettings(_Strict):
    backend: Literal["local", "openai"] = "local"
    # openai backend: any OpenAI-compatible server
    base_url: str | None = None
    model: str = Field(
        "smollm2-135m-instruct", description="model name (openai) or embedded model id (local)"
    )
    api_key_env: str = "OPENAI_API_KEY"
    timeout: float = Field(60.0, gt=0)
    max_retries: int = Field(2, ge=0, le=10)
    # local backend: an embedded GGUF; ``model_path`` overrides the packaged file
    model_path: str | None = None
    n_ctx: int = Field(4096, ge=512)
    n_threads: int | None = None

    @model_validator(mode="after")
    def _openai_needs_url_or_key(self) -> LLMSettings:
        if self.backend == "openai" and not self.base_url and not os.environ.get(self.api_key_env):
            raise ValueError(
                f"the openai backend needs llm.base_url (any OpenAI-compatible server) "
                f"or the environment variable {self.api_key_env} for api.openai.com"
            )
        return self


class PlannerSettings(_Strict):
    mode: Literal["auto", "llm", "picker", "hybrid"] = Field(
        "auto", description="auto: picker for the embedded LLM, LLM planning for an endpoint"
    )
    max_tasks: int = Field(8, ge=1, le=32)
    demos: int = Field(4, ge=0, le=12, description="few-shot demos retrieved per request")
    context_tokens: int = Field(1500, ge=0, description="token budget for earlier turns")


class ResponderSettings(_Strict):
    style: Literal["auto", "llm", "summary"] = Field(
        "auto",
        description="llm: the LLM writes the answer; summary: the results alone, no LLM call; "
        "auto: summary for the embedded local controller, llm for an endpoint",
    )


class LocalExpertSettings(_Strict):
    enabled: bool = True
    device: Literal["auto", "cuda", "mps", "cpu"] = "auto"
    memory_budget_mb: int = Field(8192, ge=256)
    models_dir: str | None = Field(None, description="folder of saved pipelines (id -> folder)")


class HostedExpertSettings(_Strict):
    enabled: bool = True
    token_env: str = "HF_TOKEN"
    provider: str | None = None
    base_url: str | None = None
    max_wait_loading: float = 60.0
    max_retries: int = 3


class ExpertSettings(_Strict):
    top_k: int = Field(5, ge=1, le=20, description="candidates per task kept for selection")
    choose_with_llm: bool | None = Field(
        None, description="let the LLM choose among several candidates; default: yes for openai, no for local"
    )
    task_timeout: float = Field(120.0, gt=0)
    hub_retry_after: float = Field(
        300.0, gt=0, description="seconds the Hub counts as unreachable after a failed look-up"
    )
    catalogue: str | None = Field(None, description="JSONL of model cards; default: the shipped one")
    local: LocalExpertSettings = LocalExpertSettings()
    hosted: HostedExpertSettings = HostedExpertSettings()


class LimitSettings(_Strict):
    max_attachment_mb: float = Field(25.0, gt=0)
    max_attachments: int = Field(10, ge=1)
    max_request_chars: int = Field(8000, ge=100)
    # media, checked from the header before anything decodes it (engine/media_limits.py)
    max_image_megapixels: float = Field(50.0, gt=0, le=170, description="per image or video frame")
    max_audio_seconds: float = Field(600.0, gt=0)
    max_video_seconds: float = Field(600.0, gt=0)
    max_video_frames: int = Field(36_000, ge=1)


class Settings(_Strict):
    llm: LLMSettings = LLMSettings()
    data_dir: str = "~/.local/share/hugginggpt-bot"
    planner: PlannerSettings = PlannerSettings()
    responder: ResponderSettings = ResponderSettings()
    experts: ExpertSettings = ExpertSettings()
    limits: LimitSettings = LimitSettings()
    discord: DiscordSettings = DiscordSettings()
    slack: SlackSettings = SlackSettings()

    @property
    def data_path(self) -> Path:
        """``data_dir``, unless HUGGINGGPT_DATA_DIR overrides it (containers mount a volume there)."""
        raw = os.environ.get("HUGGINGGPT_DATA_DIR") or self.data_dir
        return Path(os.path.expandvars(raw)).expanduser()


DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "configs" / "default.yaml"


def _describe(err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown key: remove it or check its spelling (see configs/README.md)"
        elif e["type"] == "literal_error":
            msg = f"{msg}"
        lines.append(f"  {key}: {msg}")
    return "invalid configuration:\n" + "\n".join(lines)


def parse_settings(raw: dict[str, Any] | None, origin: str = "config") -> Settings:
    try:
        return Settings.model_validate(raw or {})
    except ValidationError as exc:
        raise ConfigError(f"{origin}: {_describe(exc)}") from exc


def load_settings(path: str | Path | None = None) -> Settings:
    """Read and validate a YAML config; ``None`` means configs/default.yaml."""
    file = Path(path) if path else DEFAULT_CONFIG
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config {file}: {exc.strerror}; pass --config FILE") from exc
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file}: not valid YAML: {exc}") from exc
    if raw is not None and not isinstance(raw, dict):
        raise ConfigError(f"{file}: the top level must be a mapping of keys (llm:, data_dir:, ...)")
    return parse_settings(raw, origin=str(file))

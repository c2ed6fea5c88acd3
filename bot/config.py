"""Configuration: YAML validated once at start-up by pydantic models.

Errors name the key and the fix (``llm.backend: must be one of local, openai``).
Secrets never live in the file: keys ending in ``_env`` name environment variables.
Paths may start with ``~``; relative paths are taken from the current directory.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from adapters.discord.settings import DiscordSettings
from adapters.http.settings import HttpSettings
from adapters.slack.settings import SlackSettings
from engine.errors import ConfigError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LLMSettings(_Strict):
    backend: Literal["local", "openai"] = "local"
    # openai backend: any OpenAI-compatible server
    base_url: str | None = None
    model: str = Field(
        "qwen2.5-coder-0.5b-instruct", description="model name (openai) or embedded model id (local)"
    )
    api_key_env: str = "OPENAI_API_KEY"
    timeout: float = Field(60.0, gt=0)
    max_retries: int = Field(2, ge=0, le=10)
    retry_timeouts: bool = Field(
        False, description="openai: retry a request that timed out (the server may still be busy with it)"
    )
    structured_output: Literal["auto", "json_schema", "json_object", "none"] = Field(
        "auto", description="openai: the response_format for plans; auto finds what the server takes"
    )
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


class RayAutoscalingSettings(_Strict):
    min_replicas: int = Field(1, ge=0)
    max_replicas: int = Field(..., ge=1)
    target_ongoing_requests: float = Field(2.0, gt=0)

    @model_validator(mode="after")
    def _bounds_in_order(self) -> RayAutoscalingSettings:
        if self.min_replicas > self.max_replicas:
            raise ValueError("min_replicas must not exceed max_replicas")
        return self


class RayDeploymentSettings(_Strict):
    expert: str = Field(..., description="a builtin tool id (builtin/tesseract-ocr) or a hub model id")
    task: str | None = Field(None, description="the task type; required for hub models")
    name: str | None = Field(None, pattern=r"^[a-z0-9][a-z0-9-]{0,40}$", description="default: from expert")
    num_cpus: float = Field(1.0, ge=0)
    num_gpus: float = Field(0.0, ge=0)
    memory_mb: int | None = Field(None, ge=64, description="reserved per replica; a model's cache budget")
    replicas: int = Field(1, ge=1)
    autoscaling: RayAutoscalingSettings | None = None
    max_ongoing_requests: int = Field(2, ge=1)
    device: Literal["auto", "cuda", "mps", "cpu"] = "auto"
    models_dir: str | None = Field(None, description="saved pipelines on the cluster's nodes")

    @model_validator(mode="after")
    def _model_needs_task(self) -> RayDeploymentSettings:
        from engine.tasks import TASK_SPECS

        if not self.expert.startswith("builtin/") and not self.task:
            raise ValueError(f"{self.expert}: a hub model needs its task (task: image-to-text, ...)")
        if self.task is not None and self.task not in TASK_SPECS:
            raise ValueError(f"task {self.task!r} is not a task type (see engine/tasks.py)")
        return self


class RayExpertSettings(_Strict):
    enabled: bool = False
    address: str | None = Field(None, description="the cluster's GCS, host:port; default: $RAY_ADDRESS")
    address_env: str = "RAY_ADDRESS"
    app_prefix: str = Field("hgb-", pattern=r"^[a-z0-9-]{1,20}$")
    deploy_on_start: bool = False
    ship_code: bool = Field(True, description="upload engine/ with the deployments (runtime_env py_modules)")
    status_ttl: float = Field(5.0, gt=0)
    connect_timeout: float = Field(30.0, gt=0)
    deploy_timeout: float = Field(300.0, gt=0)
    max_output_mb: float = Field(50.0, gt=0)
    deployments: list[RayDeploymentSettings] = []

    def resolved_address(self) -> str | None:
        return self.address or os.environ.get(self.address_env) or None

    @model_validator(mode="after")
    def _address_and_names(self) -> RayExpertSettings:
        if not self.enabled:
            return self
        address = self.resolved_address()
        if not address:
            raise ValueError(
                f"the ray backend needs the cluster's address: experts.ray.address (host:port) "
                f"or the environment variable {self.address_env}"
            )
        host, _, port = address.rpartition(":")
        if "://" in address or not host or not port.isdigit():
            raise ValueError(
                f"{address!r} is not the GCS address host:port that `ray start --head --port P` "
                "prints (Ray Client ray:// and dashboard http:// addresses are not used)"
            )
        if not self.deployments:
            raise ValueError("experts.ray.deployments lists no expert to run on the cluster")
        names = [d.name or default_deployment_name(d.expert) for d in self.deployments]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"two deployments are named {', '.join(twice)}: give them distinct name: keys")
        return self


def default_deployment_name(expert: str) -> str:
    """``builtin/tesseract-ocr`` -> ``tesseract-ocr``; ``org/Model_v2`` -> ``org-model-v2``."""
    tail = expert.removeprefix("builtin/")
    return re.sub(r"[^a-z0-9-]+", "-", tail.lower()).strip("-")[:40] or "expert"


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
    ray: RayExpertSettings = RayExpertSettings()


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
    http: HttpSettings = HttpSettings()

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

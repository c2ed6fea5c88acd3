"""What runs on the cluster: one ExpertSpec per expert, and how to reach the cluster.

One Serve application per expert (a builtin tool or one hub model), named
``<app_prefix><name>``: each has its own resources (a GPU fraction for a diffusion
model, half a CPU for eSpeak), its own replica count or autoscaling bounds, and its
own life: a model whose weights are missing fails alone, and redeploying one expert
never restarts the others. Plain values only, so a spec travels to the driver
process and into the replica as a dict.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from engine.types import ModelCard

MB = 1024 * 1024
ExpertSource = Literal["builtin", "model"]


@dataclass(frozen=True, slots=True)
class AutoscalingSpec:
    min_replicas: int
    max_replicas: int
    target_ongoing_requests: float = 2.0

    def to_serve(self) -> dict[str, Any]:
        return {
            "min_replicas": self.min_replicas,
            "max_replicas": self.max_replicas,
            "target_ongoing_requests": self.target_ongoing_requests,
        }


@dataclass(frozen=True, slots=True)
class ExpertSpec:
    """One deployment: ``expert`` is a builtin tool id (``builtin/tesseract-ocr``) or a
    hub model id run by the local transformers/diffusers runners on the replica."""

    name: str
    expert: str
    task: str
    source: ExpertSource
    num_cpus: float = 1.0
    num_gpus: float = 0.0
    memory_mb: int | None = None  # reserved per replica; also the replica's model-cache budget
    replicas: int = 1
    autoscaling: AutoscalingSpec | None = None
    max_ongoing_requests: int = 2
    device: str = "auto"
    models_dir: str | None = None  # a folder of saved pipelines on the cluster's nodes
    description: str = ""
    downloads: int = 0  # orders Ray experts of one task, as downloads order hub models

    def app_name(self, prefix: str) -> str:
        return f"{prefix}{self.name}"

    def card(self) -> ModelCard:
        return ModelCard(
            id=self.expert,
            task=self.task,
            backend="ray",
            description=self.description or f"{self.expert} on the Ray cluster",
            downloads=self.downloads,
        )

    def deployment_options(self) -> dict[str, Any]:
        """Keyword arguments of ``serve.deployment`` for this expert."""
        actor: dict[str, Any] = {"num_cpus": self.num_cpus, "num_gpus": self.num_gpus}
        if self.memory_mb:
            actor["memory"] = self.memory_mb * MB
        options: dict[str, Any] = {
            "name": self.name,
            "ray_actor_options": actor,
            "max_ongoing_requests": self.max_ongoing_requests,
            "max_constructor_retry_count": 2,  # a missing model fails the deployment soon, with its reason
            "health_check_period_s": 10.0,
        }
        if self.autoscaling is not None:
            options["autoscaling_config"] = self.autoscaling.to_serve()
        else:
            options["num_replicas"] = self.replicas
        return options

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_dict(raw: dict[str, Any]) -> ExpertSpec:
        scaling = raw.get("autoscaling")
        spec = ExpertSpec(**{**raw, "autoscaling": None})
        return replace(spec, autoscaling=AutoscalingSpec(**scaling)) if scaling else spec


@dataclass(frozen=True, slots=True)
class ClusterSpec:
    """How the bot reaches the cluster and what it allows to travel."""

    address: str  # the GCS, host:port
    app_prefix: str = "hgb-"
    experts: tuple[ExpertSpec, ...] = ()
    deploy_on_start: bool = False
    ship_code: bool = True  # upload engine/ with the deployments (runtime_env py_modules)
    status_ttl: float = 5.0
    connect_timeout: float = 30.0
    deploy_timeout: float = 300.0
    max_input_bytes: int = 25 * MB
    max_output_bytes: int = 50 * MB
    env: dict[str, str] = field(default_factory=dict)  # extra environment of the driver process

    @property
    def host(self) -> str:
        return self.address.rpartition(":")[0].strip("[]")

    @property
    def loopback(self) -> bool:
        return self.host in ("127.0.0.1", "localhost", "::1")

    def expert_named(self, name: str) -> ExpertSpec | None:
        return next((e for e in self.experts if e.name == name), None)

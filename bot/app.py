"""Composition root: build the engine, store and conversation service from settings.

Nothing is built at import time; ``open_runtime`` wires everything for one process
and ``Runtime.aclose`` releases it. Heavy pieces (the GGUF controller, MiniLM,
expert models) load lazily on first use, so start-up stays fast.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from bot.config import Settings, default_deployment_name
from bot.conversations import ConversationService
from bot.store import Store
from engine.catalogue import Catalogue
from engine.engine import Engine
from engine.errors import ConfigError
from engine.experts.base import ExpertBackend
from engine.experts.controller import ControllerBackend
from engine.experts.hub_reachability import HubReachability
from engine.llm.base import LLM
from engine.media_limits import MediaLimits
from engine.planner import Planner, PlannerMode
from engine.responder import Responder
from engine.scheduler import Scheduler
from engine.secrets import Redactor, env_keys
from engine.selector import Selector

if TYPE_CHECKING:
    from engine.experts.ray.spec import ClusterSpec


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    store: Store
    service: ConversationService

    async def aclose(self) -> None:
        try:
            await self.engine.aclose()
        finally:
            await self.store.close()


def build_llm(settings: Settings) -> LLM:
    cfg = settings.llm
    if cfg.backend == "openai":
        from engine.llm.openai_backend import OpenAILLM

        return OpenAILLM(
            base_url=cfg.base_url,
            model=cfg.model,
            api_key=os.environ.get(cfg.api_key_env),
            timeout=cfg.timeout,
            max_retries=cfg.max_retries,
            retry_timeouts=cfg.retry_timeouts,
            structured_output=cfg.structured_output,
            api_key_env=cfg.api_key_env,
        )
    from engine.llm.local_backend import LocalLLM

    return LocalLLM(cfg.model, model_path=cfg.model_path, n_ctx=cfg.n_ctx, n_threads=cfg.n_threads)


def media_limits(settings: Settings) -> MediaLimits:
    limits = settings.limits
    return MediaLimits(
        max_pixels=int(limits.max_image_megapixels * 1_000_000),
        max_audio_seconds=limits.max_audio_seconds,
        max_video_seconds=limits.max_video_seconds,
        max_video_frames=limits.max_video_frames,
    )


def build_redactor(settings: Settings) -> Redactor:
    """Knows the values of every environment variable the config's ``*_env`` keys name."""
    return Redactor.from_environment(env_keys(settings.model_dump()), os.environ)


def build_backends(
    settings: Settings, llm: LLM, hub: HubReachability | None = None
) -> dict[str, ExpertBackend]:
    from engine.experts.builtin.backend import BuiltinBackend
    from engine.experts.builtin.registry import default_tools

    hub = hub or HubReachability(ttl=settings.experts.hub_retry_after)  # one per process: see its docstring
    limits = media_limits(settings)
    backends: dict[str, ExpertBackend] = {"builtin": BuiltinBackend(default_tools(), limits=limits)}
    local = settings.experts.local
    if local.enabled:
        from engine.experts.local.backend import LocalBackend

        backends["local"] = LocalBackend(
            device=local.device,
            memory_budget_mb=local.memory_budget_mb,
            models_dir=Path(local.models_dir).expanduser() if local.models_dir else None,
            hub=hub,
            limits=limits,
        )
    hosted = settings.experts.hosted
    if hosted.enabled and os.environ.get(hosted.token_env):
        from engine.experts.hosted import HostedBackend

        backends["hosted"] = HostedBackend(
            token_env=hosted.token_env,
            provider=hosted.provider,
            base_url=hosted.base_url,
            max_wait_loading=hosted.max_wait_loading,
            max_retries=hosted.max_retries,
            hub=hub,
            limits=limits,
        )
    if settings.experts.ray.enabled:
        backends["ray"] = build_ray_backend(settings)
    backends["llm"] = ControllerBackend(llm.name, offline=settings.llm.backend == "local")
    return backends


def build_ray_backend(settings: Settings) -> ExpertBackend:
    """The ray backend for ``experts.ray`` (a driver process starts only on first use)."""
    from engine.experts.ray import RayBackend

    return RayBackend(ray_cluster(settings))


def ray_cluster(settings: Settings) -> ClusterSpec:
    """``experts.ray`` as the engine's ClusterSpec; a builtin tool's task and card come
    from the tool itself, so the config names only the tool."""
    from engine.experts.builtin.registry import default_tools
    from engine.experts.ray.spec import MB, AutoscalingSpec, ClusterSpec, ExpertSpec

    cfg = settings.experts.ray
    tools = {tool.tool_id: tool for tool in default_tools()}
    experts = []
    for i, dep in enumerate(cfg.deployments):
        where = f"experts.ray.deployments[{i}]"
        source: Literal["builtin", "model"] = "builtin" if dep.expert.startswith("builtin/") else "model"
        tool = tools.get(dep.expert)
        if source == "builtin" and tool is None:
            raise ConfigError(
                f"{where}.expert: {dep.expert} is not a builtin tool; known: {', '.join(tools)}"
            )
        task = tool.task if tool is not None else dep.task
        if tool is not None and dep.task not in (None, tool.task):
            raise ConfigError(f"{where}.task: {dep.expert} does {tool.task}, not {dep.task}")
        scaling = dep.autoscaling
        experts.append(
            ExpertSpec(
                name=dep.name or default_deployment_name(dep.expert),
                expert=dep.expert,
                task=str(task),
                source=source,
                num_cpus=dep.num_cpus,
                num_gpus=dep.num_gpus,
                memory_mb=dep.memory_mb,
                replicas=dep.replicas,
                autoscaling=AutoscalingSpec(**scaling.model_dump()) if scaling else None,
                max_ongoing_requests=dep.max_ongoing_requests,
                device=dep.device,
                models_dir=dep.models_dir,
                description=f"{tool.description} (on the Ray cluster)" if tool is not None else "",
                downloads=tool.priority if tool is not None else 0,
            )
        )
    return ClusterSpec(
        address=str(cfg.resolved_address()),
        app_prefix=cfg.app_prefix,
        experts=tuple(experts),
        deploy_on_start=cfg.deploy_on_start,
        ship_code=cfg.ship_code,
        status_ttl=cfg.status_ttl,
        connect_timeout=cfg.connect_timeout,
        deploy_timeout=cfg.deploy_timeout,
        max_input_bytes=int(settings.limits.max_attachment_mb * MB),
        max_output_bytes=int(cfg.max_output_mb * MB),
    )


def planner_mode(settings: Settings) -> PlannerMode:
    mode = settings.planner.mode
    if mode == "auto":
        return "picker" if settings.llm.backend == "local" else "llm"
    return mode


def responder_style(settings: Settings) -> str:
    style = settings.responder.style
    if style == "auto":
        return "summary" if settings.llm.backend == "local" else "llm"
    return style


def build_planner(settings: Settings) -> Planner:
    from engine.picker.demos import DemoRetriever
    from engine.picker.embedder import Embedder
    from engine.picker.muse import MultilingualEmbedder
    from engine.picker.muse import available as multilingual_available
    from engine.picker.picker import TaskPicker

    mode = planner_mode(settings)
    # one encoder for the picker and the demo retriever, loaded on first use: USE multilingual
    # where its package is installed (it reads requests in 16 languages), MiniLM otherwise
    embedder = MultilingualEmbedder() if multilingual_available() else Embedder()
    # llm mode too: its proposal names the task types whose model choices the planning prompt lists
    picker = TaskPicker(embedder)
    demos = DemoRetriever(embedder) if mode in ("llm", "hybrid") and settings.planner.demos else None
    return Planner(
        mode,
        picker=picker,
        demos=demos,
        n_demos=settings.planner.demos,
        max_tasks=settings.planner.max_tasks,
        context_tokens=settings.planner.context_tokens,
    )


def build_engine(
    settings: Settings, llm: LLM | None = None, backends: dict[str, ExpertBackend] | None = None
) -> Engine:
    llm = llm or build_llm(settings)
    backends = backends if backends is not None else build_backends(settings, llm)
    catalogue_path = Path(settings.experts.catalogue).expanduser() if settings.experts.catalogue else None
    catalogue = Catalogue.load(catalogue_path)  # builtin and controller cards come from their backends
    choose = settings.experts.choose_with_llm
    if choose is None:
        choose = settings.llm.backend == "openai"
    selector = Selector(catalogue, backends, top_k=settings.experts.top_k, choose_with_llm=choose)
    return Engine(
        llm=llm,
        planner=build_planner(settings),
        selector=selector,
        scheduler=Scheduler(backends, task_timeout=settings.experts.task_timeout),
        responder=Responder(
            context_tokens=settings.planner.context_tokens, write_with_llm=responder_style(settings) == "llm"
        ),
    )


@asynccontextmanager
async def open_runtime(
    settings: Settings, engine: Engine | None = None, data_dir: Path | None = None
) -> AsyncIterator[Runtime]:
    """``data_dir`` replaces the configured data folder (an evaluation runs in a scratch one)."""
    data_dir = data_dir or settings.data_path
    data_dir.mkdir(parents=True, exist_ok=True)
    # the engine first: if a setting is wrong, no store thread is left open to hang the exit
    engine = engine or build_engine(settings)
    redactor = build_redactor(settings)
    try:
        store = await Store.open(data_dir / "hugginggpt.sqlite3", redactor)
    except BaseException:
        await engine.aclose()
        raise
    limits = settings.limits
    service = ConversationService(
        engine,
        store,
        data_dir,
        max_attachment_bytes=int(limits.max_attachment_mb * 1024 * 1024),
        max_attachments=limits.max_attachments,
        max_request_chars=limits.max_request_chars,
        media_limits=media_limits(settings),
        redactor=redactor,
    )
    runtime = Runtime(settings, engine, store, service)
    try:
        yield runtime
    finally:
        await runtime.aclose()

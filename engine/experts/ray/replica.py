"""The deployment class: one builtin tool or one local model per replica.

It runs on the cluster, inside a Serve replica, and reuses the bot's own backends
there: a BuiltinBackend holding the one tool, or a LocalBackend holding the one
model (loaded in the constructor, so Serve reports the deployment healthy only once
the model is in memory, and a missing model fails the deployment with its reason).
Inputs arrive as bytes and are written to a temporary folder for the call; outputs
go back as bytes; the folder is removed after each call, so nothing piles up on the
node. Expected failures come back as a ``CallReply`` with an error, not as an
exception, so the bot can tell "cannot run here" from "failed on this input".
"""

from __future__ import annotations

import asyncio
import os
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from engine.errors import EngineError, ExpertUnavailable
from engine.experts.base import ExpertBackend, RunContext
from engine.experts.ray.spec import ExpertSpec
from engine.experts.ray.wire import CallReply, CallRequest, materialise, pack_outputs
from engine.types import ModelCard

DEFAULT_BUDGET_MB = 4096
T = TypeVar("T")


def open_expert(spec: ExpertSpec) -> tuple[ExpertBackend, ModelCard]:
    """The backend and card for ``spec`` on this node; RuntimeError saying why it cannot run."""
    if spec.source == "builtin":
        from engine.experts.builtin.backend import BuiltinBackend
        from engine.experts.builtin.registry import default_tools

        tools = [t for t in default_tools() if t.tool_id == spec.expert]
        if not tools:
            raise RuntimeError(f"{spec.expert} is not a builtin tool of the engine on this node")
        builtin = BuiltinBackend(tools)
        card = tools[0].card
        state = builtin.availability(card)
        if not state.ok:
            raise RuntimeError(f"{spec.expert} cannot run on this node: {state.why}")
        return builtin, card
    from engine.experts.local.backend import LocalBackend

    local = LocalBackend(
        device=spec.device, memory_budget_mb=spec.memory_mb or DEFAULT_BUDGET_MB, models_dir=spec.models_dir
    )
    card = ModelCard(id=spec.expert, task=spec.task, backend="local")
    state = local.availability(card)
    if not state.ok:
        raise RuntimeError(f"{spec.expert} cannot run on this node: {state.why}")
    try:
        local.preload(card)
    except EngineError as exc:
        raise RuntimeError(f"{spec.expert} could not be loaded on this node: {exc}") from exc
    return local, card


async def _off_loop(files: bool, work: Callable[..., T], *args: Any) -> T:
    """``work(*args)`` in a thread when it reads or writes files, else right here (a
    thread hop costs more than packing a few strings)."""
    return await asyncio.to_thread(work, *args) if files else work(*args)


class ExpertReplica:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = ExpertSpec.from_dict(spec)
        self.backend, self.card = open_expert(self.spec)

    async def run(self, request: CallRequest) -> CallReply:
        with tempfile.TemporaryDirectory(prefix="hgb-ray-") as tmp:
            folder = Path(tmp)
            try:
                inputs = await _off_loop(
                    any(p.content is not None for p in request.inputs.values()),
                    materialise, request.inputs, folder / "in",
                )  # fmt: skip
                ctx = RunContext(
                    output_dir=folder / "out",
                    request_text=request.request_text,
                    timeout=request.timeout,
                    language=request.language,
                )
                outputs = await self.backend.run(self.card, request.task, inputs, ctx)
                packed = await _off_loop(
                    any(o.path is not None for o in outputs), pack_outputs, outputs, request.max_output_bytes
                )
            except ExpertUnavailable as exc:
                return CallReply(error=str(exc), unavailable=True)
            except EngineError as exc:
                return CallReply(error=str(exc))
        return CallReply(outputs=packed)

    def describe(self) -> dict[str, Any]:
        """Where this replica runs and what it holds (for ``ray status`` and tests)."""
        import ray

        return {
            "expert": self.spec.expert,
            "task": self.spec.task,
            "node": ray.util.get_node_ip_address(),
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "gpus": ray.get_gpu_ids(),
            "device": getattr(getattr(self.backend, "device", None), "name", "cpu"),
        }

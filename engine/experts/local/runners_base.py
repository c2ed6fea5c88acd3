"""The Runner contract and the helpers every runner family shares.

A runner says how to load a model for its task (``load``, blocking, in a worker
thread) and how to run it on resolved inputs (``run``, blocking too). Each declares
the argument names it reads and the resource kinds it returns; both are checked
against engine/tasks.py when the class is defined, so a runner cannot drift from
the task table the planner and scheduler use.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from PIL import Image

from engine.errors import InputError
from engine.experts.base import RunContext
from engine.experts.local.device import Device
from engine.experts.local.media import open_image
from engine.tasks import TASK_SPECS
from engine.types import Resource, ResourceKind, Task

MAX_NEW_TOKENS = 128


@dataclass(frozen=True)
class LoadSpec:
    """Where a model's files are (a folder or a hub id) and how to place it. Offline, the
    backend resolves a hub id to its cached snapshot folder, so loaders never need the
    network (transformers' ``pipeline(local_files_only=...)`` leaks the flag into
    ``generate``, so pipelines do not get it)."""

    source: str
    device: Device
    local_files_only: bool = False
    model_id: str = ""  # the card's id (``source`` may be a folder)
    # Other models this one is built on (a ControlNet's base Stable Diffusion), by id,
    # resolved by the backend with the same rules; see ``Runner.companions``.
    companions: Mapping[str, LoadSpec] = field(default_factory=dict)


@dataclass(frozen=True)
class RunOptions:
    """Knobs the backend passes down (a tiny test model wants 2 diffusion steps)."""

    diffusion_steps: int | None = None
    max_new_tokens: int = MAX_NEW_TOKENS
    video_fps: int = 8
    video_frames: int | None = None  # None: the pipeline's default


class Runner(ABC):
    task: ClassVar[str]
    reads: ClassVar[tuple[str, ...]]  # argument names it uses, as in TASK_SPECS
    outputs: ClassVar[tuple[ResourceKind, ...]]
    family: ClassVar[str] = "transformers"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if getattr(cls, "task", None) is None:
            return  # an abstract helper base
        spec = TASK_SPECS.get(cls.task)
        if spec is None:
            raise TypeError(f"{cls.__name__}.task={cls.task!r} is not a task type in engine/tasks.py")
        unknown = [a for a in cls.reads if a not in spec.input_kinds]
        if unknown:
            raise TypeError(f"{cls.__name__} reads {unknown}, not arguments of {cls.task}")
        if not set(cls.outputs) <= set(spec.outputs):
            raise TypeError(f"{cls.__name__} returns {cls.outputs}; {cls.task} outputs {spec.outputs}")

    def companions(self, model_id: str) -> tuple[str, ...]:
        """Ids of other models that loading ``model_id`` needs (their weights must be
        available too); the backend resolves them into ``LoadSpec.companions``."""
        return ()

    @abstractmethod
    def load(self, spec: LoadSpec) -> Any:
        """Blocking: build the model object (called once, then cached)."""

    @abstractmethod
    def run(
        self, model: Any, task: Task, inputs: Mapping[str, Resource], ctx: RunContext, options: RunOptions
    ) -> Sequence[Resource]:
        """Blocking: run on resolved inputs and return resources of the declared kinds."""


# ---------------------------------------------------------------- inputs


def text_arg(inputs: Mapping[str, Resource], name: str = "text", required: bool = True) -> str | None:
    res = inputs.get(name)
    if res is None or (res.text is None and res.kind != "json"):
        if required:
            raise InputError(f"this task needs a {name!r} text argument")
        return None
    return res.text if res.text is not None else res.describe()


def image_arg(inputs: Mapping[str, Resource], name: str = "image") -> Image.Image:
    res = inputs.get(name)
    if res is None:
        raise InputError(f"this task needs an {name!r} argument")
    return open_image(res)


def required_arg(inputs: Mapping[str, Resource], name: str) -> Resource:
    res = inputs.get(name)
    if res is None:
        raise InputError(f"this task needs an {name!r} argument")
    return res


# ---------------------------------------------------------------- outputs


def jsonable(value: Any) -> Any:
    """Pipeline outputs with numpy/torch scalars and PIL images made JSON-safe."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items() if not isinstance(v, Image.Image)}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return round(float(value), 4)
    if isinstance(value, np.integer):
        return int(value)
    if hasattr(value, "item") and callable(value.item):
        return jsonable(value.item())
    return value


def labels_outputs(results: Any) -> list[Resource]:
    """``[{"label", "score"}, ...]`` as a text line of the top five and their JSON."""
    text, labels = top_labels(results)
    return [Resource(kind="text", text=text), Resource(kind="json", data=labels)]


def top_labels(results: Any) -> tuple[str, list[dict[str, Any]]]:
    items = results[0] if results and isinstance(results[0], list) else results
    items = jsonable(list(items))
    items.sort(key=lambda r: -r.get("score", 0))
    text = ", ".join(f"{r['label']} ({r['score']:.2f})" for r in items[:5])
    return text, items[:5]


# ---------------------------------------------------------------- loading


class PipelineRunner(Runner):
    """A runner backed by ``transformers.pipeline(pipeline_task, model=...)``."""

    pipeline_task: ClassVar[str]
    pipeline_kwargs: ClassVar[Mapping[str, Any]] = {}

    def load(self, spec: LoadSpec) -> Any:
        from transformers import pipeline

        return pipeline(  # type: ignore[call-overload]
            self.pipeline_task,
            model=spec.source,
            device=spec.device.pipeline_device(),
            dtype=spec.device.dtype(),
            **self.pipeline_kwargs,
        )


@dataclass
class Loaded:
    """A model with its pre/post-processor, for runners that drive AutoModel classes."""

    model: Any
    processor: Any
    device: Device
    extra: Mapping[str, Any]


def place(model: Any, device: Device) -> Any:
    model = model.to(device.name)
    model.eval()
    return model


def to_device(batch: Any, device: Device, model: Any) -> Any:
    import torch

    batch = batch.to(device.name)
    dtype = getattr(model, "dtype", None)
    if dtype is not None and dtype != torch.float32:
        for key, value in batch.items():
            if torch.is_tensor(value) and value.is_floating_point():
                batch[key] = value.to(dtype)
    return batch

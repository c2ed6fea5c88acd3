"""Where local models run: device choice, dtype, and one queue per accelerator.

``auto`` picks CUDA, then Apple MPS, then the CPU. Half precision is used on CUDA
only (MPS fp16 is unreliable for several diffusers pipelines, CPU fp16 is slow).
An accelerator runs one inference at a time: concurrent requests wait in an
``asyncio.Semaphore`` instead of fighting over memory; the CPU allows a few.
"""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass
from typing import Any, Literal

from engine.errors import ConfigError

DeviceName = Literal["cuda", "mps", "cpu"]


@dataclass(frozen=True)
class Device:
    name: DeviceName
    half: bool  # load weights in float16

    @property
    def is_accelerator(self) -> bool:
        return self.name != "cpu"

    def dtype(self) -> Any:
        import torch

        return torch.float16 if self.half else torch.float32

    def pipeline_device(self) -> Any:
        """The ``device=`` value transformers' ``pipeline()`` accepts."""
        return 0 if self.name == "cuda" else self.name


def resolve_device(preference: str = "auto") -> Device:
    """The device for ``preference`` ("auto", "cuda", "mps", "cpu"); an explicit
    choice that is not present is a ConfigError naming the setting."""
    import torch

    has_cuda = torch.cuda.is_available()
    mps = getattr(torch.backends, "mps", None)
    has_mps = bool(mps is not None and mps.is_available())
    if preference == "auto":
        name: DeviceName = "cuda" if has_cuda else "mps" if has_mps else "cpu"
    elif preference == "cuda" and not has_cuda:
        raise ConfigError(
            "experts.local.device: cuda was asked for but torch sees no CUDA GPU "
            "(install a CUDA build of torch, or set device: auto)"
        )
    elif preference == "mps" and not has_mps:
        raise ConfigError(
            "experts.local.device: mps was asked for but this machine has no Apple GPU (set device: auto)"
        )
    elif preference in ("cuda", "mps", "cpu"):
        name = preference  # type: ignore[assignment]
    else:
        raise ConfigError(f"experts.local.device: {preference!r} must be one of auto, cuda, mps, cpu")
    return Device(name=name, half=name == "cuda")


class DeviceGate:
    """Bounds concurrent inferences on one device; one semaphore per event loop, so a
    backend shared between loops (tests, a worker thread) never waits on a foreign loop."""

    def __init__(self, device: Device, cpu_slots: int = 2) -> None:
        self.slots = 1 if device.is_accelerator else max(1, cpu_slots)
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )

    def semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        sem = self._by_loop.get(loop)
        if sem is None:
            sem = self._by_loop[loop] = asyncio.Semaphore(self.slots)
        return sem

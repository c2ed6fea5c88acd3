"""The ``local`` expert backend: transformers and diffusers pipelines on this machine.

Models are found, in order, in ``models_dir/<org>/<name>`` (a saved pipeline), in the
Hugging Face cache, or downloaded from the Hub on first use (with huggingface_hub's
progress bars) unless offline mode is on (``offline=True``, HF_HUB_OFFLINE or
TRANSFORMERS_OFFLINE) or the Hub is known to be unreachable (the shared
``HubReachability``: one short look-up before the first download, remembered for a
while, so an offline machine answers from the next candidate in seconds instead of
waiting on huggingface_hub's retries for each model). Loading is lazy; loaded models
sit in an LRU cache bounded by a memory budget; loading and inference run in worker
threads, one at a time per accelerator. Media inputs are checked against
``MediaLimits`` from their headers before a model decodes them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from engine.errors import ExpertError, ExpertUnavailable, InputError
from engine.experts.base import Availability, RunContext
from engine.experts.hub_reachability import HubReachability, is_connection_failure
from engine.experts.local.cache import ModelCache
from engine.experts.local.controlnet import CONTROLNET_RUNNERS
from engine.experts.local.device import Device, DeviceGate, resolve_device
from engine.experts.local.diffusion import DIFFUSERS_RUNNERS
from engine.experts.local.runners import TRANSFORMERS_RUNNERS, LoadSpec, Runner, RunOptions
from engine.media_limits import MediaLimits, check_inputs
from engine.types import ModelCard, Resource, Task

log = logging.getLogger(__name__)

# Files whose presence in the HF cache means a model was downloaded.
_MARKERS = ("model_index.json", "config.json", "modules.json")
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".ckpt", ".pth")


def env_offline() -> bool:
    """HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE, as huggingface_hub reads them."""
    from huggingface_hub import constants

    truthy = {"1", "on", "yes", "true"}
    from_env = any(
        os.environ.get(v, "").strip().lower() in truthy for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )
    return from_env or bool(constants.is_offline_mode())


def default_runners() -> dict[str, Runner]:
    # Later classes replace earlier ones of the same task: the ControlNet runner is the
    # image-to-image runner (it hands non-ControlNet cards to the plain one it extends).
    classes = (*TRANSFORMERS_RUNNERS, *DIFFUSERS_RUNNERS, *CONTROLNET_RUNNERS)
    return {cls.task: cls() for cls in classes}


class LocalBackend:
    name = "local"
    rank = 10  # a model on this machine's disk is tried before any tool or service
    ready_first = True  # and one already loaded goes before everything
    own_cards = False  # local cards come from the shipped catalogue
    runs_cards_of: tuple[str, ...] = ()
    offline = True

    def __init__(
        self,
        device: str = "auto",
        memory_budget_mb: int = 8192,
        models_dir: str | Path | None = None,
        offline: bool | None = None,
        *,
        diffusion_steps: int | None = None,
        max_new_tokens: int = 128,
        video_frames: int | None = None,
        runners: Iterable[Runner] | None = None,
        hub: HubReachability | None = None,
        limits: MediaLimits | None = None,
    ) -> None:
        self._preference = device
        self._device: Device | None = None
        if device not in ("auto", "cpu"):  # an explicit GPU is checked now, with a clear error
            self._device = resolve_device(device)
        self.models_dir = Path(models_dir).expanduser() if models_dir else None
        self.offline = env_offline() if offline is None else offline
        self.hub = hub or HubReachability()
        self.limits = limits or MediaLimits()
        self.options = RunOptions(
            diffusion_steps=diffusion_steps, max_new_tokens=max_new_tokens, video_frames=video_frames
        )
        self.runners: dict[str, Runner] = (
            {r.task: r for r in runners} if runners is not None else default_runners()
        )
        self.cache = ModelCache(memory_budget_mb, on_evict=self._free_accelerator)
        self._gate_instance: DeviceGate | None = None

    @property
    def device(self) -> Device:
        """Resolved on first use: finding out means importing torch (1.5 s), which a bot
        whose requests never reach a local model should not pay at start-up."""
        if self._device is None:
            self._device = resolve_device(self._preference)
        return self._device

    @property
    def _gate(self) -> DeviceGate:
        if self._gate_instance is None:
            self._gate_instance = DeviceGate(self.device)
        return self._gate_instance

    # ------------------------------------------------------------------ catalogue side

    def cards(self) -> Sequence[ModelCard]:
        return ()  # local cards come from the shipped catalogue

    def tasks(self) -> list[str]:
        return sorted(self.runners)

    def availability(self, card: ModelCard) -> Availability:
        runner = self.runners.get(card.task)
        if runner is None:
            return Availability(False, f"the local backend has no runner for {card.task}")
        if card.id in self.cache:
            return Availability(True, ready=True)
        found = self._weights_availability(card.id)
        if not found.ok:
            return found
        for extra in runner.companions(card.id):  # a ControlNet's base model, say
            more = self._weights_availability(extra)
            if not more.ok:
                return Availability(False, f"{card.id} is drawn with {extra}: {more.why}")
            if more.download:
                why = "; ".join(w for w in (found.why, more.why) if w)
                found = Availability(True, why, download=True)
        return found

    def _weights_availability(self, model_id: str) -> Availability:
        if self._folder(model_id) is not None:
            return Availability(True)
        if self._cached_snapshot(model_id) is not None:
            return Availability(True)
        if self.offline:
            return Availability(False, self._missing_weights(model_id))
        if self.hub.known_unreachable():
            return Availability(False, self._unreachable(model_id))
        return Availability(
            True, f"{model_id} will be downloaded from the Hugging Face Hub on first use", download=True
        )

    def _missing_weights(self, model_id: str) -> str:
        where = f" or save the pipeline under {self.models_dir / model_id}" if self.models_dir else ""
        return (
            f"the weights of {model_id} are not on this machine and offline mode is on "
            f"(HF_HUB_OFFLINE); run `hf download {model_id}` where there is network{where}"
        )

    def _unreachable(self, model_id: str) -> str:
        return (
            f"the weights of {model_id} are not on this machine and the Hugging Face Hub cannot be "
            f"reached ({self.hub.why}); run `hf download {model_id}` where there is network"
        )

    def _folder(self, model_id: str) -> Path | None:
        if self.models_dir is None:
            return None
        parts = model_id.split("/")
        if any(p in ("", ".", "..") for p in parts) or model_id.startswith(("/", "\\")):
            return None
        folder = self.models_dir.joinpath(*parts)
        return folder if folder.is_dir() else None

    @staticmethod
    def _cached_snapshot(model_id: str) -> Path | None:
        """The snapshot folder of ``model_id`` in the HF cache, if one of its config files is there."""
        from huggingface_hub import try_to_load_from_cache

        for marker in _MARKERS:
            try:
                found = try_to_load_from_cache(model_id, marker)
            except ValueError:  # not a valid repo id
                return None
            if isinstance(found, str):
                return Path(found).parent
        return None

    async def refresh(self) -> None:
        return None  # availability looks at this machine only

    # ------------------------------------------------------------------ running

    async def run(
        self, card: ModelCard, task: Task, inputs: Mapping[str, Resource], ctx: RunContext
    ) -> Sequence[Resource]:
        runner = self.runners.get(card.task)
        if runner is None:
            raise ExpertUnavailable(f"the local backend has no runner for {card.task}")
        # off the loop: the first call resolves the device (imports torch), checks cache
        # folders and, before a first download, whether the Hub answers; then the headers
        await asyncio.to_thread(check_inputs, inputs, self.limits)
        spec = await asyncio.to_thread(self._load_spec, card, runner)

        def work() -> Sequence[Resource]:
            model = self._load(card, runner, spec)
            return self._infer(card, runner, model, task, inputs, ctx)

        outputs = await self._on_device(work)
        bad = [o.kind for o in outputs if o.kind not in runner.outputs]
        if bad:
            raise ExpertError(f"{card.id}: runner for {card.task} returned {bad}, not {runner.outputs}")
        return tuple(outputs)

    def preload(self, card: ModelCard) -> None:
        """Load ``card`` into the cache now (blocking: a worker thread, or a server's start-up),
        so a server hosting it reports healthy only once the model is in memory."""
        runner = self.runners.get(card.task)
        if runner is None:
            raise ExpertUnavailable(f"the local backend has no runner for {card.task}")
        self._load(card, runner, self._load_spec(card, runner))

    async def _on_device(self, work: Callable[[], Sequence[Resource]]) -> Sequence[Resource]:
        """Run ``work`` in a thread holding a device slot until the thread ends: a caller
        cancelled by its timeout returns at once, but the slot (GPU memory) stays taken
        until the inference it started has really finished."""
        semaphore = self._gate.semaphore()
        await semaphore.acquire()
        try:
            job = asyncio.ensure_future(asyncio.to_thread(work))
        except BaseException:
            semaphore.release()
            raise
        job.add_done_callback(lambda _: semaphore.release())
        return await asyncio.shield(job)

    def _load_spec(self, card: ModelCard, runner: Runner | None = None) -> LoadSpec:
        loaded = card.id in self.cache
        spec = self._source_spec(card.id, loaded)
        extras = runner.companions(card.id) if runner is not None and not loaded else ()
        if not extras:
            return spec
        return dataclasses.replace(spec, companions={e: self._source_spec(e) for e in extras})

    def _source_spec(self, model_id: str, loaded: bool = False) -> LoadSpec:
        folder = self._folder(model_id)
        if folder is not None:
            return LoadSpec(str(folder), self.device, local_files_only=True, model_id=model_id)
        if loaded:
            return LoadSpec(model_id, self.device, local_files_only=self.offline, model_id=model_id)
        if self.offline or not self.hub.check():
            snapshot = self._cached_snapshot(model_id)
            if snapshot is None:
                why = self._missing_weights(model_id) if self.offline else self._unreachable(model_id)
                raise ExpertUnavailable(why)
            return LoadSpec(str(snapshot), self.device, local_files_only=True, model_id=model_id)
        return LoadSpec(model_id, self.device, local_files_only=False, model_id=model_id)

    def _load(self, card: ModelCard, runner: Runner, spec: LoadSpec) -> Any:
        expected = 0
        for model_id, part in ((card.id, spec), *spec.companions.items()):
            folder = Path(part.source) if Path(part.source).is_dir() else self._cached_snapshot(model_id)
            expected += _weights_bytes(folder) if folder else 0
        try:
            return self.cache.get_or_load(card.id, lambda: runner.load(spec), expected)
        except (ExpertError, InputError):
            raise
        except OSError as exc:  # missing files, offline, no such repo
            if not spec.local_files_only and is_connection_failure(exc):
                self.hub.mark_unreachable(_short(exc, 120))
            raise ExpertUnavailable(f"cannot load {card.id} for {card.task}: {_short(exc)}") from exc
        except Exception as exc:  # noqa: BLE001 - any library failure becomes a failed task
            raise ExpertError(
                f"cannot load {card.id} for {card.task}: {type(exc).__name__}: {_short(exc)}"
            ) from exc

    def _infer(
        self,
        card: ModelCard,
        runner: Runner,
        model: Any,
        task: Task,
        inputs: Mapping[str, Resource],
        ctx: RunContext,
    ) -> Sequence[Resource]:
        try:
            return runner.run(model, task, inputs, ctx, self.options)
        except (ExpertError, InputError):
            raise
        except Exception as exc:  # noqa: BLE001 - translated at the edge
            if type(exc).__name__ == "OutOfMemoryError":
                self.cache.clear()
                raise ExpertError(
                    f"{card.id} ran out of {self.device.name} memory; the model cache "
                    f"was emptied, try again or lower experts.local.memory_budget_mb"
                ) from exc
            raise ExpertError(
                f"{card.id} failed on {card.task}: {type(exc).__name__}: {_short(exc)}"
            ) from exc

    def _free_accelerator(self) -> None:
        if self._device is None:  # never resolved: nothing was ever loaded
            return
        if self._device.name == "cuda":
            import torch

            torch.cuda.empty_cache()
        elif self._device.name == "mps":
            import torch

            torch.mps.empty_cache()

    async def aclose(self) -> None:
        await asyncio.to_thread(self.cache.clear)


def _weights_bytes(folder: Path) -> int:
    try:
        files = [p for p in folder.rglob("*") if p.suffix in _WEIGHT_SUFFIXES and p.is_file()]
    except OSError:
        return 0
    if any(p.suffix == ".safetensors" for p in files):
        files = [p for p in files if p.suffix == ".safetensors"]
    return sum(p.stat().st_size for p in files)


def _short(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"

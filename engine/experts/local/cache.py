"""An LRU cache of loaded pipelines, bounded by a memory budget.

Sizes are estimated from the parameters and buffers of every torch module a
pipeline holds (a transformers pipeline's ``model``, a diffusers pipeline's
``components``). Loading the same model twice at once is prevented by a per-key
lock; loads and evictions happen in worker threads, so the lock is a threading one.
"""

from __future__ import annotations

import gc
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engine.errors import ExpertUnavailable

log = logging.getLogger(__name__)

MB = 1024 * 1024


def estimate_bytes(obj: Any) -> int:
    """Bytes held by the torch modules inside ``obj`` (parameters and buffers, counted once)."""
    seen: set[int] = set()
    total = 0
    for module in _modules(obj):
        for tensor in [*module.parameters(), *module.buffers()]:
            if id(tensor) in seen:
                continue
            seen.add(id(tensor))
            total += tensor.numel() * tensor.element_size()
    return total


def _modules(obj: Any) -> list[Any]:
    import torch

    if isinstance(obj, torch.nn.Module):
        return [obj]
    found: list[Any] = []
    components = getattr(obj, "components", None)  # diffusers pipelines
    if isinstance(components, dict):
        found += [c for c in components.values() if isinstance(c, torch.nn.Module)]
    for attr in ("model", "vocoder"):  # transformers pipelines
        value = getattr(obj, attr, None)
        if isinstance(value, torch.nn.Module):
            found.append(value)
    if isinstance(obj, (tuple, list)):
        for item in obj:
            found += _modules(item)
    if isinstance(obj, dict):
        for item in obj.values():
            found += _modules(item)
    return found


@dataclass
class _Entry:
    value: Any
    nbytes: int


class ModelCache:
    """Loaded models by key, least recently used evicted first to stay under ``budget_mb``."""

    def __init__(self, budget_mb: int, on_evict: Callable[[], None] | None = None) -> None:
        self.budget = budget_mb * MB
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}
        self._on_evict = on_evict

    def __contains__(self, key: str) -> bool:
        with self._lock:
            return key in self._entries

    def keys(self) -> list[str]:
        with self._lock:
            return list(self._entries)

    @property
    def used_bytes(self) -> int:
        with self._lock:
            return sum(e.nbytes for e in self._entries.values())

    def get_or_load(self, key: str, load: Callable[[], Any], expected_bytes: int = 0) -> Any:
        """The cached value of ``key``, or ``load()`` it (blocking; call from a thread).

        ``expected_bytes`` (for example the size of the weight files) frees room before
        loading; the measured size decides afterwards: a model larger than the whole
        budget is dropped and refused with ExpertUnavailable naming the setting.
        """
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
                return entry.value
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                entry = self._entries.get(key)
                if entry is not None:
                    self._entries.move_to_end(key)
                    return entry.value
            self._make_room(min(expected_bytes, self.budget))
            value = load()
            nbytes = estimate_bytes(value)
            if nbytes > self.budget:
                del value
                self._collect()
                raise self._too_big(key, nbytes)
            self._make_room(nbytes)
            with self._lock:
                self._entries[key] = _Entry(value, nbytes)
            log.info(
                "loaded %s (%.0f MB; cache %.0f/%.0f MB)",
                key,
                nbytes / MB,
                self.used_bytes / MB,
                self.budget / MB,
            )
            return value

    def _too_big(self, key: str, nbytes: int) -> ExpertUnavailable:
        return ExpertUnavailable(
            f"{key} needs about {nbytes / MB:.0f} MB, more than the local memory budget of "
            f"{self.budget / MB:.0f} MB (raise experts.local.memory_budget_mb, or use the hosted backend)"
        )

    def _make_room(self, nbytes: int) -> None:
        evicted = False
        with self._lock:
            while self._entries and sum(e.nbytes for e in self._entries.values()) + nbytes > self.budget:
                key, _ = self._entries.popitem(last=False)
                log.info("evicted %s from the model cache", key)
                evicted = True
        if evicted:
            self._collect()

    def _collect(self) -> None:
        gc.collect()
        if self._on_evict is not None:
            self._on_evict()

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
        self._collect()

"""A model loaded on first use, once, even when two tasks ask at the same moment."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Lazy(Generic[T]):
    def __init__(self, load: Callable[[], T]) -> None:
        self._load = load
        self._lock = threading.Lock()
        self._value: T | None = None
        self.load_seconds: float | None = None  # how long the last load took

    @property
    def loaded(self) -> bool:
        return self._value is not None

    def get(self) -> T:
        if self._value is None:
            with self._lock:
                if self._value is None:
                    start = time.perf_counter()
                    self._value = self._load()
                    self.load_seconds = time.perf_counter() - start
        return self._value

    def drop(self) -> None:
        with self._lock:
            self._value = None

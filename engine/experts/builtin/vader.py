"""Sentiment with VADER: a lexicon and rules tuned for short social-media English."""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping, Sequence
from typing import Any

from engine.errors import ExpertError
from engine.experts.base import Availability, RunContext
from engine.experts.builtin.base import ModelTool
from engine.experts.builtin.resources import text_arg
from engine.types import Resource, Task

POSITIVE, NEGATIVE = 0.05, -0.05  # VADER's recommended compound-score cut-offs


def _load() -> Any:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


class VaderSentiment(ModelTool):
    tool_id = "builtin/vader-sentiment"
    task = "text-classification"
    description = "VADER: labels the sentiment of an English text as positive, negative or neutral."
    licence = "mit"

    def load_model(self) -> Any:
        return _load()

    def available(self) -> Availability:
        if importlib.util.find_spec("vaderSentiment") is None:
            return Availability(False, "install vaderSentiment (pip install vaderSentiment)")
        return Availability(True)

    def run(self, task: Task, inputs: Mapping[str, Resource], ctx: RunContext) -> Sequence[Resource]:
        text = text_arg(inputs).strip()
        if not text:
            raise ExpertError("nothing to classify: the text is empty")
        scores = self._model.get().polarity_scores(text)
        compound = float(scores["compound"])
        label = "positive" if compound >= POSITIVE else "negative" if compound <= NEGATIVE else "neutral"
        data = {
            "label": label,
            "compound": compound,
            "scores": {"positive": scores["pos"], "neutral": scores["neu"], "negative": scores["neg"]},
        }
        return [
            Resource(kind="text", text=f"{label} (compound {compound:+.2f})"),
            Resource(kind="json", data=data),
        ]

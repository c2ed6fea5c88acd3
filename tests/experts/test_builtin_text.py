"""Language tools on real text: sentiment, similarity, English <-> Spanish translation."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.experts.builtin.apertium import ApertiumTranslate
from engine.experts.builtin.minilm import MiniLMSimilarity
from engine.experts.builtin.vader import VaderSentiment
from engine.language import detect_language
from engine.language_names import target_language
from tests.experts.builtin_helpers import require, run_tool, text


@pytest.fixture(scope="module")
def minilm() -> MiniLMSimilarity:
    return require(MiniLMSimilarity())  # type: ignore[return-value]


def test_vader_labels_positive_and_negative(tmp_path: Path) -> None:
    tool = require(VaderSentiment())
    summary, data = run_tool(tool, tmp_path, {"text": text("I love this bot, it is wonderful!")})
    assert data.data["label"] == "positive" and summary.text.startswith("positive")
    _, data = run_tool(tool, tmp_path, {"text": text("This is terrible and I hate it.")})
    assert data.data["label"] == "negative"
    assert set(data.data["scores"]) == {"positive", "neutral", "negative"}


def test_similarity_ranks_paraphrase_above_unrelated(tmp_path: Path, minilm: MiniLMSimilarity) -> None:
    first = text("A man is playing a guitar.")
    _, close = run_tool(minilm, tmp_path, {"text": first, "text2": text("Someone plays the guitar.")})
    summary, far = run_tool(minilm, tmp_path, {"text": first, "text2": text("The stock market fell today.")})
    assert close.data["score"] > 0.6 > 0.3 > far.data["score"]
    assert summary.text.startswith("similarity")


def test_translation_english_to_spanish(tmp_path: Path) -> None:
    tool = require(ApertiumTranslate())
    [out] = run_tool(tool, tmp_path, {"text": text("Hello world")}, request="translate 'Hello world'")
    assert "Hola" in out.text


def test_translation_spanish_text_goes_to_english(tmp_path: Path) -> None:
    tool = require(ApertiumTranslate())
    [out] = run_tool(tool, tmp_path, {"text": text("El gato está en la casa.")})
    assert "cat" in out.text and "house" in out.text


def test_translation_follows_a_target_hint(tmp_path: Path) -> None:
    tool = require(ApertiumTranslate())
    [out] = run_tool(tool, tmp_path, {"text": text("the dog")}, args={"tgt_lang": "Spanish"})
    assert "perro" in out.text


def test_language_guess_and_hints() -> None:
    assert detect_language("Where is the station?").code == "en"
    assert detect_language("¿Dónde está la estación?").code == "es"
    assert target_language({}, "please translate this into English") == "en"
    assert target_language({"target_language": "es"}, "into English") == "es"
    assert target_language({}, "translate it") is None

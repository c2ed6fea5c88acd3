"""The offline tools follow the language: notes in French, Spanish and Chinese are read
in their language and spoken with their voice; speech comes back in its language;
translation uses the installed Apertium pairs and says what to configure for the rest.

Inputs are made on the spot: notes rendered with Pillow, speech with eSpeak NG.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import ExpertUnavailable
from engine.experts.base import RunContext
from engine.experts.builtin.apertium import ApertiumTranslate, parse_modes, route
from engine.experts.builtin.espeak import EspeakTTS
from engine.experts.builtin.tesseract import TesseractOCR
from engine.experts.builtin.whisper import WhisperASR, choose_language
from engine.language import detect_language
from engine.types import Resource, Task
from tests.experts.builtin_helpers import (
    audio_file,
    cjk_font,
    image_file,
    require,
    run_tool,
    spoken,
    text,
    text_image,
)

DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def need_tesseract_languages(*codes: str) -> TesseractOCR:
    tool = require(TesseractOCR())
    assert isinstance(tool, TesseractOCR)
    missing = [c for c in codes if c not in tool.installed_languages()]
    if missing:
        pytest.skip(
            f"Tesseract language data missing: {', '.join(missing)} (scripts/bootstrap.sh installs them)"
        )
    return tool


def latin_font() -> Path | None:
    return DEJAVU if DEJAVU.is_file() else None


@pytest.fixture(scope="module")
def whisper() -> WhisperASR:
    return require(WhisperASR())  # type: ignore[return-value]


def read_then_speak(
    tmp_path: Path, lines: list[str], request: str, font: Path | None
) -> tuple[str, Resource]:
    """image-to-text then text-to-speech, as the plan for "read this aloud" runs them."""
    ocr = need_tesseract_languages("eng", "fra", "spa", "chi_sim")
    note = text_image(lines, tmp_path / "note.png", font)
    [read] = run_tool(ocr, tmp_path, {"image": image_file(note)}, request=request)
    [speech] = run_tool(require(EspeakTTS()), tmp_path, {"text": read}, request=request)
    assert read.text is not None
    return read.text, speech


def test_french_note_is_read_as_french_and_spoken_with_a_french_voice(tmp_path: Path) -> None:
    lines = ["Rendez-vous à la gare", "à côté du café, à 8 h"]
    got, speech = read_then_speak(tmp_path, lines, "Lis le texte de cette image à voix haute", latin_font())
    # accents included: read with the French data (a lone "à" before a digit is still hard)
    assert got.startswith("Rendez-vous à la gare\nà côté du café")
    assert speech.data["language"] == "fr" and speech.data["voice"] in ("fr", "fr-fr")


def test_spanish_note_is_read_as_spanish_and_spoken_with_a_spanish_voice(tmp_path: Path) -> None:
    lines = ["¿Dónde está Muñoz?", "Mañana a las diez"]
    got, speech = read_then_speak(tmp_path, lines, "Lee el texto de esta imagen en voz alta", latin_font())
    assert got == "\n".join(lines)
    assert speech.data["language"] == "es" and speech.data["voice"] == "es"


def test_chinese_note_is_read_as_chinese_and_spoken_with_a_mandarin_voice(tmp_path: Path) -> None:
    lines = ["明天上午十点开会", "请带上笔记本"]
    got, speech = read_then_speak(tmp_path, lines, "请把这张图片里的文字读出来", cjk_font())
    first, second = got.splitlines()
    assert first == lines[0]  # no spaces between the characters
    assert second.endswith("上笔记本")
    assert speech.data["language"] == "zh" and speech.data["voice"].startswith("cmn")


def test_chinese_note_is_read_even_when_the_request_is_english(tmp_path: Path) -> None:
    ocr = need_tesseract_languages("eng", "chi_sim")
    note = text_image(["明天上午十点开会"], tmp_path / "note.png", cjk_font())
    assert ocr.readings("en")[0] == "eng"  # English is tried first, and found poor
    [read] = run_tool(ocr, tmp_path, {"image": image_file(note)}, request="read this aloud")
    assert read.text == "明天上午十点开会"


def test_unhinted_note_is_read_with_all_latin_languages(tmp_path: Path) -> None:
    ocr = need_tesseract_languages("eng", "fra", "spa")
    assert ocr.readings(None)[0] == "eng+fra+spa"
    note = text_image(["Très bien, à demain"], tmp_path / "note.png", latin_font())
    [read] = run_tool(ocr, tmp_path, {"image": image_file(note)})
    assert read.text.startswith("Très bien,")  # English alone reads "Tres"


def test_plan_argument_names_the_voice(tmp_path: Path) -> None:
    tts = require(EspeakTTS())
    [speech] = run_tool(tts, tmp_path, {"text": text("Paris")}, args={"language": "French"})
    assert speech.data["language"] == "fr"


def test_spanish_speech_comes_back_as_spanish(tmp_path: Path, whisper: WhisperASR) -> None:
    sentence = "Hola, ¿dónde está la estación de tren?"
    [speech] = run_tool(require(EspeakTTS()), tmp_path, {"text": text(sentence)})
    assert speech.data["voice"] == "es"
    [heard] = run_tool(whisper, tmp_path, {"audio": audio_file(speech.path)})
    assert heard.data["language"] == "es"
    assert "estación" in heard.text.lower()


def test_espeak_mandarin_is_transcribed_as_chinese(tmp_path: Path, whisper: WhisperASR) -> None:
    # Left to choose among all its languages, Whisper base hears this as Thai.
    audio = spoken("请把这张图片里的文字读出来，今天天气很好。", tmp_path / "zh.wav", voice="cmn-latn-pinyin")
    [heard] = run_tool(whisper, tmp_path, {"audio": audio_file(audio)})
    assert heard.data["language"] == "zh"
    assert detect_language(heard.text).code == "zh"


def test_whisper_language_choice() -> None:
    espeak_mandarin = [("th", 0.38), ("zh", 0.33), ("en", 0.05)]
    assert choose_language(espeak_mandarin, None) == "zh"
    assert choose_language([("en", 0.7), ("fr", 0.2)], "fr") == "fr"  # plausible: the user's language
    assert choose_language([("en", 0.95), ("fr", 0.01)], "fr") == "en"  # the user sent English audio
    assert choose_language([("th", 0.9)], None) is None


def test_apertium_modes_are_parsed_into_pairs() -> None:
    listing = "  eco-es-fr\n  eng-spa\n  es-fr\n  fr-es\n  spa-eng\n  spa-eng_US\n  es-pt_BR\n  ita-spa\n"
    pairs = parse_modes(listing)
    assert pairs == {
        ("en", "es"): "eng-spa",
        ("es", "fr"): "es-fr",
        ("fr", "es"): "fr-es",
        ("es", "en"): "spa-eng",
        ("it", "es"): "ita-spa",
    }
    assert route(pairs, "fr", "en") == ["fr-es", "spa-eng"]
    assert route(pairs, "en", "zh") is None


def apertium_with(*modes: str) -> ApertiumTranslate:
    tool = require(ApertiumTranslate())
    assert isinstance(tool, ApertiumTranslate)
    wanted = parse_modes(" ".join(modes))
    if not set(wanted) <= set(tool.pairs()):
        pytest.skip(f"Apertium pairs missing: {', '.join(modes)} (scripts/bootstrap.sh installs them)")
    return tool


def test_french_goes_to_english_through_spanish(tmp_path: Path) -> None:
    tool = apertium_with("fr-es", "spa-eng")
    [out] = run_tool(
        tool, tmp_path, {"text": text("Le chat est sur la table.")}, request="traduis en anglais"
    )
    assert out.data == {"source": "fr", "target": "en"}
    assert "cat" in out.text and "table" in out.text


def test_english_text_from_a_french_user_goes_to_french(tmp_path: Path) -> None:
    tool = apertium_with("eng-spa", "es-fr")
    [out] = run_tool(tool, tmp_path, {"text": text("The house is big.")}, request="tu peux traduire ça ?")
    assert out.data == {"source": "en", "target": "fr"}
    assert "maison" in out.text


def test_missing_pair_says_what_to_configure(tmp_path: Path) -> None:
    tool = require(ApertiumTranslate())
    task = Task(id=1, task="translation", args={"tgt_lang": "Chinese"})
    ctx = RunContext(output_dir=tmp_path, request_text="translate this into Chinese")
    with pytest.raises(ExpertUnavailable, match="English to Chinese.*HF_TOKEN.*experts.local"):
        tool.run(task, {"text": text("Good morning")}, ctx)

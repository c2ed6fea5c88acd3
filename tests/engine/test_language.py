"""Language of short chat messages and replies (engine/language.py, language_names.py)."""

from __future__ import annotations

import pytest

from benchmarks.language_detection import SETS, load_lines
from engine.language import (
    SERVED,
    SUPPORTED,
    detect_language,
    is_in_language,
    language_code,
    language_label,
    language_text,
    script_language,
)
from engine.language_names import target_language


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("stp lis ça", "fr"),
        ("Lis le texte de cette image à voix haute", "fr"),
        ("xfa", "es"),
        ("¿qué dice?", "es"),
        ("Lee el texto de esta imagen en voz alta", "es"),
        ("读一下", "zh"),
        ("请把这张图片里的文字读出来", "zh"),
        ("read this out loud pls", "en"),
        ("これ読んで", "ja"),
        ("이거 읽어줘", "ko"),
        ("прочитай это вслух", "ru"),
        ("اقرأ هذا بصوت عال", "ar"),
        ("lies das bitte vor", "de"),
        ("leggi questo ad alta voce", "it"),
        ("lê isso em voz alta", "pt"),
    ],
)
def test_short_chat_messages(text: str, lang: str) -> None:
    guess = detect_language(text)
    assert guess.code == lang
    assert 0 < guess.confidence <= 1


def test_nothing_to_judge_is_undetermined() -> None:
    for text in ("", "12345", "note.png", "https://example.com/a.png", "<@123> 42", "🙂👍"):
        guess = detect_language(text)
        assert guess.code == "und" and not guess.known, text


def test_what_says_nothing_of_the_language_is_set_aside() -> None:
    assert language_text("lis note.png stp https://x.org/a 42") == "lis stp"
    # quoted text is content, not the request's language, unless nothing else is left
    assert language_text('traduis "good morning" en anglais') == "traduis en anglais"
    assert language_text('"good morning"') == '"good morning"'
    assert detect_language('traduis "good morning, how are you today" en espagnol').code == "fr"


def test_scripts_decide_alone() -> None:
    assert script_language("完璧").code == "zh"  # kanji alone cannot be told from Chinese
    assert script_language("東京に行きます").code == "ja"  # kana makes the Han characters Japanese
    assert script_language("读一下 note").code == "zh"  # one Han character weighs about a word
    assert script_language("translate 你好 into English please") is None  # Latin outweighs it
    assert script_language("hello") is None


def test_candidates_narrow_the_latin_choice() -> None:
    assert detect_language("lee la nota", candidates={"en", "es"}).code == "es"
    assert detect_language("读一下", candidates={"en", "es"}).code == "zh"


def test_served_languages_are_detected() -> None:
    assert set(SERVED) <= set(SUPPORTED)


@pytest.mark.parametrize("name", sorted(SETS))
def test_the_benchmark_lines_stay_mostly_right(name: str) -> None:
    """A floor well under the measured accuracy (benchmarks/README.md), against regressions."""
    rows = load_lines(SETS[name])
    right = sum(detect_language(text).code == lang for lang, text in rows)
    assert right / len(rows) >= 0.9


def test_reply_language_check() -> None:
    french = "Terminé. Voici ce que j'ai fait : j'ai lu \"Buy milk\" dans note.png et je l'ai lu à voix haute (2.5 s)."
    assert is_in_language(french, "fr")
    assert not is_in_language(french, "en")
    assert is_in_language("完成。我做了以下这些：读取了 note.png 里的文字 “Hello world”。", "zh")
    assert not is_in_language("Done. Here is what I did: read the text in note.png.", "zh")
    assert is_in_language('Hecho. Esto es lo que hice:\n- #1 image-to-text: "Meeting at 3 pm"', "es")
    digest = 'Terminé. Voici ce que j\'ai fait :\n- #1 image-to-text avec builtin/tesseract-ocr : "Buy milk"'
    assert is_in_language(digest, "fr")  # task names and model ids are not English words
    assert is_in_language("上限为 25 MB（limits.max_attachment_mb），请发送更小的文件。", "zh")
    assert is_in_language("note.png 42", "fr")  # nothing to judge: passes
    assert is_in_language("Terminé.", "French")  # names are accepted for the language


def test_language_names_and_codes() -> None:
    for name in ("French", "français", "francés", "法语", "fra", "fr-FR", "FR"):
        assert language_code(name) == "fr", name
    assert language_code("zh-Hans") == "zh"
    assert language_code("Klingon") is None
    assert language_label("es") == "Spanish"


@pytest.mark.parametrize(
    ("request_text", "target"),
    [
        ("please translate this into English", "en"),
        ("traduis ça en anglais", "en"),
        ("tradúcelo al inglés", "en"),
        ("把这个翻译成英文", "en"),
        ("переведи на английский", "en"),
        ("translate this French note into Spanish", "es"),
        ("translate it", None),
    ],
)
def test_translation_targets_in_requests(request_text: str, target: str | None) -> None:
    assert target_language({}, request_text) == target


def test_a_plan_argument_wins_over_the_request() -> None:
    assert target_language({"tgt_lang": "es"}, "into English") == "es"
    assert target_language({"target_language": "Chinese"}, "") == "zh"

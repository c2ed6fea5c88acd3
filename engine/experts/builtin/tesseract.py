"""OCR with Tesseract 5 through pytesseract: reads printed text in images and scans.

Which language data to read with: when the plan or the request says which language
the text is in, that language (plus English, for the names and numbers mixed into
most notes); otherwise all the installed Latin-script languages in one pass
(English, French, Spanish), and Chinese when that reading is poor. "Poor" is a low
mean word confidence or few letters: Latin models reading Chinese characters produce
confident-looking nothing, never high confidence. The other reading is also tried
when a hinted reading is poor (a Chinese note sent with an English request), and the
more confident one is kept. A Latin reading made with no hint is then checked: when
its text is confidently French or Spanish (or another installed language), the note is
read again with that language first, since Tesseract's first language wins the close
calls ("a" or "à", "cafe" or "café"). benchmarks/ocr_languages.py compares these choices.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import mean
from typing import Any

from engine import messages
from engine.errors import ExpertError, ExpertTimeout
from engine.experts.base import Availability, RunContext
from engine.experts.builtin.base import BuiltinTool
from engine.experts.builtin.draw import open_rgb
from engine.experts.builtin.language import input_language
from engine.experts.builtin.resources import path_arg
from engine.language import detect_language
from engine.types import Resource, Task

NO_TEXT = messages.OCR_NO_TEXT
_MIN_SIDE = 600  # smaller images are upscaled when their lines cannot be measured
_MIN_LINE = 32  # px: lines of text lower than this are upscaled to it (Chinese needs more than Latin)
TESSERACT_CODES = {
    "en": "eng",
    "fr": "fra",
    "es": "spa",
    "zh": "chi_sim",
    "de": "deu",
    "it": "ita",
    "pt": "por",
    "ja": "jpn",
    "ko": "kor",
    "ru": "rus",
    "ar": "ara",
}
LATIN_DEFAULT = ("eng", "fra", "spa")  # read together when nothing names the language
CJK = {"chi_sim", "jpn", "kor"}
_GOOD_CONFIDENCE = 60.0
_GOOD_LETTERS = 0.5
_TRUSTED_GUESS = 0.6  # detected language of an unhinted reading trusted for a second pass
_CJK_GAP = re.compile(
    r"(?<=[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]) (?=[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af])"
)


def upscale_factor(image: Any) -> float:
    """How much to enlarge a greyscale image so its text lines are tall enough.

    Line height is measured from the rows holding dark pixels; when that finds no
    separate lines (a photo with shadows, a single dark block), a small image is
    enlarged to ``_MIN_SIDE`` as before. Enlarging text that is already big hurts:
    Chinese read at three times its size comes out as noise."""
    import numpy as np

    ink: np.ndarray = np.asarray(image) < 128
    rows: list[bool] = np.any(ink, axis=1).tolist()
    runs: list[int] = []
    height = 0
    for has_ink in rows:
        if has_ink:
            height += 1
        elif height:
            runs.append(height)
            height = 0
    if height:
        runs.append(height)
    runs = [r for r in runs if r >= 4]  # specks and rules are not lines
    if runs and max(runs) < 0.8 * len(rows):
        line = sorted(runs)[len(runs) // 2]
        return _MIN_LINE / line if line < _MIN_LINE else 1.0
    return _MIN_SIDE / min(image.size) if min(image.size) < _MIN_SIDE else 1.0


@dataclass(frozen=True)
class Reading:
    langs: str
    text: str
    confidence: float  # mean word confidence, 0-100
    letters: float  # share of letters among the characters read

    @property
    def good(self) -> bool:
        return self.confidence >= _GOOD_CONFIDENCE and self.letters >= _GOOD_LETTERS


class TesseractOCR(BuiltinTool):
    tool_id = "builtin/tesseract-ocr"
    task = "image-to-text"
    description = (
        "Tesseract OCR: reads the printed text in an image, screenshot or scanned document "
        "(English, French, Spanish, Chinese and any other installed language). Does not describe pictures."
    )
    licence = "apache-2.0"
    priority = 1  # first for image-to-text: a request to read an image means its text

    def __init__(self) -> None:
        self._installed: frozenset[str] | None = None
        self._lock = threading.Lock()

    def available(self) -> Availability:
        if shutil.which("tesseract") is None:
            return Availability(
                False, "install Tesseract (Debian: apt-get install tesseract-ocr tesseract-ocr-eng)"
            )
        if importlib.util.find_spec("pytesseract") is None:
            return Availability(False, "install the pytesseract package (pip install pytesseract)")
        if "eng" not in self.installed_languages():
            return Availability(
                False, "install Tesseract's English data (Debian: apt-get install tesseract-ocr-eng)"
            )
        return Availability(True)

    def installed_languages(self) -> frozenset[str]:
        """Tesseract's language data files here (``tesseract --list-langs``), read once."""
        with self._lock:
            if self._installed is None:
                try:
                    out = subprocess.run(
                        ["tesseract", "--list-langs"], capture_output=True, text=True, timeout=10
                    ).stdout
                except (OSError, subprocess.TimeoutExpired):
                    out = ""
                self._installed = frozenset(line.strip() for line in out.splitlines()[1:] if line.strip())
            return self._installed

    def readings(self, hint: str | None) -> list[str]:
        """Language sets to try in order: the hinted one first, then the other script."""
        installed = self.installed_languages()
        latin = "+".join(code for code in LATIN_DEFAULT if code in installed) or "eng"
        chinese = "chi_sim+eng" if "chi_sim" in installed else None
        wanted = TESSERACT_CODES.get(hint or "")
        if wanted is None or wanted not in installed:
            return [latin, chinese] if chinese else [latin]
        first = wanted if wanted == "eng" else f"{wanted}+eng"
        other = latin if wanted in CJK else chinese
        return [first, other] if other and other != first else [first]

    def run(self, task: Task, inputs: Mapping[str, Resource], ctx: RunContext) -> Sequence[Resource]:
        image = open_rgb(path_arg(inputs, "image")).convert("L")
        scale = upscale_factor(image)
        if scale > 1:
            image = image.resize((round(image.width * scale), round(image.height * scale)))
        best = self.read(image, input_language(task.args, ctx), ctx.timeout)
        if not best.text:
            # a failure, not an answer: the scheduler then tries the next image-to-text expert
            # (offline: naming what the photo shows), and the user hears why if none is left
            raise ExpertError(NO_TEXT)
        return [Resource(kind="text", text=best.text, data={"languages": best.langs})]

    def read(self, image: Any, hint: str | None, timeout: float) -> Reading:
        """The best reading of a greyscale image, following ``hint`` when there is one."""
        best: Reading | None = None
        for langs in self.readings(hint):
            reading = self._read(image, langs, timeout)
            if best is None or reading.confidence > best.confidence:
                best = reading
            if reading.good:
                break
        assert best is not None  # readings() always yields at least one language set
        if hint is None and best.good and "+" in best.langs and not CJK & set(best.langs.split("+")):
            guess = detect_language(best.text)
            code = TESSERACT_CODES.get(guess.code)
            if (
                guess.confidence >= _TRUSTED_GUESS
                and code
                and code != "eng"
                and code in self.installed_languages()
            ):
                return self._read(image, f"{code}+eng", timeout)
        return best

    @staticmethod
    def _read(image: Any, langs: str, timeout: float) -> Reading:
        """Tesseract's text (by lines), mean word confidence and share of letters."""
        import pytesseract

        try:
            data = pytesseract.image_to_data(
                image, lang=langs, timeout=timeout, output_type=pytesseract.Output.DICT
            )
        except RuntimeError as exc:  # pytesseract's timeout
            raise ExpertTimeout(f"tesseract ran past {timeout:.0f} s") from exc
        except pytesseract.TesseractError as exc:
            raise ExpertError(f"tesseract failed: {exc.message}") from exc
        lines: dict[tuple[int, int, int], list[str]] = {}
        confidences: list[float] = []
        for i, word in enumerate(data["text"]):
            word = word.strip()
            if not word:
                continue
            key = (data["block_num"][i], data["par_num"][i], data["line_num"][i])
            lines.setdefault(key, []).append(word)
            confidences.append(float(data["conf"][i]))
        # Tesseract splits Chinese and Japanese into words with spaces the text never had.
        text = "\n".join(_CJK_GAP.sub("", " ".join(words)) for words in lines.values())
        chars = "".join(ch for ch in text if not ch.isspace())
        letters = sum(ch.isalpha() for ch in chars) / len(chars) if chars else 0.0
        return Reading(langs, text, mean(confidences) if confidences else 0.0, letters)

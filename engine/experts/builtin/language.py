"""English-or-Spanish guessing for translation and speech: stop-word counts, no model.

Only the two languages the offline tools cover are told apart; anything else counts
as English (the tools' default).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal

Lang = Literal["en", "es"]

_EN = set(
    "the a an and or of to in on is are was were be been it this that with for from at by "
    "you i he she we they my your his her our their not do does did have has had what who "
    "how where when why there here hello please thank thanks".split()
)
_ES = set(
    "el la los las un una unos unas y o de del al en es son era fue ser está están que con "
    "por para como pero no sí yo tú él ella nosotros ellos mi tu su se lo le muy más hola "
    "gracias qué quién dónde cuándo porque hay".split()
)
_NAMES: dict[str, Lang] = {
    "en": "en",
    "eng": "en",
    "english": "en",
    "inglés": "en",
    "ingles": "en",
    "es": "es",
    "spa": "es",
    "spanish": "es",
    "español": "es",
    "espanol": "es",
    "castellano": "es",
}
_HINT_KEYS = ("tgt_lang", "target_lang", "target_language", "target", "language", "lang", "to")
_TO_LANG = re.compile(
    r"\b(?:to|into|in|al|a)\s+(english|spanish|inglés|ingles|español|espanol|castellano)\b", re.I
)


def guess_language(text: str) -> Lang:
    words = re.findall(r"[a-záéíóúüñ¿¡]+", text.lower())
    en = sum(w in _EN for w in words)
    es = sum(w in _ES for w in words) + 2 * sum(ch in "ñ¿¡áéíóú" for ch in text.lower())
    return "es" if es > en else "en"


def language_name(value: str) -> Lang | None:
    """ "Spanish", "es", "español" -> "es"; None when it names neither language."""
    return _NAMES.get(value.strip().lower())


def target_hint(args: Mapping[str, str], request_text: str) -> Lang | None:
    """The target language a plan argument or the request names ("... into Spanish")."""
    for key in _HINT_KEYS:
        value = args.get(key)
        if isinstance(value, str) and (lang := language_name(value)):
            return lang
    found = _TO_LANG.findall(request_text)
    if found:
        return language_name(found[-1])
    return None

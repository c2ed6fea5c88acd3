"""The bot's messages in the user's language: gettext catalogues, English msgids.

The msgids are the English texts in ``engine.messages``; translations live in
``engine/locale/<lang>/LC_MESSAGES/hugginggpt_bot.po`` (Chinese, French and Spanish
today), read directly, so there is no compiled file to forget: each ``.po`` is parsed
with Babel once, on first use, turned into an in-memory ``.mo`` and served by the
standard library's ``gettext.GNUTranslations`` (plural rules from the catalogue's
``Plural-Forms`` header). A message with no translation, and a language with no
catalogue, come out in English. A translation that breaks its placeholders (caught
by tests/test_i18n.py, but a catalogue may be edited by hand) falls back to English
rather than failing the reply. Workflow: engine/locale/README.md.
"""

from __future__ import annotations

import gettext
import io
import logging
import threading
from pathlib import Path

from engine.language import detect_language, language_code
from engine.messages import Plural

log = logging.getLogger(__name__)

DOMAIN = "hugginggpt_bot"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
SOURCE_LANGUAGE = "en"

__all__ = ["DOMAIN", "LOCALE_DIR", "Catalogues", "Messages", "messages", "messages_for", "translate"]


class Catalogues:
    """The catalogues of one locale folder, each loaded once, thread-safe."""

    def __init__(self, locale_dir: Path = LOCALE_DIR, domain: str = DOMAIN) -> None:
        self.locale_dir = locale_dir
        self.domain = domain
        self._loaded: dict[str, gettext.NullTranslations] = {}
        self._lock = threading.Lock()

    def languages(self) -> list[str]:
        """The source language and every language with a catalogue, sorted."""
        found = {p.parent.parent.name for p in self.locale_dir.glob(f"*/LC_MESSAGES/{self.domain}.po")}
        return sorted(found | {SOURCE_LANGUAGE})

    def po_path(self, lang: str) -> Path:
        return self.locale_dir / lang / "LC_MESSAGES" / f"{self.domain}.po"

    def get(self, lang: str | None) -> gettext.NullTranslations:
        code = _normalise(lang)
        with self._lock:
            if code not in self._loaded:
                self._loaded[code] = self._load(code)
            return self._loaded[code]

    def _load(self, code: str) -> gettext.NullTranslations:
        path = self.po_path(code)
        if code == SOURCE_LANGUAGE or not path.is_file():
            return gettext.NullTranslations()
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po

        with path.open("rb") as po:
            catalog = read_po(po, locale=code, domain=self.domain)
        buffer = io.BytesIO()
        write_mo(buffer, catalog, use_fuzzy=False)
        buffer.seek(0)
        return gettext.GNUTranslations(buffer)


def _normalise(lang: str | None) -> str:
    """ "fr-CA", "fr_FR", "French" -> "fr"; None or unknown -> the source language."""
    if not lang:
        return SOURCE_LANGUAGE
    return language_code(lang) or SOURCE_LANGUAGE


_DEFAULT = Catalogues()


class Messages:
    """The messages of one language: ``m(MSG, **params)``, ``m.plural(MSG, n, **params)``."""

    def __init__(self, lang: str | None, catalogues: Catalogues | None = None) -> None:
        self.lang = _normalise(lang)
        self._translations = (catalogues or _DEFAULT).get(self.lang)

    def __call__(self, msgid: str, **params: object) -> str:
        return _format(self._translations.gettext(msgid), msgid, self.lang, params)

    def plural(self, message: Plural, n: int, **params: object) -> str:
        """The form of ``message`` for the count ``n`` (also passed as ``{count}``)."""
        params.setdefault("count", n)
        english = message.singular if n == 1 else message.plural
        return _format(
            self._translations.ngettext(message.singular, message.plural, n), english, self.lang, params
        )


def _format(text: str, english: str, lang: str, params: dict[str, object]) -> str:
    try:
        return text.format(**params)
    except (KeyError, IndexError, ValueError):
        if text == english:
            raise  # the English message itself does not fit its parameters: a bug at the call site
        log.warning("the %s translation of %r does not fit its parameters; using English", lang, english)
        return english.format(**params)


def messages(lang: str | None) -> Messages:
    """The messages in ``lang`` (an ISO 639-1 code, a locale such as "fr-CA", or a name)."""
    return Messages(lang)


def messages_for(request_text: str) -> Messages:
    """The messages in the language the request is written in (English when unsure)."""
    guess = detect_language(request_text)
    return Messages(guess.code if guess.known and guess.confidence >= 0.5 else None)


def translate(lang: str | None, msgid: str, **params: object) -> str:
    """``msgid`` in ``lang``, placeholders filled: ``translate("fr", EMPTY_REQUEST)``."""
    return Messages(lang)(msgid, **params)

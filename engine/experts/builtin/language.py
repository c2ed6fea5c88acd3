"""Which language an offline tool should work in: a plan argument, the caller's hint,
or the request's own language, in that order.

Detection itself lives in ``engine.language`` (one source for the whole engine); this
module only decides which evidence a tool trusts. A plan argument names the language
of the *input* (``language``, ``src_lang``...); ``RunContext.language`` is the language
the caller knows the user writes in; failing both, the request text is detected, and
trusted only when the guess is confident, since a request such as "ok" says little.
"""

from __future__ import annotations

from collections.abc import Mapping

from engine.experts.base import RunContext
from engine.language import detect_language, language_code

SOURCE_KEYS = ("language", "lang", "src_lang", "source_lang", "source_language")
_TRUSTED = 0.6  # a request's guess below this confidence is not used as a hint


def argument_language(args: Mapping[str, object], keys: tuple[str, ...] = SOURCE_KEYS) -> str | None:
    """The language a plan argument names ("French", "fr", "fra"), if any."""
    for key in keys:
        value = args.get(key)
        if isinstance(value, str) and (code := language_code(value)):
            return code
    return None


def request_language(ctx: RunContext) -> str | None:
    """The language the user writes in: the caller's hint, else a confident guess."""
    if ctx.language and (code := language_code(ctx.language)):
        return code
    if ctx.request_text.strip():
        guess = detect_language(ctx.request_text)
        if guess.known and guess.confidence >= _TRUSTED:
            return guess.code
    return None


def input_language(args: Mapping[str, object], ctx: RunContext) -> str | None:
    """The language a tool should expect its input in, when anything says so."""
    return argument_language(args) or request_language(ctx)

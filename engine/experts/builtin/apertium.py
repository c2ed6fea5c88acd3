"""Rule-based translation with Apertium, over the language pairs installed here.

The pairs are read from ``apertium -l`` (Debian packages ``apertium-eng-spa``,
``apertium-fr-es``, ``apertium-es-pt``, ``apertium-spa-ita``...), so installing a pair
is all it takes to use it. Where no pair joins two languages directly, one pivot
language that both reach is used (French -> Spanish -> English). A pair that no
route covers (anything to or from Chinese, offline) is an ``ExpertUnavailable``
naming what to configure, so the scheduler tries the next candidate and the reply
says why.

The source is the text's detected language (or a plan argument); the target comes
from a plan argument (``tgt_lang``) or the request ("into Spanish", "en anglais"),
else it is the user's language when the text is in another one, else English for
non-English text and Spanish for English text.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections.abc import Mapping, Sequence

from engine import messages
from engine.errors import ExpertError, ExpertUnavailable
from engine.experts.base import Availability, RunContext
from engine.experts.builtin.base import BuiltinTool
from engine.experts.builtin.language import argument_language, request_language
from engine.experts.builtin.resources import run_program, text_arg
from engine.language import detect_language, language_code, language_label
from engine.language_names import target_language
from engine.types import Resource, Task


def parse_modes(listing: str) -> dict[tuple[str, str], str]:
    """``apertium -l`` output -> {(source, target) ISO 639-1 codes: mode name}.

    Modes come as ``eng-spa``, ``fr-es`` or ``spa-eng_US``; variants (``_US``) and modes
    that are not plain language pairs (``eco-es-fr``) are skipped."""
    pairs: dict[tuple[str, str], str] = {}
    for mode in listing.split():
        parts = mode.split("-")
        if len(parts) != 2 or "_" in mode:
            continue
        source, target = (language_code(p) for p in parts)
        if source and target and source != target:
            pairs.setdefault((source, target), mode)
    return pairs


def route(pairs: Mapping[tuple[str, str], str], source: str, target: str) -> list[str] | None:
    """Apertium modes taking ``source`` to ``target``: direct, or through one pivot."""
    if (source, target) in pairs:
        return [pairs[(source, target)]]
    for (a, pivot), first in sorted(pairs.items()):
        if a == source and (pivot, target) in pairs:
            return [first, pairs[(pivot, target)]]
    return None


class ApertiumTranslate(BuiltinTool):
    tool_id = "builtin/apertium"
    task = "translation"
    description = (
        "Apertium: rule-based offline translation between the installed pairs "
        "(English, Spanish, French, Portuguese, Italian, Catalan...); no Chinese."
    )
    licence = "gpl-3.0"

    def __init__(self) -> None:
        self._pairs: dict[tuple[str, str], str] | None = None
        self._lock = threading.Lock()

    def pairs(self) -> dict[tuple[str, str], str]:
        with self._lock:
            if self._pairs is None:
                try:
                    listing = subprocess.run(
                        ["apertium", "-l"], capture_output=True, text=True, timeout=10
                    ).stdout
                except (OSError, subprocess.TimeoutExpired):
                    listing = ""
                self._pairs = parse_modes(listing)
            return self._pairs

    def available(self) -> Availability:
        if shutil.which("apertium") is None:
            return Availability(False, "install Apertium (Debian: apt-get install apertium apertium-eng-spa)")
        if not self.pairs():
            return Availability(
                False, "install an Apertium language pair (Debian: apt-get install apertium-eng-spa)"
            )
        return Availability(True)

    def run(self, task: Task, inputs: Mapping[str, Resource], ctx: RunContext) -> Sequence[Resource]:
        text = text_arg(inputs).strip()
        if not text:
            raise ExpertError("nothing to translate: the text is empty")
        source = argument_language(task.args, ("src_lang", "source_lang", "source_language"))
        if source is None:
            guess = detect_language(text)
            source = guess.code if guess.known else "en"
        # An explicit hint wins over the guess: short texts are easy to misjudge.
        target = target_language(task.args, ctx.request_text) or _default_target(
            source, request_language(ctx)
        )
        if target == source:
            return [Resource(kind="text", text=text, data={"source": source, "target": target})]
        modes = route(self.pairs(), source, target)
        if modes is None:
            raise ExpertUnavailable(
                messages.TRANSLATION_NO_PAIR.format(
                    source=language_label(source),
                    target=language_label(target),
                    pairs=_pair_list(self.pairs()),
                )
            )
        for mode in modes:  # -u: no "*" marks on unknown words
            text = run_program(["apertium", "-u", mode], stdin=text, timeout=ctx.timeout).strip()
        return [Resource(kind="text", text=text, data={"source": source, "target": target})]


def _default_target(source: str, user: str | None) -> str:
    if user and user != source:
        return user  # a French user sends an English text: they want it in French
    return "es" if source == "en" else "en"


def _pair_list(pairs: Mapping[tuple[str, str], str]) -> str:
    def name(pair: tuple[str, ...]) -> str:
        return (" <-> " if pair[::-1] in pairs else " -> ").join(language_label(c) for c in pair)

    shown = sorted({name(tuple(sorted(p))) if p[::-1] in pairs else name(p) for p in pairs})
    return ", ".join(shown) if shown else "no pairs"

"""Rule-based English <-> Spanish translation with Apertium.

The direction comes from a target-language hint (a plan argument such as
``tgt_lang``, or "into Spanish" in the request) and otherwise from the text itself:
Spanish text goes to English, anything else to Spanish.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping, Sequence

from engine.errors import ExpertError
from engine.experts.base import Availability, RunContext
from engine.experts.builtin.base import BuiltinTool
from engine.experts.builtin.language import guess_language, target_hint
from engine.experts.builtin.resources import run_program, text_arg
from engine.types import Resource, Task

PAIRS = {"es": "eng-spa", "en": "spa-eng"}  # target language -> Apertium mode


class ApertiumTranslate(BuiltinTool):
    tool_id = "builtin/apertium-en-es"
    task = "translation"
    description = "Apertium: translates between English and Spanish only (rule-based, offline)."
    licence = "gpl-3.0"

    def available(self) -> Availability:
        if shutil.which("apertium") is None:
            return Availability(False, "install Apertium (Debian: apt-get install apertium apertium-eng-spa)")
        try:
            modes = subprocess.run(
                ["apertium", "-l"], capture_output=True, text=True, timeout=10
            ).stdout.split()
        except (OSError, subprocess.TimeoutExpired) as exc:
            return Availability(False, f"apertium does not run: {exc}")
        missing = [m for m in PAIRS.values() if m not in modes]
        if missing:
            return Availability(
                False, f"install the Apertium pair apertium-eng-spa (missing {', '.join(missing)})"
            )
        return Availability(True)

    def run(self, task: Task, inputs: Mapping[str, Resource], ctx: RunContext) -> Sequence[Resource]:
        text = text_arg(inputs).strip()
        if not text:
            raise ExpertError("nothing to translate: the text is empty")
        # An explicit hint wins over the guess: short texts are easy to misjudge.
        target = target_hint(task.args, ctx.request_text) or ("en" if guess_language(text) == "es" else "es")
        # -u: no "*" marks on unknown words.
        out = run_program(["apertium", "-u", PAIRS[target]], stdin=text, timeout=ctx.timeout)
        return [Resource(kind="text", text=out.strip())]

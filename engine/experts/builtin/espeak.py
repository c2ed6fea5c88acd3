"""Text-to-speech with eSpeak NG: robotic but instant, English or Spanish voice."""

from __future__ import annotations

import shutil
import wave
from collections.abc import Mapping, Sequence

from engine.errors import ExpertError
from engine.experts.base import Availability, RunContext
from engine.experts.builtin.base import BuiltinTool
from engine.experts.builtin.language import guess_language, language_name
from engine.experts.builtin.resources import run_program, text_arg
from engine.types import Resource, Task

MAX_CHARS = 5000  # about five minutes of speech


class EspeakTTS(BuiltinTool):
    tool_id = "builtin/espeak-ng"
    task = "text-to-speech"
    description = "eSpeak NG: speaks English or Spanish text aloud as a WAV file (synthetic voice, instant)."
    licence = "gpl-3.0"

    def available(self) -> Availability:
        if shutil.which("espeak-ng") is None:
            return Availability(False, "install eSpeak NG (Debian: apt-get install espeak-ng)")
        return Availability(True)

    def run(self, task: Task, inputs: Mapping[str, Resource], ctx: RunContext) -> Sequence[Resource]:
        text = " ".join(text_arg(inputs).split())
        if not text:
            raise ExpertError("nothing to say: the text is empty")
        text = text[:MAX_CHARS]
        hint = task.args.get("language") or task.args.get("lang") or ""
        voice = language_name(hint) if isinstance(hint, str) and hint else None
        voice = voice or guess_language(text)
        out = ctx.new_path(task.id, ".wav")
        # Text goes in on stdin so a leading "-" is never read as an option.
        run_program(["espeak-ng", "-v", voice, "-w", str(out), "--stdin"], stdin=text, timeout=ctx.timeout)
        with wave.open(str(out)) as wav:
            seconds = wav.getnframes() / wav.getframerate()
        if seconds <= 0:
            raise ExpertError("espeak-ng wrote an empty audio file")
        return [Resource(kind="audio", path=out, mime="audio/wav", text=f"speech, {seconds:.1f} s")]

"""Text-to-speech with eSpeak NG: robotic but instant, in the voice of the text's language.

The voice follows the text itself (detected with ``engine.language``), since the
text to speak is often not in the request's language ("read this French note
aloud"); a plan argument (``language``) overrides it, and the request's language
decides only when the text says nothing (names, numbers). Mandarin uses the
``cmn-latn-pinyin`` voice where it exists: eSpeak NG 1.51's plain ``cmn`` voice reads
the pinyin its dictionary produces with English letter names and digits.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import wave
from collections.abc import Mapping, Sequence

from engine import messages
from engine.errors import ExpertError, ExpertUnavailable
from engine.experts.base import Availability, RunContext
from engine.experts.builtin.base import BuiltinTool
from engine.experts.builtin.language import argument_language, request_language
from engine.experts.builtin.resources import run_program, text_arg
from engine.language import detect_language, language_label
from engine.types import Resource, Task

MAX_CHARS = 5000  # about five minutes of speech
# language -> eSpeak NG voices to try, best first
VOICES = {
    "en": ("en",),
    "fr": ("fr", "fr-fr"),
    "es": ("es",),
    "zh": ("cmn-latn-pinyin", "cmn", "zh"),
    "de": ("de",),
    "it": ("it",),
    "pt": ("pt-br", "pt"),
    "ja": ("ja",),
    "ko": ("ko",),
    "ru": ("ru",),
    "ar": ("ar",),
    "el": ("el",),
    "he": ("he",),
    "th": ("th",),
    "hi": ("hi",),
}


class EspeakTTS(BuiltinTool):
    tool_id = "builtin/espeak-ng"
    task = "text-to-speech"
    description = (
        "eSpeak NG: speaks text aloud as a WAV file in the voice of its language "
        "(English, French, Spanish, Mandarin Chinese and more; synthetic voice, instant)."
    )
    licence = "gpl-3.0"

    def __init__(self) -> None:
        self._voices: frozenset[str] | None = None
        self._lock = threading.Lock()

    def available(self) -> Availability:
        if shutil.which("espeak-ng") is None:
            return Availability(False, "install eSpeak NG (Debian: apt-get install espeak-ng)")
        return Availability(True)

    def installed_voices(self) -> frozenset[str]:
        """Voice names eSpeak NG lists here (``espeak-ng --voices``), read once."""
        with self._lock:
            if self._voices is None:
                try:
                    out = subprocess.run(
                        ["espeak-ng", "--voices"], capture_output=True, text=True, timeout=10
                    ).stdout
                except (OSError, subprocess.TimeoutExpired):
                    out = ""
                names = {"en"}  # always there: the default voice
                for line in out.splitlines()[1:]:
                    fields = line.split()
                    if len(fields) >= 5:
                        names.add(fields[1].lower())  # the language code column
                        names.add(fields[4].rsplit("/", 1)[-1].lower())  # the voice file
                self._voices = frozenset(names)
            return self._voices

    def voice_for(self, text: str, task: Task, ctx: RunContext) -> tuple[str, str]:
        """(language, eSpeak NG voice) for speaking ``text``."""
        lang = argument_language(task.args)
        if lang is None:
            guess = detect_language(text)
            lang = guess.code if guess.known else (request_language(ctx) or "en")
        installed = self.installed_voices()
        for voice in VOICES.get(lang, (lang,)):
            if voice in installed:
                return lang, voice
        raise ExpertUnavailable(messages.TTS_NO_VOICE.format(language=language_label(lang)))

    def run(self, task: Task, inputs: Mapping[str, Resource], ctx: RunContext) -> Sequence[Resource]:
        text = " ".join(text_arg(inputs).split())
        if not text:
            raise ExpertError("nothing to say: the text is empty")
        text = text[:MAX_CHARS]
        lang, voice = self.voice_for(text, task, ctx)
        out = ctx.new_path(task.id, ".wav")
        # Text goes in on stdin so a leading "-" is never read as an option.
        run_program(["espeak-ng", "-v", voice, "-w", str(out), "--stdin"], stdin=text, timeout=ctx.timeout)
        with wave.open(str(out)) as wav:
            seconds = wav.getnframes() / wav.getframerate()
        if seconds <= 0:
            raise ExpertError("espeak-ng wrote an empty audio file")
        return [
            Resource(
                kind="audio",
                path=out,
                mime="audio/wav",
                text=messages.TTS_SPEECH_NOTE.format(seconds=f"{seconds:.1f}"),
                data={"language": lang, "voice": voice},
            )
        ]

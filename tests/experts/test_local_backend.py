"""The local backend's machinery (cache, device gate, availability, error translation)
with small scripted runners: no model files, no hub."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from engine.errors import ConfigError, ExpertError, ExpertUnavailable  # noqa: E402
from engine.experts.base import RunContext  # noqa: E402
from engine.experts.local import LocalBackend, Runner  # noqa: E402
from engine.experts.local.backend import default_runners  # noqa: E402
from engine.experts.local.cache import ModelCache, estimate_bytes  # noqa: E402
from engine.experts.local.device import resolve_device  # noqa: E402
from engine.tasks import TASK_SPECS  # noqa: E402
from engine.types import ModelCard, Resource, Task  # noqa: E402


def linear(n: int) -> Any:
    return torch.nn.Linear(n, n, bias=False)  # n*n float32 = 4*n*n bytes


class Echo(Runner):
    """text-classification that echoes its input, with a scripted load and delay."""

    task = "text-classification"
    reads = ("text",)
    outputs = ("text", "json")

    def __init__(
        self,
        size: int = 8,
        delay: float = 0.0,
        fail: BaseException | None = None,
        load_error: BaseException | None = None,
    ) -> None:
        self.size, self.delay, self.fail, self.load_error = size, delay, fail, load_error
        self.loads: list[str] = []
        self.active = 0
        self.peak = 0
        self._lock = threading.Lock()

    def load(self, spec):
        if self.load_error is not None:
            raise self.load_error
        self.loads.append(spec.source)
        return linear(self.size)

    def run(self, model, task, inputs, ctx, options):
        with self._lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
        try:
            time.sleep(self.delay)
            if self.fail is not None:
                raise self.fail
            return [Resource(kind="text", text=inputs["text"].text or ""), Resource(kind="json", data={})]
        finally:
            with self._lock:
                self.active -= 1


def card(model_id: str = "org/echo", task: str = "text-classification") -> ModelCard:
    return ModelCard(id=model_id, task=task, backend="local")


@pytest.fixture
def models_dir(tmp_path: Path) -> Path:
    for name in ("org/echo", "org/other"):
        (tmp_path / "models" / name).mkdir(parents=True)
    return tmp_path / "models"


def backend_with(runner: Runner, models_dir: Path, **kw: Any) -> LocalBackend:
    return LocalBackend(device="cpu", models_dir=models_dir, offline=True, runners=[runner], **kw)


async def run(backend: LocalBackend, tmp_path: Path, model_id: str = "org/echo", value: str = "hi"):
    return await backend.run(
        card(model_id),
        Task(1, "text-classification", {}),
        {"text": Resource(kind="text", text=value)},
        RunContext(output_dir=tmp_path),
    )


def test_every_default_runner_matches_the_task_table() -> None:
    runners = default_runners()
    expected = {
        "text-classification",
        "token-classification",
        "text2text-generation",
        "summarization",
        "translation",
        "question-answering",
        "text-generation",
        "sentence-similarity",
        "image-to-text",
        "image-classification",
        "object-detection",
        "image-segmentation",
        "depth-estimation",
        "visual-question-answering",
        "document-question-answering",
        "automatic-speech-recognition",
        "audio-classification",
        "text-to-speech",
        "text-to-image",
        "image-to-image",
        "text-to-video",
    }
    assert expected <= set(runners)
    for task, runner in runners.items():
        spec = TASK_SPECS[task]
        assert set(runner.outputs) <= set(spec.outputs)
        assert all(name in spec.input_kinds for name in runner.reads)


def test_a_runner_that_disagrees_with_the_task_table_is_refused() -> None:
    with pytest.raises(TypeError, match="returns"):

        class Wrong(Echo):  # noqa: F841
            outputs = ("image",)

    with pytest.raises(TypeError, match="not a task type"):

        class Unknown(Echo):  # noqa: F841
            task = "mind-reading"


def test_cache_evicts_least_recently_used_under_the_budget() -> None:
    cache = ModelCache(budget_mb=1)  # 1 MiB; each 280x280 float32 linear is ~0.3 MiB: three fit
    for key in ("a", "b", "c"):
        cache.get_or_load(key, lambda: linear(280))
    cache.get_or_load("a", lambda: pytest.fail("a is cached"))  # touch a: b is now the oldest
    cache.get_or_load("d", lambda: linear(280))
    assert cache.keys() == ["c", "a", "d"]
    assert cache.used_bytes == 3 * estimate_bytes(linear(280))


def test_cache_refuses_a_model_larger_than_the_budget() -> None:
    cache = ModelCache(budget_mb=1)
    with pytest.raises(ExpertUnavailable, match="memory_budget_mb"):
        cache.get_or_load("huge", lambda: linear(1024))  # 4 MiB
    assert cache.keys() == []


def test_device_choice() -> None:
    assert resolve_device("cpu").name == "cpu" and not resolve_device("cpu").half
    if not torch.cuda.is_available():
        assert resolve_device("auto").name in ("cpu", "mps")
        with pytest.raises(ConfigError, match="experts.local.device"):
            resolve_device("cuda")
    with pytest.raises(ConfigError):
        resolve_device("tpu")


async def test_loads_lazily_once_and_reports_ready(models_dir: Path, tmp_path: Path) -> None:
    runner = Echo()
    backend = backend_with(runner, models_dir)
    assert runner.loads == []
    assert backend.availability(card()).ok and not backend.availability(card()).ready
    out = await asyncio.gather(*(run(backend, tmp_path, value=str(i)) for i in range(3)))
    assert [o[0].text for o in out] == ["0", "1", "2"]
    assert runner.loads == [str(models_dir / "org" / "echo")]
    assert backend.availability(card()).ready
    await backend.aclose()
    assert not backend.availability(card()).ready


async def test_concurrent_runs_are_bounded_per_device(models_dir: Path, tmp_path: Path) -> None:
    runner = Echo(delay=0.1)
    backend = backend_with(runner, models_dir)
    await asyncio.gather(*(run(backend, tmp_path) for _ in range(5)))
    assert runner.peak == backend._gate.slots == 2  # CPU: two at a time; an accelerator: one


def test_availability_offline_and_online(models_dir: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    offline = backend_with(Echo(), models_dir)
    assert offline.availability(card("org/echo")).ok
    av = offline.availability(card("org/absent"))
    assert not av.ok and "hf download org/absent" in av.why and str(models_dir / "org/absent") in av.why
    assert not offline.availability(card("org/echo", "text-to-video")).ok  # no runner given for it
    online = LocalBackend(device="cpu", offline=False, runners=[Echo()])
    av = online.availability(card("org/absent"))
    assert av.ok and not av.ready and "downloaded" in av.why


def test_weights_in_the_hf_cache_count_as_available(tmp_path: Path, monkeypatch) -> None:
    import huggingface_hub.constants as hc

    cache = tmp_path / "hub"
    snapshot = cache / "models--org--cached" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    (cache / "models--org--cached" / "refs").mkdir()
    (cache / "models--org--cached" / "refs" / "main").write_text("abc123")
    monkeypatch.setattr(hc, "HF_HUB_CACHE", str(cache))
    backend = LocalBackend(device="cpu", offline=True, runners=[Echo()])
    assert backend.availability(card("org/cached")).ok
    assert backend._load_spec(card("org/cached")).source == str(snapshot)


async def test_failures_become_expert_errors(models_dir: Path, tmp_path: Path) -> None:
    broken = backend_with(Echo(fail=RuntimeError("shape mismatch")), models_dir)
    with pytest.raises(ExpertError, match="org/echo failed on text-classification: RuntimeError: shape"):
        await run(broken, tmp_path)
    missing = backend_with(Echo(load_error=OSError("no file named config.json")), models_dir)
    with pytest.raises(ExpertUnavailable, match="cannot load org/echo.*config.json"):
        await run(missing, tmp_path)
    with pytest.raises(ExpertUnavailable, match="not on this machine"):
        await run(backend_with(Echo(), models_dir), tmp_path, model_id="org/absent")


async def test_a_cancelled_run_keeps_its_device_slot_until_the_thread_ends(
    models_dir: Path, tmp_path: Path
) -> None:
    runner = Echo(delay=0.3)
    backend = backend_with(runner, models_dir)
    backend._gate.slots = 1
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(run(backend, tmp_path), timeout=0.05)
    started = time.monotonic()
    await run(backend, tmp_path)  # waits for the abandoned inference to finish first
    assert time.monotonic() - started >= 0.2
    assert runner.peak == 1

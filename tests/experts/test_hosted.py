"""The hosted backend against a fake inference server that the real
huggingface_hub.AsyncInferenceClient talks to over HTTP on 127.0.0.1."""

from __future__ import annotations

import time
import wave
from collections.abc import AsyncIterator
from pathlib import Path

import huggingface_hub.constants
import pytest
from PIL import Image

from engine.errors import ExpertError, ExpertUnavailable
from engine.experts.base import RunContext
from engine.experts.hosted import HostedBackend
from engine.types import ModelCard, Resource, Task
from tests.fakes.hf_server import FakeHFServer, Reply, png_bytes, wav_bytes

TOKEN = "hf_fake_token_for_tests"


@pytest.fixture
async def server(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeHFServer]:
    # huggingface_hub refuses every request in offline mode, loopback included.
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    async with FakeHFServer() as fake:
        yield fake


@pytest.fixture
async def backend(server: FakeHFServer) -> AsyncIterator[HostedBackend]:
    hosted = HostedBackend(
        token_env="TEST_HF_TOKEN",
        base_url=server.url,
        max_retries=3,
        max_wait_loading=2.0,
        backoff_base=0.01,
        timeout=10,
        environ={"TEST_HF_TOKEN": TOKEN},
    )
    yield hosted
    await hosted.aclose()


@pytest.fixture
def ctx(tmp_path: Path) -> RunContext:
    return RunContext(output_dir=tmp_path / "out", request_text="test")


def card(model: str, task: str) -> ModelCard:
    return ModelCard(id=model, task=task, backend="hosted")


def text(value: str) -> Resource:
    return Resource(kind="text", text=value)


def image_file(tmp_path: Path) -> Resource:
    path = tmp_path / "in.png"
    path.write_bytes(png_bytes((32, 24)))
    return Resource(kind="image", path=path, name="in.png")


def audio_file(tmp_path: Path) -> Resource:
    path = tmp_path / "in.wav"
    path.write_bytes(wav_bytes())
    return Resource(kind="audio", path=path, name="in.wav")


# ------------------------------------------------------------------ successes


async def test_text_to_image_saves_the_png(
    backend: HostedBackend, server: FakeHFServer, ctx: RunContext
) -> None:
    out = await backend.run(
        card("fake/text-to-image", "text-to-image"),
        Task(2, "text-to-image", {"text": "a red square"}),
        {"text": text("a red square")},
        ctx,
    )
    assert len(out) == 1 and out[0].kind == "image" and out[0].path.name.startswith("task2-")
    with Image.open(out[0].path) as img:
        assert img.format == "PNG" and img.size == (24, 16)
    seen = server.calls("fake/text-to-image")[0]
    assert seen.headers["Authorization"] == f"Bearer {TOKEN}"
    assert b"a red square" in seen.body


async def test_speech_recognition_sends_the_audio(
    backend: HostedBackend, server: FakeHFServer, ctx: RunContext, tmp_path: Path
) -> None:
    audio = audio_file(tmp_path)
    out = await backend.run(
        card("fake/automatic-speech-recognition", "automatic-speech-recognition"),
        Task(1, "automatic-speech-recognition", {}),
        {"audio": audio},
        ctx,
    )
    assert [(o.kind, o.text) for o in out] == [("text", "hello from the fake server")]
    assert server.calls("fake/automatic-speech-recognition")[0].body == audio.path.read_bytes()


async def test_text_classification_labels(backend: HostedBackend, ctx: RunContext) -> None:
    out = await backend.run(
        card("fake/text-classification", "text-classification"),
        Task(1, "text-classification", {}),
        {"text": text("great")},
        ctx,
    )
    assert out[0].kind == "text" and out[0].text.startswith("POSITIVE (0.93)")
    assert out[1].kind == "json" and out[1].data[0] == {"label": "POSITIVE", "score": 0.93}


async def test_object_detection_draws_boxes(backend: HostedBackend, ctx: RunContext, tmp_path: Path) -> None:
    out = await backend.run(
        card("fake/object-detection", "object-detection"),
        Task(3, "object-detection", {}),
        {"image": image_file(tmp_path)},
        ctx,
    )
    assert [o.kind for o in out] == ["image", "text", "json"]
    assert out[1].text == "2 cat, 1 remote" and len(out[2].data) == 3
    with Image.open(out[0].path) as img:
        assert img.size == (32, 24)


async def test_text_to_speech_saves_the_wav(backend: HostedBackend, ctx: RunContext) -> None:
    out = await backend.run(
        card("fake/text-to-speech", "text-to-speech"),
        Task(1, "text-to-speech", {}),
        {"text": text("hello")},
        ctx,
    )
    assert out[0].kind == "audio" and out[0].path.suffix == ".wav"
    with wave.open(str(out[0].path)) as w:
        assert w.getframerate() == 16000


@pytest.mark.parametrize(
    ("task", "inputs", "expected"),
    [
        ("summarization", {"text": "long"}, "a short summary"),
        ("translation", {"text": "hello world"}, "hola mundo"),
        ("image-to-text", {"image": None}, "a red square"),
        ("visual-question-answering", {"image": None, "text": "how many?"}, "two"),
        ("question-answering", {"text": "where?", "context": "Paris is nice"}, "Paris"),
    ],
)
async def test_text_answers(
    backend: HostedBackend, ctx: RunContext, tmp_path: Path, task: str, inputs: dict, expected: str
) -> None:
    resolved = {k: image_file(tmp_path) if v is None else text(v) for k, v in inputs.items()}
    out = await backend.run(card(f"fake/{task}", task), Task(1, task, {}), resolved, ctx)
    assert out[0].kind == "text" and out[0].text == expected


# ------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    ("status", "error", "words"),
    [
        (401, ExpertUnavailable, ["$TEST_HF_TOKEN", "HTTP 401", "settings/tokens"]),
        (402, ExpertUnavailable, ["HTTP 402", "credits"]),
        (404, ExpertUnavailable, ["fake/gone", "HTTP 404"]),
        (410, ExpertUnavailable, ["fake/gone", "HTTP 410", "gone"]),
    ],
)
async def test_http_errors_have_clear_messages(
    backend: HostedBackend, server: FakeHFServer, ctx: RunContext, status: int, error: type, words: list[str]
) -> None:
    server.script("fake/gone", Reply.json(status, {"error": "nope"}))
    with pytest.raises(error) as caught:
        await backend.run(
            card("fake/gone", "text-classification"),
            Task(1, "text-classification", {}),
            {"text": text("x")},
            ctx,
        )
    for word in words:
        assert word in str(caught.value)
    assert TOKEN not in str(caught.value)
    assert len(server.calls("fake/gone")) == 1  # not retried


async def test_429_is_retried_with_backoff_then_succeeds(
    backend: HostedBackend, server: FakeHFServer, ctx: RunContext
) -> None:
    busy = Reply.json(429, {"error": "rate limited"})
    server.script("fake/text-classification", busy, busy, Reply.json(200, [[{"label": "OK", "score": 1.0}]]))
    out = await backend.run(
        card("fake/text-classification", "text-classification"),
        Task(1, "text-classification", {}),
        {"text": text("x")},
        ctx,
    )
    assert out[0].text.startswith("OK")
    assert len(server.calls("fake/text-classification")) == 3


async def test_429_honours_retry_after(backend: HostedBackend, server: FakeHFServer, ctx: RunContext) -> None:
    server.script(
        "fake/text-classification",
        Reply.json(429, {"error": "wait"}, {"Retry-After": "0.3"}),
        Reply.json(200, [[{"label": "OK", "score": 1.0}]]),
    )
    started = time.monotonic()
    await backend.run(
        card("fake/text-classification", "text-classification"),
        Task(1, "text-classification", {}),
        {"text": text("x")},
        ctx,
    )
    assert time.monotonic() - started >= 0.3


async def test_429_gives_up_after_the_bound(
    backend: HostedBackend, server: FakeHFServer, ctx: RunContext
) -> None:
    server.script("fake/busy", Reply.json(429, {"error": "rate limited"}))
    with pytest.raises(ExpertError, match=r"HTTP 429.*3 retries"):
        await backend.run(
            card("fake/busy", "text-classification"),
            Task(1, "text-classification", {}),
            {"text": text("x")},
            ctx,
        )
    assert len(server.calls("fake/busy")) == 4  # first try + max_retries


async def test_503_loading_waits_then_succeeds(
    backend: HostedBackend, server: FakeHFServer, ctx: RunContext
) -> None:
    loading = Reply.json(
        503, {"error": "Model fake/text-to-image is currently loading", "estimated_time": 0.05}
    )
    server.script("fake/text-to-image", loading, loading, Reply.bytes(png_bytes(), "image/png"))
    out = await backend.run(
        card("fake/text-to-image", "text-to-image"), Task(1, "text-to-image", {}), {"text": text("x")}, ctx
    )
    assert out[0].kind == "image"
    assert len(server.calls("fake/text-to-image")) == 3


async def test_503_gives_up_after_max_wait_loading(
    backend: HostedBackend, server: FakeHFServer, ctx: RunContext
) -> None:
    server.script(
        "fake/stuck", Reply.json(503, {"error": "Model is currently loading", "estimated_time": 0.5})
    )
    started = time.monotonic()
    with pytest.raises(ExpertUnavailable, match=r"still loading .* \(HTTP 503\)"):
        await backend.run(
            card("fake/stuck", "text-to-image"), Task(1, "text-to-image", {}), {"text": text("x")}, ctx
        )
    assert 2.0 <= time.monotonic() - started < 5.0


# ------------------------------------------------------------------ availability


def test_availability_needs_the_token_named_by_its_env_var(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    without = HostedBackend(token_env="MY_HF_TOKEN", environ={})
    av = without.availability(card("org/model", "text-to-image"))
    assert not av.ok and "MY_HF_TOKEN" in av.why
    with_token = HostedBackend(token_env="MY_HF_TOKEN", environ={"MY_HF_TOKEN": TOKEN})
    assert with_token.availability(card("org/model", "text-to-image")).ok
    assert not with_token.availability(card("org/model", "tabular-classification")).ok


def test_offline_mode_makes_hosted_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    hosted = HostedBackend(environ={"HF_TOKEN": TOKEN})
    av = hosted.availability(card("org/model", "text-to-image"))
    assert not av.ok and "HF_HUB_OFFLINE" in av.why


def test_base_url_template() -> None:
    assert HostedBackend(base_url="http://h:1/").model_target("a/b") == "http://h:1/models/a/b"
    assert HostedBackend(base_url="http://h:1/{model}/run").model_target("a/b") == "http://h:1/a/b/run"
    assert HostedBackend().model_target("a/b") == "a/b"

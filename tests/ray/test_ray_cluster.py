"""The ray backend against a real local Ray cluster: deployments of builtin tools and a
tiny transformers model, files as bytes, what runs where, the CLI's `ask` on Ray, and
a deployment killed and the cluster stopped mid-conversation (a reason and a fallback,
never a hang). The tests share one cluster; the last one stops it."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import wave
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml

from engine.errors import ExpertError
from engine.experts.base import RunContext
from engine.experts.ray import AutoscalingSpec, ClusterSpec, ExpertSpec, RayBackend
from engine.types import Resource, Task
from tests.ray.cluster import LOOPBACK_ENV, LocalCluster
from tests.ray.inputs import TEXT
from tests.ray.inputs import page as _page

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[2]
DEPLOYMENTS = [
    {"expert": "builtin/tesseract-ocr", "num_cpus": 0.5},
    {"expert": "builtin/espeak-ng", "num_cpus": 0.25},
]


def _experts(models: Path) -> tuple[ExpertSpec, ...]:
    return (
        ExpertSpec(name="tesseract-ocr", expert="builtin/tesseract-ocr", task="image-to-text", source="builtin",
                   num_cpus=0.5),
        ExpertSpec(name="espeak-ng", expert="builtin/espeak-ng", task="text-to-speech", source="builtin",
                   num_cpus=0.25),
        ExpertSpec(name="bert-sentiment", expert="tiny/bert-sentiment", task="text-classification", source="model",
                   num_cpus=0.25, memory_mb=512, device="cpu", models_dir=str(models),
                   autoscaling=AutoscalingSpec(min_replicas=1, max_replicas=2)),
    )  # fmt: skip


@pytest.fixture
async def backend(cluster: LocalCluster, tiny_models: Path) -> AsyncIterator[RayBackend]:
    spec = ClusterSpec(
        address=cluster.address,
        experts=_experts(tiny_models),
        deploy_on_start=True,
        status_ttl=60,
        deploy_timeout=180,
    )
    ray = RayBackend(spec)
    await ray.refresh()
    try:
        yield ray
    finally:
        await ray.aclose()


def _card(backend: RayBackend, task: str):
    return next(c for c in backend.cards() if c.task == task)


async def test_deployed_experts_are_ready_and_files_travel_as_bytes(
    backend: RayBackend, tmp_path: Path
) -> None:
    for card in backend.cards():
        assert backend.availability(card).ready, backend.availability(card).why
    page = _page(tmp_path / "page.png")
    ctx = RunContext(output_dir=tmp_path / "conversation")
    [text] = await backend.run(
        _card(backend, "image-to-text"),
        Task(0, "image-to-text", {"image": "page.png"}),
        {"image": Resource(kind="image", path=page, name="page.png")},
        ctx,
    )
    assert text.kind == "text" and text.text.strip() == TEXT
    [audio] = await backend.run(
        _card(backend, "text-to-speech"),
        Task(1, "text-to-speech", {"text": "<GENERATED>-0"}),
        {"text": text},
        ctx,
    )
    assert audio.path == tmp_path / "conversation" / "task1-0.wav"  # saved here from the bytes that came back
    with wave.open(str(audio.path)) as w:
        assert w.getnframes() / w.getframerate() > 0.5


async def test_a_transformers_model_runs_as_a_deployment(backend: RayBackend, tmp_path: Path) -> None:
    outputs = await backend.run(
        _card(backend, "text-classification"),
        Task(0, "text-classification", {"text": "I love it"}),
        {"text": Resource(kind="text", text="I love it")},
        RunContext(output_dir=tmp_path),
    )
    assert [o.kind for o in outputs] == ["text", "json"]
    assert {row["label"] for row in outputs[1].data} <= {"NEGATIVE", "POSITIVE"}


async def test_an_input_over_the_limit_is_refused_before_it_travels(cluster: LocalCluster, tiny_models: Path,
                                                                    tmp_path: Path) -> None:  # fmt: skip
    small = RayBackend(
        ClusterSpec(address=cluster.address, experts=_experts(tiny_models), max_input_bytes=1000)
    )
    try:
        await small.refresh()
        page = _page(tmp_path / "page.png")
        with pytest.raises(ExpertError, match="more than limits.max_attachment_mb"):
            await small.run(
                _card(small, "image-to-text"),
                Task(0, "image-to-text", {}),
                {"image": Resource(kind="image", path=page)},
                RunContext(tmp_path),
            )
    finally:
        await small.aclose()


def _config(tmp_path: Path, cluster: LocalCluster, **ray: object) -> Path:
    config = tmp_path / "ray.yaml"
    settings = {
        "llm": {"backend": "local"},
        "data_dir": str(tmp_path / "data"),
        "experts": {
            "ray": {"enabled": True, "address": cluster.address, "deploy_on_start": True, "deployments": DEPLOYMENTS,
                    **ray}
        },
    }  # fmt: skip
    config.write_text(yaml.safe_dump(settings))
    return config


def _cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **LOOPBACK_ENV, "HF_HUB_OFFLINE": "1"}
    env.pop("HUGGINGGPT_DATA_DIR", None)
    env.pop("RAY_ADDRESS", None)
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "--config", str(config), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
    )


def test_ask_reads_the_page_aloud_with_both_tasks_on_ray(cluster: LocalCluster, tmp_path: Path) -> None:
    page = _page(tmp_path / "page.png")
    done = _cli(
        _config(tmp_path, cluster),
        "ask",
        "Read the text in this image aloud",
        "--attach",
        str(page),
        "--json",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout)
    assert [t["task"] for t in out["plan"]] == ["image-to-text", "text-to-speech"]
    assert [(s["model"], s["backend"]) for s in out["selections"]] == [
        ("builtin/tesseract-ocr", "ray"),
        ("builtin/espeak-ng", "ray"),
    ]
    assert [r["status"] for r in out["results"]] == ["ok", "ok"]
    assert out["results"][0]["outputs"][0]["text"].strip() == TEXT
    [audio] = out["media"]
    assert Path(audio).is_relative_to(tmp_path / "data" / "artifacts")  # the conversation's folder
    with wave.open(audio) as w:
        assert w.getnframes() / w.getframerate() > 0.5


def test_ray_status_reports_what_runs_where(cluster: LocalCluster, tmp_path: Path) -> None:
    done = _cli(_config(tmp_path, cluster), "ray", "status", "--json")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert [n["address"] for n in report["nodes"]] == ["127.0.0.1"]
    rows = {row["expert"]: row for row in report["experts"]}
    assert (
        rows["builtin/tesseract-ocr"]["status"] == "RUNNING" and rows["builtin/tesseract-ocr"]["running"] == 1
    )
    assert (
        rows["builtin/espeak-ng"]["where"] == ["127.0.0.1"]
        and rows["builtin/espeak-ng"]["resources"] == "0.25 CPU"
    )


def _engine(tmp_path: Path, cluster: LocalCluster, **ray: object):
    from bot.app import build_engine
    from bot.config import load_settings

    return build_engine(load_settings(_config(tmp_path, cluster, **ray)))


def _turn(tmp_path: Path, n: int):
    from engine.types import Request

    page = _page(tmp_path / f"page{n}.png")
    return Request(
        text="Read the text in this image aloud",
        artifact_dir=tmp_path / f"turn{n}",
        attachments=(Resource(kind="image", path=page, name="page.png", mime="image/png"),),
        allowed_roots=(tmp_path,),
    )


def _where(outcome) -> list[tuple[str, str]]:
    return [(r.status, r.card.backend if r.card else "-") for r in outcome.results]


async def test_a_deployment_killed_mid_conversation_falls_back_to_the_next_expert(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    engine = _engine(tmp_path, cluster, status_ttl=3600)  # a stale status: the call itself finds it gone
    ray = engine.backends["ray"]
    try:
        first = await engine.run(_turn(tmp_path, 1))
        assert _where(first) == [("ok", "ray"), ("ok", "ray")]
        driver = await ray.driver()
        assert await driver.request("delete", 60, app="hgb-tesseract-ocr") is True

        second = await engine.run(_turn(tmp_path, 2))
        assert _where(second) == [("ok", "builtin"), ("ok", "ray")]  # the same task, on the next candidate
        assert second.results[0].outputs[0].text.strip() == TEXT
        await ray.refresh()  # the failed call marked the status stale
        why = ray.availability(_card(ray, "image-to-text")).why
        assert "hgb-tesseract-ocr is not deployed on the Ray cluster" in why
    finally:
        await engine.aclose()


async def test_the_cluster_stopping_mid_conversation_gives_a_reason_and_a_fallback(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    """Stopped: the next turn runs on the builtin tools, and the reason says the cluster
    went down. Started again: a later turn finds it, deploys what it lacks, runs there."""
    engine = _engine(tmp_path, cluster, status_ttl=1)
    ray = engine.backends["ray"]
    try:
        first = await engine.run(_turn(tmp_path, 1))
        assert _where(first) == [("ok", "ray"), ("ok", "ray")]

        cluster.stop()
        while ray.state is not None and ray.state.reachable:  # the driver sees the GCS go within a second
            await asyncio.sleep(0.1)
        why = ray.availability(_card(ray, "text-to-speech")).why
        assert why.startswith(
            f"the Ray cluster at {cluster.address} is not reachable: the Ray cluster went down"
        )

        second = await engine.run(_turn(tmp_path, 2))
        assert _where(second) == [("ok", "builtin"), ("ok", "builtin")]
        assert second.results[0].outputs[0].text.strip() == TEXT
        assert "is not reachable" in ray.availability(_card(ray, "image-to-text")).why

        cluster.start()
        while not ray.availability(_card(ray, "image-to-text")).ready:
            await asyncio.sleep(0.5)
            await ray.refresh()
        third = await engine.run(_turn(tmp_path, 3))
        assert _where(third) == [("ok", "ray"), ("ok", "ray")]
    finally:
        await engine.aclose()

"""The Ray backend's parts that need no cluster: files as bytes, status to availability,
configuration, and a cluster address where nothing listens."""

from __future__ import annotations

import subprocess
import sys
import wave
from pathlib import Path

import pytest

from bot.config import parse_settings
from engine.errors import ConfigError, ExpertError
from engine.experts.base import RunContext
from engine.experts.ray.spec import MB, ClusterSpec, ExpertSpec
from engine.experts.ray.status import ClusterState, short_error
from engine.experts.ray.wire import PackedResource, materialise, pack_outputs, pack_request, unpack_outputs
from engine.types import Resource, Task
from tests.ray.cluster import free_port

ROOT = Path(__file__).resolve().parents[2]
OCR = ExpertSpec(name="tesseract-ocr", expert="builtin/tesseract-ocr", task="image-to-text", source="builtin")


def _wav(path: Path) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(8000)
        w.writeframes(b"\x01\x00" * 800)
    return path


def test_inputs_travel_as_bytes_and_outputs_land_as_this_tasks_files(tmp_path: Path) -> None:
    clip = _wav(tmp_path / "mine.wav")
    task = Task(3, "automatic-speech-recognition", {"audio": "mine.wav"})
    inputs = {"audio": Resource(kind="audio", path=clip, name="mine.wav", mime="audio/wav")}
    ctx = RunContext(tmp_path, request_text="transcris", language="fr")
    request = pack_request(task, inputs, ctx, 10 * MB, 10 * MB)
    packed = request.inputs["audio"]
    assert packed.content == clip.read_bytes() and packed.name == "mine.wav" and packed.suffix == ".wav"
    assert (request.request_text, request.language) == ("transcris", "fr")

    on_node = materialise(request.inputs, tmp_path / "node")  # what the replica sees
    assert on_node["audio"].path.read_bytes() == clip.read_bytes()
    assert on_node["audio"].path.parent == tmp_path / "node" and on_node["audio"].name == "mine.wav"

    back = pack_outputs(
        [Resource(kind="audio", path=on_node["audio"].path, text="1 s"), Resource("text", "hi")], MB
    )
    ctx = RunContext(tmp_path / "conversation")
    saved = unpack_outputs(back, ctx, task.id, MB)
    assert saved[0].path == tmp_path / "conversation" / "task3-0.wav" and saved[0].text == "1 s"
    assert saved[0].path.read_bytes() == clip.read_bytes() and saved[1].text == "hi"


def test_an_input_over_the_attachment_limit_never_leaves(tmp_path: Path) -> None:
    big = tmp_path / "big.png"
    big.write_bytes(b"\x89PNG" + b"\x00" * 4096)
    with pytest.raises(ExpertError, match=r"input 'image' is 0\.0 MB, more than limits\.max_attachment_mb"):
        pack_request(
            Task(0, "image-to-text", {}),
            {"image": Resource("image", path=big)},
            RunContext(tmp_path),
            1000,
            MB,
        )


def test_outputs_over_the_cap_are_refused_on_both_sides(tmp_path: Path) -> None:
    blob = tmp_path / "out.wav"
    blob.write_bytes(b"\x00" * 3000)
    with pytest.raises(ExpertError, match="experts.ray.max_output_mb"):
        pack_outputs([Resource("audio", path=blob), Resource("audio", path=blob)], 5000)
    arrived = (PackedResource(kind="audio", content=b"\x00" * 3000, suffix=".wav"),) * 2
    with pytest.raises(ExpertError, match="more than experts.ray.max_output_mb"):
        unpack_outputs(arrived, RunContext(tmp_path), 0, 5000)
    assert not list(tmp_path.glob("task0-*"))


def test_a_strange_suffix_or_kind_from_the_cluster_is_not_trusted(tmp_path: Path) -> None:
    ctx = RunContext(tmp_path / "out")
    [saved] = unpack_outputs((PackedResource(kind="image", content=b"x", suffix="/../../etc"),), ctx, 1, MB)
    assert saved.path == tmp_path / "out" / "task1-0.bin"
    with pytest.raises(ExpertError, match="unknown kind 'shell'"):
        unpack_outputs((PackedResource(kind="shell", text="rm"),), ctx, 1, MB)
    with pytest.raises(ExpertError, match="malformed image output"):
        unpack_outputs((PackedResource(kind="image"),), ctx, 1, MB)


@pytest.mark.parametrize(
    ("status", "ok", "ready", "says"),
    [
        ({"status": "RUNNING", "deployments": {"d": {"status": "HEALTHY", "replicas": {"RUNNING": 2}}}}, True, True, ""),
        ({"status": "RUNNING", "deployments": {"d": {"status": "HEALTHY", "replicas": {}}}}, True, False, "no replica"),
        ({"status": "DEPLOYING", "deployments": {"d": {"status": "UPDATING", "replicas": {}}}}, False, False,
         "still being deployed"),
        (
            {"status": "DEPLOY_FAILED", "message": "Failed to update the deployments ['d'].",
             "deployments": {"d": {"status": "DEPLOY_FAILED", "replicas": {},
                                   "message": "failed to start 3 times\nTraceback ...\n  File x\n"
                                              "RuntimeError: tiny/x cannot run on this node: weights missing"}}},
            False, False, "deploy failed on the Ray cluster: RuntimeError: tiny/x cannot run on this node",
        ),
    ],
)  # fmt: skip
def test_serve_status_decides_availability(status: dict, ok: bool, ready: bool, says: str) -> None:
    state = ClusterState.from_status({"apps": {"hgb-tesseract-ocr": status}})
    found = state.availability("hgb-tesseract-ocr", "127.0.0.1:1")
    assert (found.ok, found.ready) == (ok, ready) and says in found.why


def test_an_expert_not_deployed_and_a_cluster_down_say_what_to_do() -> None:
    state = ClusterState.from_status({"apps": {}})
    why = state.availability("hgb-espeak-ng", "10.0.0.5:6379").why
    assert "not deployed on the Ray cluster at 10.0.0.5:6379" in why and "hugginggpt-bot ray deploy" in why
    down = ClusterState.down("the Ray cluster went down: nothing answers at 10.0.0.5:6379")
    assert down.availability("hgb-espeak-ng", "10.0.0.5:6379").why.startswith(
        "the Ray cluster at 10.0.0.5:6379 is not reachable: the Ray cluster went down"
    )


def test_a_remote_traceback_shrinks_to_the_exception_line() -> None:
    err = RuntimeError("ray::ServeReplica.run()\n  File 'x.py', line 3\nValueError: bad image")
    assert short_error(err) == "ValueError: bad image"
    assert short_error(KeyError("ship")) == "KeyError: 'ship'"


def _ray(**ray: object) -> dict:
    return {"experts": {"ray": {"enabled": True, "address": "127.0.0.1:6379", **ray}}}


@pytest.mark.parametrize(
    ("ray", "says"),
    [
        ({"deployments": [{"expert": "tiny/model"}]}, "a hub model needs its task"),
        ({"deployments": []}, "lists no expert"),
        ({"address": "ray://127.0.0.1:10001", "deployments": [{"expert": "builtin/espeak-ng"}]}, "host:port"),
        (
            {
                "deployments": [
                    {"expert": "builtin/espeak-ng"},
                    {"expert": "builtin/espeak-ng", "num_cpus": 2},
                ]
            },
            "two deployments are named espeak-ng",
        ),
        (
            {
                "deployments": [
                    {"expert": "a/b", "task": "x", "autoscaling": {"min_replicas": 3, "max_replicas": 1}}
                ]
            },
            "min_replicas must not exceed max_replicas",
        ),
        ({"deployments": [{"expert": "a/b", "task": "x"}]}, "task 'x' is not a task type"),
    ],
)
def test_bad_ray_settings_name_the_key_and_the_fix(ray: dict, says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        parse_settings(_ray(**ray))


def test_the_address_comes_from_the_environment_when_the_config_has_none(monkeypatch) -> None:
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    with pytest.raises(ConfigError, match="or the environment variable RAY_ADDRESS"):
        parse_settings(_ray(address=None, deployments=[{"expert": "builtin/espeak-ng"}]))
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:7000")
    settings = parse_settings(_ray(address=None, deployments=[{"expert": "builtin/espeak-ng"}]))
    assert settings.experts.ray.resolved_address() == "127.0.0.1:7000"


def test_builtin_experts_take_their_task_and_card_from_the_tool() -> None:
    from bot.app import ray_cluster

    settings = parse_settings(
        _ray(
            deployments=[
                {"expert": "builtin/tesseract-ocr", "num_cpus": 0.5, "replicas": 2},
                {"expert": "Org/Tiny_Model", "task": "text-classification", "num_gpus": 0.25, "memory_mb": 900,
                 "autoscaling": {"min_replicas": 0, "max_replicas": 3}},
            ]
        )
    )  # fmt: skip
    cluster = ray_cluster(settings)
    ocr, model = cluster.experts
    assert (ocr.name, ocr.task, ocr.source, ocr.replicas) == ("tesseract-ocr", "image-to-text", "builtin", 2)
    assert ocr.card().backend == "ray" and "Tesseract" in ocr.card().description
    assert (model.name, model.source) == ("org-tiny-model", "model")
    options = model.deployment_options()
    assert options["ray_actor_options"] == {"num_cpus": 1.0, "num_gpus": 0.25, "memory": 900 * MB}
    assert options["autoscaling_config"]["max_replicas"] == 3 and "num_replicas" not in options
    assert ExpertSpec.from_dict(model.to_dict()) == model

    with pytest.raises(ConfigError, match=r"deployments\[0\]\.expert: builtin/nope is not a builtin tool"):
        ray_cluster(parse_settings(_ray(deployments=[{"expert": "builtin/nope"}])))


def test_the_shipped_ray_config_runs_ocr_and_speech_on_the_cluster(monkeypatch) -> None:
    from bot.app import ray_cluster
    from bot.config import load_settings

    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:6379")
    cluster = ray_cluster(load_settings(ROOT / "configs" / "ray.yaml"))
    assert cluster.address == "127.0.0.1:6379" and cluster.loopback and cluster.deploy_on_start
    assert [(e.expert, e.task) for e in cluster.experts] == [
        ("builtin/tesseract-ocr", "image-to-text"),
        ("builtin/espeak-ng", "text-to-speech"),
    ]


def test_the_embedded_default_and_a_ray_config_import_no_ray_in_the_bot() -> None:
    """Ray lives in the driver process only: building the backends, Ray one included,
    leaves the bot's process without it."""
    code = (
        "import sys\n"
        "from bot.app import build_backends\n"
        "from bot.config import load_settings, parse_settings\n"
        "class L:\n    name = 'x'\n"
        "build_backends(load_settings(None), L())\n"
        "s = parse_settings({'experts': {'ray': {'enabled': True, 'address': '127.0.0.1:1',"
        " 'deployments': [{'expert': 'builtin/espeak-ng'}]}}})\n"
        "assert 'ray' in build_backends(s, L())\n"
        "print(sorted(m for m in sys.modules if m == 'ray' or m.startswith('ray.')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"


async def test_a_cluster_where_nothing_listens_is_a_reason_not_a_wait(tmp_path: Path) -> None:
    from engine.experts.ray import RayBackend

    address = f"127.0.0.1:{free_port()}"
    backend = RayBackend(ClusterSpec(address=address, experts=(OCR,), connect_timeout=60))
    try:
        await backend.refresh()
        [card] = backend.cards()
        state = backend.availability(card)
        assert not state.ok
        assert state.why.startswith(
            f"the Ray cluster at {address} is not reachable: nothing answers at {address}"
        )
        with pytest.raises(ExpertError, match="not reachable"):
            await backend.run(card, Task(0, "image-to-text", {}), {}, RunContext(tmp_path))
    finally:
        await backend.aclose()


def test_ray_status_without_a_cluster_says_so_and_fails(tmp_path: Path) -> None:
    address = f"127.0.0.1:{free_port()}"
    config = tmp_path / "ray.yaml"
    config.write_text(
        f"data_dir: {tmp_path / 'data'}\nexperts:\n  ray:\n    enabled: true\n    address: {address}\n"
        "    deployments:\n      - expert: builtin/espeak-ng\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "--config", str(config), "ray", "status"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert (
        f"error: the Ray cluster at {address} is not reachable: nothing answers at {address}" in done.stderr
    )


async def test_a_call_in_flight_when_the_cluster_goes_falls_back_at_once(tmp_path: Path) -> None:
    """The driver reports the cluster down mid-call and exits: the call fails with that
    reason, the scheduler runs the task on the next candidate, and the Ray expert is
    unavailable from then on, with the reason, whatever the status TTL says."""
    from functools import partial

    from engine.experts.builtin.backend import BuiltinBackend
    from engine.experts.builtin.tesseract import TesseractOCR
    from engine.experts.ray import RayBackend
    from engine.experts.ray.bridge import DriverProcess
    from engine.scheduler import Scheduler
    from engine.types import Plan, Selection
    from tests.ray.inputs import TEXT
    from tests.ray.inputs import page as _page

    fake = partial(DriverProcess, module="tests.ray.dying_driver")
    ray = RayBackend(ClusterSpec(address="127.0.0.1:1", experts=(OCR,), status_ttl=3600), driver_factory=fake)
    builtin = BuiltinBackend([TesseractOCR()])
    try:
        await ray.refresh()
        [card] = ray.cards()
        assert ray.availability(card).ready
        task = Task(0, "image-to-text", {"image": "page.png"})
        page = Resource(kind="image", path=_page(tmp_path / "page.png"), name="page.png")
        options = [Selection(0, card, "deployed"), Selection(0, builtin.cards()[0], "fallback")]
        scheduler = Scheduler({"ray": ray, "builtin": builtin}, task_timeout=60)
        [result] = await scheduler.execute(Plan((task,)), {0: options}, [page], [tmp_path], tmp_path / "out")
        assert result.status == "ok" and result.card.backend == "builtin"
        assert result.outputs[0].text.strip() == TEXT
        why = ray.availability(card).why
        assert (
            why
            == "the Ray cluster at 127.0.0.1:1 is not reachable: the Ray cluster went down: nothing answers (test)"
        )
    finally:
        await ray.aclose()
        await builtin.aclose()

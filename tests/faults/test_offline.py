"""No network and HF_HUB_OFFLINE unset: the first failed Hub look-up is remembered, the
models that need a download are passed over, and the substitute task answers.

The Hub is pointed at a loopback port nothing listens on, so these tests behave the
same on a machine that has internet."""

from __future__ import annotations

import asyncio
import json
import os
import threading

import pytest
from PIL import Image

from engine.catalogue import Catalogue
from engine.engine import Engine
from engine.events import TaskStarted
from engine.experts.controller import ControllerBackend
from engine.experts.hub_reachability import HubReachability
from engine.experts.local.backend import LocalBackend
from engine.llm.openai_backend import OpenAILLM
from engine.planner import Planner
from engine.scheduler import Scheduler
from engine.selector import Selector
from engine.types import ModelCard, Request, Resource
from tests.engine.helpers import router
from tests.fakes.experts import ScriptedBackend
from tests.fakes.openai_server import unused_port
from tests.faults.cli import ROOT, child_env, cli

pytestmark = pytest.mark.timeout(300)

VQA = [
    ModelCard(id=f"nobody/vqa-{n}", task="visual-question-answering", backend="local", downloads=100 - n)
    for n in range(3)
]
CAPTION = ModelCard(id="builtin/captioner", task="image-to-text", backend="builtin", downloads=1)


def photo(path):
    Image.new("RGB", (32, 24), (90, 140, 200)).save(path)
    return path


def offline_engine(base_url: str, hub: HubReachability) -> tuple[Engine, ScriptedBackend]:
    captioner = ScriptedBackend(name="builtin", card_list=[CAPTION])
    local = LocalBackend(device="cpu", offline=False, hub=hub)
    backends = {"builtin": captioner, "local": local, "llm": ControllerBackend("fake-model")}
    llm = OpenAILLM(base_url=base_url, model="fake-model", api_key="k", timeout=5, max_retries=0)
    engine = Engine(
        llm=llm,
        planner=Planner("llm", n_demos=0),
        selector=Selector(Catalogue(VQA), backends, top_k=5, choose_with_llm=False),  # type: ignore[arg-type]
        scheduler=Scheduler(backends, task_timeout=60),  # type: ignore[arg-type]
    )
    return engine, captioner


async def test_a_photo_question_offline_is_answered_by_the_substitute(openai_server, tmp_path):
    plan = json.dumps(
        [
            {
                "task": "visual-question-answering",
                "id": 0,
                "dep": [-1],
                "args": {"image": "p.png", "text": "what?"},
            }
        ]
    )
    openai_server.responder = router([plan, plan])
    hub = HubReachability(endpoint=f"http://127.0.0.1:{unused_port()}")
    engine, captioner = offline_engine(openai_server.base_url, hub)
    image = Resource("image", path=photo(tmp_path / "p.png"), name="p.png")
    request = Request(
        "What is in this photo?", tmp_path / "out", attachments=(image,), allowed_roots=(tmp_path,)
    )
    try:
        tried: list[str] = []

        def started(event: object) -> None:
            if isinstance(event, TaskStarted) and event.card is not None:
                tried.append(event.card.id)

        first = await engine.run(request, started)
        (result,) = first.results
        assert result.status == "ok" and result.card == CAPTION
        assert "answered instead" in result.reason
        assert tried == [c.id for c in VQA] + [CAPTION.id]  # each download refused at once
        assert hub.look_ups == 1 and hub.known_unreachable()

        tried.clear()
        second = await engine.run(request, started)  # known unreachable: not even candidates
        assert tried == [CAPTION.id] and second.results[0].status == "ok"
        assert hub.look_ups == 1
        assert len(captioner.log) == 2
    finally:
        await engine.aclose()


def test_reachability_is_remembered_for_its_ttl_and_shared_by_callers():
    now = [0.0]
    calls: list[str] = []
    release = threading.Event()

    def look_up(url: str, timeout: float) -> None:
        calls.append(url)
        release.wait(5)
        raise ConnectionError("no route to host")

    hub = HubReachability(ttl=60, endpoint="http://hub.invalid", clock=lambda: now[0], look_up=look_up)
    answers: list[bool] = []
    threads = [threading.Thread(target=lambda: answers.append(hub.check())) for _ in range(4)]
    for t in threads:
        t.start()
    release.set()
    for t in threads:
        t.join()
    assert answers == [False] * 4 and calls == ["http://hub.invalid"]  # four callers, one look-up
    assert hub.known_unreachable() and "no route to host" in hub.why
    now[0] = 59.0
    assert not hub.check() and len(calls) == 1
    now[0] = 61.0  # stale: asked again, and this time the Hub answers
    hub._look_up = lambda url, timeout: None  # type: ignore[method-assign]
    assert hub.check() and not hub.known_unreachable()


async def test_the_cli_answers_a_photo_question_with_no_network_and_offline_mode_unset(tmp_path):
    """The README's ``ask`` with the default config, HF_HUB_OFFLINE unset and the Hub
    unreachable: answered (by the image-to-text substitute), with no retried look-ups."""
    image = photo(tmp_path / "photo.png")
    env = child_env(
        HUGGINGGPT_DATA_DIR=str(tmp_path / "data"), HF_ENDPOINT=f"http://127.0.0.1:{unused_port()}"
    )
    env.pop("HF_HUB_OFFLINE")
    env.pop("TRANSFORMERS_OFFLINE", None)
    config = ROOT / "configs" / "default.yaml"
    async with cli(
        config, "ask", "What is in this photo?", "--attach", str(image), "--json", env=env, stdin=False
    ) as child:
        code = await asyncio.wait_for(child.process.wait(), 280)
        out = await child.process.stdout.read()  # type: ignore[union-attr]
        err = (await child.process.stderr.read()).decode("utf-8", "replace")  # type: ignore[union-attr]
    assert code == 0, err
    answer = json.loads(out)
    (result,) = answer["results"]
    assert answer["plan"][0]["task"] == "visual-question-answering"
    assert result["status"] == "ok", result
    assert result["model"].startswith("builtin/")  # an offline image-to-text tool
    assert "Retrying in" not in err  # no look-up was retried with backoff


def test_the_encoder_leaves_the_process_environment_alone(monkeypatch):
    """MiniLM loads from its packaged folder with ``local_files_only``: loading it must
    not switch the whole process (and every later Hub call) to offline mode."""
    pytest.importorskip("sentence_transformers")
    from engine.picker import embedder

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(embedder, "onnx_available", lambda: False)  # the sentence-transformers path
    encoder = embedder.Embedder(threads=1)
    assert encoder.encode(["a photo of a cat"]).shape == (1, 384)
    assert "HF_HUB_OFFLINE" not in os.environ

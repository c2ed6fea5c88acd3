"""Catalogue building: from the reference's model list, and refresh() against a fake
Hub API on 127.0.0.1 that the real huggingface_hub.HfApi talks to."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import huggingface_hub.constants
import pytest

from engine.catalogue import SHIPPED_CATALOGUE, Catalogue, read_cards
from engine.catalogue_build import (
    build_from_jarvis,
    clean_description,
    from_jarvis_line,
    licence_of,
    main,
    refresh,
)
from engine.errors import ConfigError
from engine.tasks import TASK_SPECS

JARVIS = Path("/work/shared/data/jarvis/p0_models.jsonl")

HUB_MODELS = {
    "text-to-image": [
        {
            "id": "org/sd-small",
            "downloads": 500,
            "likes": 9,
            "tags": ["diffusers", "license:mit"],
            "pipeline_tag": "text-to-image",
            "library_name": "diffusers",
        },
        {
            "id": "org/sd-big",
            "downloads": 9000,
            "likes": 90,
            "tags": ["diffusers"],
            "pipeline_tag": "text-to-image",
            "library_name": "diffusers",
            "cardData": {"license": "openrail", "language": ["en"], "datasets": ["laion"]},
        },
    ],
    "summarization": [
        {
            "id": "org/bart-sum",
            "downloads": 42,
            "likes": 1,
            "tags": ["transformers"],
            "pipeline_tag": "summarization",
            "library_name": "transformers",
        },
    ],
}


class _Hub(BaseHTTPRequestHandler):
    queries: list[dict[str, list[str]]] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        url = urlparse(self.path)
        if url.path != "/api/models":
            self.send_error(404)
            return
        query = parse_qs(url.query)
        type(self).queries.append(query)
        if query.get("pipeline_tag") == ["depth-estimation"]:
            self.send_error(401, "Invalid credentials in Authorization header")
            return
        models = HUB_MODELS.get(query.get("pipeline_tag", [""])[0], [])
        if query.get("sort") == ["downloads"]:
            models = sorted(models, key=lambda m: -m["downloads"])
        models = models[: int(query.get("limit", ["1000"])[0])]
        body = json.dumps(models).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)  # loopback is refused otherwise
    _Hub.queries = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hub)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_refresh_lists_models_by_downloads_per_task(hub: str) -> None:
    records = refresh(
        ["text-to-image", "summarization"],
        limit_per_task=5,
        endpoint=hub,
        token="hf_x",
        known=[{"id": "org/bart-sum", "task": "summarization", "description": "BART for news"}],
    )
    assert [(r["id"], r["task"]) for r in records] == [
        ("org/bart-sum", "summarization"),
        ("org/sd-big", "text-to-image"),
        ("org/sd-small", "text-to-image"),
    ]
    big = records[1]
    assert big == {
        "id": "org/sd-big",
        "task": "text-to-image",
        "backend": "local",
        "downloads": 9000,
        "likes": 90,
        "licence": "openrail",
        "description": "text-to-image model (diffusers; en; trained on laion)",
    }
    assert records[2]["licence"] == "mit"  # from the license: tag
    assert records[0]["description"] == "BART for news"  # known descriptions are kept
    first = _Hub.queries[0]
    assert first["pipeline_tag"] == ["text-to-image"] and first["sort"] == ["downloads"]
    assert first["limit"] == ["5"]


def test_refresh_limit_and_cli_writes_a_loadable_file(hub: str, tmp_path: Path) -> None:
    out = tmp_path / "cards.jsonl"
    assert (
        main(["--refresh", "--tasks", "text-to-image", "--limit", "1", "--endpoint", hub, "--out", str(out)])
        == 0
    )
    cards = read_cards(out)
    assert [c.id for c in cards] == ["org/sd-big"]


def test_refresh_reports_unknown_tasks_and_hub_errors(hub: str) -> None:
    with pytest.raises(ConfigError, match="unknown task 'painting'"):
        refresh(["painting"], 3, endpoint=hub)
    with pytest.raises(ConfigError, match=f"cannot list depth-estimation models from {hub}.*401"):
        refresh(["depth-estimation"], 3, endpoint=hub, token="hf_bad")


def test_refresh_refuses_in_offline_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ConfigError, match="HF_HUB_OFFLINE"):
        refresh(["text-to-image"], 3)


def test_clean_description_strips_markdown() -> None:
    text = (
        "---\nlicense: mit\n---\n# My Model\n\n![logo](x.png) A **fine-tuned** [BERT](https://x.y) "
        "model.\n\n```python\nimport torch\n```\n| a | b |\n<p>Trained</p> on `sst2`."
    )
    assert clean_description(text) == "My Model A fine-tuned BERT model. Trained on sst2."
    long = clean_description("word " * 100)
    assert len(long) <= 200 and long.endswith("…")


def test_licence_from_meta_or_tags() -> None:
    assert licence_of({"license": ["apache-2.0"]}) == "apache-2.0"
    assert licence_of({}, ["x", "license:cc-by-4.0"]) == "cc-by-4.0"
    assert licence_of(None) is None


def test_jarvis_line_conversion() -> None:
    rec = from_jarvis_line(
        {
            "id": "a/b",
            "task": "text-classification",
            "downloads": 3,
            "likes": 1,
            "meta": {"license": "mit", "language": "en"},
            "description": "Entry not found",
        }
    )
    assert rec == {
        "id": "a/b",
        "task": "text-classification",
        "backend": "local",
        "downloads": 3,
        "likes": 1,
        "description": "text-classification model (en)",
        "licence": "mit",
    }
    assert from_jarvis_line({"id": "a/b", "task": "not-a-task"}) is None


@pytest.mark.skipif(not JARVIS.exists(), reason="reference data not present")
def test_shipped_catalogue_matches_a_fresh_build() -> None:
    records = build_from_jarvis(JARVIS)
    shipped = [json.loads(line) for line in SHIPPED_CATALOGUE.read_text(encoding="utf-8").splitlines()]
    assert shipped == records


def test_shipped_catalogue_is_small_and_valid() -> None:
    assert SHIPPED_CATALOGUE.stat().st_size < 1_000_000
    catalogue = Catalogue.load()
    cards = catalogue.all_cards()
    assert len(cards) > 600
    assert all(c.backend == "local" and c.task in TASK_SPECS for c in cards)
    assert all(len(c.description) <= 200 and "](" not in c.description for c in cards)
    top = catalogue.cards_for("text-to-image")
    assert top[0].downloads >= top[-1].downloads

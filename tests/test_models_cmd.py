"""``hugginggpt-bot models list|refresh`` through the real CLI entry point."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import huggingface_hub.constants

from bot.cli import main


def test_models_list_shows_runnable_offline_tasks(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("HUGGINGGPT_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    for task in (
        "image-to-text",
        "text-to-speech",
        "automatic-speech-recognition",
        "image-classification",
        "object-detection",
        "translation",
        "sentence-similarity",
        "text-classification",
        "pose-estimation",
        "image-segmentation",
        "audio-classification",
    ):
        assert f"{task}: can run" in out, task
    assert "builtin/tesseract-ocr" in out
    assert "text-to-image: cannot run: it needs a GPU model" in out and "HF_TOKEN" in out
    runnable = int(out.rsplit("\n", 2)[-2].split()[0])
    assert runnable >= 10


class _Hub(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's naming
        tag = self.path.split("pipeline_tag=")[1].split("&")[0] if "pipeline_tag=" in self.path else ""
        body = json.dumps(
            [
                {
                    "id": f"org/{tag}-model",
                    "modelId": f"org/{tag}-model",
                    "downloads": 10,
                    "likes": 1,
                    "pipeline_tag": tag,
                    "tags": ["license:mit"],
                }
            ]
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_models_refresh_writes_a_catalogue(capsys, monkeypatch, tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.server_port}")
    out_file = tmp_path / "cards.jsonl"
    try:
        assert (
            main(["models", "refresh", "--task", "text-to-image", "--limit", "3", "--out", str(out_file)])
            == 0
        )
    finally:
        server.shutdown()
    cards = [json.loads(line) for line in out_file.read_text().splitlines()]
    assert [c["id"] for c in cards] == ["org/text-to-image-model"]
    assert cards[0]["task"] == "text-to-image" and cards[0]["licence"] == "mit"
    assert "wrote 1 model cards" in capsys.readouterr().out

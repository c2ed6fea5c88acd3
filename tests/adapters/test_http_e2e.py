"""``hugginggpt-bot serve`` as a user runs it: the real CLI in a subprocess with the
embedded default (configs/default.yaml: the picker planner, Tesseract, eSpeak NG),
called by the official ``openai`` client, plain and streamed, then stopped by SIGTERM."""

from __future__ import annotations

import asyncio
import base64
import io
import os
import shutil
import signal
import subprocess
import sys
import wave
from pathlib import Path

import aiohttp
import openai
import pytest
from PIL import Image, ImageDraw, ImageFont

from bot.cli import TERMINATED
from tests.fakes.openai_server import unused_port

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(300),
    pytest.mark.skipif(
        not (shutil.which("tesseract") and shutil.which("espeak-ng")), reason="needs Tesseract and eSpeak NG"
    ),
]

ROOT = Path(__file__).resolve().parents[2]
KEY = "e2e-key-5f1c9a0b7d3e"
TEXT = "The meeting starts at noon."
ASK = "Read the text in this image aloud"


def _page_data_url() -> str:
    img = Image.new("RGB", (900, 200), "white")
    font_file = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
    font = ImageFont.truetype(str(font_file), 48) if font_file.exists() else ImageFont.load_default(48)
    ImageDraw.Draw(img).text((30, 60), TEXT, fill="black", font=font)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _messages() -> list[dict]:
    parts = [{"type": "text", "text": ASK}, {"type": "image_url", "image_url": {"url": _page_data_url()}}]
    return [{"role": "user", "content": parts}]


@pytest.fixture
async def server(tmp_path):
    port = unused_port()
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "HUGGINGGPT_API_KEY": KEY,
        "HUGGINGGPT_DATA_DIR": str(tmp_path),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(600):
                if process.poll() is not None:
                    raise AssertionError(f"serve exited: {process.stderr.read()[-2000:]}")
                try:
                    async with http.get(url + "/healthz") as got:
                        if got.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.1)
        yield url, process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)
        process.stderr.close()


async def test_serve_answers_the_openai_client_and_stops_on_sigterm(server):
    url, process = server
    async with openai.AsyncOpenAI(base_url=url + "/v1", api_key=KEY, max_retries=0, timeout=120) as client:
        done = await client.chat.completions.create(model="hugginggpt", messages=_messages())
        answer = done.choices[0].message.content
        assert "meeting starts at noon" in answer.lower()
        [audio] = done.model_extra["hugginggpt"]["media"]
        assert audio["kind"] == "audio" and audio["url"] in answer

        stream = await client.chat.completions.create(model="hugginggpt", messages=_messages(), stream=True)
        streamed = "".join([c.choices[0].delta.content or "" async for c in stream])
        assert streamed.index("Plan: 2 task(s)") < streamed.index("✅ #1 text-to-speech")
        assert "meeting starts at noon" in streamed[streamed.index("✅ #1 text-to-speech") :].lower()

    async with aiohttp.ClientSession() as http:
        async with http.get(audio["url"], headers={"Authorization": f"Bearer {KEY}"}) as got:
            assert got.status == 200
            with wave.open(io.BytesIO(await got.read())) as w:
                assert w.getnframes() / w.getframerate() > 0.5
        async with http.get(audio["url"]) as anonymous:
            assert anonymous.status == 401
        async with http.post(
            url + "/tasks", json={"messages": _messages()}, headers={"Authorization": f"Bearer {KEY}"}
        ) as got:
            plan = await got.json()
        assert [t["task"] for t in plan] == ["image-to-text", "text-to-speech"]
        assert plan[1]["args"]["text"] == "<GENERATED>-0"
        async with http.get(url + "/") as page:
            assert page.status == 200 and '<script src="/static/chat.js"' in await page.text()
        async with http.post(
            url + "/v1/chat/completions", json={"model": "hugginggpt", "messages": []}
        ) as got:
            assert got.status == 401

    process.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(process.wait, 60) == TERMINATED
    log = process.stderr.read()
    assert f"serving on {url}" in log and KEY not in log

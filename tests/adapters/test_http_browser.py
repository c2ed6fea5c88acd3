"""The chat page in a real headless Chromium (Debian's, driven by Playwright): enter the
key, type a request, attach an image, watch the plan and tasks progress, get the
answer, play the audio and see the image it returned, then forget the conversation."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from adapters.http.files import conversation_key
from adapters.http.keys import Caller, workspace_of
from tests.adapters.http_harness import KEY, G, png_bytes, served, task
from tests.engine.helpers import router
from tests.fakes.experts import Script, ScriptedBackend

playwright_api = pytest.importorskip("playwright.async_api")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(180),
    pytest.mark.skipif(
        shutil.which("chromium") is None, reason="needs Debian's chromium (apt-get install chromium)"
    ),
]
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]
READ = "The meeting starts at noon."
SCREENSHOT = os.environ.get("HTTP_PAGE_SCREENSHOT")  # a path: keep a picture of the page after the turn
PLAN = json.dumps(
    [
        task("image-to-text", 0, {"image": "image-1.png"}),
        task("text-to-speech", 1, {"text": G(0)}, (0,)),
        task("text-to-image", 2, {"text": "a poster that says " + G(0)}, (0,)),
    ]
)


@pytest.fixture
async def app(openai_server, tmp_path, make):
    openai_server.responder = router([PLAN])
    backend = ScriptedBackend.for_all_tasks(image_to_text=Script(text=READ), text_to_speech=Script(sleep=1.0))
    engine, backend = make(openai_server.base_url, backend)
    async with served(tmp_path, engine, backend) as s:
        yield s


async def test_the_page_runs_a_turn_with_an_image_shows_progress_media_and_forgets(app):
    async with playwright_api.async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = await browser.new_page()
            problems: list[str] = []
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            requested: list[str] = []
            page.on("request", lambda r: requested.append(r.url))

            await page.goto(app.url + "/")
            await page.fill("#key", KEY)
            await page.click("#key-form button[type=submit]")
            await page.fill("#text", "Read the text in this image aloud and make a poster of it")
            await page.set_input_files(
                "#file", files=[{"name": "page.png", "mimeType": "image/png", "buffer": png_bytes()}]
            )
            await page.wait_for_selector(".chip:has-text('page.png')")
            await page.click("#send")

            answer = page.locator(".message.assistant").last
            status = answer.locator(".status")
            await status.filter(has_text="Plan: 3 task(s)").wait_for()  # live progress, before the answer
            assert not await answer.evaluate("a => a.classList.contains('done')")
            await page.wait_for_selector(".message.assistant.done", timeout=30_000)
            assert "✅ #1 text-to-speech" in await status.inner_text()
            text = await answer.locator(".text").inner_text()
            assert READ in text and "/files/" not in text  # the links became media elements

            audio = answer.locator("audio")
            duration = await audio.evaluate(
                "a => a.readyState >= 1 ? a.duration : new Promise(r => a.addEventListener('loadedmetadata', () => r(a.duration)))"
            )
            assert duration > 0
            played = await audio.evaluate(
                "a => a.play().then(() => new Promise(r => a.addEventListener('ended', () => r(a.played.length))))"
            )
            assert played >= 1
            image = answer.locator("img")
            await image.evaluate("i => i.complete || new Promise(r => i.addEventListener('load', r))")
            assert await image.evaluate("i => i.naturalWidth") > 0
            assert await answer.locator("audio").get_attribute("src") != ""
            assert (await audio.get_attribute("src")).startswith("blob:")

            stored = await page.evaluate(
                "() => [sessionStorage.getItem('hugginggpt.key'), localStorage.length]"
            )
            assert stored == [KEY, 0]
            conversation = await page.evaluate("() => sessionStorage.getItem('hugginggpt.conversation')")
            key = conversation_key(Caller(workspace_of(KEY)), conversation)
            assert await app.service.knows(key)

            if SCREENSHOT:
                await page.screenshot(path=SCREENSHOT, full_page=True)
            await page.click("#forget")
            await page.wait_for_selector(".note.forgotten")
            assert await page.locator(".message").count() == 0
            assert not await app.service.knows(key)

            assert problems == []
            assert all(u.startswith((app.url, "blob:", "data:")) for u in requested), requested
        finally:
            await browser.close()

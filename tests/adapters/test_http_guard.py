"""What the HTTP server refuses, and what never leaks: sizes before reading, limits on
files, the rate limit, CORS, paths out of a key's files, bad conversation ids, and
the key in logs."""

from __future__ import annotations

import base64
import logging
import os

import aiohttp
import openai
import pytest

from adapters.http.keys import ApiKeys, workspace_of
from adapters.http.messages import Limits
from adapters.http.settings import HttpSettings
from bot.config import parse_settings
from engine.errors import ConfigError
from tests.adapters.http_harness import KEY, READ_ALOUD, auth, png_bytes, served
from tests.engine.helpers import router

CHAT = {"model": "hugginggpt", "messages": [{"role": "user", "content": "hi"}]}


def _with_images(n: int, data: bytes) -> dict:
    url = "data:image/png;base64," + base64.b64encode(data).decode()
    parts = [{"type": "text", "text": "look"}] + [{"type": "image_url", "image_url": {"url": url}}] * n
    return {"model": "hugginggpt", "messages": [{"role": "user", "content": parts}]}


@pytest.fixture
def serve_with(openai_server, tmp_path, make):
    openai_server.responder = router([READ_ALOUD] * 8)

    def start(**kwargs):
        engine, backend = make(openai_server.base_url)
        return served(tmp_path, engine, backend, **kwargs)

    return start


async def test_a_body_over_the_cap_is_refused_before_it_is_read(serve_with, openai_server):
    async with serve_with(settings=HttpSettings(max_body_mb=0.01, rate_limit_per_minute=0)) as app:
        async with aiohttp.ClientSession() as http:
            big = _with_images(1, png_bytes() + b"\0" * 20_000)
            async with http.post(app.v1 + "/chat/completions", json=big, headers=auth()) as got:
                assert got.status == 413
                assert "http.max_body_mb" in (await got.json())["error"]["message"]

            async def chunks():  # no Content-Length: aiohttp's client_max_size stops it while reading
                for _ in range(40):
                    yield b" " * 1024

            headers = {**auth(), "Content-Type": "application/json"}
            async with http.post(app.v1 + "/chat/completions", data=chunks(), headers=headers) as got:
                assert got.status == 413
    assert openai_server.requests == []  # no turn ran


async def test_files_over_the_limits_name_the_limit(serve_with):
    limits = Limits(max_attachment_bytes=4000, max_attachments=2)
    async with (
        serve_with(limits=limits) as app,
        openai.AsyncOpenAI(base_url=app.v1, api_key=KEY, max_retries=0) as client,
    ):
        with pytest.raises(openai.APIStatusError) as large:
            await client.chat.completions.create(**_with_images(1, png_bytes() + b"\0" * 5000))
        assert large.value.status_code == 413 and "limits.max_attachment_mb" in str(large.value)
        with pytest.raises(openai.BadRequestError) as many:
            await client.chat.completions.create(**_with_images(3, png_bytes()))
        assert "limits.max_attachments" in str(many.value)


async def test_the_rate_limit_is_per_key(serve_with):
    settings = HttpSettings(rate_limit_per_minute=1, rate_limit_burst=1)
    async with serve_with(settings=settings) as app:
        async with openai.AsyncOpenAI(base_url=app.v1, api_key=KEY, max_retries=0) as client:
            await client.chat.completions.create(**CHAT)
            with pytest.raises(openai.RateLimitError) as limited:
                await client.chat.completions.create(**CHAT)
            assert int(limited.value.response.headers["Retry-After"]) >= 1
        from tests.adapters.http_harness import OTHER_KEY

        async with openai.AsyncOpenAI(base_url=app.v1, api_key=OTHER_KEY, max_retries=0) as other:
            await other.chat.completions.create(**CHAT)  # another key has its own allowance


async def test_cors_is_off_unless_origins_are_listed(serve_with):
    preflight = {"Origin": "https://chat.example.org", "Access-Control-Request-Method": "POST"}
    async with serve_with() as app, aiohttp.ClientSession() as http:
        async with http.options(app.v1 + "/chat/completions", headers=preflight) as got:
            assert got.status == 403 and "Access-Control-Allow-Origin" not in got.headers
        async with http.get(app.v1 + "/models", headers=auth(Origin="https://chat.example.org")) as got:
            assert got.status == 200 and "Access-Control-Allow-Origin" not in got.headers
    settings = HttpSettings(allow_origins=["https://chat.example.org"], rate_limit_per_minute=0)
    async with serve_with(settings=settings) as app, aiohttp.ClientSession() as http:
        async with http.options(app.v1 + "/chat/completions", headers=preflight) as got:
            assert got.status == 204
            assert got.headers["Access-Control-Allow-Origin"] == "https://chat.example.org"
            assert "Authorization" in got.headers["Access-Control-Allow-Headers"]
        async with http.get(app.v1 + "/models", headers=auth(Origin="https://chat.example.org")) as got:
            assert got.headers["Access-Control-Allow-Origin"] == "https://chat.example.org"
        async with http.get(app.v1 + "/models", headers=auth(Origin="https://evil.example.com")) as got:
            assert "Access-Control-Allow-Origin" not in got.headers


async def test_no_path_leads_out_of_the_keys_own_files(serve_with, tmp_path):
    async with serve_with() as app:
        mine = app.service.artifacts / f"http-{workspace_of(KEY)}-c_x"
        mine.mkdir(parents=True)
        (mine / "ok.txt").write_text("mine")
        secret = tmp_path / "secret.txt"
        secret.write_text("secret")
        os.symlink(secret, mine / "link.txt")
        theirs = app.service.artifacts / "http-000000000000000000000000-c_x"
        theirs.mkdir(parents=True)
        (theirs / "t.txt").write_text("theirs")
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{app.url}/files/{mine.name}/ok.txt", headers=auth()) as got:
                assert got.status == 200 and await got.text() == "mine"
                assert got.headers["Content-Security-Policy"].startswith("sandbox")
            for path in (
                f"/files/{mine.name}/link.txt",
                f"/files/{mine.name}/%2e%2e/%2e%2e/secret.txt",
                f"/files/{mine.name}/..%2F..%2Fsecret.txt",
                f"/files/{theirs.name}/t.txt",
                "/files/%2e%2e/db.sqlite3",
                f"/files/{mine.name}/ok.txt%00.png",
            ):
                async with http.get(app.url + path, headers=auth()) as got:
                    assert got.status == 404, path


async def test_allow_users_and_bad_conversation_ids(serve_with):
    settings = HttpSettings(allow_users=["alice"], rate_limit_per_minute=0)
    async with serve_with(settings=settings) as app, aiohttp.ClientSession() as http:
        async with http.post(
            app.v1 + "/chat/completions", json={**CHAT, "user": "bob"}, headers=auth()
        ) as got:
            assert got.status == 403 and "http.allow_users" in (await got.json())["error"]["message"]
        async with http.post(
            app.v1 + "/chat/completions", json={**CHAT, "user": "alice"}, headers=auth()
        ) as got:
            assert got.status == 200
        async with http.post(
            app.url + "/hugginggpt", json={"messages": CHAT["messages"]}, headers=auth()
        ) as got:
            assert got.status == 403 and "http.allow_users" in (await got.json())["error"]
        bad = auth(**{"X-Conversation-Id": "x" * 300})
        async with http.post(
            app.v1 + "/chat/completions", json={**CHAT, "user": "alice"}, headers=bad
        ) as got:
            assert got.status == 400 and "conversation id" in (await got.json())["error"]["message"]


async def test_the_key_reaches_no_log_nor_the_database(serve_with, caplog, tmp_path):
    caplog.set_level(logging.DEBUG)
    async with serve_with() as app, aiohttp.ClientSession() as http:
        async with http.post(app.v1 + "/chat/completions", json=CHAT, headers=auth()) as got:
            assert got.status == 200
        async with http.get(app.v1 + "/models", headers=auth("a-wrong-key-in-a-log?")) as got:
            assert got.status == 401
        stored = repr(await app.store.requests(1))
        database = b"".join(p.read_bytes() for p in tmp_path.glob("db.sqlite3*"))
    assert "hi" in stored and KEY not in stored and KEY.encode() not in database
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "/v1/chat/completions" in logged  # the access log ran
    assert KEY not in logged and "a-wrong-key-in-a-log" not in logged


def test_keys_come_from_the_environment_and_become_workspaces():
    with pytest.raises(ConfigError, match="HUGGINGGPT_API_KEY"):
        ApiKeys.from_env({}, "HUGGINGGPT_API_KEY")
    keys = ApiKeys.from_env({"HUGGINGGPT_API_KEY": " one-key , two-key ,"}, "HUGGINGGPT_API_KEY")
    assert len(keys) == 2
    one, two = keys.identify("Bearer one-key"), keys.identify("bearer two-key")
    assert one and two and one.workspace != two.workspace and "one-key" not in one.workspace
    assert keys.identify("Bearer three") is None and keys.identify("one-key") is None


def test_http_settings_are_checked_with_the_key_named():
    with pytest.raises(ConfigError, match="http.allow_origins"):
        parse_settings({"http": {"allow_origins": ["chat.example.org/path"]}})
    with pytest.raises(ConfigError, match="http.port"):
        parse_settings({"http": {"port": 70000}})
    assert parse_settings({"http": {"allow_origins": ["https://a.example/"]}}).http.allow_origins == [
        "https://a.example"
    ]


def test_serve_refuses_to_start_without_a_key_or_with_a_bad_port(monkeypatch, capsys, tmp_path):
    from bot.cli import main

    monkeypatch.setenv("HUGGINGGPT_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("HUGGINGGPT_API_KEY", raising=False)
    assert main(["serve"]) == 2
    assert "HUGGINGGPT_API_KEY" in capsys.readouterr().err
    monkeypatch.setenv("HUGGINGGPT_API_KEY", "k")
    assert main(["serve", "--port", "70000"]) == 2
    assert "--port" in capsys.readouterr().err
    assert not (tmp_path / "hugginggpt.sqlite3").exists()  # nothing was opened


async def test_a_port_in_use_is_a_configuration_error():
    import socket

    from aiohttp import web

    from adapters.http.runner import serve

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match=f"cannot listen on 127.0.0.1:{port}"):
            await serve(web.Application(), "127.0.0.1", port, 1.0)

"""The Discord adapter end to end: the real discord.py client against tests/fakes/discord_server.py.

The engine side is a scripted ``TurnHandler`` defined here: it records every
``IncomingMessage``, emits engine events, and answers with text and files written
to ``tmp_path``; a dict keyed by ConversationKey stands in for the lead's store.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pytest
from PIL import Image

from adapters.base import ConversationKey, IncomingMessage
from adapters.discord import DiscordBot, DiscordSettings, run_discord
from engine.errors import ConfigError
from engine.events import (
    Done,
    Event,
    EventCallback,
    PlanReady,
    Responding,
    Started,
    TaskFinished,
    TaskStarted,
)
from engine.types import ModelCard, Outcome, Plan, Reply, Resource, Task, TaskResult
from tests.fakes.discord_server import BOT_ID, FakeDiscord, user

GUILD = 111
CHANNEL = 222
THREAD = 333
DM = 444
ALICE = user(501, "alice")
BOB = user(502, "bob")
MENTION = f"<@{BOT_ID}>"

pytestmark = pytest.mark.timeout(20)


def png_bytes(size: tuple[int, int] = (32, 32), color: str = "red") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG")
    return buf.getvalue()


def noise_png(path: Path, side: int) -> Path:
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (side, side, 3), dtype=np.uint8)).save(path, "PNG", compress_level=1)
    return path


Answer = Callable[[IncomingMessage], Reply]


class ScriptedHandler:
    """A TurnHandler that follows a script; ``history`` plays the part of the SQLite store."""

    def __init__(self, tmp_path: Path, answer: Answer | None = None, *, events: bool = True) -> None:
        self.tmp_path = tmp_path
        self.answer = answer or self.default_answer
        self.events = events
        self.calls: list[IncomingMessage] = []
        self.forgotten: list[ConversationKey] = []
        self.history: dict[ConversationKey, list[tuple[str, Reply]]] = {}

    def default_answer(self, msg: IncomingMessage) -> Reply:
        image = Resource(kind="image", path=self.tmp_path / "result.png")
        image.path.write_bytes(png_bytes(color="blue"))  # type: ignore[union-attr]
        return Reply(text=f"Here is what I found for: {msg.text}", media=(image,))

    async def handle(self, message: IncomingMessage, on_event: EventCallback | None = None) -> Outcome:
        self.calls.append(message)
        task = Task(id=0, task="image-to-text", args={"image": "x.png"})
        card = ModelCard(id="nlpconnect/vit-gpt2-image-captioning", task="image-to-text", backend="local")
        reply = self.answer(message)
        events: list[Event] = [
            Started(message.text),
            PlanReady(Plan(tasks=(task,))),
            TaskStarted(task, card),
            TaskFinished(TaskResult(task=task, status="ok", card=card)),
            Responding(),
            Done(reply),
        ]
        if self.events and on_event is not None:
            for event in events:
                result = on_event(event)
                if asyncio.iscoroutine(result):
                    await result
        self.history.setdefault(message.key, []).append((message.text, reply))
        return Outcome(reply=reply)

    async def forget(self, key: ConversationKey) -> None:
        self.forgotten.append(key)
        self.history.pop(key, None)

    async def knows(self, key: ConversationKey) -> bool:
        return key in self.history


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    server = await FakeDiscord().start()
    server.add_guild(GUILD, (CHANNEL,), threads={THREAD: CHANNEL}, roles={601: "artists"})
    restore = server.point_discord_py_here()
    try:
        yield server
    finally:
        restore()
        await server.close()


@contextlib.asynccontextmanager
async def running(fake: FakeDiscord, handler: Any, **overrides: Any) -> AsyncIterator[DiscordBot]:
    settings = DiscordSettings(**{"status_edit_interval": 0.05, **overrides})
    bot = DiscordBot(settings, handler, guild_ready_timeout=0.01)
    runner = asyncio.create_task(bot.start("fake-token"))
    try:
        ready = asyncio.create_task(bot.wait_until_ready())
        await asyncio.wait({ready, runner}, timeout=5, return_when=asyncio.FIRST_COMPLETED)
        if runner.done():
            runner.result()  # raises what stopped the client
        assert ready.done(), "the client did not get ready"
        yield bot
    finally:
        await bot.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(runner, 5)


async def wait_for_reply(
    fake: FakeDiscord, channel: int, count: int = 1, *, files: bool = False
) -> list[Any]:
    def replies() -> list[Any]:
        out = [
            c
            for c in fake.bot_messages(channel)
            if (c.json or {}).get("message_reference") and (c.files or not files)
        ]
        return out

    await fake.wait_for(lambda: len(replies()) >= count)
    return replies()


def contents(fake: FakeDiscord, channel: int) -> list[str]:
    return [(c.json or {}).get("content") or "" for c in fake.bot_messages(channel)]


async def test_mention_with_image_gets_status_then_reply_with_image(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    handler = ScriptedHandler(tmp_path)
    picture = png_bytes()
    async with running(fake, handler) as bot:
        sent = await fake.push_message(
            CHANNEL,
            ALICE,
            f"{MENTION} what is in this picture?",
            guild_id=GUILD,
            mentions=[fake.bot_user],
            attachments=[fake.add_attachment("cat.png", picture, "image/png")],
        )
        await wait_for_reply(fake, CHANNEL, files=True)
        await bot.wait_idle()

    (msg,) = handler.calls
    assert msg.key == ConversationKey("discord", str(GUILD), str(CHANNEL))
    assert msg.text == "what is in this picture?"
    assert msg.author == str(ALICE["id"]) and msg.message_id == sent["id"]
    assert [(f.name, f.data, f.declared_mime) for f in msg.files] == [("cat.png", picture, "image/png")]

    posted = fake.bot_messages(CHANNEL)
    status, answer = posted[0], posted[-1]
    assert status.json["content"].startswith("Plan") and not status.files
    assert answer.json["content"] == "Here is what I found for: what is in this picture?"
    assert str(answer.json["message_reference"]["message_id"]) == sent["id"]
    assert [name for name, _ in answer.files] == ["result.png"]
    assert Image.open(io.BytesIO(answer.files[0][1])).size == (32, 32)
    edits = fake.calls_to("PATCH", rf"/channels/{CHANNEL}/messages/\d+$")
    # the status message ends showing the final state (posted once if no edit was due)
    final = edits[-1].json["content"] if edits else status.json["content"]
    assert "Plan: 1 task" in final and "image-to-text (nlpconnect/vit-gpt2-image-captioning): ok" in final
    assert final.endswith("Done.")
    assert fake.calls_to("POST", rf"/channels/{CHANNEL}/typing$")
    assert len(posted) == 2  # one status message (edited), one answer; own echoes ignored


async def test_dm_session_two_turns_share_the_key(fake: FakeDiscord, tmp_path: Path) -> None:
    def answer(msg: IncomingMessage) -> Reply:
        earlier = handler.history.get(msg.key, [])
        if not earlier:
            path = tmp_path / "cat.png"
            path.write_bytes(png_bytes(color="green"))
            return Reply("A cat.", media=(Resource(kind="image", path=path),))
        first_image = earlier[0][1].media[0].path
        assert first_image is not None
        return Reply(f"Made {first_image.name} blue.")

    handler = ScriptedHandler(tmp_path, answer)
    async with running(fake, handler) as bot:
        await fake.push_message(DM, ALICE, "draw a cat")
        await wait_for_reply(fake, DM, files=True)
        await bot.wait_idle()
        await fake.push_message(DM, ALICE, "make it blue")
        await fake.wait_for(lambda: "Made cat.png blue." in contents(fake, DM))
        await fake.push_message(DM, ALICE, "forget")
        await fake.wait_for(lambda: handler.forgotten != [])

    first, second = handler.calls
    assert first.key == second.key == ConversationKey("discord", "", str(DM))
    assert first.text == "draw a cat" and second.text == "make it blue"
    assert handler.forgotten == [first.key]
    assert len(handler.calls) == 2  # "forget" is a command, not a turn


async def test_long_answer_is_split_under_2000_chars(fake: FakeDiscord, tmp_path: Path) -> None:
    code = "```python\n" + "\n".join(f"print({i})  # line {i}" for i in range(150)) + "\n```"
    text = "\n\n".join(["Intro paragraph. " * 40, code, "Closing words. " * 60])
    handler = ScriptedHandler(tmp_path, lambda m: Reply(text), events=False)
    async with running(fake, handler) as bot:
        await fake.push_message(DM, ALICE, "write a lot")
        await fake.wait_for(lambda: any("Closing words." in c for c in contents(fake, DM)))
        await bot.wait_idle()

    parts = contents(fake, DM)
    assert len(parts) >= 3
    assert all(len(p) < 2000 for p in parts)
    assert all(p.count("```") % 2 == 0 for p in parts)  # every part renders on its own
    joined = "".join(parts)
    assert all(f"print({i})" in joined for i in range(150))


async def test_oversized_files_are_downscaled_or_left_out(fake: FakeDiscord, tmp_path: Path) -> None:
    limit = 300_000

    def answer(msg: IncomingMessage) -> Reply:
        big = noise_png(tmp_path / "big.png", 400)  # ~480 kB of noise: must be shrunk
        video = tmp_path / "clip.mp4"
        video.write_bytes(b"not really a video" * 20_000)  # ffmpeg cannot shrink it
        return Reply(
            "Two files.", media=(Resource(kind="image", path=big), Resource(kind="video", path=video))
        )

    handler = ScriptedHandler(tmp_path, answer, events=False)
    async with running(fake, handler, dm_upload_limit_bytes=limit) as bot:
        await fake.push_message(DM, ALICE, "make big things")
        (reply,) = await wait_for_reply(fake, DM, files=True)
        await bot.wait_idle()

    assert (tmp_path / "big.png").stat().st_size > limit
    [(name, data)] = reply.files
    assert name == "big.jpg" and len(data) <= limit
    assert Image.open(io.BytesIO(data)).format == "JPEG"
    assert reply.json["content"].startswith("Two files.")
    assert "clip.mp4" in reply.json["content"] and "left out" in reply.json["content"]


async def test_upload_refused_with_413_falls_back_to_a_note(fake: FakeDiscord, tmp_path: Path) -> None:
    fake.upload_limit = 10  # the server refuses what the bot believed would fit
    handler = ScriptedHandler(tmp_path, events=False)
    async with running(fake, handler) as bot:
        await fake.push_message(DM, ALICE, "draw")
        await fake.wait_for(lambda: any("refused" in c for c in contents(fake, DM)))
        await bot.wait_idle()

    assert [c.status for c in fake.calls_to("POST", rf"/channels/{DM}/messages$") if c.files] == [413, 413]
    texts = contents(fake, DM)
    assert texts.count("Here is what I found for: draw") == 1
    assert any("result.png was left out" in t for t in texts)


async def test_429_on_the_reply_is_retried_and_delivered_once(fake: FakeDiscord, tmp_path: Path) -> None:
    handler = ScriptedHandler(tmp_path, lambda m: Reply("Answer after a rate limit."), events=False)
    fake.rate_limit_next("POST", rf"/channels/{DM}/messages$", retry_after=0.05)
    async with running(fake, handler) as bot:
        await fake.push_message(DM, ALICE, "hello")
        await wait_for_reply(fake, DM)
        await bot.wait_idle()

    attempts = fake.calls_to("POST", rf"/channels/{DM}/messages$")
    assert [c.status for c in attempts] == [429, 200]
    assert contents(fake, DM) == ["Answer after a rate limit."]


async def test_user_outside_allow_list_never_reaches_the_handler(fake: FakeDiscord, tmp_path: Path) -> None:
    handler = ScriptedHandler(tmp_path, lambda m: Reply("ok"), events=False)
    async with running(fake, handler, allow_users=[ALICE["id"]]) as bot:
        await fake.push_message(CHANNEL, BOB, f"{MENTION} hi", guild_id=GUILD, mentions=[fake.bot_user])
        await fake.push_message(DM, BOB, "hi in private")
        # Alice's message comes after Bob's on the same socket: once she is answered, Bob was seen.
        await fake.push_message(CHANNEL, ALICE, f"{MENTION} hi", guild_id=GUILD, mentions=[fake.bot_user])
        await wait_for_reply(fake, CHANNEL)
        await bot.wait_idle()

    assert [m.author for m in handler.calls] == [ALICE["id"]]
    assert contents(fake, DM) == []


async def test_role_and_channel_allow_lists(fake: FakeDiscord, tmp_path: Path) -> None:
    handler = ScriptedHandler(tmp_path, lambda m: Reply("ok"), events=False)
    async with running(
        fake, handler, allow_roles=["artists"], allow_channels=[str(CHANNEL)], allow_dms=False
    ) as bot:
        await fake.push_message(DM, ALICE, "dm is off")
        await fake.push_message(CHANNEL, BOB, f"{MENTION} no role", guild_id=GUILD, mentions=[fake.bot_user])
        await fake.push_message(
            THREAD, ALICE, f"{MENTION} in a thread", guild_id=GUILD, mentions=[fake.bot_user], roles=[601]
        )
        await wait_for_reply(fake, THREAD)
        await bot.wait_idle()

    (msg,) = handler.calls
    # A thread is its own conversation: parent channel in ``channel``, thread id in ``thread``.
    assert msg.key == ConversationKey("discord", str(GUILD), str(CHANNEL), str(THREAD))


async def test_restart_keeps_the_dm_conversation_key(fake: FakeDiscord, tmp_path: Path) -> None:
    def answer(msg: IncomingMessage) -> Reply:
        return Reply(f"turn {len(handler.history.get(msg.key, [])) + 1}")

    handler = ScriptedHandler(tmp_path, answer, events=False)
    async with running(fake, handler) as bot:
        await fake.push_message(DM, ALICE, "remember the cat")
        await wait_for_reply(fake, DM)
        await bot.wait_idle()
    async with running(fake, handler) as bot:  # a fresh client: new login, new gateway session
        await fake.push_message(DM, ALICE, "what did I ask?")
        await wait_for_reply(fake, DM, 2)
        await bot.wait_idle()

    first, second = handler.calls
    assert first.key == second.key
    assert contents(fake, DM) == ["turn 1", "turn 2"]


async def test_replies_to_the_bot_count_and_other_messages_do_not(fake: FakeDiscord, tmp_path: Path) -> None:
    handler = ScriptedHandler(tmp_path, lambda m: Reply("ok"), events=False)
    async with running(fake, handler) as bot:
        await fake.push_message(CHANNEL, ALICE, "just chatting", guild_id=GUILD)
        await fake.push_message(
            CHANNEL,
            user(777, "otherbot", bot=True),
            f"{MENTION} hi",
            guild_id=GUILD,
            mentions=[fake.bot_user],
        )
        await fake.push_message(CHANNEL, ALICE, f"{MENTION} first", guild_id=GUILD, mentions=[fake.bot_user])
        (reply,) = await wait_for_reply(fake, CHANNEL)
        await bot.wait_idle()
        bot_msg_id = max(i for i, m in fake.messages.items() if m["author"]["id"] == str(BOT_ID))
        await fake.push_message(CHANNEL, ALICE, "and a follow-up", guild_id=GUILD, reply_to=bot_msg_id)
        await wait_for_reply(fake, CHANNEL, 2)
        await bot.wait_idle()

    assert [m.text for m in handler.calls] == ["first", "and a follow-up"]


async def test_rate_limit_answers_with_a_wait_message(fake: FakeDiscord, tmp_path: Path) -> None:
    handler = ScriptedHandler(tmp_path, lambda m: Reply("ok"), events=False)
    async with running(fake, handler, rate_limit_per_minute=1, rate_limit_burst=1) as bot:
        await fake.push_message(DM, ALICE, "one")
        await fake.push_message(DM, ALICE, "two")
        await wait_for_reply(fake, DM, 2)
        await bot.wait_idle()

    assert len(handler.calls) == 1
    assert any(re.search(r"please wait about \d+ s", c) for c in contents(fake, DM))


async def test_handler_failure_becomes_an_apology(fake: FakeDiscord, tmp_path: Path) -> None:
    def broken(msg: IncomingMessage) -> Reply:
        raise RuntimeError("the GPU caught fire")

    handler = ScriptedHandler(tmp_path, broken, events=False)
    async with running(fake, handler) as bot:
        await fake.push_message(DM, ALICE, "hello")
        (reply,) = await wait_for_reply(fake, DM)
        await bot.wait_idle()

    assert reply.json["content"].startswith("Sorry") and "the GPU caught fire" in reply.json["content"]


async def test_oversized_attachment_becomes_a_warning(fake: FakeDiscord, tmp_path: Path) -> None:
    handler = ScriptedHandler(tmp_path, lambda m: Reply("ok"), events=False)
    big = fake.add_attachment("huge.wav", b"\0" * 200_000, "audio/wav")
    small = fake.add_attachment("small.png", png_bytes(), "image/png")
    async with running(fake, handler, max_attachment_mb=0.1) as bot:
        await fake.push_message(DM, ALICE, "listen", attachments=[big, small])
        (reply,) = await wait_for_reply(fake, DM)
        await bot.wait_idle()

    (msg,) = handler.calls
    assert [f.name for f in msg.files] == ["small.png"]
    assert len(msg.warnings) == 1 and "huge.wav" in msg.warnings[0]
    assert "huge.wav" in reply.json["content"]  # shown to the user, not dropped silently


async def test_slash_command_defers_then_follows_up(fake: FakeDiscord, tmp_path: Path) -> None:
    handler = ScriptedHandler(tmp_path)
    async with running(fake, handler) as bot:
        synced = fake.calls_to("PUT", r"/applications/\d+/commands$")
        assert sorted(c["name"] for c in synced[0].json) == ["forget", "hugginggpt"]
        await fake.push_interaction(
            "hugginggpt",
            {"request": "caption this"},
            channel_id=CHANNEL,
            author=ALICE,
            guild_id=GUILD,
            attachment=fake.add_attachment("cat.png", png_bytes(), "image/png"),
        )
        await fake.wait_for(lambda: any(c.files for c in fake.calls_to("POST", r"/webhooks/\d+/[^/]+$")))
        await bot.wait_idle()
        await fake.push_interaction("forget", {}, channel_id=CHANNEL, author=ALICE, guild_id=GUILD)
        await fake.wait_for(lambda: handler.forgotten != [])

    (msg,) = handler.calls
    assert msg.text == "caption this" and [f.name for f in msg.files] == ["cat.png"]
    assert msg.key == ConversationKey("discord", str(GUILD), str(CHANNEL))
    callbacks = fake.calls_to("POST", r"/interactions/\d+/[^/]+/callback$")
    assert callbacks[0].json["type"] == 5  # deferred: "thinking…"
    assert fake.calls_to("PATCH", r"/webhooks/\d+/[^/]+/messages/@original$")  # the status
    followup = fake.calls_to("POST", r"/webhooks/\d+/[^/]+$")[0]
    assert (
        followup.json["content"].startswith("Here is what I found") and followup.files[0][0] == "result.png"
    )
    assert handler.forgotten == [msg.key]


async def test_slash_command_without_progress_answers_in_the_deferred_response(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    handler = ScriptedHandler(tmp_path, lambda m: Reply("Short answer."), events=False)
    async with running(fake, handler, sync_commands=False) as bot:
        await fake.push_interaction("hugginggpt", {"request": "hi"}, channel_id=DM, author=ALICE)
        edits = lambda: fake.calls_to("PATCH", r"/webhooks/\d+/[^/]+/messages/@original$")  # noqa: E731
        await fake.wait_for(lambda: bool(edits()))
        await bot.wait_idle()

    assert handler.calls[0].key == ConversationKey("discord", "", str(DM))
    assert edits()[0].json["content"] == "Short answer."
    assert not fake.calls_to("POST", r"/webhooks/\d+/[^/]+$")
    assert not fake.calls_to("PUT", r"/applications/")


async def test_a_slow_conversation_does_not_block_another(fake: FakeDiscord, tmp_path: Path) -> None:
    release = asyncio.Event()

    class SlowInOneChannel(ScriptedHandler):
        async def handle(self, message: IncomingMessage, on_event: EventCallback | None = None) -> Outcome:
            if message.key.channel == str(CHANNEL):
                await release.wait()
            return await super().handle(message, on_event)

    handler = SlowInOneChannel(tmp_path, lambda m: Reply(f"done: {m.text}"), events=False)
    async with running(fake, handler) as bot:
        await fake.push_message(CHANNEL, ALICE, f"{MENTION} slow", guild_id=GUILD, mentions=[fake.bot_user])
        await fake.push_message(DM, BOB, "fast")
        await wait_for_reply(fake, DM)
        assert contents(fake, CHANNEL) == []  # still working on the slow one
        release.set()
        await wait_for_reply(fake, CHANNEL)
        await bot.wait_idle()

    assert [m.text for m in handler.calls] == ["fast", "slow"]


async def test_run_discord_names_the_fix_for_a_bad_token(fake: FakeDiscord, tmp_path: Path) -> None:
    fake.fail("GET", r"/users/@me$", 401, {"code": 0, "message": "401: Unauthorized"})
    with pytest.raises(ConfigError, match="DISCORD_TOKEN"):
        await run_discord(DiscordSettings(), ScriptedHandler(tmp_path), "bad-token")


async def test_run_discord_names_the_fix_for_a_missing_intent(fake: FakeDiscord, tmp_path: Path) -> None:
    fake.refuse_identify_with = 4014
    with pytest.raises(ConfigError, match="Message Content intent"):
        await asyncio.wait_for(run_discord(DiscordSettings(), ScriptedHandler(tmp_path), "token"), 5)


async def test_network_error_during_upload_becomes_an_apology(fake: FakeDiscord, tmp_path: Path) -> None:
    handler = ScriptedHandler(tmp_path, events=False)  # answers with an image
    async with running(fake, handler) as bot:
        request = bot.http.request

        async def reset_on_upload(route: Any, *, files: Any = None, **kwargs: Any) -> Any:
            if files:
                raise aiohttp.ClientConnectionError("Connection reset by peer")
            return await request(route, files=files, **kwargs)

        bot.http.request = reset_on_upload  # type: ignore[method-assign]
        await fake.push_message(DM, ALICE, "draw")
        (reply,) = await wait_for_reply(fake, DM)
        await bot.wait_idle()

    assert reply.json["content"].startswith("Sorry") and "Connection reset by peer" in reply.json["content"]


async def test_decompression_bomb_image_is_left_out_with_a_note(
    fake: FakeDiscord, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10_000)  # 400x400 is over twice this: PIL refuses it

    def answer(msg: IncomingMessage) -> Reply:
        return Reply(
            "A huge image.", media=(Resource(kind="image", path=noise_png(tmp_path / "huge.png", 400)),)
        )

    handler = ScriptedHandler(tmp_path, answer, events=False)
    async with running(fake, handler, dm_upload_limit_bytes=300_000) as bot:
        await fake.push_message(DM, ALICE, "draw big")
        (reply,) = await wait_for_reply(fake, DM)
        await bot.wait_idle()

    assert not reply.files
    assert reply.json["content"].startswith("A huge image.")
    assert "huge.png" in reply.json["content"] and "left out" in reply.json["content"]


async def test_shutdown_mid_transcode_kills_ffmpeg(fake: FakeDiscord, tmp_path: Path) -> None:
    pidfile = tmp_path / "ffmpeg.pid"
    slow_ffmpeg = tmp_path / "slow-ffmpeg"
    slow_ffmpeg.write_text(f"#!/bin/sh\necho $$ > {pidfile}\nexec sleep 30\n")
    slow_ffmpeg.chmod(0o755)

    def answer(msg: IncomingMessage) -> Reply:
        video = tmp_path / "clip.mp4"
        video.write_bytes(b"\0" * 5_000)  # over the limit: must be transcoded
        return Reply("A clip.", media=(Resource(kind="video", path=video),))

    handler = ScriptedHandler(tmp_path, answer, events=False)
    async with running(fake, handler, dm_upload_limit_bytes=1_000, ffmpeg=str(slow_ffmpeg)):
        await fake.push_message(DM, ALICE, "film it")
        async with asyncio.timeout(5):  # the fake's wait_for only wakes on REST calls: poll the file
            while not (pidfile.exists() and pidfile.read_text().strip()):
                await asyncio.sleep(0.02)
    # leaving ``running`` closes the client, which cancels the turn mid-transcode
    pid = int(pidfile.read_text())
    with pytest.raises(ProcessLookupError):  # killed and reaped, not transcoding in the background
        os.kill(pid, 0)


def status_senders() -> list[asyncio.Task[Any]]:
    return [t for t in asyncio.all_tasks() if "_send_latest" in repr(t.get_coro())]


async def test_status_stops_when_the_handler_fails(fake: FakeDiscord, tmp_path: Path) -> None:
    class FailsMidway(ScriptedHandler):
        async def handle(self, message: IncomingMessage, on_event: EventCallback | None = None) -> Outcome:
            assert on_event is not None
            await on_event(Started(message.text))
            await asyncio.sleep(0.05)  # the first status goes out; the next waits for the interval
            await on_event(PlanReady(Plan(tasks=(Task(id=0, task="text-to-image", args={}),))))
            raise RuntimeError("the model server went away")

    async with running(fake, FailsMidway(tmp_path), status_edit_interval=0.3) as bot:
        await fake.push_message(DM, ALICE, "draw")
        await fake.wait_for(lambda: any(c.startswith("Sorry") for c in contents(fake, DM)))
        await bot.wait_idle()
        assert status_senders() == []
        await asyncio.sleep(0.4)  # past the interval: a live sender would edit the status now

    status, apology = contents(fake, DM)
    assert status == "Planning…" and "the model server went away" in apology
    assert not fake.calls_to("PATCH", rf"/channels/{DM}/messages/\d+$")  # no edit after the apology


async def test_status_stops_when_the_turn_is_cancelled(fake: FakeDiscord, tmp_path: Path) -> None:
    class NeverEnds(ScriptedHandler):
        async def handle(self, message: IncomingMessage, on_event: EventCallback | None = None) -> Outcome:
            assert on_event is not None
            await on_event(Started(message.text))
            await asyncio.sleep(0.05)
            await on_event(PlanReady(Plan(tasks=())))  # pending: the interval has not passed
            await asyncio.Event().wait()
            raise AssertionError("unreachable")

    async with running(fake, NeverEnds(tmp_path), status_edit_interval=5):
        await fake.push_message(DM, ALICE, "draw")
        await fake.wait_for(lambda: contents(fake, DM) == ["Planning…"])
        assert len(status_senders()) == 1
    # leaving ``running`` closes the client, which cancels the turn
    assert status_senders() == []


async def test_a_turn_with_a_slow_attachment_is_not_overtaken(fake: FakeDiscord, tmp_path: Path) -> None:
    handler = ScriptedHandler(tmp_path)
    fake.cdn_delay = 0.3
    async with running(fake, handler) as bot:
        await fake.push_message(
            DM, ALICE, "what is this?", attachments=[fake.add_attachment("cat.png", png_bytes(), "image/png")]
        )
        await fake.push_message(DM, ALICE, "and make it blue")
        await wait_for_reply(fake, DM, count=2)
        await bot.wait_idle()
    assert [m.text for m in handler.calls] == ["what is this?", "and make it blue"]


async def test_a_thread_discord_py_has_not_cached_is_its_own_conversation(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    hidden = 777
    fake.add_hidden_thread(GUILD, hidden, CHANNEL)
    handler = ScriptedHandler(tmp_path)
    async with running(fake, handler, allow_channels=[str(CHANNEL)]) as bot:
        for text in ("hello in a new thread", "again"):
            await fake.push_message(
                hidden, ALICE, f"{MENTION} {text}", guild_id=GUILD, mentions=[fake.bot_user]
            )
            await bot.wait_idle()
            await asyncio.sleep(0.05)
            await bot.wait_idle()
    assert [m.key for m in handler.calls] == [
        ConversationKey("discord", str(GUILD), str(CHANNEL), str(hidden))
    ] * 2
    assert len(fake.calls_to("GET", rf"/channels/{hidden}$")) == 1  # fetched once, then remembered


async def test_gateway_shards_each_serve_their_own_guilds_and_dms_go_to_shard_zero(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    """Two processes' worth of clients (shard 0/2 and 1/2): Discord routes a guild's
    events to shard (guild_id >> 22) % 2 and DMs to shard 0; each answers only its own."""
    other_guild, other_channel = (1 << 22) | 7, 888  # (id >> 22) % 2 == 1
    fake.add_guild(other_guild, (other_channel,))
    zero, one = ScriptedHandler(tmp_path), ScriptedHandler(tmp_path)
    async with running(fake, zero, shard_id=0, shard_count=2), running(fake, one, shard_id=1, shard_count=2):
        assert sorted(p["shard"] for p in fake.identify_payloads) == [[0, 2], [1, 2]]
        await fake.push_message(
            CHANNEL, ALICE, f"{MENTION} first guild", guild_id=GUILD, mentions=[fake.bot_user]
        )
        await fake.push_message(
            other_channel, BOB, f"{MENTION} second guild", guild_id=other_guild, mentions=[fake.bot_user]
        )
        await fake.push_message(DM, ALICE, "a direct message")
        await fake.wait_for(lambda: len(zero.calls) == 2 and len(one.calls) == 1)
    assert sorted(m.text for m in zero.calls) == ["a direct message", "first guild"]
    assert [m.key for m in one.calls] == [ConversationKey("discord", str(other_guild), str(other_channel))]


def test_shard_settings_come_in_pairs_and_in_range() -> None:
    with pytest.raises(ValueError, match="together"):
        DiscordSettings(shard_id=0)
    with pytest.raises(ValueError, match="below shard_count"):
        DiscordSettings(shard_id=2, shard_count=2)
    assert DiscordSettings(shard_id=1, shard_count=2).shard_count == 2

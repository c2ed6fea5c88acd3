"""The Slack adapter in HTTP mode: the real AsyncApp and AsyncWebClient against FakeSlack.

Inbound requests are signed like Slack signs them and posted with Slack's 3 s timeout;
everything the bot sends out is read back from the fake's call log.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.base import ConversationKey
from tests.adapters.test_slack_support import (  # noqa: F401 - fake_fixture provides `fake`
    PNG,
    Rig,
    ScriptedHandler,
    event_callback,
    fake_fixture,
    make_rig,
    sign,
)
from tests.fakes.slack_server import FakeSlack

CHANNEL = "C0001"
USER = "U0001"


@pytest.fixture
async def rig(fake: FakeSlack, tmp_path: Path) -> AsyncIterator[Rig]:
    rig, close = await make_rig(fake, ScriptedHandler(tmp_path))
    try:
        yield rig
    finally:
        await close()


def texts(fake: FakeSlack, method: str = "chat.postMessage") -> list[str]:
    return [c.params.get("text", "") for c in fake.calls_to(method)]


def mention(ts: str, text: str, **extra: object) -> dict[str, object]:
    return {
        "type": "app_mention",
        "user": USER,
        "text": text,
        "ts": ts,
        "channel": CHANNEL,
        "event_ts": ts,
        **extra,
    }


def dm(ts: str, text: str) -> dict[str, object]:
    return {
        "type": "message",
        "channel_type": "im",
        "user": USER,
        "text": text,
        "ts": ts,
        "channel": "D0001",
        "event_ts": ts,
    }


# ---------------------------------------------------------------- request verification


async def test_url_verification_answers_the_challenge(rig: Rig) -> None:
    body = json.dumps(
        {
            "token": "legacy",
            "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
            "type": "url_verification",
        }
    )
    status, text, _ = await rig.post(body, "application/json")
    assert status == 200
    assert json.loads(text)["challenge"].startswith("3eZbrw1a")


async def test_bad_signature_and_stale_timestamp_are_refused(rig: Rig) -> None:
    body = json.dumps({"token": "legacy", "challenge": "c", "type": "url_verification"})
    forged = sign(body, secret="not-the-secret")
    assert (await rig.post(body, "application/json", forged))[0] == 401
    stale = sign(body, timestamp=int(time.time()) - 10 * 60)  # correctly signed, but 10 minutes old
    assert (await rig.post(body, "application/json", stale))[0] == 401
    event = json.dumps(event_callback(rig.fake, dm("1700000000.1", "hi"), "EvBAD"))
    assert (await rig.post(event, "application/json", sign(event, secret="not-the-secret")))[0] == 401
    await rig.bot.drain()
    assert rig.handler.messages == [] and rig.fake.calls_to("chat.postMessage") == []


# ---------------------------------------------------------------- slash command


async def test_slash_command_is_acked_before_the_work_then_posts_result_and_file(rig: Rig) -> None:
    gate = rig.handler.gate = asyncio.Event()
    status, body, seconds = await rig.command("draw a red apple")
    assert status == 200 and "Working on it" in body
    assert seconds < 2.5  # Slack allows 3 s
    assert not gate.is_set() and len(rig.handler.messages) <= 1  # the turn is still running

    gate.set()
    await rig.bot.drain()
    fake = rig.fake
    [message] = rig.handler.messages
    assert message.key == ConversationKey("slack", fake.team_id, CHANNEL, "")
    assert message.text == "draw a red apple" and message.author == USER
    posts = fake.calls_to("chat.postMessage")
    assert posts[0].params["text"].startswith(f"<@{USER}> asked: draw a red apple")  # the status message
    assert any("Made image-1.png for: draw a red apple" in t for t in texts(fake))
    assert all(not c.params.get("thread_ts") for c in posts)  # in the channel, not a thread
    updates = texts(fake, "chat.update")
    assert updates and "text-to-image (fake/painter): ok" in updates[-1] and updates[-1].endswith("Done.")
    [get_url] = fake.calls_to("files.getUploadURLExternal")
    assert get_url.params["filename"] == "image-1.png" and int(get_url.params["length"]) == len(PNG)
    assert list(fake.uploads.values()) == [PNG]
    [complete] = fake.calls_to("files.completeUploadExternal")
    assert complete.params["channel_id"] == CHANNEL
    order = [
        c.method
        for c in fake.calls
        if c.method in ("files.getUploadURLExternal", "upload", "files.completeUploadExternal")
    ]
    assert order == ["files.getUploadURLExternal", "upload", "files.completeUploadExternal"]


async def test_slash_command_where_the_bot_is_not_a_member_answers_through_response_url(rig: Rig) -> None:
    rig.fake.deny_channel("C0PRIV", "not_in_channel")
    status, _, _ = await rig.command("draw a pear", channel="C0PRIV")
    assert status == 200
    await rig.bot.drain()
    responses = rig.fake.calls_to("response_url")
    assert responses[0].params["response_type"] == "in_channel"
    assert "Made image-1.png for: draw a pear" in responses[0].params["text"]
    assert f"<@{USER}> asked: draw a pear" in responses[0].params["text"]
    assert "/invite" in responses[-1].params["text"]  # the image could not be uploaded: say how to fix it
    assert rig.fake.calls_to("files.getUploadURLExternal") == []


async def test_forget_clears_the_channel_and_refusals_are_acked(
    rig: Rig, fake: FakeSlack, tmp_path: Path
) -> None:
    status, body, _ = await rig.command("forget")
    assert status == 200 and "Clearing this channel's context" in body
    await rig.bot.drain()
    assert rig.handler.forgotten == [ConversationKey("slack", fake.team_id, CHANNEL, "")]
    [confirmed] = fake.calls_to("response_url")
    assert confirmed.params["text"].startswith("Done: I forgot")
    assert confirmed.params["response_type"] == "ephemeral"
    _, body, _ = await rig.command("")
    assert "Ask me something" in body

    strict, close = await make_rig(
        fake, ScriptedHandler(tmp_path), allow_users=["U0BOSS"], rate_limit_burst=1
    )
    try:
        _, body, _ = await strict.command("hi")
        assert "not enabled" in body
        _, body, _ = await strict.command("hi", user="U0BOSS")
        assert "Working on it" in body
        _, body, _ = await strict.command("again", user="U0BOSS")
        assert "please wait" in body
        await strict.bot.drain()
        assert [m.author for m in strict.handler.messages] == ["U0BOSS"]
    finally:
        await close()


# ---------------------------------------------------------------- mentions and threads


async def test_mention_with_an_image_gets_a_threaded_reply_with_an_uploaded_image(rig: Rig) -> None:
    fake = rig.fake
    photo = fake.add_file("cat.png", PNG, "image/png")
    ts = "1700000000.000100"
    status, _, _ = await rig.event(
        mention(ts, f"<@{fake.bot_user_id}> what is in this picture?", files=[photo]), "Ev01"
    )
    assert status == 200
    await rig.bot.drain()

    [message] = rig.handler.messages
    assert message.key == ConversationKey("slack", fake.team_id, CHANNEL, ts)
    assert message.text == "what is in this picture?"
    assert [(f.name, f.data, f.declared_mime) for f in message.files] == [("cat.png", PNG, "image/png")]
    assert fake.calls_to("download")[0].token == fake.bot_token
    posts = fake.calls_to("chat.postMessage")
    assert posts and all(c.params.get("thread_ts") == ts for c in posts)
    assert any("I got cat.png" in t for t in texts(fake))
    [complete] = fake.calls_to("files.completeUploadExternal")
    assert complete.params["channel_id"] == CHANNEL and complete.params["thread_ts"] == ts
    assert list(fake.uploads.values()) == [PNG]

    # a follow-up in that thread, without a mention, continues the same conversation
    follow = {
        "type": "message",
        "channel_type": "channel",
        "user": USER,
        "text": "make it bigger",
        "ts": "1700000001.000200",
        "thread_ts": ts,
        "channel": CHANNEL,
    }
    await rig.event(follow, "Ev02")
    # a thread the bot is not in, and a plain channel message, are left alone
    await rig.event({**follow, "thread_ts": "1600000000.000001", "ts": "1700000002.1"}, "Ev03")
    await rig.event({**follow, "thread_ts": None, "ts": "1700000003.1"}, "Ev04")
    await rig.bot.drain()
    assert [m.key.thread for m in rig.handler.messages] == [ts, ts]
    assert "previous result was image-1.png" in texts(fake)[-1]


async def test_forget_waits_for_a_running_turn_instead_of_timing_out(rig: Rig) -> None:
    """forget waits for the conversation's lock, which a running turn holds (for minutes, live)."""
    fake, gate = rig.fake, asyncio.Event()
    rig.handler.gate = gate
    ts = "1700000000.000100"
    await rig.command("draw a red apple")
    await rig.event(mention(ts, "<@UBOT> draw a pear"), "EvBusy")
    await fake.wait_for(lambda: len(rig.handler.messages) == 2)  # both turns hold their locks

    status, body, seconds = await rig.command("forget")
    assert status == 200 and "Clearing this channel's context" in body and seconds < 1.0
    await rig.event(mention("1700000001.1", "<@UBOT> forget", thread_ts=ts), "EvFgBusy")
    await asyncio.sleep(1.7)  # longer than the 1.5 s the forget used to be given
    assert rig.handler.forgotten == []
    gate.set()
    await rig.bot.drain()

    channel_key = ConversationKey("slack", fake.team_id, CHANNEL, "")
    thread_key = ConversationKey("slack", fake.team_id, CHANNEL, ts)
    assert sorted(rig.handler.forgotten, key=str) == sorted([channel_key, thread_key], key=str)
    assert rig.handler.history == {}  # forgotten after the turns saved their results
    assert any(c.params["text"].startswith("Done: I forgot") for c in fake.calls_to("response_url"))
    in_thread = [
        c.params["text"] for c in fake.calls_to("chat.postMessage") if c.params.get("thread_ts") == ts
    ]
    assert any(t.startswith("Done: I forgot") for t in in_thread)
    assert not any("couldn't clear" in c.params.get("text", "") for c in fake.calls)


async def test_forget_in_a_thread_and_an_empty_mention(rig: Rig) -> None:
    ts = "1700000000.000100"
    await rig.event(mention(ts, "<@UBOT> forget"), "EvFg1")
    await rig.event(mention("1700000009.1", "<@UBOT>"), "EvFg2")
    await rig.bot.drain()
    assert rig.handler.forgotten == [ConversationKey("slack", rig.fake.team_id, CHANNEL, ts)]
    assert rig.handler.messages == []
    said = {c.params["thread_ts"]: c.params["text"] for c in rig.fake.calls_to("chat.postMessage")}
    assert said[ts].startswith("Done: I forgot") and said["1700000009.1"].startswith("Ask me something")


async def test_mentions_by_bots_are_ignored(rig: Rig) -> None:
    await rig.event(mention("1700000000.1", "<@UBOT> draw", bot_id="B0OTHER"), "EvBot1")
    await rig.event(mention("1700000001.1", "<@UBOT> draw", user=None), "EvBot2")
    await rig.event(mention("1700000002.1", "<@UBOT> forget", bot_id="B0OTHER"), "EvBot3")
    await rig.bot.drain()
    assert rig.handler.messages == [] and rig.handler.forgotten == []
    assert rig.fake.calls_to("chat.postMessage") == []


async def test_untrusted_text_is_escaped_so_it_cannot_ping(rig: Rig) -> None:
    fake = rig.fake
    rig.handler.reply_text = "Hey <!channel> & <!here>, ask <@U0BOSS>"
    bad_file = fake.add_file("<!here>.png", PNG, "image/png", size=10_000_000_000)
    await rig.command("draw <!channel> now")
    await rig.event(mention("1700000000.1", "<@UBOT> look", files=[bad_file]), "EvEsc")
    await rig.bot.drain()
    sent = [c.params.get("text", "") for c in fake.calls if c.method in ("chat.postMessage", "chat.update")]
    assert sent and not any("<!" in t or "<@U0BOSS" in t for t in sent)
    status = fake.calls_to("chat.postMessage")[0].params["text"]
    assert status.startswith(f"<@{USER}> asked: draw &lt;!channel&gt; now")  # the bot's own mention stays
    replies = [t for t in texts(fake) if "Hey" in t]
    assert len(replies) == 2
    assert all("Hey &lt;!channel&gt; &amp; &lt;!here&gt;, ask &lt;@U0BOSS&gt;" in t for t in replies)
    assert any(":warning: &lt;!here&gt;.png:" in t for t in replies)  # a warning naming the file


async def test_a_long_status_is_cut_to_the_message_limit(fake: FakeSlack, tmp_path: Path) -> None:
    rig, close = await make_rig(fake, ScriptedHandler(tmp_path), max_message_chars=600)
    try:
        rig.handler.task_count = 80
        await rig.command("draw a very elaborate plan")
        await rig.bot.drain()
        statuses = [fake.calls_to("chat.postMessage")[0], *fake.calls_to("chat.update")]
        assert all(len(c.params["text"]) <= 600 for c in statuses)
        last = statuses[-1].params["text"]
        assert last.startswith(f"<@{USER}> asked: draw a very elaborate plan\nPlan: 80 tasks")
        assert last.endswith("\n…") and "#1 text-to-image (fake/painter): ok" in last
    finally:
        await close()


async def test_oversized_file_becomes_a_warning(fake: FakeSlack, tmp_path: Path) -> None:
    rig, close = await make_rig(fake, ScriptedHandler(tmp_path), max_file_bytes=1024)
    try:
        huge = fake.add_file("huge.png", PNG, "image/png", size=5 * 1024 * 1024)
        await rig.event(mention("1700000000.1", "<@UBOT> look", files=[huge]), "Ev10")
        await rig.bot.drain()
        [message] = rig.handler.messages
        assert message.files == () and "huge.png" in message.warnings[0] and "limit" in message.warnings[0]
        assert any(":warning: huge.png" in t for t in texts(fake))
        assert fake.calls_to("download") == []
    finally:
        await close()


# ---------------------------------------------------------------- DMs, retries, limits, failures


async def test_dm_is_a_multi_turn_session(rig: Rig) -> None:
    await rig.event(dm("1700000000.000100", "draw a cat"), "EvD1")
    await rig.bot.drain()
    await rig.event(dm("1700000005.000100", "now make it blue"), "EvD2")
    await rig.bot.drain()
    first, second = rig.handler.messages
    assert first.key == second.key == ConversationKey("slack", rig.fake.team_id, "D0001", "")
    replies = [t for t in texts(rig.fake) if t.startswith("Made")]
    assert replies == [
        "Made image-1.png for: draw a cat",
        "Made image-2.png for: now make it blue (your previous result was image-1.png)",
    ]
    assert all(not c.params.get("thread_ts") for c in rig.fake.calls_to("chat.postMessage"))


async def test_an_event_delivered_twice_is_handled_once(rig: Rig) -> None:
    event = dm("1700000000.000100", "draw a cat")
    assert (await rig.event(event, "EvDUP"))[0] == 200
    retry = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    assert (await rig.event(event, "EvDUP", headers=retry))[0] == 200
    await rig.bot.drain()
    assert len(rig.handler.messages) == 1
    assert len([t for t in texts(rig.fake) if t.startswith("Made")]) == 1


async def test_429_from_post_message_is_retried_and_delivered_once(rig: Rig) -> None:
    rig.fake.rate_limit_next("chat.postMessage", retry_after=0)
    await rig.event(dm("1700000000.000100", "draw a cat"), "EvRL")
    await rig.bot.drain()
    posts = rig.fake.calls_to("chat.postMessage")
    status_posts = [c for c in posts if c.params.get("text") == "Thinking…"]
    assert len(status_posts) == 2  # the 429, then the retry
    assert len([t for t in texts(rig.fake) if t.startswith("Made")]) == 1
    assert len(rig.fake.calls_to("chat.update")) >= 1  # the retried status message was then edited


async def test_long_text_is_split_under_the_limit(rig: Rig) -> None:
    paragraph = "word " * 300
    rig.handler.reply_text = "\n\n".join([paragraph.strip()] * 10)  # about 15,000 characters
    await rig.event(dm("1700000000.1", "write a lot"), "EvLong")
    await rig.bot.drain()
    parts = [t for t in texts(rig.fake) if t.startswith("word")]
    assert len(parts) >= 4 and all(len(p) <= rig.bot.settings.max_message_chars for p in parts)
    assert sum(p.count("word") for p in parts) == 3000


async def test_failures_are_explained(rig: Rig) -> None:
    rig.fake.fail_next("files.completeUploadExternal", "file_uploads_disabled")
    await rig.event(dm("1700000000.1", "draw"), "EvF1")
    await rig.bot.drain()
    assert "I couldn't upload image-1.png: File uploads are disabled" in texts(rig.fake)[-1]

    rig.handler.fail = True
    await rig.event(dm("1700000001.1", "draw again"), "EvF2")
    await rig.bot.drain()
    assert texts(rig.fake)[-1].startswith("Sorry, something went wrong on my side (RuntimeError)")


async def test_rate_limited_user_gets_an_ephemeral_note(fake: FakeSlack, tmp_path: Path) -> None:
    rig, close = await make_rig(fake, ScriptedHandler(tmp_path), rate_limit_burst=1)
    try:
        await rig.event(mention("1700000000.1", "<@UBOT> one"), "EvR1")
        await rig.event(mention("1700000001.1", "<@UBOT> two"), "EvR2")
        await rig.bot.drain()
        assert len(rig.handler.messages) == 1
        [note] = fake.calls_to("chat.postEphemeral")
        assert note.params["user"] == USER and "please wait" in note.params["text"]
    finally:
        await close()


async def test_a_turn_with_a_slow_file_is_not_overtaken(fake: FakeSlack, tmp_path: Path) -> None:
    """Two DMs: the first carries a file that downloads slowly, the second is plain text
    sent just after. The handler must see them in the order they were sent."""
    handler = ScriptedHandler(tmp_path)
    rig, close = await make_rig(fake, handler)
    try:
        fake.download_delay = 0.3
        photo = fake.add_file("cat.png", PNG, "image/png")
        first = {**dm("1700000000.000100", "what is this?"), "files": [photo]}
        await rig.event(first, "EvSlow")
        await rig.event(dm("1700000001.000100", "and make it blue"), "EvFast")
        await rig.bot.drain()
        assert [m.text for m in handler.messages] == ["what is this?", "and make it blue"]
        assert len(rig.bot.order) == 0
    finally:
        await close()

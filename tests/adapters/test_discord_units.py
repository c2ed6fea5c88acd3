"""Pieces of the Discord adapter without a client: media fitting, batching, access rules, keys."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from adapters.discord import media
from adapters.discord.access import AccessPolicy, Requester
from adapters.discord.incoming import is_forget, strip_mention
from adapters.discord.media import Upload, batches, fit_media
from adapters.discord.reply import compose
from engine.types import Resource

needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


@needs_ffmpeg
async def test_big_audio_is_transcoded_under_the_limit(tmp_path: Path) -> None:
    wav = tmp_path / "speech.wav"
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=3", "-ac", "2", "-ar", "44100", str(wav))
    limit = wav.stat().st_size // 4
    fitted = await fit_media((Resource(kind="audio", path=wav),), limit, tmp_path)
    (up,) = fitted.uploads
    assert up.filename == "speech.mp3" and up.size <= limit and not fitted.notes


@needs_ffmpeg
async def test_big_video_is_transcoded_under_the_limit(tmp_path: Path) -> None:
    src = tmp_path / "clip.avi"
    ffmpeg("-f", "lavfi", "-i", "testsrc=duration=1:size=320x240:rate=10", "-c:v", "rawvideo", str(src))
    limit = src.stat().st_size // 10
    fitted = await fit_media((Resource(kind="video", path=src, name="clip.avi"),), limit, tmp_path)
    (up,) = fitted.uploads
    assert up.filename == "clip.mp4" and up.size <= limit


async def test_small_files_pass_untouched_and_missing_ones_get_a_note(tmp_path: Path) -> None:
    small = tmp_path / "a.png"
    small.write_bytes(b"x" * 10)
    gone = Resource(kind="image", path=tmp_path / "gone.png")
    fitted = await fit_media((Resource(kind="image", path=small), gone), 100, tmp_path)
    assert [u.path for u in fitted.uploads] == [small]
    assert fitted.notes == ("gone.png could not be attached (the file is missing).",)


def test_batches_respect_count_and_total_size(tmp_path: Path) -> None:
    res = Resource(kind="image", path=tmp_path / "x.png")
    ups = tuple(Upload(tmp_path / f"{i}.png", f"{i}.png", 40, res) for i in range(12))
    groups = batches(ups, 100)
    assert [len(g) for g in groups] == [2, 2, 2, 2, 2, 2]
    assert [len(g) for g in batches(ups, 10_000)] == [10, 2]


def test_access_policy() -> None:
    open_policy = AccessPolicy()
    assert open_policy.allows(Requester("1")) and open_policy.allows(Requester("1", "9", ("5",)))
    policy = AccessPolicy(
        allow_guilds=frozenset({"9"}), allow_channels=frozenset({"5"}), allow_roles=frozenset({"artists"})
    )
    assert policy.allows(Requester("1", "9", ("6", "5"), ("77", "artists")))  # thread under channel 5
    assert not policy.allows(Requester("1", "8", ("5",), ("artists",)))
    assert not policy.allows(Requester("1", "9", ("6",), ("artists",)))
    assert not policy.allows(Requester("1", "9", ("5",), ("other",)))
    assert policy.allows(Requester("1"))  # DMs have no guild, channel or roles to check
    assert not AccessPolicy(allow_dms=False).allows(Requester("1"))
    assert not AccessPolicy(allow_users=frozenset({"2"})).allows(Requester("1"))


def test_mentions_forget_and_notes() -> None:
    assert strip_mention("<@42> draw a cat <@!42>", 42) == "draw a cat"
    assert strip_mention("<@43> hi", 42) == "<@43> hi"
    assert is_forget(" Forget ") and not is_forget("forget the cat")
    assert compose("Answer.", ("a note",)) == ["Answer.\n\n⚠️ a note"]
    assert compose("", ()) == []


async def test_ffmpeg_past_its_timeout_is_killed_and_reported_as_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pidfile = tmp_path / "ffmpeg.pid"
    slow_ffmpeg = tmp_path / "slow-ffmpeg"
    slow_ffmpeg.write_text(f"#!/bin/sh\necho $$ > {pidfile}\nexec sleep 30\n")
    slow_ffmpeg.chmod(0o755)
    monkeypatch.setattr(media, "FFMPEG_TIMEOUT", 0.5)
    assert await media._ffmpeg(str(slow_ffmpeg), []) is False
    with pytest.raises(ProcessLookupError):
        os.kill(int(pidfile.read_text()), 0)

"""Command-line options that change settings, checked before anything starts."""

from __future__ import annotations

import pytest

from bot.cli import main, with_shard
from bot.config import load_settings
from engine.errors import ConfigError


def test_shard_option_sets_the_discord_shard() -> None:
    settings = with_shard(load_settings(None), "1/3")
    assert (settings.discord.shard_id, settings.discord.shard_count) == (1, 3)


@pytest.mark.parametrize(
    ("shard", "says"),
    [("2/2", "below shard_count"), ("one/two", "I/N"), ("1/0", "shard_count")],
)
def test_a_bad_shard_is_a_configuration_error_naming_it(shard: str, says: str, capsys, monkeypatch) -> None:
    with pytest.raises(ConfigError, match=says):
        with_shard(load_settings(None), shard)
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    assert main(["discord", "--shard", shard]) == 2  # refused before any token or network is needed
    assert says in capsys.readouterr().err


async def test_sigterm_cancels_the_work_so_its_cleanup_runs() -> None:
    """``docker stop`` sends SIGTERM: the command's finally blocks (closing the store,
    which writes what is queued) must run, and the exit status says terminated."""
    import asyncio
    import os
    import signal

    from bot.cli import TERMINATED, until_terminated

    cleaned: list[str] = []

    async def serve_forever() -> int:
        try:
            await asyncio.sleep(3600)
            return 0
        finally:
            cleaned.append("store closed")

    async def send_sigterm_soon() -> None:
        await asyncio.sleep(0.05)
        os.kill(os.getpid(), signal.SIGTERM)

    sender = asyncio.create_task(send_sigterm_soon())
    assert await until_terminated(serve_forever()) == TERMINATED
    await sender
    assert cleaned == ["store closed"]
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # the handler is removed again


async def test_a_second_sigterm_does_not_cut_the_cleanup_short() -> None:
    """Closing the store takes a moment (it writes what is queued); a second SIGTERM in
    that moment must not cancel the write."""
    import asyncio
    import os
    import signal

    from bot.cli import TERMINATED, until_terminated

    cleaned: list[str] = []
    closing = asyncio.Event()

    async def serve_forever() -> int:
        try:
            await asyncio.sleep(3600)
            return 0
        finally:
            closing.set()
            await asyncio.sleep(0.2)  # the store's last write
            cleaned.append("store closed")

    async def send_sigterm_twice() -> None:
        await asyncio.sleep(0.05)
        os.kill(os.getpid(), signal.SIGTERM)
        await closing.wait()
        os.kill(os.getpid(), signal.SIGTERM)

    sender = asyncio.create_task(send_sigterm_twice())
    assert await until_terminated(serve_forever()) == TERMINATED
    await sender
    assert cleaned == ["store closed"]


async def test_other_cancellations_pass_through_so_ctrl_c_still_exits_130() -> None:
    import asyncio

    from bot.cli import until_terminated

    async def serve_forever() -> int:
        await asyncio.sleep(3600)
        return 0

    runner = asyncio.ensure_future(until_terminated(serve_forever()))
    await asyncio.sleep(0.01)
    runner.cancel()  # what asyncio.run does on Ctrl+C
    try:
        await runner
    except asyncio.CancelledError:
        pass
    else:
        raise AssertionError("a cancellation that is not SIGTERM must not become exit status 143")

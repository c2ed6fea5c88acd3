"""kill -9 at any moment never loses a turn whose reply was shown.

The real CLI runs in a child process against the scripted controller; it is killed
with SIGKILL the moment a reply appears on its stdout, or at random moments of a
multi-turn chat. The database is then opened as the next start would open it: it
passes ``PRAGMA integrity_check``, and every turn whose reply was printed is there
with its reply and its request-log row.
"""

from __future__ import annotations

import asyncio
import random
import re

import pytest

from tests.faults.cli import ANSWER, chit_chat, cli, stored, write_config

pytestmark = pytest.mark.timeout(180)


def shown(output: bytes) -> list[str]:
    """The turns whose reply the user saw, by the words the reply quotes."""
    return re.findall(rf"{ANSWER}(turn \d+)", output.decode("utf-8", "replace"))


async def test_ask_killed_the_moment_its_reply_is_printed_keeps_the_turn(openai_server, tmp_path):
    openai_server.responder = chit_chat()
    config = write_config(tmp_path, openai_server.base_url)
    for n in range(3):
        async with cli(config, "ask", f"turn {n}", "--conversation", "ask") as child:
            await child.read_until(f"{ANSWER}turn {n}".encode())
            child.kill()
    check, turns = stored(tmp_path / "data" / "hugginggpt.sqlite3")
    assert check == "ok"
    assert [(t.user, t.reply, t.logged_reply) for t in turns] == [
        (f"turn {n}", f"{ANSWER}turn {n}", f"{ANSWER}turn {n}") for n in range(3)
    ]


async def test_chat_killed_the_moment_a_reply_is_printed_keeps_every_shown_turn(openai_server, tmp_path):
    openai_server.responder = chit_chat()
    config = write_config(tmp_path, openai_server.base_url)
    async with cli(config, "chat", "--conversation", "c") as child:
        for n in range(3):
            child.send(f"turn {n}\n".encode())
            output = await child.read_until(f"{ANSWER}turn {n}".encode())
        child.kill()
    check, turns = stored(tmp_path / "data" / "hugginggpt.sqlite3")
    assert check == "ok"
    assert shown(output) == ["turn 0", "turn 1", "turn 2"]
    assert [(t.user, t.reply, t.logged_reply) for t in turns] == [
        (f"turn {n}", f"{ANSWER}turn {n}", f"{ANSWER}turn {n}") for n in range(3)
    ]


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_chat_killed_at_a_random_moment_keeps_every_shown_turn(openai_server, tmp_path, seed):
    """Turns sent one after another without waiting (they queue), with a slow
    controller; the kill lands mid-turn, between turns or right after a reply."""
    rng = random.Random(seed)
    openai_server.responder = chit_chat(delay=0.05)
    config = write_config(tmp_path, openai_server.base_url)
    async with cli(config, "chat", "--conversation", "c") as child:
        await child.read_until(b"you> ")
        for n in range(8):
            child.send(f"turn {n}\n".encode())
        await child.read_until(f"{ANSWER}turn {rng.randrange(0, 4)}".encode())
        await asyncio.sleep(rng.uniform(0.0, 0.4))
        child.kill()
        await child.process.wait()
        output = bytes(child.seen) + await child.process.stdout.read()  # type: ignore[union-attr]
    check, turns = stored(tmp_path / "data" / "hugginggpt.sqlite3")
    assert check == "ok"
    saw = shown(output)
    assert saw, "at least one reply was shown before the kill"
    by_user = {t.user: t for t in turns}
    for turn in saw:
        assert turn in by_user, f"{turn} was answered on screen but is not stored"
        assert by_user[turn].reply == f"{ANSWER}{turn}"
        assert by_user[turn].logged_reply == f"{ANSWER}{turn}"
    for t in turns:  # whatever else is stored is whole: a reply is never without its log row
        assert t.reply is None or t.logged_reply == t.reply

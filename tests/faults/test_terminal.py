"""The terminal as an edge: SIGTERM at the prompt, bytes that are not UTF-8, and a
model's reply that carries terminal escape sequences, each through the real CLI."""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3

import pytest

from tests.fakes.openai_server import Reply
from tests.fakes.stages import stage_of
from tests.faults.cli import ANSWER, child_env, chit_chat, cli, stored, write_config

pytestmark = pytest.mark.timeout(120)

TERMINATED = 128 + signal.SIGTERM


async def test_sigterm_at_the_prompt_exits_and_closes_the_store(openai_server, tmp_path):
    """Waiting for the user's next line must not keep the process alive: ``docker stop``
    ends it, the store is closed cleanly (its WAL checkpointed away) and the turn kept."""
    openai_server.responder = chit_chat()
    config = write_config(tmp_path, openai_server.base_url)
    db = tmp_path / "data" / "hugginggpt.sqlite3"
    async with cli(config, "chat", "--conversation", "c") as child:
        child.send(b"turn 0\n")  # stdin stays open: only the signal can end the wait
        await child.read_until(f"{ANSWER}turn 0".encode())
        await child.read_until(b"you> ")
        child.process.send_signal(signal.SIGTERM)
        try:
            code = await asyncio.wait_for(child.process.wait(), 30)
        except TimeoutError:
            pytest.fail("chat did not exit on SIGTERM while waiting at its prompt")
    assert code == TERMINATED
    assert not db.with_name(db.name + "-wal").exists()  # the last connection closed cleanly
    check, turns = stored(db)
    assert check == "ok" and [(t.user, t.reply) for t in turns] == [("turn 0", f"{ANSWER}turn 0")]


@pytest.mark.parametrize("encoding", ["", "utf-8"])
async def test_bytes_that_are_not_utf8_are_replaced_not_fatal(openai_server, tmp_path, encoding):
    """A Latin-1 "é" and a stray 0xff typed into the chat: the turn is answered and
    stored with U+FFFD in their place; the controller gets valid UTF-8."""
    openai_server.responder = chit_chat()
    config = write_config(tmp_path, openai_server.base_url)
    env = child_env(**({"PYTHONIOENCODING": encoding} if encoding else {}))
    async with cli(config, "chat", "--conversation", "c", env=env) as child:
        child.send(b"caf\xe9 \xff turn\n")
        output = await child.read_until(ANSWER.encode())
        await child.read_until(b"you> ")
        child.send(b"/quit\n")
        assert await asyncio.wait_for(child.process.wait(), 30) == 0
    assert f"{ANSWER}caf\ufffd \ufffd turn".encode() in output
    asked = [r for r in openai_server.requests if stage_of(r["messages"]) == "chat"][0]
    assert asked["messages"][-1]["content"] == "caf\ufffd \ufffd turn"
    _, turns = stored(tmp_path / "data" / "hugginggpt.sqlite3")
    assert [t.user for t in turns] == ["caf\ufffd \ufffd turn"]


HOSTILE = (
    "visible start "
    "\x1b]0;pwned title\x07"  # set the window title
    "\x1b]52;c;ZWNobyBldmls\x07"  # write the clipboard
    "\x1b[2J\x1b[H"  # clear the screen, cursor home
    "\x9b31m"  # an 8-bit CSI
    "\u202egnp.exe\u202c"  # a right-to-left override
    " visible end"
)


def hostile_controller(body: dict) -> Reply:
    return Reply("[]") if stage_of(body["messages"]) == "plan" else Reply(HOSTILE)


async def test_escape_sequences_in_a_reply_never_reach_the_terminal(openai_server, tmp_path):
    openai_server.responder = hostile_controller
    config = write_config(tmp_path, openai_server.base_url)
    async with cli(config, "chat", "--conversation", "c") as child:
        child.send(b"hello\n")
        await child.read_until(b"visible end")
        output = await child.read_until(b"you> ")
        child.send(b"/quit\n")
        await asyncio.wait_for(child.process.wait(), 30)
    assert b"visible start" in output and b"gnp.exe" in output
    for raw in (b"\x1b", b"\x07", "\x9b".encode(), "\u202e".encode()):
        assert raw not in output, raw
    with sqlite3.connect(tmp_path / "data" / "hugginggpt.sqlite3") as db:  # stored as the model said it
        assert db.execute("SELECT text FROM messages WHERE role = 'assistant'").fetchone()[0] == HOSTILE


async def test_ask_json_escapes_what_a_terminal_would_act_on(openai_server, tmp_path):
    openai_server.responder = hostile_controller
    config = write_config(tmp_path, openai_server.base_url)
    async with cli(config, "ask", "hello", "--json", stdin=False) as child:
        assert await asyncio.wait_for(child.process.wait(), 60) == 0
        output = await child.process.stdout.read()  # type: ignore[union-attr]
    for raw in (b"\x1b", b"\x07", "\x9b".encode(), "\u202e".encode()):
        assert raw not in output, raw
    assert json.loads(output)["reply"] == HOSTILE  # escaped, not lost

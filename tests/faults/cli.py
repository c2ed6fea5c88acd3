"""The real ``hugginggpt-bot`` CLI in a child process, for faults only a process shows.

The child runs this checkout's code (PYTHONPATH) with a config whose controller is the
scripted OpenAI-compatible server of the test (tests/fakes/openai_server.py) and a
data folder in ``tmp_path``; the test reads its stdout as the user would and may
kill it at any moment. ``stored`` opens the database afterwards, as the next start
of the bot would.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import sys
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.fakes.openai_server import Reply
from tests.fakes.stages import stage_of

ROOT = Path(__file__).resolve().parents[2]
ANSWER = "ANSWER to "


def write_config(tmp_path: Path, base_url: str, **overrides: Any) -> Path:
    """A config with the scripted controller, LLM planning, no local or hosted experts."""
    config: dict[str, Any] = {
        "llm": {"backend": "openai", "base_url": base_url, "model": "fake-model", "max_retries": 0},
        "data_dir": str(tmp_path / "data"),
        "planner": {"mode": "llm", "demos": 0},
        "responder": {"style": "llm"},
        "experts": {"local": {"enabled": False}, "hosted": {"enabled": False}},
    }
    for key, value in overrides.items():
        config.setdefault(key, {}).update(value)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def chit_chat(delay: float = 0.0) -> Any:
    """A responder: every plan is empty, every chat answer quotes the user's last words."""

    def answer(body: dict[str, Any]) -> Reply:
        if stage_of(body["messages"]) == "plan":
            return Reply("[]")
        asked = body["messages"][-1]["content"]
        return Reply.text(ANSWER + asked.strip().splitlines()[-1], delay=delay)

    return answer


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUGGINGGPT_")}
    env.update({"PYTHONPATH": str(ROOT), "OPENAI_API_KEY": "sk-test-not-a-real-key", "HF_HUB_OFFLINE": "1"})
    env.update(extra)
    return env


@dataclass
class Child:
    process: asyncio.subprocess.Process
    seen: bytearray

    async def read_until(self, marker: bytes, timeout: float = 60.0) -> bytes:
        """Read stdout until ``marker`` has been printed; returns everything so far."""
        assert self.process.stdout is not None

        async def read() -> bytes:
            while marker not in self.seen:
                chunk = await self.process.stdout.read(4096)  # type: ignore[union-attr]
                if not chunk:
                    raise AssertionError(f"the CLI ended before printing {marker!r}: {bytes(self.seen)!r}")
                self.seen += chunk
            return bytes(self.seen)

        return await asyncio.wait_for(read(), timeout)

    def send(self, line: bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line)

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()


@contextlib.asynccontextmanager
async def cli(
    config: Path, *args: str, env: Mapping[str, str] | None = None, stdin: bool = True
) -> AsyncIterator[Child]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "--config",
        str(config),
        *args,
        stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=dict(env or child_env()),
        cwd=ROOT,
    )
    child = Child(process, bytearray())
    try:
        yield child
    finally:
        child.kill()
        await process.wait()


@dataclass(frozen=True)
class StoredTurn:
    user: str
    reply: str | None
    logged_reply: str | None  # the request-log row of that user message


def stored(db: Path) -> tuple[str, list[StoredTurn]]:
    """``PRAGMA integrity_check`` and every user message with its reply and log row."""
    with contextlib.closing(sqlite3.connect(db)) as conn:
        check = conn.execute("PRAGMA integrity_check").fetchone()[0]
        rows = conn.execute("SELECT id, role, text FROM messages ORDER BY id").fetchall()
        logged = dict(conn.execute("SELECT message_id, reply FROM requests").fetchall())
    turns = []
    for n, (mid, role, text) in enumerate(rows):
        if role != "user":
            continue
        after = rows[n + 1] if n + 1 < len(rows) else None
        reply = after[2] if after is not None and after[1] == "assistant" else None
        turns.append(StoredTurn(text, reply, logged.get(mid)))
    return check, turns

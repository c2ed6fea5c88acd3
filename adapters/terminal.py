"""The terminal surface: ``hugginggpt-bot chat`` (multi-turn) and ``ask`` (one request).

Chat commands: ``/attach PATH`` adds a file to the next message, ``/forget`` clears
the context, ``/help``, ``/quit``. Progress (the plan and each task's state) is
printed as it happens; generated media are saved by the bot under its data folder
and their paths printed.

The terminal is an edge both ways. In: lines are read as bytes and decoded as UTF-8
with undecodable bytes replaced, so a stray byte is a "\ufffd", never a crash; the
wait for a line is the event loop watching stdin (no thread), so SIGTERM ends it at
once. Out: everything printed (replies, plans, task errors, names) passes
``for_terminal``, so a model's text cannot set the window title, write the
clipboard or clear the screen; ``--json`` escapes the characters JSON leaves raw.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from adapters.base import ConversationKey, IncomingFile, IncomingMessage, TurnHandler
from engine.errors import InputError
from engine.events import Done, Event, PlanReady, Responding, TaskFinished, TaskStarted
from engine.text_hygiene import for_terminal
from engine.types import Outcome

HELP = """Type a request and press Enter. Commands:
  /attach PATH   add a file (image, audio, video, text) to your next message
  /forget        clear this conversation's context
  /help          show this help
  /quit          leave (also Ctrl-D)"""


def conversation_key(name: str) -> ConversationKey:
    return ConversationKey(platform="terminal", workspace="local", channel=name)


def read_attachment(path: str, max_bytes: int) -> IncomingFile:
    """Read a file the user named; errors name the file and the limit."""
    file = Path(path).expanduser()
    if not file.exists():
        raise InputError(f"{path}: no such file")
    if not file.is_file():
        raise InputError(f"{path}: not a regular file")
    size = file.stat().st_size
    if size > max_bytes:
        raise InputError(
            f"{path}: {size / 1048576:.1f} MB is over the {max_bytes / 1048576:.0f} MB limit "
            "(limits.max_attachment_mb)"
        )
    try:
        return IncomingFile(name=file.name, data=file.read_bytes())
    except OSError as exc:
        raise InputError(f"{path}: cannot read it ({exc.strerror})") from exc


def describe_event(event: Event) -> str | None:
    if isinstance(event, PlanReady):
        if not event.plan.tasks:
            return "plan: no tools needed, answering directly"
        steps = [
            f"  #{t.id} {t.task}({', '.join(f'{k}={v!r}' for k, v in t.args.items())})"
            + (f" after {', '.join(f'#{d}' for d in t.dep)}" if t.dep else "")
            for t in event.plan.tasks
        ]
        return f"plan ({event.plan.source}):\n" + "\n".join(steps)
    if isinstance(event, TaskStarted):
        return f"  ▶ #{event.task.id} {event.task.task} via {event.card.id if event.card else '?'}"
    if isinstance(event, TaskFinished):
        r = event.result
        mark = {"ok": "✓", "failed": "✗", "skipped": "–"}[r.status]
        tail = f" ({r.error})" if r.error else ""
        return f"  {mark} #{r.task.id} {r.task.task} {r.status} in {r.seconds:.2f} s{tail}"
    if isinstance(event, Responding):
        return "writing the answer…"
    if isinstance(event, Done):
        return None
    return None


def format_reply(outcome: Outcome) -> str:
    lines = [outcome.reply.text]
    for media in outcome.reply.media:
        lines.append(f"[{media.kind}] {media.path}")
    for warning in outcome.reply.warnings:
        lines.append(f"warning: {warning}")
    return "\n".join(lines)


class LineReader:
    """Lines from a file descriptor as text (UTF-8, undecodable bytes replaced).

    Where the loop can watch the descriptor (a terminal, a pipe) the wait is a
    future, which a cancellation ends at once; a regular file is read directly (it
    never waits), and a loop that cannot watch descriptors reads in a thread."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._buffer = b""
        self._eof = False

    async def readline(self) -> str | None:
        """The next line without its newline, or None at the end of input."""
        while b"\n" not in self._buffer and not self._eof:
            chunk = await self._read()
            self._eof = not chunk
            self._buffer += chunk
        if b"\n" in self._buffer:
            line, _, self._buffer = self._buffer.partition(b"\n")
        elif self._buffer:
            line, self._buffer = self._buffer, b""
        else:
            return None
        return line.decode("utf-8", errors="replace").removesuffix("\r")

    async def _read(self) -> bytes:
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()
        try:
            loop.add_reader(self._fd, _set_ready, ready)
        except PermissionError:  # a regular file: epoll refuses it, and reading never waits
            return os.read(self._fd, 65536)
        except NotImplementedError:  # a loop without descriptor watching (Windows)
            return await asyncio.to_thread(os.read, self._fd, 65536)
        try:
            await ready
        finally:
            loop.remove_reader(self._fd)
        try:
            return os.read(self._fd, 65536)
        except BlockingIOError:  # woken for nothing: the next round waits again
            return await self._read()


def _set_ready(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def stdin_reader() -> LineReader | None:
    try:
        return LineReader(sys.stdin.fileno())
    except (AttributeError, ValueError, OSError):  # no stdin at all
        return None


class TerminalChat:
    def __init__(
        self,
        handler: TurnHandler,
        key: ConversationKey,
        max_bytes: int,
        out: TextIO = sys.stdout,
        reader: LineReader | None = None,
    ) -> None:
        self.handler, self.key, self.max_bytes, self.out = handler, key, max_bytes, out
        self.reader = reader
        self.pending: list[IncomingFile] = []

    def _print(self, text: str) -> None:
        print(for_terminal(text), file=self.out, flush=True)

    async def _read_line(self) -> str | None:
        reader = self.reader or stdin_reader()
        if reader is None:
            return None
        self.reader = reader
        self.out.write("you> ")
        self.out.flush()
        return await reader.readline()

    async def _progress(self, event: Event) -> None:
        line = describe_event(event)
        if line:
            self._print(line)

    async def run(self, lines: asyncio.Queue[str | None] | None = None) -> None:
        self._print(f"HuggingGPT chat ({self.key.channel}). /help for commands.")
        while True:
            line = await (lines.get() if lines is not None else self._read_line())
            if line is None:
                return
            if not await self.on_line(line.strip()):
                return

    async def on_line(self, line: str) -> bool:
        """Handle one input line; False means leave."""
        if not line:
            return True
        if line in ("/quit", "/exit"):
            return False
        if line == "/help":
            self._print(HELP)
        elif line == "/forget":
            await self.handler.forget(self.key)
            self.pending.clear()
            self._print("Context cleared.")
        elif line.startswith("/attach"):
            path = line[len("/attach") :].strip()
            try:
                self.pending.append(read_attachment(path, self.max_bytes))
                self._print(f"attached {Path(path).name} ({len(self.pending)} file(s) for the next message)")
            except InputError as exc:
                self._print(f"error: {exc}")
        elif line.startswith("/"):
            self._print(f"unknown command {line.split()[0]}; /help lists them")
        else:
            message = IncomingMessage(key=self.key, author="you", text=line, files=tuple(self.pending))
            self.pending = []
            outcome = await self.handler.handle(message, self._progress)
            self._print("\n" + format_reply(outcome) + "\n")
        return True


async def ask_once(
    handler: TurnHandler,
    key: ConversationKey,
    text: str,
    attach: Sequence[str],
    max_bytes: int,
    as_json: bool,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    """One request through the full pipeline; exit code 0 on a reply, 2 on bad input."""
    try:
        files = tuple(read_attachment(p, max_bytes) for p in attach)
    except InputError as exc:
        print(for_terminal(f"error: {exc}"), file=err)
        return 2

    async def progress(event: Event) -> None:
        line = describe_event(event)
        if line and not as_json:
            print(for_terminal(line), file=err, flush=True)

    outcome = await handler.handle(IncomingMessage(key=key, author="you", text=text, files=files), progress)
    if as_json:
        print(json_for_terminal(outcome.to_public()), file=out, flush=True)
    else:
        print(for_terminal(format_reply(outcome)), file=out, flush=True)
    return 0


# What json.dumps(ensure_ascii=False) leaves raw but a terminal may act on: DEL, the C1
# controls, the bidi embeddings, overrides and isolates (only ever inside strings).
_JSON_RAW = {
    c: f"\\u{c:04x}" for c in (0x7F, *range(0x80, 0xA0), *range(0x202A, 0x202F), *range(0x2066, 0x206A))
}


def json_for_terminal(value: object) -> str:
    """``value`` as indented JSON, readable text kept, terminal controls escaped."""
    return json.dumps(value, ensure_ascii=False, indent=2).translate(_JSON_RAW)

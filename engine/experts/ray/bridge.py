"""The bot's end of the pipe to the Ray driver process.

The driver runs in a child process (``python -m engine.experts.ray.driver``) because a
Ray driver shares its cluster's fate: when the cluster's GCS is gone for a minute,
Ray terminates the driver's process. In a child, that ends one pipe; the bot gets a
reason, falls back to other experts, and starts a fresh driver once the cluster is
back. Messages are pickled dicts in length-prefixed frames, both ways, over the
child's stdin and a duplicate of its stdout (anything else the child prints goes to
its stderr, which is kept for the reason it died and logged at debug level).

Calls are matched to replies by id, so any number are in flight at once. A reader
thread resolves their futures; the futures are awaited from any event loop.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import itertools
import logging
import os
import pickle
import struct
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, Any

from engine.experts.ray.spec import ClusterSpec

log = logging.getLogger(__name__)

_HEADER = struct.Struct(">Q")
ENGINE_ROOT = Path(__file__).resolve().parents[3]  # the folder that holds engine/


class DriverExited(Exception):
    """The driver process ended (or never connected); ``str()`` says why."""


def write_frame(stream: IO[bytes], message: Any) -> None:
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(body)))
    stream.write(body)
    stream.flush()


def read_frame(stream: IO[bytes]) -> Any | None:
    """The next message, or None at the end of the stream."""
    header = _read_exactly(stream, _HEADER.size)
    if header is None:
        return None
    body = _read_exactly(stream, _HEADER.unpack(header)[0])
    if body is None:
        return None
    return pickle.loads(body)  # noqa: S301 - our own child process on a private pipe


def _read_exactly(stream: IO[bytes], n: int) -> bytes | None:
    chunks, left = [], n
    while left:
        chunk = stream.read(left)
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def driver_environment(cluster: ClusterSpec, base: dict[str, str] | None = None) -> dict[str, str]:
    """The child's environment: this engine importable first, and on a loopback cluster
    Ray kept on 127.0.0.1 (Ray otherwise swaps 127.0.0.1 for the machine's outward
    address, which a one-machine cluster bound to loopback does not listen on)."""
    env = dict(os.environ if base is None else base)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ENGINE_ROOT), env.get("PYTHONPATH", "")) if p)
    if cluster.loopback:
        env["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    env.update(cluster.env)
    return env


class DriverProcess:
    """One driver child process and the messages in flight to it."""

    def __init__(
        self, cluster: ClusterSpec, python: str = sys.executable, module: str = "engine.experts.ray.driver"
    ) -> None:
        self.cluster = cluster
        self._python = python
        self._module = module
        self._proc: subprocess.Popen[bytes] | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, concurrent.futures.Future[Any]] = {}
        self._lock = threading.Lock()  # guards _pending and _ended
        self._write_lock = threading.Lock()
        self._hello: concurrent.futures.Future[dict[str, Any]] = concurrent.futures.Future()
        self._stderr: collections.deque[str] = collections.deque(maxlen=60)
        self._ended: str | None = None
        self._down: str | None = None
        self._stderr_reader: threading.Thread | None = None
        self.hello: dict[str, Any] = {}

    # ------------------------------------------------------------------ life

    def start(self) -> None:
        """Spawn the child and send it its settings (blocking, but only for the spawn)."""
        self._proc = subprocess.Popen(
            [self._python, "-m", self._module],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=driver_environment(self.cluster),
            cwd=str(ENGINE_ROOT),
        )
        self._stderr_reader = threading.Thread(
            target=self._read_stderr, name="ray-driver-stderr", daemon=True
        )
        self._stderr_reader.start()
        threading.Thread(target=self._read_replies, name="ray-driver-replies", daemon=True).start()
        self._send({"address": self.cluster.address, "ship_code": self.cluster.ship_code})

    async def connected(self, timeout: float) -> dict[str, Any]:
        """The driver's hello (its Ray version, the cluster's resources), once it has
        joined the cluster; DriverExited if it could not within ``timeout`` seconds."""
        try:
            hello = await asyncio.wait_for(asyncio.wrap_future(self._hello), timeout)
        except TimeoutError:
            raise DriverExited(
                f"no connection to the Ray cluster at {self.cluster.address} within {timeout:g} s "
                "(experts.ray.connect_timeout)"
            ) from None
        if not hello.get("ok"):
            raise DriverExited(str(hello.get("error") or "the driver could not connect"))
        self.hello = hello
        return hello

    @property
    def alive(self) -> bool:
        return self._ended is None and self._proc is not None and self._proc.poll() is None

    @property
    def reason(self) -> str:
        """Why the driver ended (empty while it lives)."""
        return self._ended or ""

    def close(self, grace: float = 3.0) -> None:
        """Ask the child to exit, then make sure it has (blocking, up to ``grace`` s)."""
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        try:
            self._send({"op": "exit"})
            assert proc.stdin is not None
            proc.stdin.close()
        except (OSError, DriverExited):
            pass
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(grace)

    # ------------------------------------------------------------------ requests

    async def request(self, op: str, timeout: float | None = None, /, **fields: Any) -> Any:
        """Send ``op`` and await its result. DriverExited if the driver ends first;
        RuntimeError with the driver's message if the operation failed there."""
        ident = next(self._ids)
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        with self._lock:
            if self._ended is not None:
                raise DriverExited(self._ended)
            self._pending[ident] = future
        try:
            await asyncio.to_thread(self._send, {"id": ident, "op": op, **fields})
            return await asyncio.wait_for(asyncio.wrap_future(future), timeout)
        except (asyncio.CancelledError, TimeoutError):
            if not future.done():  # tell the driver, so the replica stops working on it
                threading.Thread(target=self._send_quietly, args=({"op": "cancel", "id": ident},)).start()
            raise
        finally:
            with self._lock:
                self._pending.pop(ident, None)

    def _send(self, message: dict[str, Any]) -> None:
        proc = self._proc
        if proc is None or proc.stdin is None:
            raise DriverExited("the Ray driver was never started")
        try:
            with self._write_lock:
                write_frame(proc.stdin, message)
        except (BrokenPipeError, ValueError, OSError) as exc:
            raise DriverExited(self._ended or f"the Ray driver is gone ({exc})") from exc

    def _send_quietly(self, message: dict[str, Any]) -> None:
        try:
            self._send(message)
        except DriverExited:
            pass

    # ------------------------------------------------------------------ reader threads

    def _read_replies(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        problem = ""
        try:
            while (message := read_frame(self._proc.stdout)) is not None:
                self._dispatch(message)
        except Exception as exc:  # noqa: BLE001 - a broken pipe or frame ends the driver either way
            problem = f"unreadable reply from the Ray driver ({type(exc).__name__}: {exc})"
        self._finish(problem)

    def _dispatch(self, message: dict[str, Any]) -> None:
        op = message.get("op")
        if op == "hello":
            if not self._hello.done():
                self._hello.set_result(message)
            return
        if op == "down":
            self._down = str(message.get("reason") or "the Ray cluster went down")
            return
        with self._lock:
            future = self._pending.get(message.get("id", -1))
        if future is None or future.done():
            return  # cancelled meanwhile
        if message.get("ok"):
            future.set_result(message.get("result"))
        else:
            future.set_exception(RuntimeError(str(message.get("error") or "failed in the Ray driver")))

    def _finish(self, problem: str) -> None:
        proc = self._proc
        assert proc is not None
        try:
            code = proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
        if self._stderr_reader is not None:
            self._stderr_reader.join(2)  # its last lines may say why
        reason = self._down or problem or self._last_error() or f"the Ray driver exited (status {code})"
        with self._lock:
            self._ended = reason
            pending = list(self._pending.values())
        if not self._hello.done():
            self._hello.set_result({"ok": False, "error": reason})
        for future in pending:
            if not future.done():
                future.set_exception(DriverExited(reason))
        log.info("Ray driver ended: %s", reason)

    def _read_stderr(self) -> None:
        assert self._proc is not None and self._proc.stderr is not None
        for raw in self._proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip()
            if line:
                self._stderr.append(line)
                log.debug("ray driver: %s", line)

    def _last_error(self) -> str:
        """The last line of the child's stderr that reads like an error."""
        for line in reversed(self._stderr):
            if "Error" in line or "error" in line or "Exception" in line:
                return line[-400:]
        return ""

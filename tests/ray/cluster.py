"""A real one-node Ray cluster on 127.0.0.1 for the tests and the benchmark.

``ray start --head --block`` runs in its own process group (a new session), so the
cluster's processes (GCS, raylet, workers, Serve replicas) are exactly that group:
``stop`` ends them by the group's id, as ``ray stop --force`` would but without
touching any other Ray on the machine. Every port is chosen free, and
RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 keeps Ray from swapping 127.0.0.1 for the
machine's outward address, so nothing listens or connects beyond loopback.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LOOPBACK_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
# Ray's memory monitor kills its own workers when the whole machine passes 95 % of its
# memory, even when another program holds it (a shared test machine); the kernel's
# out-of-memory killer still guards the machine.
QUIET_ENV = {"RAY_memory_monitor_refresh_ms": "0"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ray_program() -> str | None:
    """The ``ray`` command of this interpreter's environment, if Ray is installed."""
    beside = Path(sys.executable).with_name("ray")
    return str(beside) if beside.exists() else shutil.which("ray")


class LocalCluster:
    def __init__(self, num_cpus: int = 2, env: dict[str, str] | None = None) -> None:
        self.num_cpus = num_cpus
        self.port = free_port()
        self.env = {**os.environ, **LOOPBACK_ENV, **QUIET_ENV, **(env or {})}
        self.temp_dir = Path(tempfile.mkdtemp(prefix="hgb-ray-"))  # short: Ray's socket paths live here
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float = 90.0) -> None:
        program = ray_program()
        if program is None:
            raise RuntimeError("Ray is not installed (pip install 'ray[serve]==2.60.0')")
        args = [
            program, "start", "--head", "--block",
            "--port", str(self.port),
            "--num-cpus", str(self.num_cpus),
            "--num-gpus", "0",
            "--include-dashboard", "false",
            "--disable-usage-stats",
            "--node-ip-address", "127.0.0.1",
            "--ray-client-server-port", str(free_port()),
            "--dashboard-agent-listen-port", str(free_port()),
            "--temp-dir", str(self.temp_dir),
        ]  # fmt: skip
        log = (self.temp_dir / "head.log").open("wb")
        self._proc = subprocess.Popen(
            args, stdout=log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while b"Ray runtime started" not in (self.temp_dir / "head.log").read_bytes():
            if self._proc.poll() is not None or time.monotonic() > deadline:
                tail = (self.temp_dir / "head.log").read_text(errors="replace")[-2000:]
                self.stop()
                raise RuntimeError(f"the Ray head did not start:\n{tail}")
            time.sleep(0.2)

    def stop(self, grace: float = 2.0) -> None:
        """End the whole cluster: the head's process group and every process it started
        (Ray's workers, Serve's controller and replicas, which lead groups of their own),
        politely and then for sure."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        family = _descendants(proc.pid)
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
            _signal(proc.pid, family, sig)
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and _any_alive(proc.pid, family):
                proc.poll()
                time.sleep(0.2)
            family |= _descendants(proc.pid)
            if not _any_alive(proc.pid, family):
                break
        proc.poll()

    def ensure_running(self) -> None:
        """Start it again (on the same address) if a test stopped it."""
        if not self.running:
            self.start()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.temp_dir, ignore_errors=True)


def _processes() -> dict[int, tuple[int, int, str]]:
    """pid -> (parent pid, process group, state) for every process, from /proc."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            found[int(entry.name)] = (int(fields[1]), int(fields[2]), fields[0])
    return found


def _descendants(root: int) -> set[int]:
    table = _processes()
    family, grew = {root}, True
    while grew:
        more = {pid for pid, (parent, group, _) in table.items() if parent in family or group == root}
        grew = not more <= family
        family |= more
    return family - {root}


def _signal(pgid: int, pids: set[int], sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def _any_alive(pgid: int, pids: set[int]) -> bool:
    """A process of the group or the family that has not exited (zombies count as ended)."""
    table = _processes()
    return any(state != "Z" and (group == pgid or pid in pids) for pid, (_, group, state) in table.items())

"""The Ray driver process: ``python -m engine.experts.ray.driver``, started by bridge.py.

It joins the cluster (``ray.init``), then answers the bot's messages concurrently:
``call`` (one expert through its Serve application handle, ``await
handle.run.remote(request)``), ``status``, ``deploy``, ``delete``, ``ping``, ``cancel``
and ``exit``. A watchdog probes the cluster's GCS every half second; when it stops
answering, the driver tells the bot why and exits at once, so calls in flight fail
within a second instead of waiting on a cluster that is gone (and before Ray itself
would terminate the process a minute later). The end of stdin (the bot is gone) ends
it too.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sys
import threading
from typing import IO, Any

from engine.experts.ray.bridge import read_frame, write_frame
from engine.experts.ray.status import short_error

PROBE_INTERVAL = 0.5
PROBE_TIMEOUT = 2.0
log = logging.getLogger("engine.experts.ray.driver")


def probe(address: str, timeout: float = PROBE_TIMEOUT) -> str:
    """Empty when something accepts connections at ``address`` (host:port), else why not."""
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            return ""
    except ValueError:
        return f"{address!r} is not host:port"
    except OSError as exc:
        return f"nothing answers at {address} ({exc.strerror or type(exc).__name__})"


class Driver:
    def __init__(self, address: str, out: IO[bytes], ship_code: bool = True) -> None:
        self.address = address
        self.ship_code = ship_code
        self._out = out
        self._write_lock = threading.Lock()
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._handles: dict[str, Any] = {}

    def send(self, message: dict[str, Any]) -> None:
        with self._write_lock:
            write_frame(self._out, message)

    async def serve(self, inp: IO[bytes]) -> int:
        problem = probe(self.address)
        if not problem:
            try:
                await asyncio.to_thread(self._connect)
            except Exception as exc:  # noqa: BLE001 - any failure to join is the reason we give
                problem = f"cannot join the Ray cluster at {self.address}: {short_error(exc)}"
        if problem:
            self.send({"op": "hello", "ok": False, "error": problem})
            return 3
        import ray

        self.send({"op": "hello", "ok": True, "ray": ray.__version__, "address": self.address})
        loop = asyncio.get_running_loop()
        inbox: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        threading.Thread(target=_read_inbox, args=(inp, loop, inbox), daemon=True).start()
        watchdog = asyncio.create_task(self._watch())
        try:
            while (message := await inbox.get()) is not None:
                op = message.get("op")
                if op == "exit":
                    break
                if op == "cancel":
                    task = self._tasks.get(message.get("id", -1))
                    if task is not None:
                        task.cancel()
                    continue
                ident = int(message["id"])
                self._tasks[ident] = asyncio.create_task(self._answer(ident, message))
        finally:
            watchdog.cancel()
        return 0

    def _connect(self) -> None:
        import ray

        from engine.experts.ray.deploy import job_runtime_env

        ray.init(
            address=self.address,
            log_to_driver=False,
            logging_level=logging.WARNING,
            runtime_env=job_runtime_env(self.ship_code),
        )

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(PROBE_INTERVAL)
            problem = await asyncio.to_thread(probe, self.address)
            if problem:
                self.send({"op": "down", "reason": f"the Ray cluster went down: {problem}"})
                os._exit(4)  # a driver without its cluster cannot recover; the bot starts a new one

    async def _answer(self, ident: int, message: dict[str, Any]) -> None:
        try:
            result = await self._do(message)
        except asyncio.CancelledError:
            self.send({"id": ident, "ok": False, "error": "cancelled"})
            return
        except Exception as exc:  # noqa: BLE001 - every failure goes back to the bot as a reason
            self.send({"id": ident, "ok": False, "error": short_error(exc)})
            return
        finally:
            self._tasks.pop(ident, None)
        self.send({"id": ident, "ok": True, "result": result})

    async def _do(self, message: dict[str, Any]) -> Any:
        from engine.experts.ray import deploy

        op = message["op"]
        if op == "ping":  # the pipe's round trip alone, for the benchmark and health checks
            return "pong"
        if op == "call":
            return await self._call(message["app"], message["request"])
        if op == "status":
            return await asyncio.to_thread(
                deploy.status_report, message["prefix"], bool(message.get("placement"))
            )
        if op == "deploy":
            return await asyncio.to_thread(
                deploy.deploy,
                message["experts"],
                message["prefix"],
                float(message["timeout"]),
                missing_only=bool(message.get("missing_only")),
            )
        if op == "delete":
            self._handles.pop(message["app"], None)
            return await asyncio.to_thread(deploy.delete, message["app"])
        raise ValueError(f"unknown operation {op!r}")

    async def _call(self, app: str, request: Any) -> Any:
        from engine.experts.ray.deploy import call_failure
        from engine.experts.ray.wire import CallReply

        try:
            handle = self._handles.get(app)
            if handle is None:
                from ray import serve

                handle = self._handles[app] = await asyncio.to_thread(serve.get_app_handle, app)
            return await handle.run.remote(request)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - translated into a reply the bot understands
            self._handles.pop(app, None)  # a redeployed or deleted app gets a fresh handle next time
            error, unavailable = call_failure(app, exc)
            return CallReply(error=error, unavailable=unavailable)


def _read_inbox(inp: IO[bytes], loop: asyncio.AbstractEventLoop, inbox: asyncio.Queue[Any]) -> None:
    try:
        while (message := read_frame(inp)) is not None:
            loop.call_soon_threadsafe(inbox.put_nowait, message)
    except Exception:  # noqa: BLE001 - a broken pipe means the bot is gone
        pass
    loop.call_soon_threadsafe(inbox.put_nowait, None)


def main() -> int:
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # whatever Ray or a library prints goes to stderr, never into the frames
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    settings = read_frame(sys.stdin.buffer)
    if not settings:
        return 2
    driver = Driver(str(settings["address"]), out, ship_code=bool(settings.get("ship_code", True)))
    code = asyncio.run(driver.serve(sys.stdin.buffer))
    out.flush()
    os._exit(code)  # skip Ray's exit hooks: they wait on a cluster that may be gone


if __name__ == "__main__":
    sys.exit(main())

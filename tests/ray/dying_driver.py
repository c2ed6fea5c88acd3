"""A driver process that speaks the bridge's protocol, then loses its cluster while a
call is in flight: it says so (``down``) and exits, as the real driver's watchdog does.

Run as ``python -m tests.ray.dying_driver``; the bot's end (bridge.py) cannot tell it
from the real one, which is the point: what the bot does with a call in flight when
the cluster goes is tested without racing a real cluster's shutdown.
"""

from __future__ import annotations

import os
import sys

from engine.experts.ray.bridge import read_frame, write_frame


def main() -> None:
    out = os.fdopen(os.dup(1), "wb")
    settings = read_frame(sys.stdin.buffer)
    write_frame(out, {"op": "hello", "ok": True, "ray": "fake", "address": settings["address"]})
    while (message := read_frame(sys.stdin.buffer)) is not None:
        if message["op"] == "status":
            app = "hgb-tesseract-ocr"
            healthy = {"status": "HEALTHY", "replicas": {"RUNNING": 1}}
            status = {"apps": {app: {"status": "RUNNING", "deployments": {"d": healthy}}}}
            write_frame(out, {"id": message["id"], "ok": True, "result": status})
        elif message["op"] == "call":  # the cluster goes while this call runs
            write_frame(out, {"op": "down", "reason": "the Ray cluster went down: nothing answers (test)"})
            out.flush()
            os._exit(4)


if __name__ == "__main__":
    main()

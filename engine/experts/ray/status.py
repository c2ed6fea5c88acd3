"""The cluster's status as the bot caches it, and each expert's availability from it.

The driver process sends Serve's status as plain dicts; ``ClusterState`` keeps what
availability needs (is the cluster reachable, which applications run with how many
replicas, and why a failed one failed) with the time it was read, so the selector
answers from memory and the backend refreshes it at most once per request, when it
is older than ``experts.ray.status_ttl``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.experts.base import Availability

# Deployment states in which its running replicas take requests.
_SERVING = {"HEALTHY", "UPSCALING", "DOWNSCALING", "UPDATING"}
_FAILED = {"DEPLOY_FAILED", "UNHEALTHY"}


@dataclass(frozen=True, slots=True)
class AppHealth:
    status: str  # Serve's application status: RUNNING, DEPLOYING, DEPLOY_FAILED, ...
    running: int = 0  # replicas taking requests
    message: str = ""

    @property
    def serving(self) -> bool:
        return self.running > 0 and self.status in ("RUNNING", "DEPLOYING", "UNHEALTHY")

    @staticmethod
    def from_status(raw: Mapping[str, Any]) -> AppHealth:
        running = 0
        messages = [str(raw.get("message") or "")]
        for dep in (raw.get("deployments") or {}).values():
            if dep.get("status") in _SERVING:
                running += int((dep.get("replicas") or {}).get("RUNNING", 0))
            if dep.get("status") in _FAILED:
                messages.append(str(dep.get("message") or ""))
        return AppHealth(status=str(raw.get("status", "?")), running=running, message=_reason(messages))


@dataclass(frozen=True, slots=True)
class ClusterState:
    checked_at: float
    reachable: bool
    reason: str = ""  # when not reachable: why, in words for the user
    apps: Mapping[str, AppHealth] = field(default_factory=dict)

    @staticmethod
    def down(reason: str) -> ClusterState:
        return ClusterState(checked_at=time.monotonic(), reachable=False, reason=reason)

    @staticmethod
    def from_status(raw: Mapping[str, Any]) -> ClusterState:
        apps = {name: AppHealth.from_status(app) for name, app in (raw.get("apps") or {}).items()}
        return ClusterState(checked_at=time.monotonic(), reachable=True, apps=apps)

    def age(self) -> float:
        return time.monotonic() - self.checked_at

    def availability(self, app: str, address: str) -> Availability:
        if not self.reachable:
            return Availability(False, f"the Ray cluster at {address} is not reachable: {self.reason}")
        health = self.apps.get(app)
        if health is None:
            return Availability(
                False,
                f"{app} is not deployed on the Ray cluster at {address} "
                "(run `hugginggpt-bot ray deploy`, or set experts.ray.deploy_on_start)",
            )
        if health.serving:
            return Availability(True, ready=True)
        if health.status == "RUNNING":  # scaled to zero: the first call waits for a replica
            return Availability(True, f"{app} has no replica running yet; the first call starts one")
        if health.status in ("DEPLOYING", "NOT_STARTED"):
            return Availability(False, f"{app} is still being deployed on the Ray cluster")
        detail = f": {health.message}" if health.message else ""
        return Availability(
            False, f"{app} is {health.status.lower().replace('_', ' ')} on the Ray cluster{detail}"
        )


def _reason(messages: list[str]) -> str:
    """The telling line of Serve's messages: a replica's constructor traceback ends
    with the exception (``RuntimeError: the weights of ... are missing``)."""
    for message in reversed(messages):
        lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
        if lines:
            return lines[-1][:400]
    return ""


_EXCEPTION_LINE = re.compile(r"^[\w.]*(Error|Exception|Exit)\b")


def short_error(exc: BaseException, limit: int = 400) -> str:
    """One line for the user: a remote task's own exception rather than Ray's wrapper
    (``RayTaskError.cause``), and of a traceback only the line naming the exception."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, BaseException):
        exc = cause
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    for line in reversed(lines):
        if _EXCEPTION_LINE.match(line):
            return line[:limit]
    return f"{type(exc).__name__}: {lines[0]}"[:limit] if lines else type(exc).__name__

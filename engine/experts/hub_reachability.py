"""Whether the Hugging Face Hub can be reached: asked once, known for a while, shared.

Why: with no network and HF_HUB_OFFLINE unset, every model download begins with a
look-up that huggingface_hub retries five times with backoff, and a task with five
candidate models waited minutes for five failures. One ``HubReachability`` is made
by the composition root (bot/app.py) and handed to every backend that talks to the
Hub (local downloads, hosted inference); nothing here touches the environment or
huggingface_hub's settings.

What holds:
- ``check()`` answers from what is known while it is fresh (``ttl`` seconds); else it
  makes one short look-up (a HEAD of the Hub's endpoint, ``timeout`` seconds, no
  retries) and remembers the answer. Concurrent callers share one look-up.
- ``mark_unreachable(why)`` records a failure seen elsewhere (a download that could
  not connect); ``known_unreachable()`` is the cheap, network-free question that
  ``availability`` asks, so the selector skips models that need a download and the
  next candidate, or the substitute task, answers at once.
- Any HTTP answer, even an error status, means the Hub is reachable: status codes
  are the real call's business, not a reason to stop trying.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

DEFAULT_TTL = 300.0
DEFAULT_TIMEOUT = 5.0


def _default_endpoint() -> str:
    from huggingface_hub import constants

    return str(constants.ENDPOINT)


def _head(url: str, timeout: float) -> None:
    """One HEAD request; raises on any transport failure (no answer at all)."""
    import httpx

    with httpx.Client(timeout=timeout, follow_redirects=False) as client:
        client.head(url)


class HubReachability:
    def __init__(
        self,
        ttl: float = DEFAULT_TTL,
        timeout: float = DEFAULT_TIMEOUT,
        endpoint: str | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        look_up: Callable[[str, float], None] = _head,
    ) -> None:
        self.ttl = ttl
        self.timeout = timeout
        self._endpoint = endpoint
        self._clock = clock
        self._look_up = look_up
        self._lock = threading.Lock()
        self._known: bool | None = None
        self._until = float("-inf")
        self.why = ""
        self.look_ups = 0  # how many look-ups went out (tests, diagnostics)

    @property
    def endpoint(self) -> str:
        if self._endpoint is None:
            self._endpoint = _default_endpoint()
        return self._endpoint

    def known_unreachable(self) -> bool:
        """True while a failure is fresh; never makes a request."""
        return self._known is False and self._clock() < self._until

    def mark_unreachable(self, why: str) -> None:
        if not self.known_unreachable():
            log.warning("the Hugging Face Hub is unreachable (%s); not trying it for %.0f s", why, self.ttl)
        self._known, self._until, self.why = False, self._clock() + self.ttl, why

    def mark_reachable(self) -> None:
        self._known, self._until, self.why = True, self._clock() + self.ttl, ""

    def check(self) -> bool:
        """Whether the Hub answers; blocking (call it from a worker thread)."""
        if self._clock() < self._until and self._known is not None:
            return self._known
        with self._lock:
            if self._clock() < self._until and self._known is not None:  # answered while we waited
                return self._known
            self.look_ups += 1
            try:
                self._look_up(self.endpoint, self.timeout)
            except Exception as exc:  # noqa: BLE001 - any transport failure means "not now"
                self.mark_unreachable(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
                return False
            self.mark_reachable()
            return True


def is_connection_failure(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) says no connection could be made: not a
    slow answer (a read timeout means the server was reached), not a refusal."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        name = type(current).__name__
        text = str(current).lower()
        if (
            isinstance(current, ConnectionError)
            or any(part in name for part in ("Connect", "NetworkError", "LocalEntryNotFound"))
            or "couldn't connect" in text
            or "name or service not known" in text
            or "temporary failure in name resolution" in text
        ):
            return True
        current = current.__cause__ or current.__context__
    return False

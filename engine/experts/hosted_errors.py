"""Translation of huggingface_hub inference failures into the engine's error tree.

    HTTP 401 / 403  -> ExpertUnavailable  the token (named by its env var) is refused
    HTTP 402        -> ExpertUnavailable  out of inference credits
    HTTP 404 / 410  -> ExpertUnavailable  model or endpoint gone
    HTTP 429        -> ExpertError        still rate limited after the bounded retries
    HTTP 503        -> ExpertUnavailable  model still loading after the bounded wait
    timeout         -> ExpertTimeout
    no connection, offline mode, unsupported task/provider -> ExpertUnavailable
    anything else   -> ExpertError

429 and 503 are retried by the backend before they get here (see hosted.py).
"""

from __future__ import annotations

import json
from typing import Any

from engine.errors import ExpertError, ExpertTimeout, ExpertUnavailable

TOKENS_URL = "https://huggingface.co/settings/tokens"
BILLING_URL = "https://huggingface.co/settings/billing"


def status_of(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    return int(status) if isinstance(status, int) else None


def body_of(exc: BaseException) -> dict[str, Any]:
    """The JSON error body of an HTTP error (``{"error": ..., "estimated_time": ...}``), or {}."""
    response = getattr(exc, "response", None)
    try:
        data = json.loads(response.content) if response is not None else {}
    except (ValueError, TypeError, AttributeError):
        return {}
    return data if isinstance(data, dict) else {}


def server_says(exc: BaseException) -> str:
    error = body_of(exc).get("error")
    if isinstance(error, list):
        error = "; ".join(map(str, error))
    return f" The server said: {str(error)[:200]}" if error else ""


def translate(
    exc: BaseException, model: str, token_env: str, *, retries: int = 0, waited: float = 0.0
) -> ExpertError:
    """The engine error for a failed hosted call on ``model``; the caller raises it ``from exc``."""
    from huggingface_hub.errors import InferenceTimeoutError, OfflineModeIsEnabled

    status = status_of(exc)
    said = server_says(exc)
    if status in (401, 403):
        verb = "rejected" if status == 401 else "is not allowed to use"
        return ExpertUnavailable(
            f"hosted inference {verb} the token in ${token_env} (HTTP {status}) for {model}: check or "
            f"replace it at {TOKENS_URL} (it needs the 'Make calls to Inference Providers' permission).{said}"
        )
    if status == 402:
        return ExpertUnavailable(
            f"hosted inference for {model} needs credits (HTTP 402): this account has used its included "
            f"inference credits; add credits at {BILLING_URL}, or run the model on the local backend.{said}"
        )
    if status in (404, 410):
        what = "is not served (HTTP 404)" if status == 404 else "endpoint is gone (HTTP 410)"
        return ExpertUnavailable(
            f"{model} {what} by hosted inference with this provider/endpoint: the model or endpoint no "
            f"longer exists there; pick another model, or set experts.hosted.provider/base_url.{said}"
        )
    if status == 429:
        return ExpertError(
            f"hosted inference is rate limiting requests for {model} (HTTP 429), still after {retries} "
            f"retries; wait a minute and try again, or lower the request rate.{said}"
        )
    if status == 503:
        return ExpertUnavailable(
            f"{model} is still loading on hosted inference after waiting {waited:.0f} s (HTTP 503); "
            f"try again in a minute, or raise experts.hosted.max_wait_loading.{said}"
        )
    if isinstance(exc, InferenceTimeoutError):
        return ExpertTimeout(f"hosted inference for {model} did not answer in time")
    if isinstance(exc, OfflineModeIsEnabled):
        return ExpertUnavailable("hosted inference needs the network, but HF_HUB_OFFLINE is set")
    if status is not None:
        return ExpertError(f"hosted inference for {model} failed (HTTP {status}).{said}")
    if isinstance(exc, ValueError):  # provider helper: task or model not supported, no token
        return ExpertUnavailable(f"hosted inference cannot run {model}: {exc}")
    name = type(exc).__name__
    if "Connect" in name or "Network" in name or isinstance(exc, ConnectionError):
        return ExpertUnavailable(f"cannot reach hosted inference for {model}: {exc}")
    return ExpertError(f"hosted inference for {model} failed: {name}: {exc}")

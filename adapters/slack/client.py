"""The Web API client every part of the Slack adapter shares."""

from __future__ import annotations

from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.settings import SlackSettings

RATE_LIMIT_RETRIES = 3
SERVER_ERROR_RETRIES = 2  # a 500 or 503 from Slack: the post or upload is tried again, with backoff


def make_client(settings: SlackSettings, token: str) -> AsyncWebClient:
    """An AsyncWebClient that waits out 429s and retries Slack's 500/503 answers, posts
    and file uploads alike (slack_sdk does neither by default).

    ``settings.api_base_url`` points it elsewhere than slack.com (tests use a fake).
    """
    base = settings.api_base_url
    client = (
        AsyncWebClient(token=token, base_url=base.rstrip("/") + "/") if base else AsyncWebClient(token=token)
    )
    client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES))
    client.retry_handlers.append(AsyncServerErrorRetryHandler(max_retry_count=SERVER_ERROR_RETRIES))
    return client

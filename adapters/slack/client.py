"""The Web API client every part of the Slack adapter shares."""

from __future__ import annotations

from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.settings import SlackSettings

RATE_LIMIT_RETRIES = 3


def make_client(settings: SlackSettings, token: str) -> AsyncWebClient:
    """An AsyncWebClient that waits out 429s (slack_sdk does not by default).

    ``settings.api_base_url`` points it elsewhere than slack.com (tests use a fake).
    """
    base = settings.api_base_url
    client = (
        AsyncWebClient(token=token, base_url=base.rstrip("/") + "/") if base else AsyncWebClient(token=token)
    )
    client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES))
    return client

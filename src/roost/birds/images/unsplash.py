"""Unsplash photo search, the external provider asked when we have no picture of our own.

The provider is optional and fallible: every failure (refused key, spent quota, 5xx, timeout,
nonsense answer, open breaker) is :class:`ProviderUnavailable` with a short reason for our logs;
nothing the provider says reaches our clients. Unsplash counts requests per hour and names no
reset time, so after a rate-limit answer (403/429), a spent quota (``X-Ratelimit-Remaining: 0``)
or a refused key the client stops asking until its pause is over.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import structlog

from roost.birds.images.metrics import PROVIDER_CALLS
from roost.core.upstream import CircuitBreaker, UpstreamClient, UpstreamUnavailable

log = structlog.get_logger("roost.birds.unsplash")

PROVIDER = "unsplash"
MAX_ANSWER_BYTES = 1024 * 1024
MAX_URL_CHARS = 2048
MAX_PHOTOGRAPHER_CHARS = 100
MAX_RETRY_AFTER_SECONDS = 86_400.0
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class ProviderUnavailable(Exception):
    """No answer from the provider this time; ``reason`` is for logs and metrics only."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ProviderPhoto:
    url: str
    attribution: str


class UnsplashClient:
    def __init__(
        self,
        base_url: str,
        access_key: str,
        *,
        timeout_seconds: float,
        pause_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        # One retry: a flaky 5xx may pass, but each attempt spends the hourly quota.
        self._client = UpstreamClient(
            PROVIDER,
            base_url,
            budget_seconds=timeout_seconds,
            retries=1,
            breaker=CircuitBreaker(PROVIDER, failure_threshold=5, reset_seconds=60.0),
            transport=transport,
            forward_request_id=False,
        )
        self._headers = {"Authorization": f"Client-ID {access_key}", "Accept-Version": "v1"}
        self._pause_seconds = pause_seconds
        self._clock = clock
        self._paused_until = 0.0

    async def aclose(self) -> None:
        await self._client.aclose()

    @property
    def paused(self) -> bool:
        return self._clock() < self._paused_until

    async def search(self, query: str) -> ProviderPhoto | None:
        """The first photo for ``query``, None when the provider has none."""
        if self.paused:
            raise self._failed("paused")
        try:
            response = await self._client.get(
                "/search/photos",
                params={"query": query, "per_page": "1", "content_filter": "high"},
                headers=self._headers,
            )
        except UpstreamUnavailable as error:
            raise self._failed("unreachable", error.reason) from None
        if response.status_code in (403, 429):
            self._pause(response)
            raise self._failed("rate_limited", f"status {response.status_code}")
        if response.status_code == 401:
            self._pause(response)
            raise self._failed("unauthorized", "the access key was refused")
        if response.status_code != 200:
            raise self._failed("error", f"status {response.status_code}")
        if response.headers.get("x-ratelimit-remaining", "").strip() == "0":
            self._pause(response)  # this answer is still good; the next call would not be
        try:
            photo = _first_photo(response.content)
        except ProviderUnavailable as error:
            raise self._failed("malformed", error.reason) from None
        PROVIDER_CALLS.labels("ok" if photo else "no_result").inc()
        return photo

    def _pause(self, response: httpx.Response) -> None:
        seconds = _retry_after(response.headers.get("retry-after")) or self._pause_seconds
        self._paused_until = max(self._paused_until, self._clock() + seconds)
        log.warning("unsplash_paused", status=response.status_code, seconds=seconds)

    def _failed(self, outcome: str, detail: str | None = None) -> ProviderUnavailable:
        PROVIDER_CALLS.labels(outcome).inc()
        if detail is not None:
            log.warning("unsplash_failed", outcome=outcome, detail=detail)
        return ProviderUnavailable(outcome)


def _first_photo(content: bytes) -> ProviderPhoto | None:
    """The first result of a search answer; ProviderUnavailable when it is not one."""
    if len(content) > MAX_ANSWER_BYTES:
        raise ProviderUnavailable("answer too large")
    try:
        answer: Any = orjson.loads(content)
        results = answer["results"]
        if not results:
            return None
        first = results[0]
        url = first["urls"]["regular"]
        photographer = first["user"]["name"]
    except (orjson.JSONDecodeError, KeyError, IndexError, TypeError) as error:
        log.warning("unsplash_malformed", error=type(error).__name__)
        raise ProviderUnavailable("malformed answer") from None
    if not (isinstance(url, str) and url.startswith("https://") and len(url) <= MAX_URL_CHARS):
        raise ProviderUnavailable("unusable photo URL")
    name = _CONTROL_CHARS.sub("", photographer if isinstance(photographer, str) else "")
    name = " ".join(name.split())[:MAX_PHOTOGRAPHER_CHARS] or "an Unsplash photographer"
    return ProviderPhoto(url, f"Photo by {name} on Unsplash")


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header in seconds form; HTTP dates are not worth parsing."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return min(seconds, MAX_RETRY_AFTER_SECONDS) if seconds > 0 else None

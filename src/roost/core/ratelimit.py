"""Per-client rate limits as FastAPI dependencies, failing open when their store is down.

The algorithm (GCRA, a token bucket with ``rate`` tokens per second and room for ``burst``)
runs in the store; the store is an adapter (``roost.infra.redis.RedisRateLimitStore``) found
at ``app.state.rate_limit_store``. A limiter that cannot reach its store lets the request
through and counts it in ``rate_limit_fail_open_total``: an outage of the counter store must
not become an outage of the API (the way warehouse's limiter behaves).
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

import structlog
from fastapi import Request

from roost.core.auth import current_principal
from roost.core.errors import ApiError
from roost.core.metrics import RATE_LIMIT_FAIL_OPEN, RATE_LIMITED
from roost.core.openapi import answers

log = structlog.get_logger("roost.ratelimit")


@dataclass(frozen=True)
class RateLimit:
    name: str
    rate_per_second: float
    burst: int

    def __post_init__(self) -> None:
        if self.rate_per_second <= 0 or self.burst < 1:
            raise ValueError("a rate limit needs rate_per_second > 0 and burst >= 1")


class RateLimitStore(Protocol):
    async def acquire(self, key: str, limit: RateLimit) -> float:
        """0 when allowed, else the seconds to wait before the next request would be."""


def client_identity(request: Request) -> str:
    """Authenticated callers are limited by subject, anonymous ones by client address."""
    try:
        principal = current_principal(request)
    except ApiError:
        principal = None  # bad credentials are for the auth dependency to reject
    if principal is not None:
        return f"sub:{principal.subject}"
    client = request.client.host if request.client else "unknown"
    return f"ip:{client}"


def rate_limited(
    limit: RateLimit | Callable[[Request], RateLimit],
) -> Callable[[Request], Awaitable[None]]:
    """A dependency enforcing ``limit`` (or a limit chosen per request, e.g. from settings)."""

    @answers(429)
    async def dependency(request: Request) -> None:
        chosen = limit(request) if callable(limit) else limit
        store: RateLimitStore | None = getattr(request.app.state, "rate_limit_store", None)
        if store is None:
            return
        key = f"roost:ratelimit:{chosen.name}:{client_identity(request)}"
        try:
            wait = await store.acquire(key, chosen)
        except Exception as exc:
            RATE_LIMIT_FAIL_OPEN.inc()
            log.warning("rate_limit_fail_open", limit=chosen.name, error=type(exc).__name__)
            return
        if wait > 0:
            RATE_LIMITED.labels(chosen.name).inc()
            raise ApiError(
                429,
                "rate_limited",
                f"too many requests: limit is {chosen.rate_per_second:g}/s "
                f"with bursts of {chosen.burst}",
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )

    return dependency

"""Calls to other services: a time budget, jittered retries for idempotent GETs, and a
circuit breaker, so that a slow or dead upstream degrades one feature instead of the caller.

    client = UpstreamClient("bird-images", base_url, budget_seconds=0.3)
    response = await client.get("/api/v1/images/robin")   # raises UpstreamUnavailable

The breaker opens after ``failure_threshold`` consecutive failures and then fails fast for
``reset_seconds``; the first call after that is a trial (half-open) that closes it on success.
"""

from __future__ import annotations

import asyncio
import random
import time
from enum import IntEnum
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any

import httpx

from roost.core.context import current_request_id
from roost.core.metrics import CIRCUIT_BREAKER_STATE, UPSTREAM_REQUEST_DURATION


class LivenessProbe:
    """A health check on another role: its ``/healthz`` answers 2xx within ``timeout_seconds``.

    A plain client of its own, so that a probe neither waits on nor moves the circuit breaker of
    the calls that do the work."""

    def __init__(self, base_url: str, timeout_seconds: float = 0.5) -> None:
        self._client = httpx.AsyncClient(base_url=base_url, timeout=timeout_seconds)

    async def __call__(self) -> None:
        response = await self._client.get("/healthz")
        response.raise_for_status()

    async def aclose(self) -> None:
        await self._client.aclose()


class BreakerState(IntEnum):
    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


class UpstreamUnavailable(Exception):
    """The upstream failed, timed out, or its breaker is open; ``reason`` says which."""

    def __init__(self, upstream: str, reason: str) -> None:
        super().__init__(f"{upstream}: {reason}")
        self.upstream = upstream
        self.reason = reason


class CircuitBreaker:
    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int = 5,
        reset_seconds: float = 30.0,
        clock: Any = time.monotonic,
    ) -> None:
        self.name = name
        self.failure_threshold = failure_threshold
        self.reset_seconds = reset_seconds
        self._clock = clock
        self._failures = 0
        self._opened_at = 0.0
        self._trial_in_flight = False
        self._state = BreakerState.CLOSED
        CIRCUIT_BREAKER_STATE.labels(name).set(0)

    @property
    def state(self) -> BreakerState:
        if (
            self._state is BreakerState.OPEN
            and self._clock() - self._opened_at >= self.reset_seconds
        ):
            self._set(BreakerState.HALF_OPEN)
        return self._state

    def allow(self) -> bool:
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.HALF_OPEN and not self._trial_in_flight:
            self._trial_in_flight = True
            return True
        return False

    def record_success(self) -> None:
        self._failures = 0
        self._trial_in_flight = False
        self._set(BreakerState.CLOSED)

    def record_failure(self) -> None:
        self._trial_in_flight = False
        self._failures += 1
        if self._state is BreakerState.HALF_OPEN or self._failures >= self.failure_threshold:
            self._opened_at = self._clock()
            self._set(BreakerState.OPEN)

    def _set(self, state: BreakerState) -> None:
        self._state = state
        CIRCUIT_BREAKER_STATE.labels(self.name).set(int(state))


class UpstreamClient:
    """An httpx client for one upstream, with a per-call time budget and a breaker."""

    def __init__(
        self,
        name: str,
        base_url: str,
        *,
        budget_seconds: float = 0.3,
        retries: int = 2,
        breaker: CircuitBreaker | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        forward_request_id: bool = True,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        # Our request ids are for our own services; a third-party API gets none of them.
        self.forward_request_id = forward_request_id
        self.budget_seconds = budget_seconds
        self.retries = retries
        self.breaker = breaker or CircuitBreaker(name)
        self._histogram = UPSTREAM_REQUEST_DURATION.labels(name)
        self._client = httpx.AsyncClient(
            base_url=base_url,
            transport=transport,
            timeout=httpx.Timeout(budget_seconds),
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
            headers=headers,
            # httpx keeps cookies by default: a cookie one call received would go out with every
            # later call, whoever it is made for.
            cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        """GET within the budget; retried with jitter on connection errors, timeouts and 5xx."""
        if not self.breaker.allow():
            raise UpstreamUnavailable(self.name, "circuit open")
        deadline = time.monotonic() + self.budget_seconds
        headers = dict(kwargs.pop("headers", None) or {})
        request_id = current_request_id() if self.forward_request_id else None
        if request_id:
            headers.setdefault("X-Request-ID", request_id)
        attempt = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.breaker.record_failure()
                raise UpstreamUnavailable(self.name, f"over the {self.budget_seconds:g}s budget")
            started = time.perf_counter()
            try:
                response = await self._client.get(
                    path, headers=headers, timeout=remaining, **kwargs
                )
            except httpx.HTTPError as error:
                failure = type(error).__name__
            else:
                if response.status_code < 500:
                    self.breaker.record_success()
                    return response
                failure = f"status {response.status_code}"
            finally:
                self._histogram.observe(time.perf_counter() - started)
            attempt += 1
            if attempt > self.retries:
                self.breaker.record_failure()
                raise UpstreamUnavailable(self.name, failure)
            # Full jitter keeps a fleet of callers from retrying in lockstep.
            pause = random.uniform(0, min(0.05 * 2**attempt, deadline - time.monotonic()))
            await asyncio.sleep(max(0.0, pause))

    async def send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A call that is not safe to repeat (POST, PUT, DELETE): one attempt within the
        budget, never retried; a transport failure or 5xx counts against the breaker."""
        if not self.breaker.allow():
            raise UpstreamUnavailable(self.name, "circuit open")
        headers = dict(kwargs.pop("headers", None) or {})
        request_id = current_request_id() if self.forward_request_id else None
        if request_id:
            headers.setdefault("X-Request-ID", request_id)
        started = time.perf_counter()
        try:
            response = await self._client.request(method, path, headers=headers, **kwargs)
        except httpx.HTTPError as error:
            self.breaker.record_failure()
            raise UpstreamUnavailable(self.name, type(error).__name__) from None
        finally:
            self._histogram.observe(time.perf_counter() - started)
        if response.status_code >= 500:
            self.breaker.record_failure()
        else:
            self.breaker.record_success()
        return response

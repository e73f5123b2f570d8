"""UpstreamClient against a real HTTP server on loopback."""

from __future__ import annotations

import time

import pytest
from tests.conftest import ControllableUpstream

from roost.core.context import request_id_var
from roost.core.upstream import BreakerState, CircuitBreaker, UpstreamClient, UpstreamUnavailable


async def test_passes_through_answers_and_the_request_id(upstream: ControllableUpstream) -> None:
    client = UpstreamClient("u-ok", upstream.url, budget_seconds=1)
    token = request_id_var.set("rid-42")
    try:
        response = await client.get("/thing")
    finally:
        request_id_var.reset(token)
        await client.aclose()
    assert response.json() == {"ok": True}
    assert upstream.request_ids == ["rid-42"]


async def test_a_third_party_upstream_gets_no_request_id(upstream: ControllableUpstream) -> None:
    client = UpstreamClient(
        "u-third-party", upstream.url, budget_seconds=1, forward_request_id=False
    )
    token = request_id_var.set("rid-43")
    try:
        await client.get("/thing")
    finally:
        request_id_var.reset(token)
        await client.aclose()
    assert upstream.request_ids == [None]


async def test_4xx_is_an_answer_not_a_failure(upstream: ControllableUpstream) -> None:
    upstream.status = 404
    client = UpstreamClient("u-404", upstream.url, budget_seconds=1)
    response = await client.get("/missing")
    await client.aclose()
    assert response.status_code == 404
    assert upstream.calls == 1
    assert client.breaker.state is BreakerState.CLOSED


async def test_5xx_is_retried_then_reported(upstream: ControllableUpstream) -> None:
    upstream.status = 503
    client = UpstreamClient("u-5xx", upstream.url, budget_seconds=2, retries=2)
    with pytest.raises(UpstreamUnavailable, match="status 503"):
        await client.get("/x")
    await client.aclose()
    assert upstream.calls == 3


async def test_slow_upstream_is_cut_at_the_budget(upstream: ControllableUpstream) -> None:
    upstream.delay = 2
    client = UpstreamClient("u-slow", upstream.url, budget_seconds=0.3)
    started = time.perf_counter()
    with pytest.raises(UpstreamUnavailable):
        await client.get("/x")
    elapsed = time.perf_counter() - started
    await client.aclose()
    assert elapsed < 0.6


async def test_open_breaker_fails_fast_without_calling(upstream: ControllableUpstream) -> None:
    upstream.status = 500
    breaker = CircuitBreaker("u-brk", failure_threshold=2, reset_seconds=60)
    client = UpstreamClient("u-brk", upstream.url, budget_seconds=1, retries=0, breaker=breaker)
    for _ in range(2):
        with pytest.raises(UpstreamUnavailable):
            await client.get("/x")
    calls = upstream.calls
    with pytest.raises(UpstreamUnavailable, match="circuit open"):
        await client.get("/x")
    await client.aclose()
    assert upstream.calls == calls


async def test_dead_upstream_is_unavailable() -> None:
    client = UpstreamClient("u-dead", "http://127.0.0.1:1", budget_seconds=0.5)
    with pytest.raises(UpstreamUnavailable):
        await client.get("/x")
    await client.aclose()

"""The GCRA limiter on real Redis, and failing open when Redis is gone."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

import pytest
from fastapi import APIRouter, Depends, FastAPI
from tests.support.fixture_types import ServeAsgi

from roost.core.app import RoleRuntime, create_app
from roost.core.ratelimit import RateLimit, rate_limited
from roost.core.settings import Settings, load_settings
from roost.infra.redis import RedisRateLimitStore, create_redis

pytestmark = pytest.mark.integration


def limited_app(redis_url: str, limit: RateLimit) -> FastAPI:
    router = APIRouter()

    @router.get("/limited", dependencies=[Depends(rate_limited(limit))])
    async def limited() -> dict[str, bool]:
        return {"ok": True}

    async def setup(app: FastAPI, s: Settings, stack: AsyncExitStack) -> RoleRuntime:
        client = create_redis(s)
        stack.push_async_callback(client.aclose)
        app.state.rate_limit_store = RedisRateLimitStore(client)
        return RoleRuntime()

    return create_app(
        role="test", settings=load_settings(redis_url=redis_url), routers=[router], setup=setup
    )


async def test_burst_then_429_with_retry_after_then_refills(
    serve_asgi: ServeAsgi, flushed_redis: str, unique: str
) -> None:
    app = limited_app(flushed_redis, RateLimit(f"t{unique}", rate_per_second=5, burst=3))
    async with serve_asgi(app) as client:
        statuses = [(await client.get("/limited")).status_code for _ in range(4)]
        refused = await client.get("/limited")
        await asyncio.sleep(0.25)  # one token every 200 ms
        refilled = await client.get("/limited")
    assert statuses[:3] == [200, 200, 200]
    assert statuses[3] == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert int(refused.headers["retry-after"]) >= 1
    assert refilled.status_code == 200


async def test_clients_are_limited_separately(
    serve_asgi: ServeAsgi, flushed_redis: str, unique: str
) -> None:
    limit = RateLimit(f"sep{unique}", rate_per_second=1, burst=1)
    store = RedisRateLimitStore(create_redis(load_settings(redis_url=flushed_redis)))
    assert await store.acquire("roost:ratelimit:a", limit) == 0
    assert await store.acquire("roost:ratelimit:a", limit) > 0
    assert await store.acquire("roost:ratelimit:b", limit) == 0
    await store.client.aclose()


async def test_limiter_fails_open_and_counts_it_when_redis_is_down(serve_asgi: ServeAsgi) -> None:
    app = limited_app("redis://127.0.0.1:1/0", RateLimit("down", rate_per_second=1, burst=1))
    async with serve_asgi(app) as client:
        statuses = [(await client.get("/limited")).status_code for _ in range(3)]
        metrics = (await client.get("/metrics")).text
    assert statuses == [200, 200, 200]
    line = next(x for x in metrics.splitlines() if x.startswith("rate_limit_fail_open_total"))
    assert float(line.split()[-1]) >= 3

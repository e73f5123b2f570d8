"""Redis goes away and comes back: fast 503s while it is down, recovery without a restart."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from tests.support.fixture_types import ServeAsgi
from tests.support.parallel import free_port

from roost.core.settings import load_settings
from roost.infra.embedded import EmbeddedRedis
from roost.roles import build_kv

pytestmark = pytest.mark.integration


async def test_kv_answers_503_while_redis_is_down_and_recovers(
    serve_asgi: ServeAsgi, tmp_path: Path
) -> None:
    redis = EmbeddedRedis(tmp_path / "redis", port=free_port())
    redis.start()
    try:
        app = build_kv(load_settings(redis_url=redis.url))
        async with serve_asgi(app) as client:
            assert (await client.post("/write/k", params={"value": "before"})).status_code == 200

            redis.stop()
            started = time.perf_counter()
            read = await client.get("/read/k")
            write = await client.put("/api/v1/kv/k", json={"value": 1})
            elapsed = time.perf_counter() - started
            ready = await client.get("/readyz")
            health = await client.get("/health")
            alive = await client.get("/healthz")

            assert read.status_code == 503
            assert read.json()["error"]["code"] == "dependency_unavailable"
            assert read.headers["retry-after"]
            assert write.status_code == 503
            assert elapsed < 3, f"outage answers took {elapsed:.2f}s: requests must not hang"
            assert ready.status_code == 503
            assert ready.json()["error"]["details"]["failed"] == ["redis"]
            assert health.status_code == 503
            assert health.json()["status"] == "unhealthy"
            assert alive.status_code == 200

            redis.start()
            recovered = await client.get("/read/k")
            assert recovered.status_code == 200
            assert recovered.json()["value"] == "before"  # AOF kept the data
            assert (await client.get("/readyz")).status_code == 200
            assert (await client.get("/health")).json()["status"] == "healthy"
    finally:
        redis.stop()

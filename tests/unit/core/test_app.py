"""The shared app factory: error envelope, headers, limits, health, maintenance, metrics."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel, ConfigDict
from tests.support.fixture_types import ServeAsgi

from roost.core.app import RoleRuntime, create_app
from roost.core.health import HealthCheck
from roost.core.settings import Settings, load_settings

router = APIRouter()


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    size: int


@router.post("/items/{item_id}")
async def create_item(item_id: int, item: Item) -> dict[str, object]:
    return {"id": item_id, "name": item.name}


@router.get("/boom")
async def boom() -> None:
    raise RuntimeError("secret internals /etc/passwd")


async def healthy() -> None:
    return None


async def broken() -> None:
    raise ConnectionError("refused")


def build(
    checks: list[HealthCheck] | None = None, flag: list[bool] | None = None, **overrides: object
) -> FastAPI:
    settings: Settings = load_settings(**overrides)

    async def read_flag() -> bool:
        return bool(flag and flag[0])

    async def setup(app: FastAPI, settings: Settings, stack: AsyncExitStack) -> RoleRuntime:
        return RoleRuntime(checks=checks or [], maintenance_flag=read_flag if flag else None)

    return create_app(role="test", settings=settings, routers=[router], setup=setup)


def assert_envelope(body: dict[str, object], code: str) -> None:
    assert set(body) == {"error"}
    error = body["error"]
    assert isinstance(error, dict)
    assert error["code"] == code
    assert error["message"]
    assert error["request_id"]


async def test_unknown_route_is_a_json_404(serve_asgi: ServeAsgi) -> None:
    async with serve_asgi(build()) as client:
        response = await client.get("/nope")
    assert response.status_code == 404
    assert_envelope(response.json(), "not_found")


async def test_wrong_method_is_a_json_405(serve_asgi: ServeAsgi) -> None:
    async with serve_asgi(build()) as client:
        response = await client.get("/items/1")
    assert response.status_code == 405
    assert_envelope(response.json(), "method_not_allowed")


async def test_validation_errors_use_the_envelope_and_name_the_field(serve_asgi: ServeAsgi) -> None:
    async with serve_asgi(build()) as client:
        response = await client.post("/items/1", json={"name": "x", "size": "big"})
    assert response.status_code == 422
    body = response.json()
    assert_envelope(body, "validation_error")
    assert "size" in body["error"]["message"]


async def test_unknown_fields_are_rejected(serve_asgi: ServeAsgi) -> None:
    async with serve_asgi(build()) as client:
        response = await client.post("/items/1", json={"name": "x", "size": 1, "admin": True})
    assert response.status_code == 422
    assert "unknown field" in response.json()["error"]["message"]


async def test_malformed_json_is_a_400(serve_asgi: ServeAsgi) -> None:
    async with serve_asgi(build()) as client:
        response = await client.post(
            "/items/1", content=b"{not json", headers={"content-type": "application/json"}
        )
    assert response.status_code == 400
    assert_envelope(response.json(), "invalid_json")


async def test_crash_is_a_500_without_internals(serve_asgi: ServeAsgi) -> None:
    async with serve_asgi(build()) as client:
        response = await client.get("/boom")
    assert response.status_code == 500
    assert_envelope(response.json(), "internal_error")
    assert "passwd" not in response.text
    assert "Traceback" not in response.text


async def test_request_id_is_echoed_or_generated(serve_asgi: ServeAsgi) -> None:
    async with serve_asgi(build()) as client:
        given = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
        generated = await client.get("/healthz")
        hostile = await client.get("/healthz", headers={"X-Request-ID": "bad id\r\nx"})
    assert given.headers["x-request-id"] == "abc-123"
    assert re.fullmatch(r"[0-9a-f]{32}", generated.headers["x-request-id"])
    assert hostile.headers["x-request-id"] != "bad id\r\nx"


async def test_error_body_carries_the_request_id(serve_asgi: ServeAsgi) -> None:
    async with serve_asgi(build()) as client:
        response = await client.get("/nope", headers={"X-Request-ID": "trace-me"})
    assert response.json()["error"]["request_id"] == "trace-me"


async def test_security_headers_on_every_response(serve_asgi: ServeAsgi) -> None:
    async with serve_asgi(build()) as client:
        ok = await client.get("/healthz")
        missing = await client.get("/nope")
    for response in (ok, missing):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert "default-src 'none'" in response.headers["content-security-policy"]
        assert response.headers["referrer-policy"] == "no-referrer"
        assert "strict-transport-security" not in response.headers


async def test_hsts_only_behind_tls(serve_asgi: ServeAsgi) -> None:
    async with serve_asgi(build(behind_tls=True)) as client:
        response = await client.get("/healthz")
    assert "max-age" in response.headers["strict-transport-security"]


async def test_body_over_limit_is_a_413_by_declared_length(serve_asgi: ServeAsgi) -> None:
    async with serve_asgi(build(max_body_bytes=1024)) as client:
        response = await client.post("/items/1", content=b"x" * 5000)
    assert response.status_code == 413
    assert_envelope(response.json(), "payload_too_large")


async def test_body_over_limit_is_a_413_when_streamed_without_length(serve_asgi: ServeAsgi) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b'{"name": "' + b"x" * 500

    async with serve_asgi(build(max_body_bytes=1024)) as client:
        response = await client.post(
            "/items/1", content=chunks(), headers={"content-type": "application/json"}
        )
    assert response.status_code == 413


async def test_cors_allows_only_configured_origins(serve_asgi: ServeAsgi) -> None:
    async with serve_asgi(build(cors_origins="https://ok.example")) as client:
        allowed = await client.get("/healthz", headers={"Origin": "https://ok.example"})
        denied = await client.get("/healthz", headers={"Origin": "https://evil.example"})
    assert allowed.headers["access-control-allow-origin"] == "https://ok.example"
    assert "access-control-allow-origin" not in denied.headers


async def test_healthz_ignores_dependencies(serve_asgi: ServeAsgi) -> None:
    app = build(checks=[HealthCheck("redis", broken)])
    async with serve_asgi(app) as client:
        response = await client.get("/healthz")
    assert response.status_code == 200


async def test_readyz_names_the_failed_dependency(serve_asgi: ServeAsgi) -> None:
    app = build(checks=[HealthCheck("redis", broken), HealthCheck("postgres", healthy)])
    async with serve_asgi(app) as client:
        response = await client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["error"]["details"]["failed"] == ["redis"]
    assert body["checks"]["postgres"]["status"] == "ok"


async def test_readyz_stays_ready_when_only_a_non_critical_dependency_fails(
    serve_asgi: ServeAsgi,
) -> None:
    app = build(checks=[HealthCheck("db", healthy), HealthCheck("images", broken, critical=False)])
    async with serve_asgi(app) as client:
        response = await client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["checks"]["images"]["status"] != "ok"  # still reported


@pytest.mark.parametrize(
    ("checks", "status", "code"),
    [
        ([HealthCheck("a", healthy)], "healthy", 200),
        ([HealthCheck("a", healthy), HealthCheck("b", broken, critical=False)], "degraded", 200),
        ([HealthCheck("a", broken)], "unhealthy", 503),
    ],
)
async def test_health_reports_overall_status(
    serve_asgi: ServeAsgi, checks: list[HealthCheck], status: str, code: int
) -> None:
    async with serve_asgi(build(checks=checks)) as client:
        response = await client.get("/health")
    assert response.status_code == code
    body = response.json()
    assert body["status"] == status
    assert body["version"]
    assert set(body["checks"]) == {c.name for c in checks}


async def test_slow_dependency_times_out_instead_of_hanging(serve_asgi: ServeAsgi) -> None:
    import asyncio

    async def slow() -> None:
        await asyncio.sleep(10)

    app = build(checks=[HealthCheck("slow", slow)], readiness_timeout=0.2)
    async with serve_asgi(app) as client:
        response = await client.get("/readyz")
    assert response.status_code == 503
    assert "timed out" in response.json()["checks"]["slow"]["error"]


async def test_maintenance_mode_blocks_routes_but_not_health(serve_asgi: ServeAsgi) -> None:
    flag = [False]
    app = build(flag=flag)
    async with serve_asgi(app) as client:
        assert (await client.post("/items/1", json={"name": "a", "size": 1})).status_code == 200
        flag[0] = True
        await app.state.maintenance.refresh()
        blocked = await client.post("/items/1", json={"name": "a", "size": 1})
        health = await client.get("/healthz")
        metrics = await client.get("/metrics")
        flag[0] = False
        await app.state.maintenance.refresh()
        back = await client.post("/items/1", json={"name": "a", "size": 1})
    assert blocked.status_code == 503
    assert blocked.headers["retry-after"]
    assert_envelope(blocked.json(), "maintenance")
    assert health.status_code == 200
    assert metrics.status_code == 200
    assert back.status_code == 200


async def test_metrics_use_route_templates_not_raw_paths(serve_asgi: ServeAsgi) -> None:
    async with serve_asgi(build()) as client:
        await client.post("/items/41", json={"name": "a", "size": 1})
        await client.post("/items/42", json={"name": "a", "size": 1})
        await client.get("/does-not-exist/123")
        text = (await client.get("/metrics")).text
    assert 'http_requests_total{method="POST",path="/items/{item_id}",status="200"}' in text
    assert "/items/41" not in text
    assert 'path="<unmatched>"' in text
    assert "/does-not-exist" not in text
    assert "http_request_duration_seconds_bucket" in text
    assert 'app_info{role="test",version=' in text


async def test_health_routes_are_not_counted(serve_asgi: ServeAsgi) -> None:
    async with serve_asgi(build()) as client:
        await client.get("/healthz")
        text = (await client.get("/metrics")).text
    assert 'path="/healthz"' not in text


async def test_debug_config_masks_secrets_and_url_credentials(serve_asgi: ServeAsgi) -> None:
    app = build(debug=True, redis_url="redis://user:hunter2@cache:6379/0", jwt_secret="z" * 40)
    async with serve_asgi(app) as client:
        response = await client.get("/debug/config")
    body = response.json()
    assert response.status_code == 200
    assert "hunter2" not in response.text
    assert "z" * 40 not in response.text
    assert body["settings"]["redis_url"] == "redis://***@cache:6379/0"
    assert "jwt_secret" not in body["settings"]


async def test_debug_sleep_validates_its_input(serve_asgi: ServeAsgi) -> None:
    async with serve_asgi(build(debug=True)) as client:
        response = await client.get("/debug/sleep", params={"seconds": 999})
    assert response.status_code == 422

"""The console's backend-for-frontend over real HTTP: identity and audit on every action, a
role that is down answered as down, the sampler's view of an unhealthy role, sign-in rules."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import jwt
import pytest
from structlog.testing import capture_logs
from tests.support.parallel import free_port, redis_db

from roost.console.session import CSRF_HEADER
from roost.core.settings import Settings, load_settings
from roost.roles import build_console

ADMIN_KEY = "console-admin-key-0123456789"
READER_KEY = "console-reader-key-0123456789"
# The maintenance flag these tests flip meets no other suite's roles.
CONSOLE_REDIS_DB = redis_db(13)


def console_settings(redis_url: str, **peers: str) -> Settings:
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens: every other role is down
    urls = {
        "kv_url": closed,
        "thumbnails_url": closed,
        "optimizer_url": closed,
        "birds_api_url": closed,
        "bird_images_url": closed,
        "frontend_url": closed,
        "worker_url": closed,
    } | peers
    return load_settings(
        api_keys=[f"ops:{ADMIN_KEY}:admin", f"reader:{READER_KEY}:optimize"],
        redis_url=redis_url.rsplit("/", 1)[0] + f"/{CONSOLE_REDIS_DB}",
        console_sample_seconds=0.5,
        **urls,
    )


@pytest.fixture
def signed_in(serve_asgi: Callable[..., Any], redis_url: str) -> Callable[..., Any]:
    """``async with signed_in(**peer_urls) as (client, csrf)``: a console, signed in as ops."""
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def open_(**peers: str) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
        await forget_sign_in_attempts(redis_url)
        async with serve_asgi(build_console(console_settings(redis_url, **peers))) as client:
            signed = await client.post("/api/login", json={"credential": ADMIN_KEY})
            assert signed.status_code == 200, signed.text
            yield client, signed.json()["csrf_token"]

    return open_


async def forget_sign_in_attempts(redis_url: str) -> None:
    """Every test signs in from 127.0.0.1: start each with the sign-in rate limit's bucket full."""
    from redis.asyncio import Redis

    client = Redis.from_url(redis_url.rsplit("/", 1)[0] + f"/{CONSOLE_REDIS_DB}")
    try:
        async for key in client.scan_iter("roost:ratelimit:console-sign-in:*"):
            await client.delete(key)
    finally:
        await client.aclose()


async def test_sign_in_attempts_beyond_the_burst_are_429(
    serve_asgi: Callable[..., Any], redis_url: str
) -> None:
    from roost.console.api import SIGN_IN_LIMIT

    await forget_sign_in_attempts(redis_url)
    async with serve_asgi(build_console(console_settings(redis_url))) as client:
        statuses = [
            (
                await client.post("/api/login", json={"credential": "wrong-key-0123456789"})
            ).status_code
            for _ in range(SIGN_IN_LIMIT.burst + 1)
        ]
    await forget_sign_in_attempts(redis_url)

    assert statuses[: SIGN_IN_LIMIT.burst] == [401] * SIGN_IN_LIMIT.burst
    assert statuses[-1] == 429


async def test_an_action_reaches_the_role_as_the_operator_and_is_audited(
    signed_in: Callable[..., Any], upstream: Any
) -> None:
    upstream.status, upstream.body = 201, {"key": "greeting", "value": "hi", "version": 1}
    async with signed_in(kv_url=upstream.url) as (client, csrf):
        with capture_logs() as logs:
            response = await client.put(
                "/api/roles/kv/api/v1/kv/greeting",
                json={"value": "hi"},
                headers={CSRF_HEADER: csrf, "If-Match": '"3"'},
            )

    assert response.status_code == 201
    assert response.json()["version"] == 1
    assert upstream.targets[-1] == "/api/v1/kv/greeting"
    sent = upstream.headers[-1]
    assert sent["x-roost-operator"] == "api-key:ops"
    assert sent["if-match"] == '"3"'
    claims = jwt.decode(
        sent["authorization"].removeprefix("Bearer "), options={"verify_signature": False}
    )
    assert claims["sub"] == "api-key:ops"
    assert "admin" in claims["scope"].split()
    assert "cookie" not in sent  # the console session stays with the console
    actions = [line for line in logs if line["event"] == "console_action"]
    assert len(actions) == 1
    assert {**actions[0], "duration_ms": 0} == {
        **actions[0],
        "action": "kv.set",
        "operator": "api-key:ops",
        "role": "kv",
        "method": "PUT",
        "path": "/api/v1/kv/greeting",
        "status": 201,
        "duration_ms": 0,
    }


async def test_a_role_that_is_down_answers_503_while_the_overview_still_answers(
    signed_in: Callable[..., Any],
) -> None:
    async with signed_in() as (client, _):
        response = await client.get("/api/roles/kv/api/v1/kv")
        overview = await client.get("/api/overview")

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "role_unavailable"
    assert response.headers["retry-after"] == "5"
    assert overview.status_code == 200
    assert {role["role"] for role in overview.json()["roles"]} == {
        "kv",
        "thumbnails",
        "optimizer",
        "birds",
        "bird-images",
        "frontend",
        "worker",
    }


async def test_the_overview_names_an_unhealthy_roles_failing_dependency(
    signed_in: Callable[..., Any], upstream: Any
) -> None:
    upstream.status = 503
    upstream.body = {
        "status": "unhealthy",
        "version": "9.9.9",
        "role": "optimizer",
        "checks": {"postgres": {"status": "fail", "critical": True, "error": "refused"}},
    }
    async with signed_in(optimizer_url=upstream.url) as (client, _):
        await client.app.state.console.sampler.sample_all()
        overview = (await client.get("/api/overview")).json()

    (optimizer,) = [role for role in overview["roles"] if role["role"] == "optimizer"]
    assert optimizer["status"] == "unhealthy"
    assert optimizer["error"] == "postgres failing"
    assert optimizer["version"] == "9.9.9"
    assert optimizer["rate"] is None  # its /metrics was no exposition: no numbers, no crash
    assert overview["backends"]["postgres"] == {
        "status": "fail",
        "seen_by": ["optimizer"],
        "failing": {"optimizer": "refused"},
    }
    kv = next(role for role in overview["roles"] if role["role"] == "kv")
    assert kv["status"] == "down"


async def test_actions_outside_the_offered_list_are_404(signed_in: Callable[..., Any]) -> None:
    async with signed_in() as (client, csrf):
        response = await client.post(
            "/api/roles/kv/write/x", params={"value": "y"}, headers={CSRF_HEADER: csrf}
        )

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "action_not_offered"


async def test_maintenance_toggle_writes_the_flag_every_role_polls(
    signed_in: Callable[..., Any], redis_url: str
) -> None:
    from redis.asyncio import Redis

    from roost.infra.redis import read_maintenance_flag

    flag = Redis.from_url(redis_url.rsplit("/", 1)[0] + f"/{CONSOLE_REDIS_DB}")
    try:
        async with signed_in() as (client, csrf):
            on = await client.put(
                "/api/maintenance", json={"enabled": True}, headers={CSRF_HEADER: csrf}
            )
            assert on.status_code == 200
            assert await read_maintenance_flag(flag)
            assert (await client.get("/api/overview")).json()["maintenance"] is True
            off = await client.put(
                "/api/maintenance", json={"enabled": False}, headers={CSRF_HEADER: csrf}
            )
            assert off.status_code == 200
            assert not await read_maintenance_flag(flag)
            bad = await client.put(
                "/api/maintenance", json={"enabled": "maybe"}, headers={CSRF_HEADER: csrf}
            )
    finally:
        await flag.aclose()
    assert bad.status_code == 422
    assert bad.json()["error"]["code"]


async def test_sign_in_needs_an_admin_credential(
    serve_asgi: Callable[..., Any], redis_url: str
) -> None:
    await forget_sign_in_attempts(redis_url)
    async with serve_asgi(build_console(console_settings(redis_url))) as client:
        reader = await client.post("/api/login", json={"credential": READER_KEY})
        empty = await client.post("/api/login", json={})
        session = await client.get("/api/session")
        logout = await client.post("/api/logout")

    assert reader.status_code == 403
    assert reader.json()["error"]["code"] == "forbidden"
    assert empty.status_code == 422
    assert session.json()["operator"] is None
    assert logout.status_code == 401


async def test_a_change_is_sent_once_and_a_5xx_answer_reaches_the_operator(upstream: Any) -> None:
    from roost.core.upstream import CircuitBreaker, UpstreamClient

    upstream.status, upstream.body = 503, {"error": {"code": "maintenance", "message": "later"}}
    breaker = CircuitBreaker("console-test", failure_threshold=2, reset_seconds=60)
    client = UpstreamClient("console-test", upstream.url, budget_seconds=2, breaker=breaker)
    try:
        first = await client.send("PUT", "/api/v1/kv/x", json={"value": 1})
        await client.send("PUT", "/api/v1/kv/x", json={"value": 1})
    finally:
        await client.aclose()

    assert first.status_code == 503  # the role's own answer, for the page to show
    assert first.json()["error"]["code"] == "maintenance"
    assert upstream.calls == 2  # one attempt each: a change is never repeated
    assert not breaker.allow()  # two 5xx in a row opened the breaker

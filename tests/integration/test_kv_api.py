"""The kv role against the machine's real Redis."""

from __future__ import annotations

import asyncio

import pytest
from fastapi import FastAPI
from redis.asyncio import Redis
from tests.support.fixture_types import ServeAsgi

from roost.core.settings import load_settings
from roost.roles import build_kv

pytestmark = pytest.mark.integration


@pytest.fixture
def kv_app(flushed_redis: str) -> FastAPI:
    return build_kv(load_settings(redis_url=flushed_redis, kv_max_value_bytes=4096))


async def test_classic_contract(serve_asgi: ServeAsgi, kv_app: FastAPI) -> None:
    async with serve_asgi(kv_app) as client:
        empty = await client.get("/")
        written = await client.post("/write/example_key", params={"value": "hello world"})
        read = await client.get("/read/example_key")
        root = await client.get("/")
    assert empty.json() == {"message": "Roost key-value service", "example_key": None}
    assert written.status_code == 200
    assert written.json() == {"message": "Key 'example_key' set to 'hello world'"}
    assert read.json() == {"key": "example_key", "value": "hello world"}
    assert root.json()["example_key"] == "hello world"


async def test_classic_read_of_missing_key_is_a_json_404(
    serve_asgi: ServeAsgi, kv_app: FastAPI
) -> None:
    async with serve_asgi(kv_app) as client:
        response = await client.get("/read/missing")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "key_not_found"


async def test_classic_write_requires_a_value(serve_asgi: ServeAsgi, kv_app: FastAPI) -> None:
    async with serve_asgi(kv_app) as client:
        response = await client.post("/write/k")
    assert response.status_code == 422
    assert "value" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/read/" + "k" * 513, 400, "key_too_large"),
        ("/read/bad%00key", 400, "invalid_key"),
        ("/read/tab%09key", 400, "invalid_key"),
        ("/api/v1/kv/" + "é" * 513, 400, "key_too_large"),
        ("/read/", 404, "not_found"),
    ],
)
async def test_bad_keys_are_rejected(
    serve_asgi: ServeAsgi, kv_app: FastAPI, path: str, status: int, code: str
) -> None:
    async with serve_asgi(kv_app) as client:
        response = await client.get(path)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


async def test_v1_round_trip_with_json_values(serve_asgi: ServeAsgi, kv_app: FastAPI) -> None:
    value = {"list": [1, 2.5, None, True], "text": "ünïcode"}
    async with serve_asgi(kv_app) as client:
        created = await client.put("/api/v1/kv/doc", json={"value": value})
        replaced = await client.put("/api/v1/kv/doc", json={"value": [1]})
        fetched = await client.get("/api/v1/kv/doc")
        deleted = await client.delete("/api/v1/kv/doc")
        gone = await client.get("/api/v1/kv/doc")
        deleted_again = await client.delete("/api/v1/kv/doc")
    assert created.status_code == 201
    assert created.headers["location"] == "/api/v1/kv/doc"
    assert replaced.status_code == 200
    assert replaced.json()["version"] > created.json()["version"]
    assert fetched.json()["value"] == [1]
    assert fetched.headers["etag"] == f'"{replaced.json()["version"]}"'
    assert deleted.status_code == 204
    assert gone.status_code == 404
    assert deleted_again.status_code == 404


async def test_if_none_match_returns_304_for_the_current_etag(
    serve_asgi: ServeAsgi, kv_app: FastAPI
) -> None:
    async with serve_asgi(kv_app) as client:
        put = await client.put("/api/v1/kv/cached", json={"value": 1})
        tag = put.headers["etag"]
        not_modified = await client.get("/api/v1/kv/cached", headers={"If-None-Match": tag})
        await client.put("/api/v1/kv/cached", json={"value": 2})
        modified = await client.get("/api/v1/kv/cached", headers={"If-None-Match": tag})
    assert not_modified.status_code == 304
    assert modified.status_code == 200
    assert modified.json()["value"] == 2


async def test_if_match_guards_concurrent_updates(serve_asgi: ServeAsgi, kv_app: FastAPI) -> None:
    async with serve_asgi(kv_app) as client:
        tag = (await client.put("/api/v1/kv/acct", json={"value": 100})).headers["etag"]
        first = await client.put("/api/v1/kv/acct", json={"value": 90}, headers={"If-Match": tag})
        stale = await client.put("/api/v1/kv/acct", json={"value": 80}, headers={"If-Match": tag})
        current = await client.get("/api/v1/kv/acct")
    assert first.status_code == 200
    assert stale.status_code == 412
    assert stale.json()["error"]["code"] == "version_conflict"
    assert stale.json()["error"]["details"]["current_version"] == first.json()["version"]
    assert current.json()["value"] == 90


async def test_version_in_body_and_create_only(serve_asgi: ServeAsgi, kv_app: FastAPI) -> None:
    async with serve_asgi(kv_app) as client:
        created = await client.put("/api/v1/kv/once", json={"value": "a", "version": 0})
        again = await client.put("/api/v1/kv/once", json={"value": "b", "version": 0})
        star = await client.put(
            "/api/v1/kv/once", json={"value": "c"}, headers={"If-None-Match": "*"}
        )
        ok = await client.put(
            "/api/v1/kv/once", json={"value": "d", "version": created.json()["version"]}
        )
        final = await client.get("/api/v1/kv/once")
    assert created.status_code == 201
    assert again.status_code == 409
    assert star.status_code == 412
    assert ok.status_code == 200
    assert final.json()["value"] == "d"


async def test_versions_are_never_reused_after_delete(
    serve_asgi: ServeAsgi, kv_app: FastAPI
) -> None:
    async with serve_asgi(kv_app) as client:
        first = (await client.put("/api/v1/kv/re", json={"value": 1})).json()["version"]
        await client.delete("/api/v1/kv/re")
        second = (await client.put("/api/v1/kv/re", json={"value": 1})).json()["version"]
    assert second != first


async def test_delete_with_stale_if_match_keeps_the_value(
    serve_asgi: ServeAsgi, kv_app: FastAPI
) -> None:
    async with serve_asgi(kv_app) as client:
        await client.put("/api/v1/kv/keep", json={"value": 1})
        response = await client.delete("/api/v1/kv/keep", headers={"If-Match": '"999999999"'})
        still = await client.get("/api/v1/kv/keep")
    assert response.status_code == 412
    assert still.json()["value"] == 1


async def test_ttl_expires_keys(serve_asgi: ServeAsgi, kv_app: FastAPI) -> None:
    async with serve_asgi(kv_app) as client:
        put = await client.put("/api/v1/kv/brief", json={"value": 1, "ttl_seconds": 1})
        fetched = await client.get("/api/v1/kv/brief")
        await asyncio.sleep(1.3)
        expired = await client.get("/api/v1/kv/brief")
    assert put.json()["ttl_seconds"] == 1
    assert 0 <= fetched.json()["ttl_seconds"] <= 1
    assert expired.status_code == 404


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"value": 1, "ttl_seconds": 0}, 422, "invalid_ttl"),
        ({"value": 1, "ttl_seconds": -1}, 422, "invalid_ttl"),
        ({"value": 1, "ttl_seconds": 10**12}, 422, "invalid_ttl"),
        ({"value": 1, "ttl_seconds": "soon"}, 422, "validation_error"),
        ({"value": 1, "extra": True}, 422, "validation_error"),
        ({"ttl_seconds": 5}, 422, "validation_error"),
        ({"value": "x" * 5000}, 413, "value_too_large"),
        ({"value": 1, "version": -1}, 422, "validation_error"),
    ],
)
async def test_bad_puts_are_rejected_and_keep_the_old_value(
    serve_asgi: ServeAsgi, kv_app: FastAPI, body: dict[str, object], status: int, code: str
) -> None:
    async with serve_asgi(kv_app) as client:
        await client.put("/api/v1/kv/safe", json={"value": "original"})
        response = await client.put("/api/v1/kv/safe", json=body)
        after = await client.get("/api/v1/kv/safe")
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert after.json()["value"] == "original"


async def test_malformed_json_body_is_a_400(serve_asgi: ServeAsgi, kv_app: FastAPI) -> None:
    async with serve_asgi(kv_app) as client:
        response = await client.put(
            "/api/v1/kv/x", content=b'{"value": ', headers={"content-type": "application/json"}
        )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"


async def test_classic_write_over_the_value_limit_is_a_413(
    serve_asgi: ServeAsgi, kv_app: FastAPI
) -> None:
    async with serve_asgi(kv_app) as client:
        response = await client.post("/write/big", params={"value": "x" * 5000})
    assert response.status_code == 413


async def test_list_pages_through_every_key_once(serve_asgi: ServeAsgi, kv_app: FastAPI) -> None:
    async with serve_asgi(kv_app) as client:
        for i in range(57):
            await client.put(f"/api/v1/kv/user:{i:03}", json={"value": i})
        await client.put("/api/v1/kv/other", json={"value": 0})
        seen: list[str] = []
        cursor = None
        pages = 0
        while True:
            params: dict[str, str | int] = {"prefix": "user:", "limit": 10}
            if cursor:
                params["cursor"] = cursor
            page = (await client.get("/api/v1/kv", params=params)).json()
            assert len(page["items"]) <= 10
            seen += [item["key"] for item in page["items"]]
            pages += 1
            cursor = page["next_cursor"]
            if cursor is None:
                break
    assert sorted(seen) == [f"user:{i:03}" for i in range(57)]
    assert pages >= 6


async def test_list_prefix_is_literal_not_a_glob(serve_asgi: ServeAsgi, kv_app: FastAPI) -> None:
    async with serve_asgi(kv_app) as client:
        await client.put("/api/v1/kv/a*b", json={"value": 1})
        await client.put("/api/v1/kv/axb", json={"value": 1})
        page = (await client.get("/api/v1/kv", params={"prefix": "a*"})).json()
    assert [item["key"] for item in page["items"]] == ["a*b"]


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"cursor": "garbage!"}, "invalid_cursor"),
        ({"limit": 0}, "validation_error"),
        ({"limit": 5000}, "validation_error"),
    ],
)
async def test_list_rejects_bad_parameters(
    serve_asgi: ServeAsgi, kv_app: FastAPI, params: dict[str, str | int], code: str
) -> None:
    async with serve_asgi(kv_app) as client:
        response = await client.get("/api/v1/kv", params=params)
    assert 400 <= response.status_code < 500
    assert response.json()["error"]["code"] == code


async def test_maintenance_flag_in_redis_blocks_kv_routes(
    serve_asgi: ServeAsgi, kv_app: FastAPI, flushed_redis: str
) -> None:
    client_redis = Redis.from_url(flushed_redis)
    async with serve_asgi(kv_app) as client:
        await client_redis.set("roost:maintenance", "1")
        await kv_app.state.maintenance.refresh()
        blocked = await client.get("/read/x")
        ready = await client.get("/readyz")
        await client_redis.set("roost:maintenance", "0")
        await kv_app.state.maintenance.refresh()
        back = await client.get("/read/x")
    await client_redis.aclose()
    assert blocked.status_code == 503
    assert blocked.json()["error"]["code"] == "maintenance"
    assert ready.status_code == 200
    assert back.status_code == 404


async def test_redis_metrics_are_exported(serve_asgi: ServeAsgi, kv_app: FastAPI) -> None:
    async with serve_asgi(kv_app) as client:
        await client.get("/read/anything")
        text = (await client.get("/metrics")).text
    assert 'redis_operation_duration_seconds_count{operation="hmget"}' in text
    assert 'http_requests_total{method="GET",path="/read/{key}",status="404"}' in text

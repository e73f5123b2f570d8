"""The model registry and predict endpoints on real Postgres."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from tests.integration.optimizer.optimizer_helpers import hill
from tests.support.fixture_types import OptimizerClient, TokenFor

from roost.optimizer.registry import checksum_of, parse_channels

pytestmark = pytest.mark.integration


async def test_registering_versions_is_idempotent_by_content(
    optimizer_client: OptimizerClient, admin_headers: dict[str, str], unique: str
) -> None:
    name = f"mix-{unique}"
    channels = [hill("tv", 1000, 100, 2.0, adstock=0.2), hill("web", 500, 50, 0.8)]
    same_content = {
        "name": name,
        # Other order, integers for floats: still the same model.
        "channels": [
            {"name": "web", "curve": {"type": "hill", "params": {"slope": 0.8, "k": 50,
             "vmax": 500}}},
            {"name": "tv", "curve": {"type": "hill", "params": {"vmax": 1000, "k": 100,
             "slope": 2}}, "adstock": 0.2},
        ],
    }  # fmt: skip
    changed = {
        "name": name,
        "channels": [hill("tv", 1000, 100, 2.0, 0.2), hill("web", 600, 50, 0.8)],
    }
    async with optimizer_client() as client:
        first = await client.post(
            "/api/v1/models",
            json={"name": name, "description": "first", "channels": channels},
            headers=admin_headers,
        )
        again = await client.post("/api/v1/models", json=same_content, headers=admin_headers)
        second = await client.post("/api/v1/models", json=changed, headers=admin_headers)
        versions = await client.get(f"/api/v1/models/{name}")
        listing = await client.get("/api/v1/models", params={"limit": 1000})
        one = await client.get(f"/api/v1/models/{name}/versions/1")
    assert first.status_code == 201, first.text
    assert first.json()["version"] == 1
    assert first.json()["created"] is True
    assert first.headers["location"] == f"/api/v1/models/{name}/versions/1"
    assert first.json()["checksum"] == checksum_of(parse_channels(channels))
    assert len(first.json()["checksum"]) == 64
    assert again.status_code == 200
    assert again.json()["version"] == 1
    assert again.json()["created"] is False
    assert again.json()["checksum"] == first.json()["checksum"]
    assert second.status_code == 201
    assert second.json()["version"] == 2
    assert second.json()["checksum"] != first.json()["checksum"]
    assert [v["version"] for v in versions.json()["versions"]] == [1, 2]
    assert all(v["status"] == "active" and v["created_at"] for v in versions.json()["versions"])
    summary = next(item for item in listing.json()["items"] if item["name"] == name)
    assert summary["latest_version"] == 2
    assert summary["versions"] == 2
    assert summary["channels"] == ["tv", "web"]
    assert one.json()["channels"][0]["adstock"] == 0.2
    assert one.json()["description"] == "first"


async def test_concurrent_registrations_get_distinct_versions(
    optimizer_client: OptimizerClient, admin_headers: dict[str, str], unique: str
) -> None:
    name = f"race-{unique}"
    bodies = [{"name": name, "channels": [hill("a", 100 + i, 10, 1)]} for i in range(6)]
    async with optimizer_client() as client:
        responses = await asyncio.gather(
            *(client.post("/api/v1/models", json=b, headers=admin_headers) for b in bodies * 2)
        )
    assert all(r.status_code in (200, 201) for r in responses)
    created = sorted(r.json()["version"] for r in responses if r.status_code == 201)
    assert created == [1, 2, 3, 4, 5, 6]


async def test_registering_needs_the_admin_scope(
    optimizer_client: OptimizerClient, token_for: TokenFor, unique: str
) -> None:
    body = {"name": f"auth-{unique}", "channels": [hill("a", 1, 1, 1)]}
    async with optimizer_client() as client:
        anonymous = await client.post("/api/v1/models", json=body)
        optimizer_only = await client.post(
            "/api/v1/models", json=body, headers=token_for("optimize")
        )
        archive = await client.patch("/api/v1/models/demo/versions/1", json={"status": "archived"})
        missing = await client.get(f"/api/v1/models/auth-{unique}")
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"
    assert optimizer_only.status_code == 403
    assert archive.status_code == 401
    assert missing.status_code == 404


@pytest.mark.parametrize(
    ("channels", "field", "code"),
    [
        ([hill("a", 1, -1, 1)], "channels[0].k", "invalid_model"),
        ([hill("a", 1, 1, 50)], "channels[0].slope", "invalid_model"),
        ([hill("a", 1, 1, 1), hill("a", 2, 1, 1)], "channels[1].name", "invalid_model"),
        (
            [{"name": "a", "curve": {"type": "spline", "params": {}}}],
            "channels[0].type",
            "invalid_model",
        ),
        (
            [{"name": "a", "curve": {"type": "power", "params": {"a": 1}}}],
            "channels[0].b",
            "invalid_model",
        ),
        (
            [{"name": "a", "curve": {"type": "power", "params": {"a": 1, "b": 1, "c": 2}}}],
            "channels[0].c",
            "invalid_model",
        ),
        (
            [{"name": "a", "curve": {"type": "linear_with_cap", "params": {"slope": 1,
              "cap": 0}}}],
            "channels[0].cap",
            "invalid_model",
        ),
    ],
)  # fmt: skip
async def test_invalid_curves_are_422_naming_the_parameter(
    optimizer_client: OptimizerClient,
    admin_headers: dict[str, str],
    unique: str,
    channels: list[dict[str, Any]],
    field: str,
    code: str,
) -> None:
    name = f"bad-{unique}"
    async with optimizer_client() as client:
        response = await client.post(
            "/api/v1/models", json={"name": name, "channels": channels}, headers=admin_headers
        )
        stored = await client.get(f"/api/v1/models/{name}")
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["details"]["field"] == field
    assert stored.status_code == 404


@pytest.mark.parametrize(
    "raw",
    [
        b'{"name": "x", "channels": [{"name": "a", "curve": {"type": "hill", '
        b'"params": {"vmax": NaN, "k": 1, "slope": 1}}}]}',
        b'{"name": "x", "channels": [{"name": "a", "curve": {"type": "hill", '
        b'"params": {"vmax": 1' + b"0" * 400 + b', "k": 1, "slope": 1}}}]}',
        b'{"name": "x", "channels": [{"name": "a", "curve": {"type": "hill", '
        b'"params": {"vmax": true, "k": 1, "slope": 1}}}]}',
        b'{"name": "x", "channels": [{"name": "a", "adstock": 1.0, "curve": {"type": "hill", '
        b'"params": {"vmax": 1, "k": 1, "slope": 1}}}]}',
        b'{"name": "x", "channels": []}',
        b'{"name": "Has Caps", "channels": [{"name": "a", "curve": {"type": "hill", '
        b'"params": {"vmax": 1, "k": 1, "slope": 1}}}]}',
        b'{"name": "x", "channels": [{"name": "a\\u0000b", "curve": {"type": "hill", '
        b'"params": {"vmax": 1, "k": 1, "slope": 1}}}]}',
        b'{"name": "x", "extra": 1, "channels": []}',
        b'{"name": "x", "channels": [{"name": "a", "curve": {"type": "hill", '
        b'"params": {"vmax": 1, "k": 1, "slope": 1}, "colour": "red"}}]}',
    ],
)
async def test_malformed_model_bodies_are_422(
    optimizer_client: OptimizerClient, admin_headers: dict[str, str], raw: bytes
) -> None:
    async with optimizer_client() as client:
        response = await client.post(
            "/api/v1/models",
            content=raw,
            headers=admin_headers | {"content-type": "application/json"},
        )
        stored = await client.get("/api/v1/models/x")
    assert response.status_code == 422, response.text
    assert "error" in response.json()
    assert stored.status_code == 404


async def test_predict_gives_response_and_marginal_return_per_channel(
    optimizer_client: OptimizerClient,
) -> None:
    from roost.optimizer.demo import demo_channels

    channels = {c.name: c for c in demo_channels()}
    async with optimizer_client() as client:
        response = await client.post(
            "/api/v1/models/demo/predict", json={"budget": {"tv": 120000, "radio": 10000}}
        )
        pinned = await client.post(
            "/api/v1/models/demo/predict", params={"version": 1}, json={"budget": {"tv": 1}}
        )
    body = response.json()
    assert response.status_code == 200, response.text
    assert body["model"] == {"name": "demo", "version": 1}
    tv = body["channels"]["tv"]
    assert tv["response"] == pytest.approx(float(channels["tv"].response(120000.0)), rel=1e-12)
    step = 1.0
    numeric = (channels["tv"].response(120000.0 + step) - channels["tv"].response(120000.0)) / step
    assert tv["marginal_return"] == pytest.approx(numeric, rel=1e-4)
    assert body["channels"]["radio"]["response"] == pytest.approx(8000.0)
    assert body["channels"]["radio"]["marginal_return"] == pytest.approx(0.8)
    assert body["total_response"] == pytest.approx(tv["response"] + 8000.0)
    assert body["total_spend"] == 130000
    assert pinned.status_code == 200


@pytest.mark.parametrize(
    ("path", "params", "budget", "status", "code"),
    [
        ("/api/v1/models/demo/predict", {}, {"podcast": 5}, 422, "unknown_channel"),
        ("/api/v1/models/nope/predict", {}, {"tv": 5}, 404, "model_not_found"),
        ("/api/v1/models/demo/predict", {"version": 42}, {"tv": 5}, 404, "model_version_not_found"),
        ("/api/v1/models/demo/predict", {"version": 0}, {"tv": 5}, 422, "validation_error"),
        ("/api/v1/models/demo/predict", {"version": "x"}, {"tv": 5}, 422, "validation_error"),
        ("/api/v1/models/demo/predict", {}, {"tv": -5}, 422, "validation_error"),
        ("/api/v1/models/demo/predict", {}, {}, 422, "validation_error"),
    ],
)
async def test_predict_rejects_unknown_things_naming_them(
    optimizer_client: OptimizerClient,
    path: str,
    params: dict[str, Any],
    budget: dict[str, Any],
    status: int,
    code: str,
) -> None:
    async with optimizer_client() as client:
        response = await client.post(path, params=params, json={"budget": budget})
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    if code == "unknown_channel":
        assert "podcast" in response.json()["error"]["message"]
        assert response.json()["error"]["details"]["field"] == "budget.podcast"


async def test_archived_versions_are_skipped_unless_asked_for(
    optimizer_client: OptimizerClient, admin_headers: dict[str, str], unique: str
) -> None:
    name = f"arch-{unique}"
    v1 = {"name": name, "channels": [hill("a", 100, 10, 1), hill("b", 100, 10, 1)]}
    v2 = {"name": name, "channels": [hill("a", 100, 10, 1), hill("b", 900, 10, 1)]}
    request = {"model": name, "budget": {"a": 10, "b": 10}}
    async with optimizer_client() as client:
        await client.post("/api/v1/models", json=v1, headers=admin_headers)
        await client.post("/api/v1/models", json=v2, headers=admin_headers)
        archived = await client.patch(
            f"/api/v1/models/{name}/versions/2", json={"status": "archived"}, headers=admin_headers
        )
        uses_v1 = (await client.post("/api/v1/optimize", json=request)).json()
        explicit_v2 = await client.post("/api/v1/optimize", json=request | {"model_version": 2})
        await client.patch(
            f"/api/v1/models/{name}/versions/1", json={"status": "archived"}, headers=admin_headers
        )
        none_active = await client.post("/api/v1/optimize", json=request)
        predict = await client.post(f"/api/v1/models/{name}/predict", json={"budget": {"a": 1}})
        listing = (await client.get("/api/v1/models", params={"limit": 1000})).json()
        bad_status = await client.patch(
            f"/api/v1/models/{name}/versions/1", json={"status": "deleted"}, headers=admin_headers
        )
    assert archived.status_code == 200
    assert archived.json()["status"] == "archived"
    assert uses_v1["model"]["version"] == 1
    assert explicit_v2.status_code == 200
    assert explicit_v2.json()["model"]["version"] == 2
    assert none_active.status_code == 422
    assert none_active.json()["error"]["details"]["field"] == "model"
    assert predict.status_code == 409
    summary = next(item for item in listing["items"] if item["name"] == name)
    assert summary["active_version"] is None
    assert summary["status"] == "archived"
    assert bad_status.status_code == 422


async def test_model_listing_pages_by_name(
    optimizer_client: OptimizerClient, admin_headers: dict[str, str], unique: str
) -> None:
    names = [f"page-{unique}-{i}" for i in range(3)]
    async with optimizer_client() as client:
        for name in names:
            await client.post(
                "/api/v1/models",
                json={"name": name, "channels": [hill("a", 1, 1, 1)]},
                headers=admin_headers,
            )
        first = await client.get("/api/v1/models", params={"limit": 2, "after": names[0][:-1]})
        second = await client.get(
            "/api/v1/models", params={"limit": 2, "after": first.json()["next_after"]}
        )
    assert [item["name"] for item in first.json()["items"]] == names[:2]
    assert [item["name"] for item in second.json()["items"]][:1] == names[2:]


async def test_names_postgres_cannot_store_are_refused_not_500(
    optimizer_client: OptimizerClient, admin_headers: dict[str, str]
) -> None:
    channel = {"name": "a", "curve": {"type": "power", "params": {"a": 1, "b": 0.5}}}
    async with optimizer_client() as client:
        lookups = [
            await client.get("/api/v1/models/a%00b"),
            await client.get("/api/v1/models/a%00b/versions/1"),
            await client.post("/api/v1/models/a%00b/predict", json={"budget": {"a": 1}}),
            await client.patch(
                "/api/v1/models/a%00b/versions/1",
                json={"status": "archived"},
                headers=admin_headers,
            ),
        ]
        page = await client.get("/api/v1/models", params={"after": "a\x00"})
        description = await client.post(
            "/api/v1/models",
            json={"name": "nul-description", "description": "a\x00b", "channels": [channel]},
            headers=admin_headers,
        )
        unicode_description = await client.post(
            "/api/v1/models",
            json={
                "name": "unicode-description",
                "description": "données 📈",
                "channels": [channel],
            },
            headers=admin_headers,
        )
    assert [response.status_code for response in lookups] == [404] * 4
    assert {response.json()["error"]["code"] for response in lookups} == {"model_not_found"}
    assert page.status_code == 422
    assert page.json()["error"]["details"][0]["field"] == "query.after"
    assert description.status_code == 422
    assert description.json()["error"]["details"][0]["field"] == "body.description"
    assert unicode_description.status_code == 201
    assert unicode_description.json()["description"] == "données 📈"

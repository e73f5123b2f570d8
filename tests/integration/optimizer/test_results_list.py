"""GET /api/v1/results: past results newest first, in keyset pages, against real Postgres."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import orjson
import pytest
from tests.support.fixture_types import OptimizerClient, TokenFor

from roost.core.cursors import encode_cursor
from roost.optimizer.demo import DEMO_CHANNELS
from roost.optimizer.schemas import ResultPage

pytestmark = pytest.mark.integration


async def register_model(client: httpx.AsyncClient, headers: dict[str, str], name: str) -> None:
    """A model of this test's own, so filtering by it sees only this test's results."""
    response = await client.post(
        "/api/v1/models", json={"name": name, "channels": DEMO_CHANNELS}, headers=headers
    )
    assert response.status_code == 201, response.text


async def optimize(client: httpx.AsyncClient, model: str, total: float) -> dict[str, Any]:
    body = {"model": model, "budget": {"tv": 1000.0, "digital": 2000.0}}
    response = await client.post("/api/v1/optimize", json=body | {"constraints": {"total": total}})
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def every_page(
    client: httpx.AsyncClient, query: dict[str, Any], between: Any = None
) -> list[dict[str, Any]]:
    """Follow next_cursor to the end; ``between`` runs after each page (to add results)."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        params = query | ({"cursor": cursor} if cursor else {})
        response = await client.get("/api/v1/results", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        ResultPage.model_validate(page)  # the body is what the schema promises
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items
        if between is not None:
            await between()


async def test_pages_list_every_result_once_newest_first_while_results_are_added(
    optimizer_client: OptimizerClient, admin_headers: dict[str, str], unique: str
) -> None:
    model = f"hist-{unique}"
    async with optimizer_client() as client:
        await register_model(client, admin_headers, model)
        stored = [await optimize(client, model, 3000.0 + i) for i in range(7)]
        added: list[dict[str, Any]] = []

        async def add_one() -> None:
            added.append(await optimize(client, model, 5000.0 + len(added)))

        listed = await every_page(client, {"model": model, "limit": 2}, between=add_one)
        first_page = (
            await client.get("/api/v1/results", params={"model": model, "limit": 100})
        ).json()
    ids = [item["id"] for item in listed]
    assert len(ids) == len(set(ids)), "a result was listed twice"
    # Everything stored before paging began is there, newest first; results added meanwhile
    # are newer than the first page and so never appear in later ones.
    assert ids == [result["id"] for result in reversed(stored)]
    assert len(added) == 3  # a page after each of the first three (7 results, 2 a page)
    assert [item["id"] for item in first_page["items"]] == [
        result["id"] for result in [*reversed(added), *reversed(stored)]
    ]
    assert first_page["next_cursor"] is None
    created = [item["created_at"] for item in first_page["items"]]
    assert created == sorted(created, reverse=True)


async def test_a_summary_links_to_its_result_and_charts(
    optimizer_client: OptimizerClient, admin_headers: dict[str, str], unique: str
) -> None:
    model = f"hist-{unique}"
    async with optimizer_client() as client:
        await register_model(client, admin_headers, model)
        result = await optimize(client, model, 3000.0)
        (item,) = (await client.get("/api/v1/results", params={"model": model})).json()["items"]
        full = await client.get(item["links"]["self"])
        chart = await client.get(item["links"]["curves_svg"])
    assert item["links"] == result["links"]
    assert full.status_code == 200
    assert full.json()["id"] == result["id"]
    assert chart.status_code == 200
    assert item["status"] == "done"
    assert item["kind"] == "optimize"
    assert item["model"] == {"name": model, "version": 1}
    assert item["total"] == result["total"] == 3000.0
    assert item["lift"] == result["lift"]
    assert item["predicted_response"] == result["predicted_response"]
    assert item["error"] is None
    assert "allocation" not in item  # a summary, not the whole result


async def test_status_and_model_filters(
    optimizer_client: OptimizerClient, admin_headers: dict[str, str], unique: str
) -> None:
    model, other = f"hist-{unique}", f"other-{unique}"
    sweep = {"model": model, "budget": {"tv": 1.0, "digital": 1.0}, "sweep": {"totals": [2.0]}}
    async with optimizer_client() as client:
        await register_model(client, admin_headers, model)
        await register_model(client, admin_headers, other)
        done = await optimize(client, model, 3000.0)
        await optimize(client, other, 3000.0)
        queued = (await client.post("/api/v1/optimize", json=sweep)).json()  # no worker runs
    async with optimizer_client(broker_url="redis://127.0.0.1:1/0") as client:
        refused = await client.post("/api/v1/optimize", json=sweep)  # stored, then failed
        assert refused.status_code == 503

        async def listed(**query: Any) -> list[dict[str, Any]]:
            return await every_page(client, {"model": model} | query)

        by_status = {status: await listed(status=status) for status in ("done", "queued")}
        failed = await listed(status="failed")
        running = await listed(status="running")
        mine = await listed()
        others = await every_page(client, {"model": other})
    assert [item["id"] for item in by_status["done"]] == [done["id"]]
    assert [item["id"] for item in by_status["queued"]] == [queued["id"]]
    assert len(failed) == 1
    assert failed[0]["error"]["code"] == "broker_unavailable"
    assert failed[0]["kind"] == "sweep"
    assert failed[0]["total"] is None
    assert running == []
    assert len(mine) == 3
    assert len(others) == 1
    assert others[0]["model"]["name"] == other


@pytest.mark.parametrize(
    "cursor",
    [
        "not-base64-at-all!",
        "%%%",
        base64.urlsafe_b64encode(b"not json").decode().rstrip("="),
        encode_cursor("2026-01-01T00:00:00+00:00"),  # one value, two expected
        encode_cursor("2026-01-01T00:00:00+00:00", 7),  # an id must be a string
        encode_cursor("yesterday", "0b5e2f8c-1d7e-4c1f-9a51-5d8d0c1f2a3b"),
        encode_cursor("2026-01-01T00:00:00", "0b5e2f8c-1d7e-4c1f-9a51-5d8d0c1f2a3b"),  # no zone
        encode_cursor("2026-01-01T00:00:00+00:00", "not-a-uuid"),
        base64.urlsafe_b64encode(orjson.dumps([True, "x"])).decode().rstrip("="),
    ],
)
async def test_a_forged_cursor_is_a_400_envelope(
    optimizer_client: OptimizerClient, cursor: str
) -> None:
    async with optimizer_client() as client:
        response = await client.get("/api/v1/results", params={"cursor": cursor})
    assert response.status_code in (400, 422), response.text
    error = response.json()["error"]
    assert error["request_id"]
    if response.status_code == 400:
        assert error["code"] == "invalid_cursor"
    else:  # outside the documented cursor alphabet: refused by the query's pattern
        assert not all(c.isalnum() or c in "-_" for c in cursor)


@pytest.mark.parametrize(
    "query", [{"limit": 0}, {"limit": 101}, {"status": "lost"}, {"model": "Not A Name"}]
)
async def test_out_of_range_parameters_are_422(
    optimizer_client: OptimizerClient, query: dict[str, Any]
) -> None:
    async with optimizer_client() as client:
        response = await client.get("/api/v1/results", params=query)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "validation_error"


async def test_listing_needs_the_optimize_scope_when_auth_is_required(
    optimizer_client: OptimizerClient, token_for: TokenFor
) -> None:
    async with optimizer_client(optimizer_require_auth=True) as client:
        anonymous = await client.get("/api/v1/results")
        wrong_scope = await client.get("/api/v1/results", headers=token_for("kv:read"))
        allowed = await client.get("/api/v1/results", headers=token_for("optimize"))
    assert anonymous.status_code == 401
    assert wrong_scope.status_code == 403
    assert allowed.status_code == 200
    assert set(allowed.json()) == {"items", "next_cursor"}

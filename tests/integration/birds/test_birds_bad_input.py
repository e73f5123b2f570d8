"""Bad input is a 4xx JSON envelope and leaves the catalog exactly as it was."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import asyncpg
import pytest
from tests.integration.birds.birds_helpers import assert_error

from roost.birds.catalog_data import BIRD_SEEDS

VALID = {
    "name": "Valid Bird",
    "scientific_name": "Avis valida",
    "description": "Fine.",
    "region": "Here",
}
UUID_SHAPED = "11111111-2222-4333-8444-555555555555"


async def _catalog_snapshot(database_url: str) -> list[tuple[Any, ...]]:
    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch(
            "SELECT id, slug, common_name, scientific_name, description, region, image_ref,"
            " updated_at FROM birds ORDER BY slug"
        )
    finally:
        await connection.close()
    return [tuple(row) for row in rows]


@pytest.mark.parametrize(
    ("path", "params", "status", "code"),
    [
        ("/api/v1/birds", {"limit": "0"}, 422, "validation_error"),
        ("/api/v1/birds", {"limit": "1000"}, 422, "validation_error"),
        ("/api/v1/birds", {"limit": "ten"}, 422, "validation_error"),
        ("/api/v1/birds", {"cursor": "not-a-cursor!"}, 400, "invalid_cursor"),
        ("/api/v1/birds", {"cursor": "eyJhZnRlciI6IDF9"}, 400, "invalid_cursor"),  # {"after": 1}
        ("/api/v1/birds", {"cursor": "x" * 500}, 422, "validation_error"),
        ("/api/v1/birds", {"q": "a" * 101}, 422, "validation_error"),
        ("/api/v1/birds/Not%20A%20Slug", {}, 400, "invalid_bird_id"),
        ("/api/v1/birds/" + "a" * 101, {}, 422, "validation_error"),
        ("/api/v1/birds/random", {"exclude": "DROP TABLE birds;"}, 400, "invalid_bird_id"),
        ("/api/v1/birds/random", {"exclude": "x" * 101}, 422, "validation_error"),
        ("/api/v1/birds/bad%00slug/placeholder.svg", {}, 400, "invalid_bird_id"),
    ],
)
async def test_bad_reads_are_4xx_json(
    birds_client: Callable[..., Any], path: str, params: dict[str, str], status: int, code: str
) -> None:
    async with birds_client() as client:
        assert_error(await client.get(path, params=params), status, code)


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (VALID | {"name": ""}, 422, "validation_error"),
        (VALID | {"name": "   "}, 422, "validation_error"),
        (VALID | {"description": "x" * 2001}, 422, "validation_error"),
        (VALID | {"region": None}, 422, "validation_error"),
        (VALID | {"colour": "blue"}, 422, "validation_error"),
        (VALID | {"slug": "Has Spaces"}, 422, "invalid_slug"),
        (VALID | {"slug": UUID_SHAPED}, 422, "invalid_slug"),
        (VALID | {"name": "!!!"}, 422, "validation_error"),
        (VALID | {"scientific_name": "-- ."}, 422, "validation_error"),
        ({"name": "Only a name"}, 422, "validation_error"),
        ([VALID], 422, "validation_error"),
    ],
)
async def test_bad_bodies_are_4xx_json_and_change_nothing(
    birds_client: Callable[..., Any],
    admin_headers: dict[str, str],
    birds_database: str,
    body: Any,
    status: int,
    code: str,
) -> None:
    before = await _catalog_snapshot(birds_database)
    async with birds_client() as client:
        kea = (await client.get("/api/v1/birds/kea")).json()["id"]
        created = await client.post("/api/v1/birds", json=body, headers=admin_headers)
        replaced = await client.put(f"/api/v1/birds/{kea}", json=body, headers=admin_headers)
    assert_error(created, status, code)
    assert_error(replaced, status, code)
    assert await _catalog_snapshot(birds_database) == before


async def test_a_name_with_nothing_to_make_a_slug_of_needs_one(
    birds_client: Callable[..., Any], admin_headers: dict[str, str]
) -> None:
    async with birds_client() as client:
        response = await client.post(
            "/api/v1/birds", json=VALID | {"name": "Ωμέγα"}, headers=admin_headers
        )
    assert_error(response, 422, "invalid_slug")


async def test_malformed_json_and_bad_ids_are_4xx(
    birds_client: Callable[..., Any], admin_headers: dict[str, str], birds_database: str
) -> None:
    before = await _catalog_snapshot(birds_database)
    headers = admin_headers | {"Content-Type": "application/json"}
    async with birds_client() as client:
        broken = await client.post("/api/v1/birds", content=b'{"name": ', headers=headers)
        put_slug = await client.put("/api/v1/birds/kea", json=VALID, headers=admin_headers)
        delete_bad = await client.delete("/api/v1/birds/not-a-uuid", headers=admin_headers)
        delete_missing = await client.delete(f"/api/v1/birds/{UUID_SHAPED}", headers=admin_headers)
    assert_error(broken, 400, "invalid_json")
    assert_error(put_slug, 400, "invalid_bird_id")
    assert_error(delete_bad, 400, "invalid_bird_id")
    assert_error(delete_missing, 404, "bird_not_found")
    assert await _catalog_snapshot(birds_database) == before


async def test_seed_rows_match_the_catalog_data(birds_database: str) -> None:
    rows = {row[1]: row for row in await _catalog_snapshot(birds_database)}
    for seed in BIRD_SEEDS:
        name, scientific, description, region = rows[seed.slug][2:6]
        assert (name, scientific, description, region) == (
            seed.common_name,
            seed.scientific_name,
            seed.description,
            seed.region,
        )


async def test_concurrent_creates_of_one_slug_make_one_bird(
    birds_client: Callable[..., Any], admin_headers: dict[str, str], unique: str
) -> None:
    body = VALID | {"slug": f"race-{unique}"}
    async with birds_client() as client:
        answers = await asyncio.gather(
            *(client.post("/api/v1/birds", json=body, headers=admin_headers) for _ in range(5))
        )
        statuses = sorted(answer.status_code for answer in answers)
        winner = next(answer for answer in answers if answer.status_code == 201)
        await client.delete(f"/api/v1/birds/{winner.json()['id']}", headers=admin_headers)
    assert statuses == [201, 409, 409, 409, 409]

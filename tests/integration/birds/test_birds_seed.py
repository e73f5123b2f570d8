"""Seeding is idempotent and never overwrites an admin's edits; random copes with tiny catalogs."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import asyncpg
from tests.integration.birds.birds_helpers import assert_error

from roost.birds.catalog_data import BIRD_SEEDS
from roost.birds.seed import seed_birds


async def _count(database_url: str) -> int:
    connection = await asyncpg.connect(database_url)
    try:
        return int(await connection.fetchval("SELECT count(*) FROM birds"))
    finally:
        await connection.close()


async def test_seeding_twice_adds_nothing_and_keeps_edits(
    new_birds_database: Callable[[], str],
    birds_client: Callable[..., Any],
    admin_headers: dict[str, str],
) -> None:
    url = await asyncio.to_thread(new_birds_database)  # it runs its own event loop
    assert await seed_birds(url) == len(BIRD_SEEDS)
    assert await _count(url) == len(BIRD_SEEDS)
    async with birds_client(database_url=url) as client:
        kea = (await client.get("/api/v1/birds/kea")).json()
        edited = {
            "name": "Kea (edited)",
            "scientific_name": kea["scientific_name"],
            "description": "An admin's words.",
            "region": kea["region"],
        }
        response = await client.put(
            f"/api/v1/birds/{kea['id']}", json=edited, headers=admin_headers
        )
        assert response.status_code == 200
        galah = (await client.get("/api/v1/birds/galah")).json()
        deleted = await client.delete(f"/api/v1/birds/{galah['id']}", headers=admin_headers)
        assert deleted.status_code == 204

        assert await seed_birds(url) == 1  # only the deleted seed species comes back
        assert await seed_birds(url) == 0
        after = (await client.get("/api/v1/birds/kea")).json()
    assert await _count(url) == len(BIRD_SEEDS)
    assert after["name"] == "Kea (edited)"
    assert after["description"] == "An admin's words."
    assert after["id"] == kea["id"]


async def test_random_with_an_empty_then_a_one_bird_catalog(
    new_birds_database: Callable[[], str],
    birds_client: Callable[..., Any],
    admin_headers: dict[str, str],
) -> None:
    url = await asyncio.to_thread(new_birds_database)  # it runs its own event loop
    async with birds_client(database_url=url) as client:
        assert_error(await client.get("/api/v1/birds/random"), 404, "catalog_empty")
        assert_error(await client.get("/"), 404, "catalog_empty")
        assert (await client.get("/api/v1/birds")).json() == {"items": [], "next_cursor": None}
        only = await client.post(
            "/api/v1/birds",
            json={
                "name": "Lonely Bird",
                "scientific_name": "Avis sola",
                "description": "The only one.",
                "region": "Alone",
            },
            headers=admin_headers,
        )
        only_id = only.json()["id"]
        again = await client.get("/api/v1/birds/random", params={"exclude": only_id})
    assert again.status_code == 200
    assert again.json()["id"] == only_id  # the only bird, rather than none

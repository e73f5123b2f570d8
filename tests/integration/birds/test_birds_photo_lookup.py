"""A bird with an uploaded photo names it when the API asks the image service for its picture,
so the image service can show the photo once the thumbnails pipeline is done."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from tests.conftest import ControllableUpstream


async def test_bird_with_a_photo_asks_for_it_on_every_read_route(
    birds_client: Callable[..., Any],
    admin_headers: dict[str, str],
    image_service: ControllableUpstream,
    unique: str,
) -> None:
    photo_id = str(uuid.uuid4())
    thumbnails = ControllableUpstream().start()
    thumbnails.status, thumbnails.body = 202, {"id": photo_id, "status": "queued"}
    bird = {
        "name": f"Photo Warbler {unique}",
        "scientific_name": "Setophaga photographica",
        "description": "A bird made up by a test.",
        "region": "Testland",
    }
    try:
        async with birds_client(
            bird_images_url=image_service.url, thumbnails_url=thumbnails.url
        ) as client:
            created = (await client.post("/api/v1/birds", json=bird, headers=admin_headers)).json()
            slug = created["slug"]
            await client.post(
                f"/api/v1/birds/{created['id']}/photo",
                files={"file": ("warbler.jpg", b"\xff\xd8\xff-jpeg", "image/jpeg")},
                headers=admin_headers,
            )
            image_service.targets.clear()
            await client.get(f"/api/v1/birds/{slug}")
            await client.get("/api/v1/birds", params={"q": f"photo warbler {unique}"})
            await client.get("/api/v1/birds/kea")  # a seed bird without a photo
            await client.delete(f"/api/v1/birds/{created['id']}", headers=admin_headers)
    finally:
        thumbnails.stop()

    assert image_service.targets == [
        f"/api/v1/images/{slug}?photo_id={photo_id}",
        f"/api/v1/images/{slug}?photo_id={photo_id}",
        "/api/v1/images/kea",
    ]

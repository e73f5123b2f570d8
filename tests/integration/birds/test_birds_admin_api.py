"""Admin edits: auth, create, replace, delete, photo upload through the thumbnails pipeline."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from tests.integration.birds.birds_helpers import ADMIN_KEY, READER_KEY, assert_error


def new_bird(unique: str, **fields: str) -> dict[str, str]:
    return {
        "name": f"Test Warbler {unique}",
        "scientific_name": "Setophaga testis",
        "description": "A bird made up by a test.",
        "region": "Testland",
    } | fields


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/v1/birds"),
        ("PUT", "/api/v1/birds/00000000-0000-4000-8000-000000000000"),
        ("DELETE", "/api/v1/birds/00000000-0000-4000-8000-000000000000"),
        ("POST", "/api/v1/birds/00000000-0000-4000-8000-000000000000/photo"),
    ],
)
async def test_admin_routes_need_credentials_and_the_admin_scope(
    birds_client: Callable[..., Any], reader_headers: dict[str, str], method: str, path: str
) -> None:
    async with birds_client() as client:
        anonymous = await client.request(method, path, json=new_bird("x"))
        bad_key = await client.request(method, path, headers={"X-API-Key": "wrong-key-0123456789"})
        bad_token = await client.request(method, path, headers={"Authorization": "Bearer nope"})
        reader = await client.request(method, path, json=new_bird("x"), headers=reader_headers)
        reader_key = await client.request(method, path, headers={"X-API-Key": READER_KEY})
    assert_error(anonymous, 401, "unauthorized")
    assert anonymous.headers["www-authenticate"] == "Bearer"
    assert_error(bad_key, 401, "unauthorized")
    assert_error(bad_token, 401, "unauthorized")
    assert_error(reader, 403, "forbidden")
    assert_error(reader_key, 403, "forbidden")


async def test_create_read_replace_delete(
    birds_client: Callable[..., Any], admin_headers: dict[str, str], unique: str
) -> None:
    async with birds_client() as client:
        created = await client.post("/api/v1/birds", json=new_bird(unique), headers=admin_headers)
        assert created.status_code == 201, created.text
        bird = created.json()
        assert bird["slug"] == f"test-warbler-{unique}"
        assert created.headers["location"] == f"/api/v1/birds/{bird['id']}"
        assert bird["image_status"] == "unavailable"  # no image service in these tests
        assert (await client.get(f"/api/v1/birds/{bird['slug']}")).json()["id"] == bird["id"]

        changes = new_bird(unique, name="Renamed Warbler", slug=f"renamed-{unique}")
        replaced = await client.put(
            f"/api/v1/birds/{bird['id']}", json=changes, headers=admin_headers
        )
        assert replaced.status_code == 200, replaced.text
        assert replaced.json()["name"] == "Renamed Warbler"
        assert replaced.json()["slug"] == f"renamed-{unique}"
        assert replaced.json()["created_at"] == bird["created_at"]
        assert replaced.json()["updated_at"] > bird["updated_at"]
        assert_error(await client.get(f"/api/v1/birds/{bird['slug']}"), 404)

        by_key = await client.delete(
            f"/api/v1/birds/{bird['id']}", headers={"X-API-Key": ADMIN_KEY}
        )
        assert by_key.status_code == 204
        assert_error(await client.get(f"/api/v1/birds/{bird['id']}"), 404, "bird_not_found")
        again = await client.delete(f"/api/v1/birds/{bird['id']}", headers=admin_headers)
        assert_error(again, 404, "bird_not_found")


async def test_slug_is_made_from_the_name_without_accents(
    birds_client: Callable[..., Any], admin_headers: dict[str, str], unique: str
) -> None:
    async with birds_client() as client:
        created = await client.post(
            "/api/v1/birds",
            json=new_bird(unique, name=f"Pájaro  Carpintero {unique}!"),
            headers=admin_headers,
        )
        await client.delete(f"/api/v1/birds/{created.json()['id']}", headers=admin_headers)
    assert created.json()["slug"] == f"pajaro-carpintero-{unique}"


async def test_duplicate_slug_is_409(
    birds_client: Callable[..., Any], admin_headers: dict[str, str], unique: str
) -> None:
    async with birds_client() as client:
        taken = await client.post(
            "/api/v1/birds", json=new_bird(unique, slug="kea"), headers=admin_headers
        )
        mine = await client.post("/api/v1/birds", json=new_bird(unique), headers=admin_headers)
        steal = await client.put(
            f"/api/v1/birds/{mine.json()['id']}",
            json=new_bird(unique, slug="galah"),
            headers=admin_headers,
        )
        kept = await client.get(f"/api/v1/birds/{mine.json()['id']}")
        await client.delete(f"/api/v1/birds/{mine.json()['id']}", headers=admin_headers)
    assert_error(taken, 409, "duplicate_slug")
    assert_error(steal, 409, "duplicate_slug")
    assert kept.json()["slug"] == f"test-warbler-{unique}"


async def test_photo_goes_through_thumbnails_and_is_remembered(
    birds_client: Callable[..., Any],
    admin_headers: dict[str, str],
    unique: str,
    upstream: Any,
) -> None:
    image_id = str(uuid.uuid4())
    thumbnails = upstream  # plays the thumbnails role's upload endpoint
    thumbnails.status, thumbnails.body = 202, {"id": image_id, "status": "queued"}
    async with birds_client(thumbnails_url=thumbnails.url) as client:
        bird = await client.post("/api/v1/birds", json=new_bird(unique), headers=admin_headers)
        bird_id = bird.json()["id"]
        uploaded = await client.post(
            f"/api/v1/birds/{bird_id}/photo",
            files={"file": ("warbler.jpg", b"\xff\xd8\xff-not-really-a-jpeg", "image/jpeg")},
            headers=admin_headers,
        )
        fetched = await client.get(f"/api/v1/birds/{bird_id}")

        thumbnails.status, thumbnails.body = (
            415,
            {"error": {"code": "x", "message": "not an image"}},
        )
        refused = await client.post(
            f"/api/v1/birds/{bird_id}/photo",
            files={"file": ("x.txt", b"hello", "text/plain")},
            headers=admin_headers,
        )
        await client.delete(f"/api/v1/birds/{bird_id}", headers=admin_headers)
    assert uploaded.status_code == 200, uploaded.text
    assert uploaded.json()["photo_id"] == image_id
    assert fetched.json()["photo_id"] == image_id
    assert thumbnails.calls == 2
    assert b'filename="warbler.jpg"' in thumbnails.bodies[0]
    assert b"\xff\xd8\xff-not-really-a-jpeg" in thumbnails.bodies[0]
    assert_error(refused, 415, "photo_rejected")
    assert "not an image" in refused.json()["error"]["message"]


async def test_photo_upload_with_thumbnails_down_is_503_and_changes_nothing(
    birds_client: Callable[..., Any], admin_headers: dict[str, str], unique: str
) -> None:
    async with birds_client() as client:  # thumbnails_url points at a closed port
        bird_id = (
            await client.post("/api/v1/birds", json=new_bird(unique), headers=admin_headers)
        ).json()["id"]
        response = await client.post(
            f"/api/v1/birds/{bird_id}/photo",
            files={"file": ("a.jpg", b"\xff\xd8\xff", "image/jpeg")},
            headers=admin_headers,
        )
        after = await client.get(f"/api/v1/birds/{bird_id}")
        await client.delete(f"/api/v1/birds/{bird_id}", headers=admin_headers)
    assert_error(response, 503, "dependency_unavailable")
    assert response.headers["retry-after"]
    assert after.json()["photo_id"] is None


async def test_bad_photo_uploads_are_4xx(
    birds_client: Callable[..., Any], admin_headers: dict[str, str]
) -> None:
    async with birds_client() as client:
        kea = (await client.get("/api/v1/birds/kea")).json()["id"]
        path = f"/api/v1/birds/{kea}/photo"
        not_multipart = await client.post(path, json={"file": "x"}, headers=admin_headers)
        empty = await client.post(
            path, files={"file": ("a.jpg", b"", "image/jpeg")}, headers=admin_headers
        )
        no_file = await client.post(
            path, data={"other": "x"}, headers=admin_headers, files={"x": ("a", b"1")}
        )
        unknown = await client.post(
            f"/api/v1/birds/{uuid.uuid4()}/photo",
            files={"file": ("a.jpg", b"1", "image/jpeg")},
            headers=admin_headers,
        )
    assert_error(not_multipart, 415, "unsupported_media_type")
    assert_error(empty, 400, "invalid_upload")
    assert_error(no_file, 400, "invalid_upload")
    assert_error(unknown, 404, "bird_not_found")

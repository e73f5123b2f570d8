"""The thumbnails HTTP API: every bad input is a 4xx JSON envelope, outages are 503s."""

from __future__ import annotations

import os
import uuid
from io import BytesIO
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from tests.integration.thumbnails.thumbnail_images import jpeg
from tests.support.fixture_types import MakeSettings, ThumbnailsPlatform

from roost.core.auth import issue_token

pytestmark = pytest.mark.integration

UNREACHABLE_POSTGRES = "postgresql://postgres@127.0.0.1:1/nowhere"
UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["code"] == code, body
    assert body["error"]["message"]


async def test_a_large_upload_is_accepted_past_the_app_wide_body_limit(
    platform: ThumbnailsPlatform, make_settings: MakeSettings
) -> None:
    noise = Image.frombytes("RGB", (2000, 1400), os.urandom(2000 * 1400 * 3))
    buffer = BytesIO()
    noise.save(buffer, "JPEG", quality=95)
    settings = make_settings()
    assert buffer.tell() > settings.max_body_bytes  # bigger than any other role accepts
    async with platform(settings, worker=False) as (api, _):
        response = await api.post(
            "/api/v1/images", files={"file": ("big.jpg", buffer.getvalue(), "image/jpeg")}
        )
    assert response.status_code == 202, response.text
    assert response.json()["source_bytes"] == buffer.tell()


@pytest.mark.parametrize(
    ("request_kwargs", "status", "code"),
    [
        ({"json": {"file": "x"}}, 415, "unsupported_media_type"),
        (
            {"content": b"raw", "headers": {"content-type": "image/jpeg"}},
            415,
            "unsupported_media_type",
        ),
        ({"data": {"sizes": "150"}, "files": {"other": ("a.jpg", b"xx")}}, 400, "invalid_upload"),
        ({"files": {"file": (None, "just text")}}, 400, "invalid_upload"),
        ({"files": {"file": ("a.jpg", b"", "image/jpeg")}}, 400, "empty_file"),
        ({"files": {"file": ("a.jpg", b"x" * 5000, "image/jpeg")}}, 413, "file_too_large"),
        ({"files": {"file": ("a.jpg", b"x" * 2_000_000)}}, 413, "payload_too_large"),
        (
            {
                "content": b"--nope\r\nContent-Disposition: form-data\r\n\r\n",
                "headers": {"content-type": "multipart/form-data; boundary=other"},
            },
            400,
            "invalid_upload",
        ),
        (
            {"content": b"garbage", "headers": {"content-type": "multipart/form-data"}},
            400,
            "invalid_upload",
        ),
        ({"files": {"file": ("a.jpg", b"xx")}, "params": {"sizes": "abc"}}, 422, "invalid_sizes"),
        ({"files": {"file": ("a.jpg", b"xx")}, "params": {"sizes": "999"}}, 422, "invalid_sizes"),
        ({"files": {"file": ("a.jpg", b"xx")}, "data": {"sizes": ","}}, 422, "invalid_sizes"),
        (
            {"files": {"file": ("a.jpg", b"xx"), "f2": ("b.jpg", b"yy")}},
            400,
            "invalid_upload",
        ),
    ],
)
async def test_bad_uploads_are_refused_with_a_json_error(
    platform: ThumbnailsPlatform,
    make_settings: MakeSettings,
    request_kwargs: dict[str, Any],
    status: int,
    code: str,
) -> None:
    settings = make_settings(thumbnail_max_upload_bytes=4096, max_body_bytes=1_048_576)
    async with platform(settings, worker=False) as (api, _):
        response = await api.post("/api/v1/images", **request_kwargs)
        listed = await api.get("/api/v1/images", params={"status": "queued"})
    assert_error(response, status, code)
    assert listed.json()["items"] == [] or all(
        item["source_bytes"] != 0 for item in listed.json()["items"]
    )


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/api/v1/images/not-a-uuid", 400, "invalid_image_id"),
        # Fixed ids, not uuid4(): test ids must be the same on every xdist worker.
        ("/api/v1/images/5f0c1e2a-8d4b-4c6e-9a7f-3b2d1c0e9f8a", 404, "image_not_found"),
        (
            "/api/v1/images/5f0c1e2a-8d4b-4c6e-9a7f-3b2d1c0e9f8a/thumbnails/150",
            404,
            "image_not_found",
        ),
        ("/api/v1/images/x/thumbnails/150", 400, "invalid_image_id"),
        ("/api/v1/images?cursor=garbage", 400, "invalid_cursor"),
        ("/api/v1/images?status=lost", 422, "validation_error"),
        ("/api/v1/images?limit=0", 422, "validation_error"),
        ("/api/v1/images?limit=100000", 422, "validation_error"),
    ],
)
async def test_bad_reads_are_refused_with_a_json_error(
    platform: ThumbnailsPlatform, make_settings: MakeSettings, path: str, status: int, code: str
) -> None:
    async with platform(make_settings(), worker=False) as (api, _):
        response = await api.get(path)
    assert_error(response, status, code)


async def test_a_queued_image_has_no_thumbnail_yet(
    platform: ThumbnailsPlatform, make_settings: MakeSettings
) -> None:
    async with platform(make_settings(), worker=False) as (api, _):
        image_id = (
            await api.post("/api/v1/images", files={"file": ("a.jpg", jpeg(), "image/jpeg")})
        ).json()["id"]
        status = await api.get(f"/api/v1/images/{image_id}")
        not_ready = await api.get(f"/api/v1/images/{image_id}/thumbnails/150")
        not_a_size = await api.get(f"/api/v1/images/{image_id}/thumbnails/151")
    assert status.json()["status"] == "queued"
    assert status.json()["thumbnails"] == {}
    assert_error(not_ready, 409, "thumbnail_not_ready")
    assert not_ready.json()["error"]["details"] == {"status": "queued"}
    assert_error(not_a_size, 404, "thumbnail_not_found")


async def test_listing_pages_through_every_image_newest_first(
    platform: ThumbnailsPlatform, make_settings: MakeSettings
) -> None:
    async with platform(make_settings(), worker=False) as (api, _):
        ids = []
        for seed in range(5):
            response = await api.post(
                "/api/v1/images", files={"file": ("a.jpg", jpeg(64, 48, seed), "image/jpeg")}
            )
            ids.append(response.json()["id"])
        seen: list[str] = []
        cursor = None
        pages = 0
        while True:
            params: dict[str, str | int] = {"limit": 2, "status": "queued"}
            if cursor:
                params["cursor"] = cursor
            page = (await api.get("/api/v1/images", params=params)).json()
            pages += 1
            seen += [item["id"] for item in page["items"] if item["id"] in ids]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        done = (await api.get("/api/v1/images", params={"status": "done"})).json()
    assert seen[:5] == list(reversed(ids))
    assert len(seen) == len(set(seen))
    assert pages >= 3
    assert not {item["id"] for item in done["items"]} & set(ids)


async def test_dead_letter_routes_need_an_admin(
    platform: ThumbnailsPlatform, make_settings: MakeSettings
) -> None:
    settings = make_settings()
    reader = issue_token(settings, "someone", ["images:read"])
    admin = issue_token(settings, "ops", ["admin"])
    async with platform(settings, worker=False) as (api, _):
        anonymous = await api.get("/api/v1/dead-letters")
        bad_token = await api.get("/api/v1/dead-letters", headers={"Authorization": "Bearer nope"})
        not_admin = await api.post(
            "/api/v1/dead-letters/redrive-all", headers={"Authorization": f"Bearer {reader}"}
        )
        headers = {"Authorization": f"Bearer {admin}"}
        listed = await api.get("/api/v1/dead-letters", headers=headers)
        unknown = await api.post(f"/api/v1/dead-letters/{uuid.uuid4()}/redrive", headers=headers)
        malformed = await api.post("/api/v1/dead-letters/xyz/redrive", headers=headers)
        bad_state = await api.get("/api/v1/dead-letters?state=odd", headers=headers)
    assert_error(anonymous, 401, "unauthorized")
    assert_error(bad_token, 401, "unauthorized")
    assert_error(not_admin, 403, "forbidden")
    assert listed.status_code == 200
    assert set(listed.json()) == {"items", "next_cursor"}
    assert_error(unknown, 404, "dead_letter_not_found")
    assert_error(malformed, 400, "invalid_dead_letter_id")
    assert_error(bad_state, 422, "validation_error")


async def test_postgres_down_means_503_and_not_ready(
    platform: ThumbnailsPlatform, make_settings: MakeSettings
) -> None:
    settings = make_settings(database_url=UNREACHABLE_POSTGRES, database_connect_timeout=0.5)
    async with platform(settings, worker=False) as (api, _):
        upload = await api.post("/api/v1/images", files={"file": ("a.jpg", jpeg(), "image/jpeg")})
        read = await api.get(f"/api/v1/images/{uuid.uuid4()}")
        ready = await api.get("/readyz")
    assert_error(upload, 503, "dependency_unavailable")
    assert upload.json()["error"]["details"] == {"dependency": "postgres"}
    assert upload.headers["retry-after"]
    assert_error(read, 503, "dependency_unavailable")
    assert ready.status_code == 503
    assert "postgres" in ready.json()["error"]["details"]["failed"]


async def test_broker_down_means_503_and_nothing_recorded(
    platform: ThumbnailsPlatform, make_settings: MakeSettings, tmp_path: Path
) -> None:
    settings = make_settings(broker_url=UNREACHABLE_REDIS)
    async with platform(settings, worker=False) as (api, _):
        upload = await api.post("/api/v1/images", files={"file": ("a.jpg", jpeg(), "image/jpeg")})
        ready = await api.get("/readyz")
    assert_error(upload, 503, "dependency_unavailable")
    assert upload.json()["error"]["details"] == {"dependency": "broker"}
    assert ready.status_code == 503
    assert ready.json()["error"]["details"]["failed"] == ["broker"]
    sources = tmp_path / "objects" / "sources"
    assert not any(p.is_file() for p in sources.rglob("*"))  # the stored source was removed


async def test_storage_down_means_503(
    platform: ThumbnailsPlatform, make_settings: MakeSettings, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_bytes(b"")
    settings = make_settings(storage_url=(blocker / "objects").as_uri())
    async with platform(settings, worker=False) as (api, _):
        upload = await api.post("/api/v1/images", files={"file": ("a.jpg", jpeg(), "image/jpeg")})
        ready = await api.get("/readyz")
    assert_error(upload, 503, "dependency_unavailable")
    assert upload.json()["error"]["details"] == {"dependency": "storage"}
    assert ready.json()["error"]["details"]["failed"] == ["storage"]


async def test_redis_down_turns_readiness_503_but_uploads_work(
    platform: ThumbnailsPlatform, make_settings: MakeSettings
) -> None:
    settings = make_settings(redis_url=UNREACHABLE_REDIS)
    async with platform(settings, worker=False) as (api, _):
        upload = await api.post("/api/v1/images", files={"file": ("a.jpg", jpeg(), "image/jpeg")})
        ready = await api.get("/readyz")
    assert upload.status_code == 202  # the broker is another Redis here, and it is up
    assert ready.json()["error"]["details"]["failed"] == ["redis"]

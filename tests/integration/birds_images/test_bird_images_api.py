"""The bird image service against real Redis, a real object store folder and a fake Unsplash."""

from __future__ import annotations

import asyncio
import io
import json
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from tests.integration.birds_images.conftest import ImagesClient
from tests.integration.birds_images.servers import FakeProvider, raw_get, serve_in_thread

from roost.birds.images.service import CACHE_KEY_PREFIX

pytestmark = pytest.mark.integration

PROVIDER_SECRET_TEXT = "provider-internal-detail-7f3a"


def unsplash_answer(photographer: str = "Jane Doe", url: str | None = None) -> bytes:
    photo_url = url or "https://images.unsplash.com/photo-1?ixid=abc&w=1080"
    return json.dumps(
        {"total": 1, "results": [{"urls": {"regular": photo_url}, "user": {"name": photographer}}]}
    ).encode()


def assert_envelope(body: dict[str, Any], code: str | None = None) -> None:
    assert set(body) == {"error"}
    assert {"code", "message", "request_id"} <= set(body["error"])
    if code is not None:
        assert body["error"]["code"] == code


def jpeg_bytes(colour: str = "teal") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(buffer, "JPEG")
    return buffer.getvalue()


# --------------------------------------------------------------------------------------------
# Our own pictures.


@pytest.mark.parametrize("name", ["northern-cardinal", "Northern Cardinal", "northern  CARDINAL"])
async def test_catalog_bird_gets_its_bundled_illustration_by_slug_or_common_name(
    bird_images: ImagesClient, provider: FakeProvider, name: str
) -> None:
    async with bird_images() as client:
        response = await client.get(f"/api/v1/images/{name}")
        assert response.status_code == 200
        answer = response.json()
        assert answer["name"] == "Northern Cardinal"
        assert answer["source"] == "stored"
        assert answer["attribution"]
        assert answer["url"].startswith("/media/northern-cardinal.jpg?v=")

        picture = await client.get(answer["url"])
    assert picture.status_code == 200
    assert picture.headers["content-type"] == "image/jpeg"
    assert picture.headers["cache-control"] == "public, max-age=31536000, immutable"
    with Image.open(io.BytesIO(picture.content)) as image:
        assert image.format == "JPEG"
        assert image.size == (1200, 800)
    assert provider.calls == 0  # a bird we have a picture of never costs a provider call


async def test_media_file_revalidates_with_etag_and_only_versioned_urls_are_immutable(
    bird_images: ImagesClient,
) -> None:
    async with bird_images() as client:
        bare = await client.get("/media/kea.jpg")
        etag = bare.headers["etag"]
        cached = await client.get("/media/kea.jpg", headers={"If-None-Match": etag})
        stale_version = await client.get("/media/kea.jpg?v=0000")
        head = await client.head("/media/kea.jpg")
    assert bare.status_code == 200
    assert "immutable" not in bare.headers["cache-control"]
    assert cached.status_code == 304
    assert cached.content == b""
    assert "immutable" not in stale_version.headers["cache-control"]
    assert head.status_code == 200
    assert head.headers["content-length"] == str(len(bare.content))


async def test_photo_in_the_object_store_wins_over_the_illustration(
    bird_images: ImagesClient, object_store: Path, unique: str
) -> None:
    photo = jpeg_bytes()
    (object_store / "birds" / "galah.jpg").write_bytes(photo)
    async with bird_images(redis_url=None) as client:
        answer = (await client.get("/api/v1/images/galah")).json()
        served = await client.get(answer["url"])
    assert answer["source"] == "stored"
    assert answer["url"] == "/media/photos/galah.jpg"
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/jpeg"
    assert served.content == photo


async def test_unknown_bird_without_provider_gets_a_placeholder_svg_with_its_name(
    bird_images: ImagesClient, unique: str
) -> None:
    async with bird_images(unsplash_access_key=None) as client:
        answer = (await client.get(f"/api/v1/images/Snowy Owl {unique}")).json()
        svg = await client.get(answer["url"])
    assert answer["source"] == "placeholder"
    assert answer["name"] == f"Snowy Owl {unique}"
    assert answer["url"] == f"/media/placeholder/snowy-owl-{unique}.svg"
    assert svg.status_code == 200
    assert svg.headers["content-type"] == "image/svg+xml"
    root = ET.fromstring(svg.content)  # noqa: S314 -- our own document, checked for well-formedness
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert f"Snowy owl {unique}" in svg.text


# --------------------------------------------------------------------------------------------
# Unsplash.


async def test_unsplash_photo_for_a_bird_we_have_no_picture_of(
    bird_images: ImagesClient, provider: FakeProvider, unique: str
) -> None:
    provider.answer(body=unsplash_answer("Jane Doe"), headers={"X-Ratelimit-Remaining": "49"})
    async with bird_images() as client:
        response = await client.get(f"/api/v1/images/snowy-owl-{unique}")
    assert response.json() == {
        "name": f"Snowy owl {unique}",
        "url": "https://images.unsplash.com/photo-1?ixid=abc&w=1080",
        "source": "unsplash",
        "attribution": "Photo by Jane Doe on Unsplash",
    }
    (call,) = provider.seen
    assert call.path == "/search/photos"
    assert call.headers["authorization"] == "Client-ID test-access-key"
    assert "per_page=1" in call.query
    assert f"query=Snowy+owl+{unique}+bird" in call.query


async def test_cached_answer_skips_the_provider_even_in_a_new_process(
    bird_images: ImagesClient, provider: FakeProvider, unique: str
) -> None:
    provider.answer(body=unsplash_answer())
    async with bird_images() as client:
        first = (await client.get(f"/api/v1/images/owl-{unique}")).json()
        again = (await client.get(f"/api/v1/images/Owl {unique}")).json()
    async with bird_images() as other_process:
        third = (await other_process.get(f"/api/v1/images/owl-{unique}")).json()
    assert first["source"] == "unsplash"
    assert again["url"] == third["url"] == first["url"]
    assert provider.calls == 1


async def test_answer_is_cached_with_the_configured_ttl(
    bird_images: ImagesClient, redis_url: str, unique: str
) -> None:
    from redis.asyncio import Redis

    async with bird_images(bird_image_cache_seconds=123) as client:
        await client.get(f"/api/v1/images/owl-{unique}")
    redis = Redis.from_url(redis_url)
    try:
        ttl = await redis.ttl(f"{CACHE_KEY_PREFIX}owl-{unique}")
    finally:
        await redis.aclose()
    assert 100 < ttl <= 123


@pytest.mark.parametrize(
    ("status", "headers"),
    [(429, {}), (403, {"X-Ratelimit-Remaining": "0"}), (401, {})],
    ids=["429", "403-quota", "401-bad-key"],
)
async def test_refusal_gives_a_placeholder_and_pauses_the_provider(
    bird_images: ImagesClient,
    provider: FakeProvider,
    unique: str,
    status: int,
    headers: dict[str, str],
) -> None:
    body = json.dumps({"errors": [PROVIDER_SECRET_TEXT]}).encode()
    provider.answer(status, body, headers)
    async with bird_images() as client:
        first = await client.get(f"/api/v1/images/owl-{unique}")
        provider.answer(body=unsplash_answer())  # would succeed now, but the pause holds
        later = await client.get(f"/api/v1/images/hawk-{unique}")
    assert first.status_code == later.status_code == 200
    assert first.json()["source"] == later.json()["source"] == "placeholder"
    assert PROVIDER_SECRET_TEXT not in first.text
    assert provider.calls == 1


async def test_spent_quota_is_used_once_then_the_provider_rests(
    bird_images: ImagesClient, provider: FakeProvider, unique: str
) -> None:
    provider.answer(body=unsplash_answer(), headers={"X-Ratelimit-Remaining": "0"})
    async with bird_images() as client:
        last_allowed = (await client.get(f"/api/v1/images/owl-{unique}")).json()
        rested = (await client.get(f"/api/v1/images/hawk-{unique}")).json()
    assert last_allowed["source"] == "unsplash"
    assert rested["source"] == "placeholder"
    assert provider.calls == 1


async def test_provider_is_asked_again_after_its_retry_after(
    bird_images: ImagesClient, provider: FakeProvider, unique: str
) -> None:
    provider.answer(429, headers={"Retry-After": "1"})
    async with bird_images(unsplash_pause_seconds=3600) as client:
        await client.get(f"/api/v1/images/owl-{unique}")
        provider.answer(body=unsplash_answer())
        await asyncio.sleep(1.1)
        after = (await client.get(f"/api/v1/images/owl-{unique}")).json()
    assert after["source"] == "unsplash"  # the placeholder shaped by the pause was not cached
    assert provider.calls == 2


@pytest.mark.parametrize(
    ("status", "body", "delay"),
    [
        (500, PROVIDER_SECRET_TEXT.encode(), 0.0),
        (200, b"<html>" + PROVIDER_SECRET_TEXT.encode(), 0.0),
        (200, b'{"results": [{"urls": {"regular": "javascript:alert(1)"}, "user": {}}]}', 0.0),
        (200, unsplash_answer(), 2.0),
    ],
    ids=["500", "not-json", "bad-url", "timeout"],
)
async def test_provider_failure_gives_a_placeholder_quickly_and_leaks_nothing(
    bird_images: ImagesClient,
    provider: FakeProvider,
    unique: str,
    status: int,
    body: bytes,
    delay: float,
) -> None:
    provider.answer(status, body, delay=delay)
    async with bird_images() as client:
        started = time.perf_counter()
        response = await client.get(f"/api/v1/images/owl-{unique}")
        elapsed = time.perf_counter() - started
    assert response.status_code == 200
    assert response.json()["source"] == "placeholder"
    assert PROVIDER_SECRET_TEXT not in response.text
    assert "javascript" not in response.text
    assert elapsed < 1.0  # the 0.3 s provider budget, not the provider's 2 s


async def test_placeholder_after_a_provider_error_is_not_cached(
    bird_images: ImagesClient, provider: FakeProvider, unique: str
) -> None:
    provider.answer(500)
    async with bird_images() as client:
        await client.get(f"/api/v1/images/owl-{unique}")
        provider.answer(body=unsplash_answer())
        recovered = (await client.get(f"/api/v1/images/owl-{unique}")).json()
    assert recovered["source"] == "unsplash"


# --------------------------------------------------------------------------------------------
# Degraded dependencies.


async def test_redis_down_still_answers_uncached_and_reports_degraded(
    bird_images: ImagesClient, provider: FakeProvider, unique: str
) -> None:
    provider.answer(body=unsplash_answer())
    async with bird_images(redis_url="redis://127.0.0.1:1/0") as client:
        first = await client.get(f"/api/v1/images/owl-{unique}")
        second = await client.get(f"/api/v1/images/owl-{unique}")
        stored = await client.get("/api/v1/images/kea")
        health = await client.get("/health")
    assert first.status_code == second.status_code == stored.status_code == 200
    assert first.json()["source"] == "unsplash"
    assert stored.json()["source"] == "stored"
    assert provider.calls == 2  # nothing cached
    assert health.status_code == 200
    assert health.json()["status"] == "degraded"
    assert health.json()["checks"]["redis"]["status"] == "fail"


async def test_unreadable_object_store_falls_back_to_the_illustration(
    bird_images: ImagesClient, tmp_path: Path
) -> None:
    missing = (tmp_path / "no-such-store").as_uri()
    async with bird_images(storage_url=missing, redis_url=None) as client:
        answer = (await client.get("/api/v1/images/kea")).json()
        photo = await client.get("/media/photos/kea.jpg")
    assert answer["source"] == "stored"
    assert answer["url"].startswith("/media/kea.jpg")
    assert photo.status_code == 404
    assert_envelope(photo.json(), "image_not_found")


# --------------------------------------------------------------------------------------------
# Bad input.


@pytest.mark.parametrize(
    "name",
    [
        "%3Cscript%3Ealert(1)%3C",
        "a" * 101,
        "robin%00",
        "robin;drop",
        "...",
        "%20%20",
        "%F0%9F%92%A5",
        "robin%3Fx%3D1",
        "%E7%BA%A2%E5%98%B4",  # letters, but nothing a slug can hold
    ],
)
async def test_bad_bird_name_is_refused_with_an_error_envelope(
    bird_images: ImagesClient, provider: FakeProvider, name: str
) -> None:
    async with bird_images() as client:
        response = await client.get(f"/api/v1/images/{name}")
    assert response.status_code == 400
    assert_envelope(response.json(), "invalid_bird_name")
    assert provider.calls == 0


TRAVERSALS = [
    b"/media/../../../../etc/passwd",
    b"/media/..%2f..%2f..%2f..%2fetc%2fpasswd",
    b"/media/%2e%2e/%2e%2e/pyproject.toml",
    b"/media/%2e%2e%2fcatalog_data.py",
    b"/media/..%5c..%5cpyproject.toml",
    b"/media/kea.jpg%00.svg",
    b"/media/%00",
    b"/media//etc/passwd",
    b"/media/%2fetc%2fpasswd",
    b"/media/placeholder/..%2f..%2fkea.svg",
    b"/media/placeholder/%2e%2e.svg",
    b"/media/photos/..%2fbirds%2fgalah.jpg",
    b"/media/photos/%2e%2e%2f%2e%2e%2fetc%2fpasswd.jpg",
    b"/media/README.md",
    b"/media/assets/kea.jpg",
]


def test_media_paths_never_reach_a_file_outside_the_pictures(
    images_settings: Any, object_store: Path
) -> None:
    from roost.roles import build_bird_images

    (object_store / "secret.jpg").write_bytes(b"\xff\xd8\xff not for you")
    app = build_bird_images(images_settings(redis_url=None))
    with serve_in_thread(app) as url:
        answers = {target: raw_get(url, target) for target in TRAVERSALS}
        control = raw_get(url, b"/media/kea.jpg")
    assert control.status == 200
    for target, answer in answers.items():
        assert answer.status in (400, 404), target
        assert answer.headers["content-type"] == "application/json", target
        assert_envelope(json.loads(answer.body))
        assert b"root:" not in answer.body
        assert b"not for you" not in answer.body

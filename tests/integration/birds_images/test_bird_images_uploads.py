"""Admin-uploaded photos: the bird image service asks the thumbnails API whether the photo a
caller names (``?photo_id=``) is done, shows it, and serves its bytes under ``/media/photos``.

The thumbnails API here is a scripted HTTP server on loopback shaped like the real one (the
real pipeline runs in ``tests/e2e/test_birds_e2e.py``): a test sets each image's status and
counts the calls.
"""

from __future__ import annotations

import hashlib
import io
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from tests.integration.birds_images.conftest import ImagesClient
from tests.integration.birds_images.servers import serve_in_thread
from tests.support.parallel import free_port

pytestmark = pytest.mark.integration

BIRD = "atlantic-puffin"


def jpeg_bytes(colour: str = "orange") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (600, 400), colour).save(buffer, "JPEG")
    return buffer.getvalue()


@dataclass
class FakeThumbnails:
    """The two thumbnails API routes the image service uses, with scripted image states."""

    statuses: dict[str, str] = field(default_factory=dict)
    thumbnail: bytes = field(default_factory=jpeg_bytes)
    failing: bool = False  # every answer a 503, as a thumbnails role in trouble
    calls: Counter[str] = field(default_factory=Counter)
    url: str = ""

    @property
    def etag(self) -> str:
        return f'"{hashlib.sha256(self.thumbnail).hexdigest()[:16]}"'

    def add(self, status: str) -> uuid.UUID:
        image_id = uuid.uuid4()
        self.statuses[str(image_id)] = status
        return image_id

    def app(self) -> Starlette:
        async def image(request: Request) -> Response:
            image_id = request.path_params["image_id"]
            self.calls[f"status:{image_id}"] += 1
            if self.failing:
                return JSONResponse({"error": {"code": "x"}}, 503)
            status = self.statuses.get(image_id)
            if status is None:
                return JSONResponse({"error": {"code": "image_not_found"}}, 404)
            sizes = {"150", "300", "600"} if status == "done" else set()
            thumbnails = {size: {"url": f"/thumbnails/{size}"} for size in sizes}
            return JSONResponse({"id": image_id, "status": status, "thumbnails": thumbnails})

        async def thumbnail(request: Request) -> Response:
            image_id, size = request.path_params["image_id"], request.path_params["size"]
            self.calls[f"bytes:{image_id}"] += 1
            if self.failing:
                return JSONResponse({"error": {"code": "x"}}, 503)
            if self.statuses.get(image_id) != "done" or size != "600":
                return JSONResponse({"error": {"code": "thumbnail_not_found"}}, 404)
            headers = {"ETag": self.etag, "Cache-Control": "public, max-age=60"}
            if request.headers.get("if-none-match") == self.etag:
                return Response(status_code=304, headers=headers)
            return Response(self.thumbnail, media_type="image/jpeg", headers=headers)

        async def healthz(request: Request) -> Response:
            return JSONResponse({"status": "ok"}, 503 if self.failing else 200)

        return Starlette(
            routes=[
                Route("/healthz", healthz),
                Route("/api/v1/images/{image_id}", image),
                Route("/api/v1/images/{image_id}/thumbnails/{size}", thumbnail),
            ]
        )


@pytest.fixture
def thumbnails() -> Iterator[FakeThumbnails]:
    fake = FakeThumbnails()
    with serve_in_thread(fake.app(), lifespan="off") as url:
        fake.url = url
        yield fake


def uploads_settings(thumbnails: FakeThumbnails, **overrides: Any) -> dict[str, Any]:
    return {"thumbnails_url": thumbnails.url, "unsplash_access_key": None, **overrides}


async def test_done_photo_is_shown_and_served_with_cache_headers(
    bird_images: ImagesClient, thumbnails: FakeThumbnails
) -> None:
    photo = thumbnails.add("done")
    async with bird_images(**uploads_settings(thumbnails)) as client:
        answer = (
            await client.get(f"/api/v1/images/{BIRD}", params={"photo_id": str(photo)})
        ).json()
        media = await client.get(answer["url"])
        again = await client.get(answer["url"], headers={"If-None-Match": media.headers["etag"]})
        head = await client.head(answer["url"])

    assert answer == {
        "name": "Atlantic Puffin",
        "url": f"/media/photos/{photo}/600",
        "source": "stored",
        "attribution": "Photo from the Roost collection",
    }
    assert media.status_code == 200
    assert media.headers["content-type"] == "image/jpeg"
    assert media.content == thumbnails.thumbnail
    assert media.headers["etag"] == thumbnails.etag
    assert media.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert again.status_code == 304
    assert again.content == b""
    assert head.status_code == 200
    assert head.content == b""


async def test_done_photo_answer_is_cached_per_photo_id(
    bird_images: ImagesClient, thumbnails: FakeThumbnails
) -> None:
    first, second = thumbnails.add("done"), thumbnails.add("done")
    async with bird_images(**uploads_settings(thumbnails)) as client:
        for _ in range(3):
            answer = (await client.get(f"/api/v1/images/{BIRD}?photo_id={first}")).json()
            assert answer["url"] == f"/media/photos/{first}/600"
        # A new upload is a new id: it shows at once, whatever the cache holds for the old one.
        newer = (await client.get(f"/api/v1/images/{BIRD}?photo_id={second}")).json()
        without = (await client.get(f"/api/v1/images/{BIRD}")).json()

    assert thumbnails.calls[f"status:{first}"] == 1
    assert newer["url"] == f"/media/photos/{second}/600"
    assert without["url"].startswith(f"/media/{BIRD}.jpg?v=")


@pytest.mark.parametrize("status", ["queued", "processing", "failed"])
async def test_unfinished_photo_falls_back_uncached_until_it_is_done(
    bird_images: ImagesClient, thumbnails: FakeThumbnails, status: str
) -> None:
    photo = thumbnails.add(status)
    async with bird_images(**uploads_settings(thumbnails)) as client:
        waiting = (await client.get(f"/api/v1/images/{BIRD}?photo_id={photo}")).json()
        thumbnails.statuses[str(photo)] = "done"
        done = (await client.get(f"/api/v1/images/{BIRD}?photo_id={photo}")).json()

    assert waiting["url"].startswith(f"/media/{BIRD}.jpg?v=")
    assert waiting["source"] == "stored"
    assert done["url"] == f"/media/photos/{photo}/600"


@pytest.mark.parametrize("status", ["rejected", None])
async def test_rejected_or_unknown_photo_falls_back_and_is_cached(
    bird_images: ImagesClient, thumbnails: FakeThumbnails, status: str | None
) -> None:
    photo = thumbnails.add(status) if status else uuid.uuid4()
    async with bird_images(**uploads_settings(thumbnails)) as client:
        answers = [
            (await client.get(f"/api/v1/images/{BIRD}?photo_id={photo}")).json() for _ in range(2)
        ]

    assert all(a["url"].startswith(f"/media/{BIRD}.jpg?v=") for a in answers)
    assert thumbnails.calls[f"status:{photo}"] == 1  # the fallback is final: asked once


async def test_failing_thumbnails_role_falls_back_uncached_then_recovers(
    bird_images: ImagesClient, thumbnails: FakeThumbnails
) -> None:
    photo = thumbnails.add("done")
    thumbnails.failing = True
    async with bird_images(**uploads_settings(thumbnails)) as client:
        started = time.perf_counter()
        degraded = await client.get(f"/api/v1/images/{BIRD}?photo_id={photo}")
        elapsed = time.perf_counter() - started
        media = await client.get(f"/media/photos/{photo}/600")
        thumbnails.failing = False
        recovered = (await client.get(f"/api/v1/images/{BIRD}?photo_id={photo}")).json()

    # Inside the birds API's 300 ms budget: the status check has 150 ms, retries included.
    assert elapsed < 0.3
    assert degraded.status_code == 200
    assert degraded.json()["url"].startswith(f"/media/{BIRD}.jpg?v=")
    assert media.status_code == 503
    assert media.json()["error"]["code"] == "dependency_unavailable"
    assert recovered["url"] == f"/media/photos/{photo}/600"


async def test_unreachable_thumbnails_role_falls_back_to_the_illustration(
    bird_images: ImagesClient,
) -> None:
    photo = uuid.uuid4()
    closed = f"http://127.0.0.1:{free_port()}"
    async with bird_images(thumbnails_url=closed, unsplash_access_key=None) as client:
        answer = await client.get(f"/api/v1/images/{BIRD}?photo_id={photo}")
        media = await client.get(f"/media/photos/{photo}/600")

    assert answer.status_code == 200
    assert answer.json()["url"].startswith(f"/media/{BIRD}.jpg?v=")
    assert media.status_code == 503


@pytest.mark.parametrize("photo_id", ["not-a-uuid", "1" * 40, "../../etc"])
async def test_lookup_rejects_a_photo_id_that_is_not_a_uuid(
    bird_images: ImagesClient, thumbnails: FakeThumbnails, photo_id: str
) -> None:
    async with bird_images(**uploads_settings(thumbnails)) as client:
        response = await client.get(f"/api/v1/images/{BIRD}", params={"photo_id": photo_id})

    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == "invalid_photo_id"
    assert body["error"]["request_id"]
    assert sum(thumbnails.calls.values()) == 0


async def test_lookup_rejects_an_overlong_photo_id(
    bird_images: ImagesClient, thumbnails: FakeThumbnails
) -> None:
    async with bird_images(**uploads_settings(thumbnails)) as client:
        response = await client.get(f"/api/v1/images/{BIRD}", params={"photo_id": "a" * 65})

    assert 400 <= response.status_code < 500
    assert set(response.json()) == {"error"}


async def test_media_answers_404_for_unknown_photos_sizes_and_bad_ids(
    bird_images: ImagesClient, thumbnails: FakeThumbnails
) -> None:
    done, queued = thumbnails.add("done"), thumbnails.add("queued")
    async with bird_images(**uploads_settings(thumbnails)) as client:
        paths = [
            f"/media/photos/{uuid.uuid4()}/600",  # unknown to the pipeline
            f"/media/photos/{queued}/600",  # not done
            f"/media/photos/{done}/150",  # a size we never hand out
            "/media/photos/not-a-uuid/600",
        ]
        answers = [await client.get(path) for path in paths]

    for path, response in zip(paths, answers, strict=True):
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "image_not_found"
    assert thumbnails.calls[f"bytes:{done}"] == 0


async def test_health_reports_the_thumbnails_role_without_failing_readiness(
    bird_images: ImagesClient, thumbnails: FakeThumbnails
) -> None:
    async with bird_images(**uploads_settings(thumbnails, redis_url=None)) as client:
        healthy = (await client.get("/health")).json()
        thumbnails.failing = True
        degraded = await client.get("/health")
        ready = await client.get("/readyz")

    assert healthy["checks"]["thumbnails"]["status"] == "ok"
    assert healthy["status"] == "healthy"
    assert degraded.status_code == 200
    assert degraded.json()["status"] == "degraded"
    assert degraded.json()["checks"]["thumbnails"]["status"] == "fail"
    # Placeholders and illustrations still answer: a pod is not pulled for this.
    assert ready.status_code == 200


async def test_an_unconfigured_thumbnails_role_is_not_a_health_check(
    bird_images: ImagesClient,
) -> None:
    async with bird_images(thumbnails_url=None, redis_url=None, unsplash_access_key=None) as client:
        health = (await client.get("/health")).json()
    assert "thumbnails" not in health["checks"]

"""The original clients' contract on the bird-images role: ``GET /?birdName=<name>`` answers a
JSON string holding an absolute image URL; an unknown or empty name gets a placeholder's URL,
still a JSON string, still 200. Requests are sent the way those clients send them."""

from __future__ import annotations

import json
import secrets
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from tests.integration.birds_images.conftest import ImagesClient
from tests.integration.birds_images.servers import FakeProvider, serve_in_thread
from tests.integration.birds_images.test_bird_images_api import assert_envelope, unsplash_answer

pytestmark = pytest.mark.integration

PUBLIC = "https://images.example.test"


def url_in(response: httpx.Response) -> str:
    """The body as the original clients read it: one JSON string."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.content.startswith(b'"')
    assert response.content.endswith(b'"')
    url = json.loads(response.content)
    assert isinstance(url, str)
    return url


@pytest.mark.parametrize(
    "query",
    ["birdName=Northern%20Cardinal", "birdName=Northern+Cardinal", "birdName=northern-cardinal"],
)
async def test_known_bird_gets_its_picture_as_an_absolute_https_url_in_a_json_string(
    bird_images: ImagesClient, query: str
) -> None:
    async with bird_images(bird_images_public_url=PUBLIC) as client:
        url = url_in(await client.get(f"/?{query}"))
        assert url.startswith(f"{PUBLIC}/media/northern-cardinal.jpg?v=")
        parts = urlsplit(url)
        picture = await client.get(f"{parts.path}?{parts.query}")
    assert picture.status_code == 200
    assert picture.headers["content-type"] == "image/jpeg"


async def test_unknown_bird_gets_its_placeholder_url_and_the_placeholder_is_served(
    bird_images: ImagesClient, provider: FakeProvider
) -> None:
    tag = secrets.token_hex(4)  # Redis caches answers per bird: a bird no earlier run asked for
    async with bird_images(bird_images_public_url=PUBLIC) as client:
        url = url_in(await client.get("/", params={"birdName": f"Moon Heron {tag}"}))
        assert url == f"{PUBLIC}/media/placeholder/moon-heron-{tag}.svg"
        drawn = await client.get(urlsplit(url).path)
    assert provider.calls == 1  # it was looked for before falling back
    assert drawn.status_code == 200
    assert drawn.headers["content-type"].startswith("image/svg+xml")
    assert f"Moon heron {tag}".encode() in drawn.content


@pytest.mark.parametrize(
    "target", ["/", "/?birdName=", "/?birdName=%20%20", "/?birdName=%3Cscript%3E"]
)
async def test_empty_missing_or_malformed_name_gets_the_unknown_bird_placeholder(
    bird_images: ImagesClient, provider: FakeProvider, target: str
) -> None:
    async with bird_images(bird_images_public_url=PUBLIC) as client:
        url = url_in(await client.get(target))
        drawn = await client.get(urlsplit(url).path)
    assert url == f"{PUBLIC}/media/placeholder/unknown-bird.svg"
    assert drawn.status_code == 200
    assert b"Unknown bird" in drawn.content
    assert provider.calls == 0  # nothing to search for


async def test_provider_photo_url_is_passed_through_unchanged(
    bird_images: ImagesClient, provider: FakeProvider
) -> None:
    photo = "https://images.unsplash.com/photo-42?ixid=xyz&w=1080"
    provider.answer(body=unsplash_answer(url=photo))
    async with bird_images(bird_images_public_url=PUBLIC) as client:
        answer = await client.get(f"/?birdName=Lesser+Moon+Heron+{secrets.token_hex(4)}")
    assert url_in(answer) == photo


async def test_without_a_configured_origin_the_url_is_on_the_proxys_https_origin(
    images_settings: Any,
) -> None:
    """Behind TLS termination the proxy says https; uvicorn trusts it from loopback."""
    from roost.roles import build_bird_images

    with serve_in_thread(build_bird_images(images_settings())) as base:
        response = httpx.get(
            f"{base}/?birdName=Kea",
            headers={"X-Forwarded-Proto": "https", "Host": "birds.example.test"},
        )
    assert url_in(response).startswith("https://birds.example.test/media/kea.jpg?v=")
    assert response.headers["vary"] == "X-Forwarded-Proto"


async def test_overlong_name_is_a_422_envelope(bird_images: ImagesClient) -> None:
    async with bird_images() as client:
        response = await client.get("/", params={"birdName": "a" * 1025})
    assert response.status_code == 422
    assert_envelope(response.json(), "validation_error")


async def test_classic_route_is_in_openapi_with_every_status(bird_images: ImagesClient) -> None:
    async with bird_images() as client:
        schema = (await client.get("/openapi.json")).json()
    operation = schema["paths"]["/"]["get"]
    assert {"200", "422", "503"} <= set(operation["responses"])
    for status in ("422", "503"):
        error = operation["responses"][status]["content"]["application/json"]["schema"]
        assert "error" in error.get("properties", {}) or "$ref" in error, status
    ok = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok["type"] == "string"
    (parameter,) = operation["parameters"]
    assert parameter["name"] == "birdName"
    assert parameter["in"] == "query"
    assert "/api/v1/images/{name}" in schema["paths"]

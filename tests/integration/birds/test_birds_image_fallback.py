"""The bird image service is garnish: slow, down or broken, the bird still comes back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from tests.integration.birds.birds_helpers import lookups

PLACEHOLDER_PREFIX = "/api/v1/birds/"


def assert_placeholder(bird: dict[str, Any]) -> None:
    assert bird["image_status"] == "unavailable"
    assert bird["image"]["source"] == "placeholder"
    assert bird["image"]["url"] == f"{PLACEHOLDER_PREFIX}{bird['slug']}/placeholder.svg"


async def test_healthy_image_service_gives_its_image_and_counts_the_source(
    birds_client: Callable[..., Any], image_service: Any
) -> None:
    before = lookups("stored")
    async with birds_client(bird_images_url=image_service.url) as client:
        response = await client.get("/api/v1/birds/random")
        health = (await client.get("/health")).json()
        classic = (await client.get("/")).json()
    bird = response.json()
    assert classic["image"] == f"{image_service.url}/media/stored-bird.jpg"
    assert bird["image_status"] == "ok"
    assert bird["image"]["url"] == "/media/stored-bird.jpg"
    assert lookups("stored") == before + 2
    assert health["status"] == "healthy"
    assert response.headers["x-request-id"] in image_service.request_ids  # traced along


async def test_slow_image_service_answers_within_budget_with_a_placeholder(
    birds_client: Callable[..., Any], image_service: Any
) -> None:
    image_service.delay = 0.6
    before = lookups("unavailable")
    async with birds_client(bird_images_url=image_service.url, bird_image_budget_ms=150) as client:
        started = time.perf_counter()
        response = await client.get("/api/v1/birds/kea")
        elapsed = time.perf_counter() - started
    assert response.status_code == 200
    assert_placeholder(response.json())
    assert elapsed < 0.6
    assert lookups("unavailable") == before + 1


async def test_dead_image_service_gives_placeholders_and_a_degraded_health(
    birds_client: Callable[..., Any],
) -> None:
    before = lookups("unavailable")
    async with birds_client() as client:  # the default settings point at a closed port
        random_bird = await client.get("/api/v1/birds/random")
        page = await client.get("/api/v1/birds", params={"limit": 5})
        classic = await client.get("/")
        health = await client.get("/health")
    assert random_bird.status_code == 200
    assert_placeholder(random_bird.json())
    for bird in page.json()["items"]:
        assert_placeholder(bird)
    assert classic.json()["image"].endswith("/placeholder.svg")
    assert lookups("unavailable") == before + 7
    assert health.status_code == 200
    assert health.json()["status"] == "degraded"
    assert health.json()["checks"]["bird-images"]["status"] == "fail"
    assert health.json()["checks"]["postgres"]["status"] == "ok"


async def test_unusable_answers_are_treated_as_unavailable(
    birds_client: Callable[..., Any], image_service: Any
) -> None:
    answers: list[tuple[int, object]] = [
        (200, {"url": "javascript:alert(1)", "source": "stored"}),
        (200, {"url": "//evil.example/x.jpg", "source": "stored"}),
        (200, {"url": "/x.jpg", "source": "somewhere"}),
        (200, ["not", "an", "object"]),
        (404, {"error": {"code": "not_found"}}),
    ]
    async with birds_client(bird_images_url=image_service.url) as client:
        for status, body in answers:
            image_service.status, image_service.body = status, body
            response = await client.get("/api/v1/birds/galah")
            assert response.status_code == 200
            assert_placeholder(response.json())


async def test_breaker_opens_then_recovers_when_the_service_is_back(
    birds_client: Callable[..., Any], image_service: Any
) -> None:
    image_service.status = 503
    settings = {
        "bird_images_url": image_service.url,
        "bird_image_breaker_failures": 2,
        "bird_image_breaker_reset_seconds": 0.3,
    }
    async with birds_client(**settings) as client:
        for _ in range(2):
            assert_placeholder((await client.get("/api/v1/birds/random")).json())
        calls_when_opened = image_service.calls
        open_metrics = (await client.get("/metrics")).text
        started = time.perf_counter()
        assert_placeholder((await client.get("/api/v1/birds/random")).json())
        assert time.perf_counter() - started < 0.1  # open: fails fast, no call at all
        assert image_service.calls == calls_when_opened

        image_service.status = 200
        await asyncio.sleep(0.35)
        recovered = (await client.get("/api/v1/birds/random")).json()
        closed_metrics = (await client.get("/metrics")).text
    assert recovered["image_status"] == "ok"
    assert 'circuit_breaker_state{upstream="bird-images"} 2.0' in open_metrics
    assert 'circuit_breaker_state{upstream="bird-images"} 0.0' in closed_metrics
    assert "upstream_request_duration_seconds_count" in closed_metrics
    assert 'bird_image_lookups_total{source="unavailable"}' in closed_metrics


async def test_placeholder_is_served_by_the_bird_api(birds_client: Callable[..., Any]) -> None:
    async with birds_client() as client:
        response = await client.get("/api/v1/birds/atlantic-puffin/placeholder.svg")
        missing = await client.get("/api/v1/birds/dodo/placeholder.svg")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/svg+xml"
    assert response.text.startswith("<svg")
    assert "Atlantic Puffin" in response.text
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "bird_not_found"

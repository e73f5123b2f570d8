"""The three bird roles as real processes on real Postgres and Redis: page -> frontend proxy ->
birds API -> bird image service. An admin's photo goes through the real thumbnails role and
worker and reaches the page. Then the image service is killed: the birds keep coming, with
placeholders and ``image_status: unavailable``, and get their pictures back once it returns.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image, ImageDraw
from tests.e2e.processes import BIRD_ROLES, Role, running_roles

# timing: its latency and throughput gates run alone, after the parallel phase of make test.
pytestmark = [pytest.mark.e2e, pytest.mark.timing]

ADMIN_KEY = "e2e-admin-key-0123456789abcdef"


@pytest.fixture(scope="module")
def roles(
    fresh_database_url: Callable[[str], str],
    redis_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, Role]]:
    with running_roles(
        "birds_e2e",
        fresh_database_url,
        redis_url,
        tmp_path_factory,
        roles=(*BIRD_ROLES, "thumbnails", "worker"),
        # Recovery within the test: the birds API tries the image service again after 1 s.
        ROOST_BIRD_IMAGE_BREAKER_RESET_SECONDS="1",
        ROOST_API_KEYS=f"e2e:{ADMIN_KEY}:admin",
    ) as running:
        yield running


def random_bird(client: httpx.Client, frontend: str) -> dict[str, Any]:
    started = time.perf_counter()
    response = client.get(f"{frontend}/api/v1/birds/random")
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.text
    assert elapsed < 2.0
    bird: dict[str, Any] = response.json()
    return bird


def test_page_reaches_a_bird_and_its_picture_through_the_chain(roles: dict[str, Role]) -> None:
    frontend = roles["frontend"].url
    with httpx.Client(timeout=5) as client:
        page = client.get(frontend)
        bird = random_bird(client, frontend)
        picture = client.get(frontend + bird["image"]["url"])
        image_answer = client.get(f"{roles['bird-images'].url}/api/v1/images/{bird['slug']}")
    assert page.status_code == 200
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert bird["image_status"] == "ok"
    assert bird["image"]["source"] == "stored"
    assert bird["image"]["url"] == image_answer.json()["url"]
    assert picture.status_code == 200
    assert picture.headers["content-type"] == "image/jpeg"
    assert picture.content.startswith(b"\xff\xd8\xff")


def photo_jpeg() -> bytes:
    """A 1200 x 800 photo, as an admin's camera would send (larger than the 600 preset)."""
    image = Image.new("RGB", (1200, 800), "#3a6ea5")
    ImageDraw.Draw(image).ellipse((400, 200, 800, 600), fill="#f2c14e")
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def test_locust_birds_scenario_passes_its_gates_through_the_frontend(
    roles: dict[str, Role],
) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "loadtests.run",
            "birds",
            roles["frontend"].url,
            "--users",
            "8",
            "--seconds",
            "4",
            "--p95-ms",
            "1000",
            "--max-error-rate",
            "0.01",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=90,
        cwd=Path(__file__).resolve().parents[2],
    )
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert summary["requests"] > 50
    assert summary["missed"] == []


def test_uploaded_photo_reaches_the_page_once_thumbnailed(roles: dict[str, Role]) -> None:
    api, frontend = roles["birds"].url, roles["frontend"].url
    with httpx.Client(timeout=10) as client:
        kea = client.get(f"{frontend}/api/v1/birds/kea").json()
        upload = client.post(
            f"{api}/api/v1/birds/{kea['id']}/photo",
            files={"file": ("kea.jpg", photo_jpeg(), "image/jpeg")},
            headers={"X-API-Key": ADMIN_KEY},
        )
        assert upload.status_code == 200, upload.text
        photo_id = upload.json()["photo_id"]
        expected = f"/media/photos/{photo_id}/600"
        # Until the worker is done the bird keeps its illustration (an answer not cached).
        deadline = time.monotonic() + 20
        bird = client.get(f"{frontend}/api/v1/birds/kea").json()
        while bird["image"]["url"] != expected:
            assert bird["image"]["url"].startswith("/media/kea.jpg?v="), bird["image"]
            assert time.monotonic() < deadline, roles["worker"].log_tail()
            time.sleep(0.2)
            bird = client.get(f"{frontend}/api/v1/birds/kea").json()
        picture = client.get(frontend + expected)
        revalidated = client.get(
            frontend + expected, headers={"If-None-Match": picture.headers["etag"]}
        )
        classic = client.get(f"{api}/api/v1/birds/{kea['id']}").json()

    assert bird["image_status"] == "ok"
    assert bird["image"]["source"] == "stored"
    assert bird["photo_id"] == photo_id
    assert classic["image"]["url"] == expected
    assert picture.status_code == 200
    assert picture.headers["content-type"] in ("image/jpeg", "image/webp")
    assert picture.headers["cache-control"] == "public, max-age=31536000, immutable"
    with Image.open(io.BytesIO(picture.content)) as shown:
        assert shown.size == (600, 400)  # the pipeline's 600 preset of our 1200 x 800 photo
    assert revalidated.status_code == 304


def test_birds_keep_coming_while_the_image_service_is_down_and_recover(
    roles: dict[str, Role],
) -> None:
    frontend, images = roles["frontend"].url, roles["bird-images"]
    images.kill()
    with httpx.Client(timeout=5) as client:
        degraded = [random_bird(client, frontend) for _ in range(5)]
        placeholder = client.get(frontend + degraded[-1]["image"]["url"])
        birds_health = client.get(f"{roles['birds'].url}/health").json()

        images.start()
        deadline = time.monotonic() + 15
        recovered = random_bird(client, frontend)
        while recovered["image_status"] != "ok" and time.monotonic() < deadline:
            time.sleep(0.3)
            recovered = random_bird(client, frontend)

    for bird in degraded:
        assert bird["image_status"] == "unavailable"
        assert bird["image"]["source"] == "placeholder"
    assert placeholder.status_code == 200
    assert placeholder.headers["content-type"].startswith("image/svg+xml")
    assert birds_health["status"] == "degraded"
    assert recovered["image_status"] == "ok"
    assert recovered["image"]["source"] == "stored"

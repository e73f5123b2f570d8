"""The frontend role: the page's files under the page CSP, and its same-origin proxy."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import ControllableUpstream
from tests.integration.birds_images.servers import FakeProvider, raw_get, serve_in_thread
from tests.integration.frontend.conftest import FrontendClient, frontend_settings

from roost.core.middleware import PAGE_CSP

pytestmark = pytest.mark.integration

STATIC = Path(__file__).resolve().parents[3] / "src" / "roost" / "birds" / "frontend" / "static"
ASSETS = STATIC.parent.parent / "assets"
BIRD = {"id": "kea", "name": "Kea", "image": {"url": "/media/kea.jpg", "source": "stored"}}


def assert_envelope(body: dict[str, Any], code: str) -> None:
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    assert body["error"]["request_id"]


# --------------------------------------------------------------------------------------------
# The page.


async def test_page_is_served_under_the_page_csp_and_revalidated(frontend: FrontendClient) -> None:
    async with frontend() as client:
        page = await client.get("/")
        again = await client.get("/", headers={"If-None-Match": page.headers["etag"]})
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers.get_list("content-security-policy") == [PAGE_CSP]
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-cache"
    assert '<main class="stage"' in page.text
    assert again.status_code == 304
    assert again.content == b""


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("app.js", "text/javascript; charset=utf-8"),
        ("app.css", "text/css; charset=utf-8"),
        ("favicon.svg", "image/svg+xml"),
    ],
)
async def test_page_names_its_files_by_version_which_are_then_immutable(
    frontend: FrontendClient, name: str, content_type: str
) -> None:
    async with frontend() as client:
        page = (await client.get("/")).text
        match = re.search(rf'"(/{re.escape(name)}\?v=[0-9a-f]+)"', page)
        assert match is not None, f"index.html does not name {name} by version"
        versioned = await client.get(match.group(1))
        bare = await client.get(f"/{name}")
    assert versioned.status_code == bare.status_code == 200
    assert versioned.headers["content-type"] == content_type
    assert versioned.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert bare.headers["cache-control"] == "no-cache"
    assert versioned.content == (STATIC / name).read_bytes()


async def test_script_is_sent_compressed_to_clients_that_accept_gzip(
    frontend: FrontendClient,
) -> None:
    async with frontend() as client:
        zipped = await client.get("/app.js", headers={"Accept-Encoding": "gzip"})
        plain = await client.get("/app.js", headers={"Accept-Encoding": "identity"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert int(zipped.headers["content-length"]) < len(plain.content) / 2
    assert zipped.content == plain.content  # httpx decoded it
    assert zipped.headers["etag"] != plain.headers["etag"]
    assert zipped.headers["vary"] == "Accept-Encoding"


async def test_unknown_path_and_writes_get_json_errors(frontend: FrontendClient) -> None:
    async with frontend() as client:
        missing = await client.get("/secret.txt")
        post_page = await client.post("/", content=b"x")
        post_api = await client.post("/api/v1/birds", json={"name": "x"})
    assert missing.status_code == 404
    assert_envelope(missing.json(), "not_found")
    assert post_page.status_code == post_api.status_code == 405
    assert_envelope(post_api.json(), "method_not_allowed")


# --------------------------------------------------------------------------------------------
# The /api proxy.


async def test_api_request_is_relayed_with_its_request_id(
    frontend: FrontendClient, upstream: ControllableUpstream
) -> None:
    upstream.body = BIRD
    async with frontend(birds_api_url=upstream.url) as client:
        response = await client.get(
            "/api/v1/birds/random?exclude=galah", headers={"X-Request-ID": "page-req-1"}
        )
    assert response.status_code == 200
    assert response.json() == BIRD
    assert response.headers["x-request-id"] == "page-req-1"
    assert response.headers.get_list("content-security-policy") == [PAGE_CSP]
    assert upstream.request_ids[-1] == "page-req-1"  # the earlier call: the startup check


async def test_api_error_answer_is_passed_on_unchanged(
    frontend: FrontendClient, upstream: ControllableUpstream
) -> None:
    envelope = {"error": {"code": "dependency_unavailable", "message": "db", "request_id": "r"}}
    upstream.status, upstream.body = 503, envelope
    async with frontend(birds_api_url=upstream.url) as client:
        response = await client.get("/api/v1/birds/random")
    assert response.status_code == 503
    assert response.json() == envelope


async def test_api_down_is_a_fast_503_envelope(
    frontend: FrontendClient, upstream: ControllableUpstream
) -> None:
    upstream.stop()
    async with frontend(birds_api_url=upstream.url) as client:
        started = time.perf_counter()
        response = await client.get("/api/v1/birds/random")
        elapsed = time.perf_counter() - started
        health = await client.get("/health")
    assert response.status_code == 503
    assert_envelope(response.json(), "dependency_unavailable")
    assert response.json()["error"]["message"].startswith("The bird catalog is unavailable")
    assert response.headers["retry-after"]
    assert elapsed < 1.0
    assert health.status_code == 200
    assert health.json()["status"] == "degraded"


async def test_slow_api_is_a_504_envelope_within_the_proxy_timeout(
    frontend: FrontendClient, upstream: ControllableUpstream
) -> None:
    upstream.delay = 2.0
    async with frontend(birds_api_url=upstream.url, frontend_proxy_timeout_seconds=0.3) as client:
        started = time.perf_counter()
        response = await client.get("/api/v1/birds/random")
        elapsed = time.perf_counter() - started
    assert response.status_code == 504
    assert_envelope(response.json(), "gateway_timeout")
    assert elapsed < 1.5


async def test_only_safe_headers_pass_either_way() -> None:
    from roost.roles import build_frontend

    fake = FakeProvider(
        body=b"{}",
        headers={
            "Set-Cookie": "session=upstream",
            "Content-Security-Policy": "default-src *",
            "X-Internal-Host": "birds-7f9c",
            "Location": "http://birds.internal/",
            "ETag": '"abc"',
            "Cache-Control": "no-store",
        },
    )
    with serve_in_thread(fake.app(), lifespan="off") as upstream_url:
        app = build_frontend(frontend_settings(birds_api_url=upstream_url))
        with serve_in_thread(app) as url:
            import httpx

            response = httpx.get(
                f"{url}/api/v1/birds?q=blue%20jay&limit=2",
                headers={
                    "Cookie": "session=browser",
                    "Authorization": "Bearer page-token",
                    "X-API-Key": "k",
                    "If-None-Match": '"old"',
                },
            )
    (seen,) = [call for call in fake.seen if call.path != "/healthz"]  # not the startup check
    assert seen.path == "/api/v1/birds"
    assert seen.query == "q=blue%20jay&limit=2"
    assert {"cookie", "authorization", "x-api-key"}.isdisjoint(seen.headers)
    assert seen.headers["if-none-match"] == '"old"'
    assert seen.headers["x-forwarded-for"] == "127.0.0.1"
    assert seen.headers["x-request-id"] == response.headers["x-request-id"]
    assert "set-cookie" not in response.headers
    assert "x-internal-host" not in response.headers
    assert "location" not in response.headers
    assert response.headers.get_list("content-security-policy") == [PAGE_CSP]
    assert response.headers["etag"] == '"abc"'
    assert response.headers["cache-control"] == "no-store"


def test_proxy_refuses_paths_that_climb_out_of_its_prefixes() -> None:
    from roost.roles import build_frontend

    fake = FakeProvider()
    targets = [
        b"/api/../healthz",
        b"/api/v1/%2e%2e/%2e%2e/metrics",
        b"/api/v1/birds/%2E%2E",
        b"/media/./kea.jpg",
        b"/media/kea.jpg%00",
        b"/api/v1/birds%0d%0aX-Injected:%201",
    ]
    with serve_in_thread(fake.app(), lifespan="off") as upstream_url:
        settings = frontend_settings(birds_api_url=upstream_url, bird_images_url=upstream_url)
        with serve_in_thread(build_frontend(settings)) as url:
            answers = {target: raw_get(url, target) for target in targets}
    for target, answer in answers.items():
        assert answer.status in (400, 404), target
        assert answer.headers["content-type"] == "application/json", target
    assert [call.path for call in fake.seen if call.path != "/healthz"] == []


# --------------------------------------------------------------------------------------------
# /media, through to a real bird image service.


async def test_bird_picture_comes_through_the_media_proxy_with_its_cache_headers(
    frontend: FrontendClient, redis_url: str
) -> None:
    from roost.roles import build_bird_images

    images = build_bird_images(frontend_settings(redis_url=redis_url))
    with serve_in_thread(images) as images_url:
        async with frontend(birds_api_url=images_url, bird_images_url=images_url) as client:
            # The birds API is played by the image service here: both sit behind /api.
            answer = (await client.get("/api/v1/images/Kea")).json()
            picture = await client.get(answer["url"])
            cached = await client.get(
                answer["url"], headers={"If-None-Match": picture.headers["etag"]}
            )
            missing = await client.get("/media/no-such-bird.jpg")
            ready = await client.get("/readyz")
    assert answer["url"].startswith("/media/kea.jpg?v=")
    assert picture.status_code == 200
    assert picture.headers["content-type"] == "image/jpeg"
    assert picture.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert picture.content == (ASSETS / "kea.jpg").read_bytes()
    assert picture.headers.get_list("content-security-policy") == [PAGE_CSP]
    assert cached.status_code == 304
    assert missing.status_code == 404
    assert_envelope(missing.json(), "image_not_found")
    assert ready.status_code == 200


async def test_answer_over_the_size_cap_is_a_502_not_a_truncated_picture(
    frontend: FrontendClient,
) -> None:
    from roost.roles import build_bird_images

    with serve_in_thread(build_bird_images(frontend_settings())) as images_url:
        async with frontend(bird_images_url=images_url, frontend_proxy_max_bytes=4096) as client:
            response = await client.get("/media/kea.jpg")
    assert response.status_code == 502
    assert_envelope(response.json(), "bad_gateway")


async def test_media_service_down_is_a_503_envelope(frontend: FrontendClient) -> None:
    async with frontend() as client:
        response = await client.get("/media/kea.jpg")
    assert response.status_code == 503
    assert_envelope(response.json(), "dependency_unavailable")


async def test_a_silent_media_service_opens_the_breaker_then_fails_fast_and_recovers(
    frontend: FrontendClient, upstream: ControllableUpstream
) -> None:
    upstream.delay = 2.0
    async with frontend(
        bird_images_url=upstream.url,
        frontend_proxy_timeout_seconds=0.3,
        bird_image_breaker_failures=3,
        bird_image_breaker_reset_seconds=0.5,
    ) as client:
        slow = [(await client.get("/media/kea.jpg")).status_code for _ in range(3)]
        calls_before = upstream.calls
        started = time.perf_counter()
        fast = await client.get("/media/kea.jpg")
        elapsed = time.perf_counter() - started
        calls_while_open = upstream.calls - calls_before

        upstream.delay = 0.0
        deadline = time.monotonic() + 5
        recovered = await client.get("/media/kea.jpg")
        while recovered.status_code != 200 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            recovered = await client.get("/media/kea.jpg")

    assert slow == [504, 504, 504]
    assert fast.status_code == 503
    assert_envelope(fast.json(), "dependency_unavailable")
    assert elapsed < 0.1  # no call: the breaker answered
    assert calls_while_open == 0
    assert recovered.status_code == 200

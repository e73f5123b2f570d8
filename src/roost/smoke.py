"""``roost smoke <url>``: the checks an operator runs after a deploy, over plain HTTP.

The role is read from ``/health``; every role gets the shared checks, then its own.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from rich.console import Console


@dataclass(frozen=True)
class Check:
    name: str
    run: Callable[[httpx.Client], None]


class SmokeFailure(Exception):
    pass


def expect_status(response: httpx.Response, *allowed: int) -> None:
    if response.status_code not in allowed:
        raise SmokeFailure(
            f"{response.request.method} {response.request.url.path} -> {response.status_code}, "
            f"expected {' or '.join(map(str, allowed))}: {response.text[:200]}"
        )


def shared_checks() -> list[Check]:
    def healthz(client: httpx.Client) -> None:
        expect_status(client.get("/healthz"), 200)

    def health(client: httpx.Client) -> None:
        response = client.get("/health")
        expect_status(response, 200)
        if response.json().get("status") not in ("healthy", "degraded"):
            raise SmokeFailure(f"/health says {response.json().get('status')}")

    def readyz(client: httpx.Client) -> None:
        expect_status(client.get("/readyz"), 200)

    def metrics(client: httpx.Client) -> None:
        response = client.get("/metrics")
        expect_status(response, 200)
        if "http_requests_total" not in response.text:
            raise SmokeFailure("/metrics has no http_requests_total")

    def unknown_route(client: httpx.Client) -> None:
        response = client.get(f"/no-such-route-{uuid.uuid4().hex[:6]}")
        expect_status(response, 404)
        if "error" not in response.json():
            raise SmokeFailure("404 is not the JSON error envelope")

    return [
        Check("GET /healthz", healthz),
        Check("GET /health", health),
        Check("GET /readyz", readyz),
        Check("GET /metrics", metrics),
        Check("unknown route -> 404 JSON", unknown_route),
    ]


def kv_checks() -> list[Check]:
    key = f"smoke-{uuid.uuid4().hex[:8]}"

    def classic(client: httpx.Client) -> None:
        expect_status(client.post(f"/write/{key}", params={"value": "ok"}), 200)
        response = client.get(f"/read/{key}")
        expect_status(response, 200)
        if response.json() != {"key": key, "value": "ok"}:
            raise SmokeFailure(f"read back {response.json()}")

    def v1(client: httpx.Client) -> None:
        expect_status(client.put(f"/api/v1/kv/{key}", json={"value": {"n": 1}}), 200, 201)
        expect_status(client.get(f"/api/v1/kv/{key}"), 200)
        expect_status(client.delete(f"/api/v1/kv/{key}"), 204)
        expect_status(client.get(f"/api/v1/kv/{key}"), 404)

    return [Check("kv classic write/read", classic), Check("kv v1 put/get/delete", v1)]


def thumbnails_checks(wait_seconds: float = 20.0) -> list[Check]:
    """Upload a generated image and follow it to its thumbnail (needs a worker running)."""
    state: dict[str, str] = {}

    def upload(client: httpx.Client) -> None:
        response = client.post(
            "/api/v1/images", files={"file": ("smoke.png", _smoke_png(), "image/png")}
        )
        expect_status(response, 202)
        state["url"] = response.json()["status_url"]

    def processed(client: httpx.Client) -> None:
        if "url" not in state:
            raise SmokeFailure("no upload to follow")
        deadline = time.monotonic() + wait_seconds
        status = "?"
        while time.monotonic() < deadline:
            response = client.get(state["url"])
            expect_status(response, 200)
            body = response.json()
            status = body["status"]
            if status == "done":
                state["thumbnail"] = body["thumbnails"]["150"]["url"]
                return
            if status in ("rejected", "failed"):
                raise SmokeFailure(f"the smoke image was {status}: {body.get('error')}")
            time.sleep(0.2)
        raise SmokeFailure(f"the smoke image is still {status} after {wait_seconds:g}s (worker?)")

    def thumbnail(client: httpx.Client) -> None:
        if "thumbnail" not in state:
            raise SmokeFailure("no thumbnail to fetch")
        response = client.get(state["thumbnail"])
        expect_status(response, 200)
        if response.headers.get("content-type") not in ("image/jpeg", "image/webp"):
            raise SmokeFailure(f"thumbnail content type {response.headers.get('content-type')}")
        cached = client.get(state["thumbnail"], headers={"If-None-Match": response.headers["etag"]})
        expect_status(cached, 304)

    def bad_uploads(client: httpx.Client) -> None:
        empty = client.post("/api/v1/images", files={"file": ("empty.jpg", b"", "image/jpeg")})
        expect_status(empty, 400)
        expect_status(client.get(f"/api/v1/images/{uuid.uuid4()}"), 404)
        expect_status(client.get("/api/v1/images/not-an-id"), 400)

    return [
        Check("thumbnails upload -> 202", upload),
        Check("thumbnails image reaches done", processed),
        Check("thumbnails thumbnail bytes, ETag, 304", thumbnail),
        Check("thumbnails bad input -> 4xx JSON", bad_uploads),
    ]


def _smoke_png() -> bytes:
    from io import BytesIO

    from PIL import Image

    buffer = BytesIO()
    Image.linear_gradient("L").resize((320, 200)).save(buffer, "PNG")
    return buffer.getvalue()


CLASSIC_OPTIMIZE = {"budget": {"tv": 100000, "digital": 200000}, "constraints": {"total": 300000}}


def optimizer_checks() -> list[Check]:
    """Models readable (or protected), the classic request answered, bad input refused."""

    def models(client: httpx.Client) -> None:
        expect_status(client.get("/api/v1/models"), 200, 401)

    def classic(client: httpx.Client) -> None:
        response = client.post("/api/v1/optimize", json=CLASSIC_OPTIMIZE)
        expect_status(response, 200)
        allocation = response.json().get("allocation") or {}
        total = float(CLASSIC_OPTIMIZE["constraints"]["total"])
        spent = sum(float(value) for value in allocation.values())
        if set(allocation) != {"tv", "digital"} or abs(spent - total) > 1e-6 * total:
            raise SmokeFailure(f"allocation {allocation} does not spend the total {total:g}")

    def bad_input(client: httpx.Client) -> None:
        response = client.post("/api/v1/optimize", json={"budget": {"tv": -1}})
        expect_status(response, 422)
        if "error" not in response.json():
            raise SmokeFailure("422 is not the JSON error envelope")

    return [
        Check("optimizer GET /api/v1/models -> 200/401", models),
        Check("optimizer classic optimize spends the total", classic),
        Check("optimizer bad input -> 422 JSON", bad_input),
    ]


def birds_checks() -> list[Check]:
    """The classic random bird, two different random birds in a row, 404 JSON for no bird."""

    def classic(client: httpx.Client) -> None:
        response = client.get("/")
        expect_status(response, 200)
        body = response.json()
        if set(body) != {"name", "description", "image"} or not body["image"]:
            raise SmokeFailure(f"GET / answered {sorted(body)}, expected name, description, image")

    def random_differs(client: httpx.Client) -> None:
        first = client.get("/api/v1/birds/random")
        expect_status(first, 200)
        second = client.get("/api/v1/birds/random", params={"exclude": first.json()["id"]})
        expect_status(second, 200)
        if second.json()["id"] == first.json()["id"]:
            raise SmokeFailure("the same bird came back twice in a row")
        if second.json().get("image_status") not in ("ok", "unavailable"):
            raise SmokeFailure(f"image_status is {second.json().get('image_status')!r}")

    def unknown_bird(client: httpx.Client) -> None:
        response = client.get(f"/api/v1/birds/no-such-bird-{uuid.uuid4().hex[:6]}")
        expect_status(response, 404)
        if "error" not in response.json():
            raise SmokeFailure("404 is not the JSON error envelope")

    return [
        Check("birds classic GET / -> name, description, image", classic),
        Check("birds random twice -> two different birds", random_differs),
        Check("birds unknown slug -> 404 JSON", unknown_bird),
    ]


def bird_images_checks() -> list[Check]:
    """A catalog bird's picture (with ETag and 304), a placeholder, and a bad name refused."""

    def catalog_bird(client: httpx.Client) -> None:
        response = client.get("/api/v1/images/kea")
        expect_status(response, 200)
        answer = response.json()
        if answer.get("source") not in ("stored", "unsplash"):
            raise SmokeFailure(f"the kea has no picture of its own: {answer}")
        if answer["source"] == "stored":
            picture = client.get(answer["url"])
            expect_status(picture, 200)
            if picture.headers.get("content-type") != "image/jpeg":
                raise SmokeFailure(f"picture content type {picture.headers.get('content-type')}")
            etag = {"If-None-Match": picture.headers.get("etag", "")}
            expect_status(client.get(answer["url"], headers=etag), 304)

    def placeholder(client: httpx.Client) -> None:
        response = client.get(f"/api/v1/images/smoke-bird-{uuid.uuid4().hex[:6]}")
        expect_status(response, 200)
        url = response.json()["url"]
        if url.startswith("/"):
            drawn = client.get(url)
            expect_status(drawn, 200)
            if not drawn.headers.get("content-type", "").startswith("image/"):
                raise SmokeFailure(f"{url} is {drawn.headers.get('content-type')}")

    def bad_name(client: httpx.Client) -> None:
        expect_status(client.get("/api/v1/images/%3Cscript%3E"), 400)
        expect_status(client.get("/media/..%2f..%2fetc%2fpasswd"), 404)

    return [
        Check("bird-images catalog bird -> picture, ETag, 304", catalog_bird),
        Check("bird-images unknown bird -> placeholder", placeholder),
        Check("bird-images bad name / path -> 4xx JSON", bad_name),
    ]


def frontend_checks() -> list[Check]:
    """The page under its CSP, and a bird with its picture through the same-origin proxy."""

    def page(client: httpx.Client) -> None:
        response = client.get("/")
        expect_status(response, 200)
        if "script-src 'self'" not in response.headers.get("content-security-policy", ""):
            raise SmokeFailure("the page is served without its CSP")
        expect_status(client.get("/app.js"), 200)

    def bird_through_proxy(client: httpx.Client) -> None:
        response = client.get("/api/v1/birds/random")
        expect_status(response, 200)
        url = response.json()["image"]["url"]
        if url.startswith("/"):
            picture = client.get(url)
            expect_status(picture, 200)
            if not picture.headers.get("content-type", "").startswith("image/"):
                raise SmokeFailure(f"{url} is {picture.headers.get('content-type')}")

    def read_only(client: httpx.Client) -> None:
        expect_status(client.post("/api/v1/birds", json={}), 405)

    return [
        Check("frontend page with CSP", page),
        Check("frontend bird and picture through /api and /media", bird_through_proxy),
        Check("frontend proxy is read-only", read_only),
    ]


ROLE_CHECKS: dict[str, Callable[[], list[Check]]] = {
    "kv": kv_checks,
    "thumbnails": thumbnails_checks,
    "optimizer": optimizer_checks,
    "birds": birds_checks,
    "bird-images": bird_images_checks,
    "frontend": frontend_checks,
}


def run_smoke(base_url: str, *, timeout: float, console: Console) -> list[str]:
    failures: list[str] = []
    with httpx.Client(base_url=base_url, timeout=timeout) as client:
        try:
            role = client.get("/health").json().get("role", "")
        except (httpx.HTTPError, ValueError) as error:
            console.print(f"[red]FAIL[/red] cannot reach {base_url}: {error}")
            return [str(error)]
        checks = shared_checks() + ROLE_CHECKS.get(role, list)()
        console.print(f"smoke-testing {base_url} (role: {role or 'unknown'})")
        for check in checks:
            try:
                check.run(client)
            except (SmokeFailure, httpx.HTTPError, ValueError) as error:
                failures.append(f"{check.name}: {error}")
                console.print(f"[red]FAIL[/red] {check.name}: {error}")
            else:
                console.print(f"[green]ok[/green]   {check.name}")
    console.print(f"{len(checks) - len(failures)} passed, {len(failures)} failed")
    return failures

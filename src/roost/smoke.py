"""``roost smoke <url>``: the checks an operator runs after a deploy, over plain HTTP.

The role is read from ``/health``; every role gets the shared checks, then its own. With
credentials (an API key or a JWT holding the ``admin`` scope) the authenticated routes are
checked too; without them those checks are skipped, and a role that answers nothing useful
anonymously (the optimizer in production) fails with one line saying it requires auth.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from rich.console import Console
from rich.markup import escape

AUTH_HINT = "pass --api-key or --token (ROOST_SMOKE_API_KEY / ROOST_SMOKE_TOKEN)"


@dataclass(frozen=True)
class Credentials:
    """What ``--api-key`` / ``--token`` gave; an empty value (an unset CI secret) is none."""

    api_key: str | None = None
    token: str | None = None

    def __post_init__(self) -> None:
        if self.api_key and self.token:
            raise ValueError("pass either --api-key or --token, not both")

    @property
    def given(self) -> bool:
        return bool(self.api_key or self.token)

    def headers(self) -> dict[str, str]:
        if self.api_key:
            return {"X-API-Key": self.api_key}
        if self.token:
            return {"Authorization": f"Bearer {self.token}"}
        return {}


@dataclass(frozen=True)
class Check:
    name: str
    run: Callable[[httpx.Client], None]
    # Runs only with credentials: the route needs the admin scope in every environment.
    authenticated: bool = False


class SmokeFailure(Exception):
    pass


def auth_required_message(role: str) -> str:
    return f"{role} requires auth: {AUTH_HINT}"


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

    def dead_letters(client: httpx.Client) -> None:
        response = client.get("/api/v1/dead-letters", params={"limit": 1})
        expect_status(response, 200)
        if not isinstance(response.json().get("items"), list):
            raise SmokeFailure(f"dead letters answered {response.text[:200]}")

    return [
        Check("thumbnails upload -> 202", upload),
        Check("thumbnails image reaches done", processed),
        Check("thumbnails thumbnail bytes, ETag, 304", thumbnail),
        Check("thumbnails bad input -> 4xx JSON", bad_uploads),
        Check("thumbnails admin: dead letters readable", dead_letters, authenticated=True),
    ]


def _smoke_png() -> bytes:
    from io import BytesIO

    from PIL import Image

    buffer = BytesIO()
    Image.linear_gradient("L").resize((320, 200)).save(buffer, "PNG")
    return buffer.getvalue()


@dataclass(frozen=True)
class Spend:
    """An optimize request: spend ``total`` across the channels of ``budget``."""

    budget: dict[str, float]
    total: float
    model: str | None = None  # None: the optimizer's default model

    def body(self) -> dict[str, Any]:
        named = {"model": self.model} if self.model is not None else {}
        return named | {"budget": self.budget, "constraints": {"total": self.total}}


CLASSIC_SPEND = Spend({"tv": 100000.0, "digital": 200000.0}, 300000.0)
SPEND_PER_CHANNEL = 1000.0


def optimizer_requires_auth(client: httpx.Client) -> bool:
    """True when the optimizer refuses anonymous reads (the default in production)."""
    return client.get("/api/v1/models", params={"limit": 1}).status_code == 401


def optimizer_checks() -> list[Check]:
    """Models readable, an optimization that spends its total, bad input refused.

    The classic request uses the default (demo) model, which production does not seed; there
    the first registered model with an active version is optimised instead.
    """
    models: list[dict[str, Any]] = []

    def list_models(client: httpx.Client) -> None:
        response = client.get("/api/v1/models")
        expect_status(response, 200)
        models.extend(response.json()["items"])

    def optimize(client: httpx.Client) -> None:
        spend = CLASSIC_SPEND
        response = client.post("/api/v1/optimize", json=spend.body())
        if error_code(response) == "unknown_model":  # no default model: use a registered one
            spend = spend_for_first_active(models)
            response = client.post("/api/v1/optimize", json=spend.body())
        expect_status(response, 200)
        assert_spends_total(spend, response.json().get("allocation") or {})

    def bad_input(client: httpx.Client) -> None:
        response = client.post("/api/v1/optimize", json={"budget": {"tv": -1}})
        expect_status(response, 422)
        if "error" not in response.json():
            raise SmokeFailure("422 is not the JSON error envelope")

    return [
        Check("optimizer GET /api/v1/models -> 200", list_models),
        Check("optimizer classic optimize spends the total", optimize),
        Check("optimizer bad input -> 422 JSON", bad_input),
    ]


def spend_for_first_active(models: Sequence[Mapping[str, Any]]) -> Spend:
    """The same amount on every channel of the first model with an active version."""
    active = [model for model in models if model.get("active_version")]
    if not active:
        raise SmokeFailure(
            "no model with an active version to optimise: register one (POST /api/v1/models) "
            "or set ROOST_OPTIMIZER_SEED_DEMO=true"
        )
    channels = [str(channel) for channel in active[0]["channels"]]
    budget = dict.fromkeys(channels, SPEND_PER_CHANNEL)
    return Spend(budget, SPEND_PER_CHANNEL * len(channels), model=str(active[0]["name"]))


def error_code(response: httpx.Response) -> str | None:
    try:
        code = response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None
    return str(code)


def assert_spends_total(spend: Spend, allocation: dict[str, Any]) -> None:
    spent = sum(float(value) for value in allocation.values())
    if set(allocation) != set(spend.budget) or abs(spent - spend.total) > 1e-6 * spend.total:
        raise SmokeFailure(f"allocation {allocation} does not spend the total {spend.total:g}")


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

    def admin_accepted(client: httpx.Client) -> None:
        # The catalog has no admin read: deleting an id no bird has proves the credentials
        # hold the admin scope (401/403 otherwise) and changes nothing.
        response = client.delete(f"/api/v1/birds/{uuid.uuid4()}")
        expect_status(response, 404)
        if "error" not in response.json():
            raise SmokeFailure("404 is not the JSON error envelope")

    return [
        Check("birds classic GET / -> name, description, image", classic),
        Check("birds random twice -> two different birds", random_differs),
        Check("birds unknown slug -> 404 JSON", unknown_bird),
        Check(
            "birds admin: credentials accepted (delete of no bird -> 404)",
            admin_accepted,
            authenticated=True,
        ),
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


def console_checks() -> list[Check]:
    """The operator console's page under its CSP, and no data without a sign-in."""

    def page(client: httpx.Client) -> None:
        response = client.get("/")
        expect_status(response, 200)
        if "script-src 'self'" not in response.headers.get("content-security-policy", ""):
            raise SmokeFailure("the console page is served without its CSP")
        expect_status(client.get("/app.js"), 200)

    def sign_in_required(client: httpx.Client) -> None:
        expect_status(client.get("/api/overview"), 401)

    return [
        Check("console page with CSP", page),
        Check("console requires a sign-in", sign_in_required),
    ]


ROLE_CHECKS: dict[str, Callable[[], list[Check]]] = {
    "console": console_checks,
    "kv": kv_checks,
    "thumbnails": thumbnails_checks,
    "optimizer": optimizer_checks,
    "birds": birds_checks,
    "bird-images": bird_images_checks,
    "frontend": frontend_checks,
}
# Roles whose own checks need credentials when the probe says so (asked only without them).
AUTH_PROBES: dict[str, Callable[[httpx.Client], bool]] = {"optimizer": optimizer_requires_auth}


@dataclass(frozen=True)
class Plan:
    """What a smoke run does against one role."""

    checks: list[Check]
    skipped: list[Check]  # authenticated checks, without credentials
    refusal: str | None = None  # the role needs credentials that were not given


def plan_checks(role: str, *, has_credentials: bool, auth_required: bool) -> Plan:
    own = ROLE_CHECKS.get(role, list)()
    if auth_required and not has_credentials:
        return Plan(shared_checks(), [], auth_required_message(role))
    wanted = [check for check in own if has_credentials or not check.authenticated]
    skipped = [check for check in own if check.authenticated and not has_credentials]
    return Plan(shared_checks() + wanted, skipped)


def run_smoke(
    base_url: str,
    *,
    timeout: float,
    console: Console,
    credentials: Credentials | None = None,
) -> list[str]:
    credentials = credentials or Credentials()
    failures: list[str] = []
    passed = 0
    headers = credentials.headers()
    with httpx.Client(base_url=base_url, timeout=timeout, headers=headers) as client:
        try:
            role = client.get("/health").json().get("role", "")
            probe = AUTH_PROBES.get(role)
            auth_required = not credentials.given and probe is not None and probe(client)
        except (httpx.HTTPError, ValueError) as error:
            console.print(f"[red]FAIL[/red] cannot reach {base_url}: {escape(str(error))}")
            return [str(error)]
        plan = plan_checks(role, has_credentials=credentials.given, auth_required=auth_required)
        mode = "with credentials" if credentials.given else "without credentials"
        console.print(f"smoke-testing {base_url} (role: {role or 'unknown'}, {mode})")
        for check in plan.checks:
            try:
                check.run(client)
            except (SmokeFailure, httpx.HTTPError, ValueError) as error:
                failures.append(f"{check.name}: {error}")
                console.print(f"[red]FAIL[/red] {check.name}: {escape(str(error))}", soft_wrap=True)
            else:
                passed += 1
                console.print(f"[green]ok[/green]   {check.name}")
        for check in plan.skipped:
            console.print(f"[yellow]skip[/yellow] {check.name}: needs credentials", soft_wrap=True)
        if plan.refusal is not None:
            failures.append(plan.refusal)
            console.print(f"[red]FAIL[/red] {plan.refusal}", soft_wrap=True)
    console.print(f"{passed} passed, {len(failures)} failed, {len(plan.skipped)} skipped")
    return failures

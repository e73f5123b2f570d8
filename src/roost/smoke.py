"""``roost smoke <url>``: the checks an operator runs after a deploy, over plain HTTP.

The role is read from ``/health``; every role gets the shared checks, then its own.
"""

from __future__ import annotations

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


ROLE_CHECKS: dict[str, Callable[[], list[Check]]] = {"kv": kv_checks}


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

"""Liveness, readiness and a health report.

- ``/healthz``: the process answers; no dependency is touched (a Redis outage must not get pods
  killed by their liveness probe).
- ``/readyz``: every dependency checked concurrently with a short timeout; 503 names the
  critical ones that failed, so a load balancer stops sending traffic. A non-critical one (an
  upstream the role has a fallback for) is reported but keeps the replica in service:
  pulling every replica for it would turn a degraded feature into an outage.
- ``/health``: a report for humans and dashboards; ``degraded`` when only non-critical
  dependencies fail (200), ``unhealthy`` when a critical one does (503).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import APIRouter
from starlette.responses import Response

from roost.core.errors import error_body
from roost.core.metrics import DEPENDENCY_UP
from roost.core.responses import json_response

CheckFunction = Callable[[], Awaitable[object]]
Status = Literal["healthy", "degraded", "unhealthy"]


@dataclass(frozen=True)
class HealthCheck:
    name: str
    check: CheckFunction
    critical: bool = True


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    critical: bool
    latency_ms: float
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "status": "ok" if self.ok else "fail",
            "critical": self.critical,
            "latency_ms": self.latency_ms,
        }
        if self.error:
            body["error"] = self.error
        return body


async def run_check(check: HealthCheck, timeout: float) -> CheckResult:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(check.check(), timeout)
    except TimeoutError:
        error: str | None = f"timed out after {timeout:g}s"
    except Exception as exc:  # a failing dependency is a result here, not an error
        error = f"{type(exc).__name__}: {exc}"[:300]
    else:
        error = None
    latency = round((time.perf_counter() - started) * 1000, 2)
    DEPENDENCY_UP.labels(check.name).set(0 if error else 1)
    return CheckResult(check.name, error is None, check.critical, latency, error)


async def run_checks(checks: Sequence[HealthCheck], timeout: float) -> list[CheckResult]:
    return list(await asyncio.gather(*(run_check(c, timeout) for c in checks)))


def overall_status(results: Sequence[CheckResult]) -> Status:
    if any(not r.ok and r.critical for r in results):
        return "unhealthy"
    if any(not r.ok for r in results):
        return "degraded"
    return "healthy"


def health_router(
    checks: Callable[[], Sequence[HealthCheck]], *, version: str, role: str, timeout: float
) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/healthz")
    async def healthz() -> Response:
        return json_response({"status": "ok"})

    @router.get("/readyz")
    async def readyz() -> Response:
        results = await run_checks(checks(), timeout)
        report = {r.name: r.as_dict() for r in results}
        failed = [r.name for r in results if not r.ok and r.critical]
        if failed:
            body = error_body(
                "not_ready", "not ready: " + ", ".join(failed) + " unavailable", {"failed": failed}
            )
            body["checks"] = report
            return json_response(body, 503)
        return json_response({"status": "ready", "checks": report})

    @router.get("/health")
    async def health() -> Response:
        results = await run_checks(checks(), timeout)
        status = overall_status(results)
        body = {
            "status": status,
            "checks": {r.name: r.as_dict() for r in results},
            "version": version,
            "role": role,
        }
        return json_response(body, 503 if status == "unhealthy" else 200)

    return router

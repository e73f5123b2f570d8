"""Every few seconds, each role's ``/health`` and ``/metrics``, kept in memory for the overview.

One :class:`RoleWatch` per role, with a plain client of its own and a short timeout, as core's
``LivenessProbe`` does: a probe must report a 503 ``/health`` as it is (unhealthy, and why)
rather than retry it, and must neither wait on nor move the breaker of the operator's calls.
A role that is down or hung costs one timeout per interval and nothing else; one that comes
back shows as back at the next interval.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
import orjson
import structlog

from roost.console.series import History, MetricsUnreadable, as_columns, parse_scrape
from roost.core.background import periodically

log = structlog.get_logger("roost.console")

RoleStatus = Literal["unknown", "healthy", "degraded", "unhealthy", "down"]
SAMPLE_BUDGET_SECONDS = 1.5
# Backends the roles check, shown as the platform's own rows.
BACKENDS = ("postgres", "redis", "broker", "storage")
# Roles whose work is jobs, not requests: their HTTP figures would count only health checks
# and the console's own scrapes, so their card shows the jobs instead.
JOB_ROLES = frozenset({"worker"})


@dataclass
class RoleWatch:
    """What the console last learnt about one role."""

    role: str
    url: str
    client: httpx.AsyncClient
    history: History
    status: RoleStatus = "unknown"
    checks: dict[str, Any] = field(default_factory=dict)
    version: str | None = None
    error: str | None = None
    checked_at: float | None = None

    async def sample(self) -> None:
        health, metrics = await asyncio.gather(
            self._get("/health"), self._get("/metrics"), return_exceptions=True
        )
        self.checked_at = time.time()
        if isinstance(health, BaseException):
            self.status, self.error, self.checks = "down", _reason(health), {}
        else:
            self._read_health(*health)
        if not isinstance(metrics, BaseException) and metrics[0] == 200:
            try:
                self.history.add(parse_scrape(metrics[1].decode(), self.checked_at))
            except MetricsUnreadable as error:  # not Prometheus text: shown as no data
                log.warning("console_metrics_unreadable", role=self.role, error=str(error))

    async def _get(self, path: str) -> tuple[int, bytes]:
        response = await self.client.get(path)
        return response.status_code, response.content

    def _read_health(self, status_code: int, body: bytes) -> None:
        try:
            report = orjson.loads(body)
            status = report["status"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            self.status, self.error, self.checks = "down", f"/health answered {status_code}", {}
            return
        self.status = status if status in ("healthy", "degraded", "unhealthy") else "unhealthy"
        self.checks = report.get("checks") or {}
        self.version = report.get("version")
        failing = [name for name, check in self.checks.items() if check.get("status") != "ok"]
        self.error = ", ".join(failing) + " failing" if failing else None

    def view(self) -> dict[str, Any]:
        latest = self.history.latest()
        started_at = self.history.last.started_at if self.history.last else None
        up = self.status in ("healthy", "degraded")
        return {
            "role": self.role,
            "url": self.url,
            "status": self.status,
            "error": self.error,
            "version": self.version,
            "checks": self.checks,
            "checked_at": self.checked_at,
            "uptime_seconds": (
                round(self.checked_at - started_at, 1)
                if up and started_at and self.checked_at
                else None
            ),
            "rate": latest.rate if latest else None,
            "error_ratio": latest.error_ratio if latest else None,
            "p95_ms": (
                round(latest.p95_seconds * 1000, 2)
                if latest and latest.p95_seconds is not None
                else None
            ),
            "series": as_columns(self.history.points),
            "kind": "jobs" if self.role in JOB_ROLES else "http",
            "jobs": self._jobs_view() if self.role in JOB_ROLES else None,
        }

    def _jobs_view(self) -> dict[str, Any]:
        """Jobs finished and failed per second over the last interval; what waits in each queue
        and how long the oldest has; dead letters not redriven (as of the last scrape)."""
        latest, scrape = self.history.latest(), self.history.last
        return {
            "rate": latest.jobs_rate if latest else None,
            "failed_rate": latest.jobs_failed_rate if latest else None,
            "queues": {
                queue: {
                    "depth": depth,
                    "oldest_job_age_seconds": scrape.oldest_job_age.get(queue),
                }
                for queue, depth in sorted(scrape.queue_depth.items())
            }
            if scrape
            else {},
            "dead_letters": scrape.dead_letters if scrape else None,
        }


def _reason(error: BaseException) -> str:
    if isinstance(error, httpx.TimeoutException):
        return f"not answering within {SAMPLE_BUDGET_SECONDS:g}s"
    if isinstance(error, httpx.ConnectError):
        return "not answering (connection refused)"
    return f"not answering ({type(error).__name__})"


class Sampler:
    def __init__(self, peers: dict[str, str], *, every_seconds: float, keep_seconds: float) -> None:
        self.every_seconds = every_seconds
        self.watches = {
            role: RoleWatch(
                role,
                url,
                httpx.AsyncClient(base_url=url, timeout=SAMPLE_BUDGET_SECONDS),
                History(keep_seconds),
            )
            for role, url in peers.items()
        }

    async def sample_all(self) -> None:
        await asyncio.gather(*(watch.sample() for watch in self.watches.values()))

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        # httpx logs every request at INFO: two lines per role per interval would bury the
        # console's own log (its access log and audit lines) in scrapes.
        logging.getLogger("httpx").setLevel(logging.WARNING)
        try:
            async with periodically(self.sample_all, self.every_seconds, "console-sampler"):
                yield
        finally:
            for watch in self.watches.values():
                await watch.client.aclose()

    def roles_view(self) -> list[dict[str, Any]]:
        return [watch.view() for watch in self.watches.values()]

    def backends_view(self) -> dict[str, dict[str, Any]]:
        """Each backend as the roles that use it see it: failing if one that answers says so."""
        return {name: backend_status(name, self.watches.values()) for name in BACKENDS}


def backend_status(name: str, watches: Any) -> dict[str, Any]:
    reporters: list[str] = []
    failing: dict[str, str] = {}
    for watch in watches:
        check = watch.checks.get(name)
        if check is None or watch.status == "down":
            continue
        reporters.append(watch.role)
        if check.get("status") != "ok":
            failing[watch.role] = str(check.get("error") or "failing")
    status = "unknown" if not reporters else ("fail" if failing else "ok")
    return {"status": status, "seen_by": reporters, "failing": failing}

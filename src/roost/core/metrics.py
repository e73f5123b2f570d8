"""Prometheus metrics shared by every role, correct under several worker processes.

With ``PROMETHEUS_MULTIPROC_DIR`` set (``roost serve --workers N`` sets it before any worker
starts), prometheus-client keeps each process's values in mmap'd files and ``/metrics``
aggregates them; without it the default in-process registry is used.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client import REGISTRY as DEFAULT_REGISTRY

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# Buckets are dense around the 500 ms p95 target so that histogram_quantile is accurate there.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0)
FAST_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)

HTTP_REQUESTS = Counter(
    "http_requests_total", "HTTP requests handled", ["method", "path", "status"]
)
HTTP_REQUESTS_FAILED = Counter(
    "http_requests_failed_total", "HTTP requests answered with a 5xx status", ["method", "path"]
)
HTTP_REQUEST_DURATION = Histogram(
    "http_request_duration_seconds",
    "Time from request start to response end",
    ["method", "path"],
    buckets=LATENCY_BUCKETS,
)
HTTP_IN_PROGRESS = Gauge(
    "http_requests_in_progress",
    "HTTP requests being handled now",
    ["method"],
    multiprocess_mode="livesum",
)
ACTIVE_CONNECTIONS = Gauge(
    "active_connections", "Open client connections to the HTTP server", multiprocess_mode="livesum"
)
REDIS_OPERATION_DURATION = Histogram(
    "redis_operation_duration_seconds",
    "Redis command round-trip time",
    ["operation"],
    buckets=FAST_BUCKETS,
)
REDIS_MEMORY = Gauge(
    "redis_memory_usage_bytes", "used_memory reported by Redis", multiprocess_mode="max"
)
APP_INFO = Gauge("app_info", "Build information", ["version", "role"], multiprocess_mode="max")
DEPENDENCY_UP = Gauge(
    "dependency_up",
    "1 when the last readiness check of a dependency passed",
    ["dependency"],
    multiprocess_mode="max",
)
RATE_LIMITED = Counter("rate_limited_total", "Requests refused by a rate limit", ["limit"])
RATE_LIMIT_FAIL_OPEN = Counter(
    "rate_limit_fail_open_total", "Requests let through because the limiter's store was down"
)
UPSTREAM_REQUEST_DURATION = Histogram(
    "upstream_request_duration_seconds",
    "Time of one call to another service, per attempt",
    ["upstream"],
    buckets=FAST_BUCKETS,
)
CIRCUIT_BREAKER_STATE = Gauge(
    "circuit_breaker_state",
    "0 closed, 1 half-open (trial call allowed), 2 open (failing fast)",
    ["upstream"],
    multiprocess_mode="max",
)
MAINTENANCE_MODE = Gauge(
    "maintenance_mode", "1 while maintenance mode is on", multiprocess_mode="max"
)


def render_latest() -> tuple[bytes, str]:
    """The text exposition of every metric of every worker process."""
    directory = os.environ.get(MULTIPROC_ENV)
    if directory:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(DEFAULT_REGISTRY), CONTENT_TYPE_LATEST


def mark_process_dead(pid: int) -> None:
    if os.environ.get(MULTIPROC_ENV):
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]

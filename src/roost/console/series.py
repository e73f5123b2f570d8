"""Request rate, error ratio and p95 of one role, from successive scrapes of its ``/metrics``.

Pure: :func:`parse_scrape` reads the Prometheus text format (with prometheus_client's parser)
into the few totals the console needs, and :class:`History` keeps the last minutes of them and
derives per-interval figures from the differences between neighbouring scrapes, the way
Prometheus' ``rate()`` and ``histogram_quantile()`` would.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

REQUESTS = "http_requests_total"
DURATION_BUCKET = "http_request_duration_seconds_bucket"
START_TIME = "process_start_time_seconds"


@dataclass(frozen=True)
class Scrape:
    """The totals one ``/metrics`` answer holds, at ``taken_at`` (Unix seconds)."""

    taken_at: float
    requests: float
    errors: float  # answered with a 5xx status
    buckets: Mapping[float, float]  # cumulative count per upper bound, +Inf included
    started_at: float | None = None  # the process's start time, when it exports one


@dataclass(frozen=True)
class Point:
    """What happened between two scrapes."""

    at: float
    rate: float  # requests per second
    error_ratio: float | None  # None without requests
    p95_seconds: float | None  # None without requests


class MetricsUnreadable(ValueError):
    """The text is no Prometheus exposition."""


def parse_scrape(text: str, taken_at: float) -> Scrape:
    """The request totals of a Prometheus text exposition (:class:`MetricsUnreadable` if the
    text is not one)."""
    try:
        return _totals(text_string_to_metric_families(text), taken_at)
    except (ValueError, KeyError, IndexError) as error:
        raise MetricsUnreadable(f"not a Prometheus exposition: {error}") from None


def _totals(families: Iterable[Metric], taken_at: float) -> Scrape:
    requests = errors = 0.0
    buckets: dict[float, float] = {}
    started_at = None
    for family in families:
        for sample in family.samples:
            if sample.name == REQUESTS:
                requests += sample.value
                if sample.labels.get("status", "").startswith("5"):
                    errors += sample.value
            elif sample.name == DURATION_BUCKET:
                bound = float(sample.labels["le"])
                buckets[bound] = buckets.get(bound, 0.0) + sample.value
            elif sample.name == START_TIME:
                started_at = sample.value
    return Scrape(taken_at, requests, errors, buckets, started_at)


def between(earlier: Scrape, later: Scrape) -> Point:
    """Rate, error ratio and p95 of the requests handled between two scrapes.

    A total lower than before means the process restarted (counters start again at zero):
    then everything the later scrape counts happened since the restart."""
    elapsed = max(later.taken_at - earlier.taken_at, 1e-9)
    restarted = later.requests < earlier.requests
    base = Scrape(earlier.taken_at, 0.0, 0.0, {}) if restarted else earlier
    requests = later.requests - base.requests
    errors = later.errors - base.errors
    bucket_counts = {
        bound: count - base.buckets.get(bound, 0.0) for bound, count in later.buckets.items()
    }
    return Point(
        at=later.taken_at,
        rate=requests / elapsed,
        error_ratio=errors / requests if requests > 0 else None,
        p95_seconds=quantile_from_buckets(0.95, bucket_counts),
    )


def quantile_from_buckets(quantile: float, buckets: Mapping[float, float]) -> float | None:
    """Prometheus' ``histogram_quantile``: linear interpolation inside the bucket the rank
    falls in; the highest finite bound when it falls in the +Inf bucket; None when empty."""
    ordered = sorted(buckets.items())
    if not ordered or ordered[-1][1] <= 0:
        return None
    rank = quantile * ordered[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in ordered:
        if count >= rank:
            if math.isinf(bound):
                return lower_bound
            if count == lower_count:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (
                count - lower_count
            )
        lower_bound, lower_count = bound, count
    return lower_bound


@dataclass
class History:
    """The last ``keep_seconds`` of one role's points, oldest first."""

    keep_seconds: float
    points: deque[Point] = field(default_factory=deque)
    last: Scrape | None = None

    def add(self, scrape: Scrape) -> Point | None:
        """Record a scrape; the point it closes (None for the first one)."""
        previous, self.last = self.last, scrape
        if previous is None or scrape.taken_at <= previous.taken_at:
            return None
        point = between(previous, scrape)
        self.points.append(point)
        while self.points and scrape.taken_at - self.points[0].at > self.keep_seconds:
            self.points.popleft()
        return point

    def latest(self) -> Point | None:
        return self.points[-1] if self.points else None


def as_columns(points: Iterable[Point]) -> dict[str, list[float | None]]:
    """Points as parallel lists (compact JSON for the sparklines): times, rates, ratios, p95."""
    columns: dict[str, list[float | None]] = {"at": [], "rate": [], "error_ratio": [], "p95_ms": []}
    for point in points:
        columns["at"].append(round(point.at, 3))
        columns["rate"].append(round(point.rate, 3))
        columns["error_ratio"].append(
            None if point.error_ratio is None else round(point.error_ratio, 4)
        )
        columns["p95_ms"].append(
            None if point.p95_seconds is None else round(point.p95_seconds * 1000, 2)
        )
    return columns

"""Request rate, error ratio and p95 of one role, from successive scrapes of its ``/metrics``;
for ``roost worker``, its job rates, queue depths and dead letters.

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
# What ``roost worker`` exports about its jobs (read off its /metrics; the actors count them).
# There is no retry counter: a retry shows as a job that is neither done nor failed yet.
IMAGES_DONE = "image_processing_seconds_count"  # one per image job that stored its thumbnails
IMAGES_REJECTED = "images_rejected_total"  # an image job refused for good (bad image)
OPTIMIZATIONS = "optimization_requests_total"  # per solve, by final ``status``
# ``queued`` is the API handing a request to a job, not a job's end; these two are failures.
OPTIMIZATION_NOT_FINISHED = frozenset({"queued"})
OPTIMIZATION_FAILED = frozenset({"rejected", "failed"})
QUEUE_DEPTH = "queue_depth"  # per queue: ready or delayed (a retry waits here)
QUEUE_OLDEST_JOB_AGE = "queue_oldest_job_age_seconds"  # per queue
DEAD_LETTERS = "dead_letter_depth"  # dead-lettered jobs not redriven yet


@dataclass(frozen=True)
class Scrape:
    """The totals one ``/metrics`` answer holds, at ``taken_at`` (Unix seconds)."""

    taken_at: float
    requests: float
    errors: float  # answered with a 5xx status
    buckets: Mapping[float, float]  # cumulative count per upper bound, +Inf included
    started_at: float | None = None  # the process's start time, when it exports one
    jobs_done: float = 0.0  # jobs finished (image done, optimization solved)
    jobs_failed: float = 0.0  # jobs ended as failed for good (bad image, infeasible, crash)
    queue_depth: Mapping[str, float] = field(default_factory=dict)  # per queue
    oldest_job_age: Mapping[str, float] = field(default_factory=dict)  # seconds, per queue
    dead_letters: float | None = None  # None when the process exports no dead-letter gauge


@dataclass(frozen=True)
class Point:
    """What happened between two scrapes."""

    at: float
    rate: float  # requests per second
    error_ratio: float | None  # None without requests
    p95_seconds: float | None  # None without requests
    jobs_rate: float = 0.0  # jobs finished per second
    jobs_failed_rate: float = 0.0  # jobs failed per second
    queued: float | None = None  # jobs waiting in every queue at the later scrape


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
    requests = errors = jobs_done = jobs_failed = 0.0
    buckets: dict[float, float] = {}
    queue_depth: dict[str, float] = {}
    oldest_job_age: dict[str, float] = {}
    started_at = dead_letters = None
    for family in families:
        for sample in family.samples:
            name, labels, value = sample.name, sample.labels, sample.value
            if name == REQUESTS:
                requests += value
                if labels.get("status", "").startswith("5"):
                    errors += value
            elif name == DURATION_BUCKET:
                bound = float(labels["le"])
                buckets[bound] = buckets.get(bound, 0.0) + value
            elif name == START_TIME:
                started_at = value
            elif name == IMAGES_DONE:
                jobs_done += value
            elif name == IMAGES_REJECTED:
                jobs_failed += value
            elif name == OPTIMIZATIONS:
                status = labels.get("status", "")
                if status in OPTIMIZATION_FAILED:
                    jobs_failed += value
                elif status not in OPTIMIZATION_NOT_FINISHED:
                    jobs_done += value
            elif name == QUEUE_DEPTH:
                queue_depth[labels.get("queue", "")] = value
            elif name == QUEUE_OLDEST_JOB_AGE:
                oldest_job_age[labels.get("queue", "")] = value
            elif name == DEAD_LETTERS:
                dead_letters = value
    return Scrape(
        taken_at,
        requests,
        errors,
        buckets,
        started_at,
        jobs_done=jobs_done,
        jobs_failed=jobs_failed,
        queue_depth=queue_depth,
        oldest_job_age=oldest_job_age,
        dead_letters=dead_letters,
    )


def between(earlier: Scrape, later: Scrape) -> Point:
    """Rate, error ratio and p95 of the requests handled between two scrapes, and the rates
    of the jobs finished and failed.

    Another start time, or a total lower than before, means the process restarted (counters
    start again at zero): then everything the later scrape counts happened since the restart."""
    elapsed = max(later.taken_at - earlier.taken_at, 1e-9)
    restarted = (
        later.requests < earlier.requests
        or later.jobs_done < earlier.jobs_done
        or later.jobs_failed < earlier.jobs_failed
        or (
            earlier.started_at is not None
            and later.started_at is not None
            and later.started_at != earlier.started_at
        )
    )
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
        jobs_rate=(later.jobs_done - base.jobs_done) / elapsed,
        jobs_failed_rate=(later.jobs_failed - base.jobs_failed) / elapsed,
        queued=sum(later.queue_depth.values()) if later.queue_depth else None,
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
    """Points as parallel lists (compact JSON for the sparklines): times, request rates, error
    ratios, p95, job rates, jobs waiting."""
    columns: dict[str, list[float | None]] = {
        "at": [],
        "rate": [],
        "error_ratio": [],
        "p95_ms": [],
        "jobs_rate": [],
        "jobs_failed_rate": [],
        "queued": [],
    }
    for point in points:
        columns["at"].append(round(point.at, 3))
        columns["rate"].append(round(point.rate, 3))
        columns["jobs_rate"].append(round(point.jobs_rate, 3))
        columns["jobs_failed_rate"].append(round(point.jobs_failed_rate, 3))
        columns["queued"].append(point.queued)
        columns["error_ratio"].append(
            None if point.error_ratio is None else round(point.error_ratio, 4)
        )
        columns["p95_ms"].append(
            None if point.p95_seconds is None else round(point.p95_seconds * 1000, 2)
        )
    return columns

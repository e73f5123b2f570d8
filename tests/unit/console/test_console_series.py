"""Rate, error ratio and p95 from two scrapes of a role's /metrics, as Prometheus computes them."""

from __future__ import annotations

import math

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from roost.console.series import (
    History,
    MetricsUnreadable,
    Scrape,
    as_columns,
    between,
    parse_scrape,
    quantile_from_buckets,
)
from roost.core.metrics import LATENCY_BUCKETS


def exposition(requests: dict[str, int], durations: list[float]) -> str:
    """A real prometheus_client exposition with the core's metric names and buckets."""
    registry = CollectorRegistry()
    counter = Counter("http_requests_total", "", ["method", "path", "status"], registry=registry)
    histogram = Histogram(
        "http_request_duration_seconds",
        "",
        ["method", "path"],
        buckets=LATENCY_BUCKETS,
        registry=registry,
    )
    for status, count in requests.items():
        counter.labels("GET", "/x", status).inc(count)
    for seconds in durations:
        histogram.labels("GET", "/x").observe(seconds)
    return generate_latest(registry).decode()


def test_parse_scrape_sums_requests_and_counts_5xx_as_errors() -> None:
    scrape = parse_scrape(exposition({"200": 7, "404": 2, "503": 1}, [0.01]), taken_at=10.0)

    assert scrape.requests == 10
    assert scrape.errors == 1
    assert scrape.buckets[math.inf] == 1
    assert scrape.taken_at == 10.0


def test_parse_scrape_rejects_text_that_is_not_an_exposition() -> None:
    with pytest.raises(MetricsUnreadable, match="not a Prometheus exposition"):
        parse_scrape("<html>not metrics</html>", taken_at=0.0)


def test_between_gives_the_rate_and_error_ratio_of_the_interval() -> None:
    earlier = parse_scrape(exposition({"200": 100}, []), taken_at=0.0)
    later = parse_scrape(exposition({"200": 130, "500": 10}, []), taken_at=4.0)

    point = between(earlier, later)

    assert point.rate == pytest.approx(40 / 4)
    assert point.error_ratio == pytest.approx(10 / 40)


def test_between_a_restart_counts_what_the_new_process_has_seen() -> None:
    before_restart = Scrape(0.0, requests=500, errors=5, buckets={math.inf: 500})
    after_restart = Scrape(2.0, requests=20, errors=0, buckets={0.1: 20, math.inf: 20})

    point = between(before_restart, after_restart)

    assert point.rate == pytest.approx(10.0)
    assert point.error_ratio == 0.0


def test_between_without_requests_has_no_ratio_and_no_p95() -> None:
    scrape = parse_scrape(exposition({"200": 3}, [0.01, 0.01, 0.01]), taken_at=0.0)
    same = Scrape(5.0, scrape.requests, scrape.errors, scrape.buckets)

    point = between(scrape, same)

    assert point.rate == 0.0
    assert point.error_ratio is None
    assert point.p95_seconds is None


def test_p95_interpolates_inside_the_bucket_the_rank_falls_in() -> None:
    # 100 requests: 90 under 50 ms, 10 between 100 and 250 ms. Rank 95 falls in (0.1, 0.25].
    buckets = {0.05: 90.0, 0.1: 90.0, 0.25: 100.0, math.inf: 100.0}

    assert quantile_from_buckets(0.95, buckets) == pytest.approx(0.1 + 0.15 * 5 / 10)


def test_p95_in_the_inf_bucket_is_the_highest_finite_bound() -> None:
    assert quantile_from_buckets(0.95, {1.0: 1.0, math.inf: 100.0}) == 1.0


def test_p95_of_observed_durations_lands_in_their_bucket() -> None:
    earlier = parse_scrape(exposition({}, []), taken_at=0.0)
    later = parse_scrape(exposition({"200": 20}, [0.3] * 20), taken_at=1.0)

    p95 = between(earlier, later).p95_seconds

    assert p95 is not None
    assert 0.25 < p95 <= 0.4  # 0.3 s observations live in the (0.25, 0.4] bucket


def test_history_keeps_only_the_window_and_reports_the_latest_point() -> None:
    history = History(keep_seconds=10)
    assert history.add(Scrape(0.0, 0, 0, {})) is None  # the first scrape closes no interval

    for second in range(1, 31):
        history.add(Scrape(float(second), second * 2.0, 0, {}))

    assert len(history.points) == 11  # points at 20..30 s: 10 s back from the last
    assert history.points[0].at == 20.0
    latest = history.latest()
    assert latest is not None
    assert latest.rate == pytest.approx(2.0)


def test_history_ignores_a_scrape_that_is_not_newer() -> None:
    history = History(keep_seconds=60)
    history.add(Scrape(5.0, 10, 0, {}))

    assert history.add(Scrape(5.0, 12, 0, {})) is None
    assert not history.points


def test_as_columns_gives_parallel_lists_with_milliseconds() -> None:
    history = History(keep_seconds=60)
    history.add(Scrape(0.0, 0, 0, {}))
    history.add(Scrape(1.0, 10, 1, {0.1: 10, math.inf: 10}))

    columns = as_columns(history.points)

    assert columns["rate"] == [10.0]
    assert columns["error_ratio"] == [0.1]
    assert columns["p95_ms"] == [95.0]
    assert columns["at"] == [1.0]


def worker_exposition(
    images_done: int,
    images_rejected: int,
    optimizations: dict[str, int],
    queues: dict[str, tuple[int, float]],
    dead_letters: int,
) -> str:
    """An exposition with the job metrics `roost worker` exports (names as its /metrics has
    them; tests/integration/console checks them against a real worker)."""
    registry = CollectorRegistry()
    processing = Histogram("image_processing_seconds", "", registry=registry)
    rejected = Counter("images_rejected_total", "", ["reason"], registry=registry)
    solves = Counter("optimization_requests_total", "", ["method", "status"], registry=registry)
    depth = Gauge("queue_depth", "", ["queue"], registry=registry)
    age = Gauge("queue_oldest_job_age_seconds", "", ["queue"], registry=registry)
    Gauge("dead_letter_depth", "", registry=registry).set(dead_letters)
    for _ in range(images_done):
        processing.observe(0.05)
    rejected.labels("not_an_image").inc(images_rejected)
    for status, count in optimizations.items():
        solves.labels("max_response", status).inc(count)
    for queue, (waiting, oldest) in queues.items():
        depth.labels(queue).set(waiting)
        age.labels(queue).set(oldest)
    return generate_latest(registry).decode()


def test_parse_scrape_reads_the_worker_jobs_queues_and_dead_letters() -> None:
    text = worker_exposition(
        images_done=4,
        images_rejected=1,
        optimizations={"optimal": 2, "node_limit": 1, "rejected": 1, "failed": 1, "queued": 9},
        queues={"thumbnails": (3, 1.5), "optimizer": (0, 0.0)},
        dead_letters=2,
    )

    scrape = parse_scrape(text, taken_at=0.0)

    assert scrape.jobs_done == 4 + 2 + 1  # a "queued" count is the API's, not a finished job
    assert scrape.jobs_failed == 1 + 1 + 1
    assert scrape.queue_depth == {"thumbnails": 3, "optimizer": 0}
    assert scrape.oldest_job_age == {"thumbnails": 1.5, "optimizer": 0.0}
    assert scrape.dead_letters == 2


def test_a_role_without_job_metrics_has_no_dead_letter_figure() -> None:
    scrape = parse_scrape(exposition({"200": 1}, [0.01]), taken_at=0.0)

    assert scrape.dead_letters is None
    assert scrape.queue_depth == {}
    assert (scrape.jobs_done, scrape.jobs_failed) == (0, 0)


def test_between_gives_jobs_finished_and_failed_per_second_and_what_waits() -> None:
    empty = {"thumbnails": (0, 0.0)}
    earlier = parse_scrape(worker_exposition(10, 0, {"optimal": 2}, empty, 0), taken_at=0.0)
    later = parse_scrape(
        worker_exposition(16, 2, {"optimal": 4}, {"thumbnails": (5, 2.0)}, 1), taken_at=2.0
    )

    point = between(earlier, later)

    assert point.jobs_rate == pytest.approx((6 + 2) / 2)
    assert point.jobs_failed_rate == pytest.approx(2 / 2)
    assert point.queued == 5


def test_between_a_new_start_time_is_a_restart_even_when_totals_grew() -> None:
    before = Scrape(0.0, 10, 0, {}, started_at=100.0, jobs_done=3)
    after = Scrape(2.0, 12, 0, {}, started_at=101.5, jobs_done=8)

    point = between(before, after)

    assert point.jobs_rate == pytest.approx(8 / 2)
    assert point.rate == pytest.approx(12 / 2)

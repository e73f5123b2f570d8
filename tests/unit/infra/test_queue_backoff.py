"""Retry backoff as each broker gets it (building a broker opens no connection)."""

from __future__ import annotations

import pytest
from dramatiq.middleware import Retries

from roost.core.settings import load_settings
from roost.infra import queue


def retries_of(url: str, **overrides: int) -> Retries:
    broker = queue.create_broker(load_settings(broker_url=url, **overrides))
    [retries] = [m for m in broker.middleware if isinstance(m, Retries)]
    return retries


def test_sqs_backoff_is_capped_at_the_longest_delay_sqs_accepts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")

    retries = retries_of(
        "sqs://127.0.0.1:1?region=us-east-1",
        job_min_backoff_ms=1_000_000,
        job_max_backoff_ms=3_600_000,
    )

    assert retries.max_backoff == queue.SQS_MAX_DELAY_MS
    assert retries.min_backoff == queue.SQS_MAX_DELAY_MS


def test_other_brokers_keep_the_configured_backoff() -> None:
    retries = retries_of("redis://127.0.0.1:1/0", job_max_backoff_ms=3_600_000)

    assert (retries.min_backoff, retries.max_backoff) == (1_000, 3_600_000)


def test_redis_delay_queues_are_polled_no_faster_than_the_shortest_backoff() -> None:
    broker = queue.create_broker(
        load_settings(broker_url="redis://127.0.0.1:6379/9", job_min_backoff_ms=1500)
    )
    work_timeout = queue.consumer_timeout_ms(broker)

    assert broker.consume("thumbnails", 2, work_timeout).timeout == work_timeout  # type: ignore[attr-defined]
    assert broker.consume("thumbnails.DQ", 2, work_timeout).timeout == 1500  # type: ignore[attr-defined]
    # A backoff shorter than the work queue's poll never makes polling faster.
    fast = queue.create_broker(
        load_settings(broker_url="redis://127.0.0.1:6379/9", job_min_backoff_ms=10)
    )
    assert fast.consume("thumbnails.DQ", 2, work_timeout).timeout == work_timeout  # type: ignore[attr-defined]

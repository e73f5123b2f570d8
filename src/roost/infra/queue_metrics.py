"""Prometheus gauges of every queue and of the one dead-letter store, set by the worker's
housekeeping (``roost worker``) from :mod:`roost.infra.queue` and
:mod:`roost.infra.dead_letters`. No domain's: thumbnails and optimizer jobs alike.
The alert rules in ``deploy/observability/prometheus/rules/`` read these names."""

from __future__ import annotations

from prometheus_client import Gauge

QUEUE_DEPTH = Gauge(
    "queue_depth", "Jobs waiting in a queue (ready or delayed)", ["queue"], multiprocess_mode="max"
)
QUEUE_OLDEST_JOB_AGE = Gauge(
    "queue_oldest_job_age_seconds",
    "How long the oldest ready job of a queue has waited for a worker",
    ["queue"],
    multiprocess_mode="max",
)
DEAD_LETTER_DEPTH = Gauge(
    "dead_letter_depth", "Dead-lettered jobs not redriven yet", multiprocess_mode="max"
)

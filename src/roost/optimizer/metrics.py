"""The optimizer's Prometheus metrics (names fixed by issue 6; dashboards and alerts use them).

- ``optimization_requests_total{method,status}``: ``method`` is what was asked
  (``max_response``, ``target_roi`` or ``sweep``); ``status`` is ``optimal`` or ``node_limit``
  (the solver's status), ``rejected`` (infeasible or invalid for this model), ``queued``
  (accepted as a background job: the worker counts the job again with its final status) or
  ``failed`` (an unexpected error).
- ``optimization_duration_seconds``: time spent solving, API and worker alike.
- ``active_optimizations``: solves running now.
- ``model_prediction_seconds{model_name}``: time of one ``predict`` call.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from roost.core.metrics import LATENCY_BUCKETS

OPTIMIZATION_REQUESTS = Counter(
    "optimization_requests_total",
    "Optimization requests by method and outcome",
    ["method", "status"],
)
OPTIMIZATION_DURATION = Histogram(
    "optimization_duration_seconds", "Time spent solving one optimization", buckets=LATENCY_BUCKETS
)
ACTIVE_OPTIMIZATIONS = Gauge(
    "active_optimizations", "Optimizations being solved now", multiprocess_mode="livesum"
)
MODEL_PREDICTION = Histogram(
    "model_prediction_seconds",
    "Time of one prediction from a registered model",
    ["model_name"],
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5),
)

"""The bird image service's Prometheus metrics.

- ``bird_image_resolutions_total{source}``: every answer of ``GET /api/v1/images/{name}``, by
  the source of its picture: ``stored`` (ours), ``unsplash`` or ``placeholder``. (The birds
  API's ``bird_image_lookups_total`` counts the same answers as that API received them.)
- ``bird_image_cache_total{result}``: ``hit``, ``miss``, or ``error`` (Redis unreachable; the
  answer is worked out uncached).
- ``bird_image_provider_calls_total{outcome}``: Unsplash searches: ``ok``, ``no_result``,
  ``rate_limited``, ``unauthorized``, ``error`` (5xx), ``unreachable`` (timeout, connection,
  open breaker), ``malformed``, and ``paused`` (not sent, waiting out a rate limit).

Provider latency and breaker state are the core's ``upstream_request_duration_seconds`` and
``circuit_breaker_state`` with ``upstream="unsplash"``.
"""

from __future__ import annotations

from prometheus_client import Counter

IMAGE_RESOLUTIONS = Counter(
    "bird_image_resolutions_total",
    "Bird image answers of the bird image service, by picture source",
    ["source"],
)
IMAGE_CACHE = Counter(
    "bird_image_cache_total", "Bird image cache reads, by result (hit, miss, error)", ["result"]
)
PROVIDER_CALLS = Counter(
    "bird_image_provider_calls_total", "Unsplash searches, by outcome", ["outcome"]
)

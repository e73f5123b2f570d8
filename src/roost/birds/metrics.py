"""The bird API's Prometheus metrics (names fixed by issue 5; the birds dashboard uses them).

- ``bird_image_lookups_total{source}``: one per bird answered with an image. ``source`` is what
  the bird image service reported (``stored``, ``unsplash`` or ``placeholder``), or
  ``unavailable`` when it was slow, down, answered nonsense or its circuit breaker was open and
  the bird went out with our own placeholder instead.

Call latency and breaker state are the core's ``upstream_request_duration_seconds{upstream}``
and ``circuit_breaker_state{upstream}`` with ``upstream="bird-images"``.
"""

from __future__ import annotations

from prometheus_client import Counter

BIRD_IMAGE_LOOKUPS = Counter(
    "bird_image_lookups_total",
    "Image lookups for bird responses, by the source of the image used",
    ["source"],
)

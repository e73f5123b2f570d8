"""Prometheus metrics of the image pipeline (the alert rules in
``deploy/observability/prometheus/rules/thumbnails.yml`` read these names). The queue and
dead-letter gauges are every queue's: :mod:`roost.infra.queue_metrics`."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

PROCESSING_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0, 5.0, 10.0, 30.0)
# Dense below the 1 s p95 target so histogram_quantile is accurate there.
READY_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.75, 1.0, 1.5, 2.5, 5.0, 10.0, 30.0, 60.0)

IMAGES_PROCESSED = Counter(
    "images_processed_total", "Thumbnails made and stored, once per image and size", ["size"]
)
IMAGES_REJECTED = Counter(
    "images_rejected_total", "Uploads or images refused for good, by reason", ["reason"]
)
IMAGE_PROCESSING_SECONDS = Histogram(
    "image_processing_seconds",
    "One job: read the source, make every size, store them",
    buckets=PROCESSING_BUCKETS,
)
IMAGE_UPLOAD_TO_READY_SECONDS = Histogram(
    "image_upload_to_ready_seconds",
    "From the upload's record to its thumbnails being ready (database clock)",
    buckets=READY_BUCKETS,
)
IMAGE_BYTES_IN = Counter("image_bytes_in_total", "Source image bytes processed")
IMAGE_BYTES_OUT = Counter("image_bytes_out_total", "Thumbnail bytes stored")

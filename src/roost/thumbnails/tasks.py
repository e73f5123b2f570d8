"""The worker side: one dramatiq actor that turns a source image into its thumbnails.

A job carries only the image id. Processing runs in a dramatiq worker thread: storage and
Pillow are blocking (Pillow releases the GIL while it decodes, resizes and encodes), database
calls are coroutines run on the worker's event loop through ``run``.

Failure semantics:

- :class:`~roost.thumbnails.imaging.ImageRejected`: permanent. The image is recorded
  ``rejected`` with its reason and the job is acknowledged; never retried.
- anything else (storage, database, a time limit, a bug): the exception escapes, dramatiq
  retries with exponential backoff, then dead-letters the job (see :mod:`roost.infra.queue`).
- a duplicate delivery (a redelivery after a crash, a redrive): thumbnails go to the same keys
  (derived from the source key and the content hash), and the final transition is conditional,
  so nothing is stored twice or counted twice.

The job is acknowledged only when the actor returns, after the thumbnails are stored and the
record says ``done``.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

import dramatiq
import structlog

from roost.infra.queue import wait_out_outages
from roost.infra.storage import ObjectStore, join_key
from roost.thumbnails import jobs, metrics
from roost.thumbnails.config import Sessions, ThumbnailsConfig
from roost.thumbnails.errors import SourceNotCommitted
from roost.thumbnails.imaging import ImageRejected, inspect, make_thumbnails
from roost.thumbnails.jobs import Job, Outcome, StoredThumbnail
from roost.thumbnails.service import parse_image_id

log = structlog.get_logger("roost.thumbnails.worker")

T = TypeVar("T")
RunCoroutine = Callable[[Coroutine[Any, Any, Any]], Any]

EXTENSIONS = {"JPEG": "jpg", "WEBP": "webp", "PNG": "png"}
# A job can reach a worker before the upload's transaction commits (it is enqueued inside it):
# wait this long for the record before handing the job to the retry machinery.
RECORD_WAIT_SECONDS = (0.05, 0.1, 0.25, 0.5)


@dataclass
class ImageProcessor:
    sessions: Sessions
    sources: ObjectStore
    outputs: ObjectStore
    config: ThumbnailsConfig
    run: RunCoroutine

    def process(self, image_id: str) -> str:
        """Process one image; returns ``done``, ``rejected`` or ``skipped`` (already final)."""
        started = time.perf_counter()
        job = self._claim(parse_image_id(image_id))
        if job is None:
            log.info("job_skipped", image_id=image_id, reason="already final")
            return "skipped"
        data = self.sources.get(job.source_key)
        content_hash = source_hash(job, data)
        try:
            info = inspect(data, self.config.limits)
            made = make_thumbnails(
                data,
                self.config.presets.specs(job.sizes),
                self.config.limits,
                output_format=self.config.output_format,
                quality=self.config.quality,
            )
        except ImageRejected as rejected:
            return self._reject(job, rejected, content_hash, len(data))

        stored = [self._store(job.source_key, content_hash, t) for t in made]
        outcome = Outcome(content_hash, len(data), info.format, info.width, info.height, stored)
        ready_after = self.run(jobs.complete_job(self.sessions, job.image_id, outcome))
        elapsed = time.perf_counter() - started
        if ready_after is None:
            log.info("job_duplicate", image_id=image_id)
            return "skipped"
        # Counted only by the delivery that recorded the image done: no double counting.
        metrics.IMAGE_PROCESSING_SECONDS.observe(elapsed)
        metrics.IMAGE_UPLOAD_TO_READY_SECONDS.observe(max(0.0, ready_after))
        metrics.IMAGE_BYTES_IN.inc(len(data))
        for thumbnail in stored:
            metrics.IMAGES_PROCESSED.labels(thumbnail.size).inc()
            metrics.IMAGE_BYTES_OUT.inc(thumbnail.bytes)
        log.info(
            "image_done",
            image_id=image_id,
            attempt=job.attempts,
            sizes=list(job.sizes),
            processing_ms=round(elapsed * 1000, 1),
            upload_to_ready_ms=round(ready_after * 1000, 1),
        )
        return "done"

    def _claim(self, image_id: uuid.UUID) -> Job | None:
        for pause in (*RECORD_WAIT_SECONDS, None):
            try:
                job: Job | None = self.run(jobs.claim_job(self.sessions, image_id))
                return job
            except SourceNotCommitted:
                if pause is None:
                    raise
                time.sleep(pause)
        raise AssertionError("unreachable")

    def _store(self, source_key: str, content_hash: str, thumbnail: Any) -> StoredThumbnail:
        extension = EXTENSIONS[thumbnail.format]
        # Derived from the source and its content: a second run writes the same keys.
        key = join_key(source_key, content_hash[:16], f"{thumbnail.spec_name}.{extension}")
        self.outputs.put(key, thumbnail.data, content_type=thumbnail.content_type)
        return StoredThumbnail(
            size=thumbnail.spec_name,
            key=key,
            width=thumbnail.width,
            height=thumbnail.height,
            bytes=len(thumbnail.data),
            content_type=thumbnail.content_type,
            etag=hashlib.sha256(thumbnail.data).hexdigest()[:32],
        )

    def _reject(self, job: Job, rejected: ImageRejected, content_hash: str, size: int) -> str:
        changed = self.run(
            jobs.reject_job(
                self.sessions,
                job.image_id,
                reason=rejected.reason,
                message=rejected.message,
                content_hash=content_hash,
                source_bytes=size,
            )
        )
        if changed:
            metrics.IMAGES_REJECTED.labels(rejected.reason).inc()
        log.info("image_rejected", image_id=str(job.image_id), reason=rejected.reason)
        return "rejected"


def source_hash(job: Job, data: bytes) -> str:
    """The upload's recorded hash when the stored object still has the recorded size, else the
    hash of what was read (an ingested object, or one replaced since): hashing 3 MB again costs
    2 ms, a few percent of a 12 MP job."""
    if job.content_hash is not None and job.source_bytes == len(data):
        return job.content_hash
    return hashlib.sha256(data).hexdigest()


def register_actors(
    broker: dramatiq.Broker,
    processor: ImageProcessor,
    *,
    max_retries: int,
    time_limit_ms: int,
    outage_wait_seconds: float,
) -> dramatiq.Actor[Any, Any]:
    """Bind the ``thumbnails.process_image`` actor to ``broker`` (not to a global one)."""

    def process_image(image_id: str) -> None:
        wait_out_outages(lambda: processor.process(image_id), outage_wait_seconds)

    actor: dramatiq.Actor[Any, Any] = dramatiq.Actor(
        process_image,
        broker=broker,
        actor_name=jobs.PROCESS_IMAGE_ACTOR,
        queue_name=processor.config.queue_name,
        priority=0,
        options={"max_retries": max_retries, "time_limit": time_limit_ms},
    )
    return actor

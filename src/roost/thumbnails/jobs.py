"""The worker's statements: claim an image's job, record it ``done`` or ``rejected``.

An image's life: ``queued`` (record written, job enqueued) → ``processing`` (a worker claimed
it; a retry or a redelivery claims it again) → ``done`` or ``rejected`` (final), or ``failed``
(the job was dead-lettered, :mod:`roost.thumbnails.dead_letters`; a redrive puts it back to
``queued``). Transitions into a final state are conditional updates, so a job that runs twice
(at-least-once delivery) changes the record, and counts in the metrics, once.

The statements are built once, as Core statements on the table with bound parameters, and each
runs as its own transaction (every one is a single conditional UPDATE, atomic by itself): the
ORM-enabled form (rebuilt each call, run through the ORM's bulk-update machinery, inside BEGIN …
COMMIT) cost 4.9 ms of the worker's CPU per image for claim + done; these cost 1.6 to 2.0 ms
(docs/thumbnails.md, Benchmark).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, Update, and_, bindparam, func, select, update

from roost.infra.db import single_statements
from roost.thumbnails.config import Sessions
from roost.thumbnails.errors import SourceNotCommitted
from roost.thumbnails.models import FINAL_STATUSES, ImageRecord, ImageStatus

PROCESS_IMAGE_ACTOR = "thumbnails.process_image"


@dataclass(frozen=True)
class Job:
    """What a worker needs to process one image."""

    image_id: uuid.UUID
    source_key: str
    sizes: tuple[str, ...]
    attempts: int
    # Recorded when the source was uploaded (an ingested object has none yet).
    content_hash: str | None = None
    source_bytes: int | None = None


@dataclass(frozen=True)
class StoredThumbnail:
    size: str
    key: str
    width: int
    height: int
    bytes: int
    content_type: str
    etag: str

    def as_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "width": self.width,
            "height": self.height,
            "bytes": self.bytes,
            "content_type": self.content_type,
            "etag": self.etag,
        }


@dataclass(frozen=True)
class Outcome:
    """A processed image, ready to be recorded as done."""

    content_hash: str
    source_bytes: int
    source_format: str
    width: int
    height: int
    thumbnails: list[StoredThumbnail] = field(default_factory=list)


async def claim_job(sessions: Sessions, image_id: uuid.UUID) -> Job | None:
    """Mark the image ``processing`` and return its job; None if it is already final (a
    duplicate delivery). :class:`SourceNotCommitted` if there is no record (yet)."""
    async with single_statements(sessions) as session:
        row = (await session.execute(_CLAIM, {"image_id": image_id})).one_or_none()
        if row is not None:
            return Job(
                image_id,
                row.source_key,
                tuple(row.sizes),
                row.attempts,
                row.content_hash,
                row.source_bytes,
            )
        # Each statement sees what was committed when it began: the upload's transaction can
        # commit between the update above and this read. Only a final status means skip.
        status = (await session.execute(_STATUS_OF, {"image_id": image_id})).scalar()
    if status not in FINAL_STATUSES:
        raise SourceNotCommitted(f"image {image_id} was not claimable yet (status {status})")
    return None


async def complete_job(sessions: Sessions, image_id: uuid.UUID, outcome: Outcome) -> float | None:
    """Record the image ``done``. Returns upload→ready seconds (database clock) if this call
    made the transition, None if another delivery of the job already had."""
    values = {
        "image_id": image_id,
        "content_hash": outcome.content_hash,
        "source_bytes": outcome.source_bytes,
        "source_format": outcome.source_format,
        "width": outcome.width,
        "height": outcome.height,
        "thumbnails": {t.size: t.as_json() for t in outcome.thumbnails},
    }
    async with single_statements(sessions) as session:
        row = (await session.execute(_DONE, values)).one_or_none()
    if row is None:
        return None
    return float((row.finished_at - row.created_at).total_seconds())


async def reject_job(
    sessions: Sessions,
    image_id: uuid.UUID,
    *,
    reason: str,
    message: str,
    content_hash: str,
    source_bytes: int,
) -> bool:
    """Record the image ``rejected`` with its reason; False if it was final already."""
    values = {
        "image_id": image_id,
        "reason": reason,
        "message": message[:1000],
        "content_hash": content_hash,
        "source_bytes": source_bytes,
    }
    async with single_statements(sessions) as session:
        result = await session.execute(_REJECTED, values)
        return result.one_or_none() is not None


# --- the statements ---------------------------------------------------------------------------

_images = cast(Table, ImageRecord.__table__)
_NOT_FINAL = and_(_images.c.id == bindparam("image_id"), _images.c.status.not_in(FINAL_STATUSES))
_CLAIM = (
    update(_images)
    .where(_NOT_FINAL)
    .values(
        status="processing",
        attempts=_images.c.attempts + 1,
        started_at=func.coalesce(_images.c.started_at, func.now()),
        updated_at=func.now(),
    )
    .returning(
        _images.c.source_key,
        _images.c.sizes,
        _images.c.attempts,
        _images.c.content_hash,
        _images.c.source_bytes,
    )
)
_STATUS_OF = select(_images.c.status).where(_images.c.id == bindparam("image_id"))


def _into_final(status: ImageStatus, *returning: ColumnElement[Any], **values: Any) -> Update:
    """The conditional move into a final status: it happens once, whatever the deliveries."""
    return (
        update(_images)
        .where(_NOT_FINAL)
        .values(
            status=status,
            content_hash=bindparam("content_hash"),
            source_bytes=bindparam("source_bytes"),
            finished_at=func.now(),
            updated_at=func.now(),
            **values,
        )
        .returning(*returning)
    )


_DONE = _into_final(
    "done",
    _images.c.created_at,
    _images.c.finished_at,
    source_format=bindparam("source_format"),
    width=bindparam("width"),
    height=bindparam("height"),
    thumbnails=bindparam("thumbnails"),
    error=None,
)
_REJECTED = _into_final(
    "rejected", _images.c.id, rejection_reason=bindparam("reason"), error=bindparam("message")
)

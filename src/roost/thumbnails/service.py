"""Thumbnails use cases: plain async functions taking their dependencies as arguments.

An image's life: ``queued`` (record written, job enqueued) → ``processing`` (a worker claimed
it; a retry or a redelivery claims it again) → ``done`` or ``rejected`` (final), or ``failed``
(the job was dead-lettered; a redrive puts it back to ``queued``). Transitions into a final
state are conditional updates, so a job that runs twice (at-least-once delivery) changes the
record, and counts in the metrics, once.

Object storage is blocking (boto3, files): it is called through ``asyncio.to_thread``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

import dramatiq
import orjson
import structlog
from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    Update,
    and_,
    bindparam,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from roost.core.errors import DependencyUnavailable
from roost.infra import dead_letters, queue
from roost.infra.db import single_statements, unit_of_work
from roost.infra.storage import ObjectNotFound, ObjectStore, join_key, validate_prefix
from roost.infra.storage.keys import InvalidObjectKey
from roost.thumbnails import metrics
from roost.thumbnails.errors import (
    EmptyUpload,
    ImageNotFound,
    InvalidCursor,
    InvalidImageId,
    InvalidPrefix,
    SourceNotCommitted,
    ThumbnailNotFound,
    ThumbnailNotReady,
    UploadTooLarge,
)
from roost.thumbnails.imaging import ImagingLimits, OutputFormat
from roost.thumbnails.models import FINAL_STATUSES, ImageRecord
from roost.thumbnails.presets import Presets

log = structlog.get_logger("roost.thumbnails")

PROCESS_IMAGE_ACTOR = "thumbnails.process_image"
UPLOAD_PREFIX = "uploads"
MAX_PAGE = 200

Sessions = async_sessionmaker[AsyncSession]
# queue name, actor name, args, kwargs -> the enqueued message's id
SendJob = dead_letters.SendJob


@dataclass(frozen=True)
class ThumbnailsConfig:
    presets: Presets
    limits: ImagingLimits
    output_format: OutputFormat
    quality: int
    queue_name: str
    cache_seconds: int


@dataclass(frozen=True)
class Page:
    items: list[Any]
    next_cursor: str | None


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


@dataclass(frozen=True)
class ThumbnailBytes:
    data: bytes
    content_type: str
    etag: str


def broker_sender(broker: dramatiq.Broker) -> SendJob:
    """Enqueue through a (blocking) dramatiq broker from async code; any failure to enqueue
    is the broker being unavailable (503)."""

    async def send(
        queue_name: str, actor_name: str, args: Sequence[Any], kwargs: dict[str, Any]
    ) -> str:
        try:
            message = await asyncio.to_thread(
                queue.send, broker, queue_name, actor_name, args, kwargs
            )
        except Exception as exc:
            log.warning("enqueue_failed", error=f"{type(exc).__name__}: {exc}"[:300])
            raise DependencyUnavailable("broker") from exc
        return message.message_id

    return send


# --- API use cases ----------------------------------------------------------------------------


def parse_image_id(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except (ValueError, TypeError):
        raise InvalidImageId(f"{raw[:80]!r} is not an image id (a UUID)") from None


async def accept_upload(
    sessions: Sessions,
    sources: ObjectStore,
    send: SendJob,
    config: ThumbnailsConfig,
    data: bytes,
    requested_sizes: str | Sequence[str] | None,
) -> ImageRecord:
    """Store the upload, record it ``queued`` and enqueue its job, or do none of it.

    The job is enqueued inside the record's transaction: if the broker is down nothing is
    recorded; a job that reaches a worker before the commit is retried (see
    :class:`SourceNotCommitted`).
    """
    sizes = config.presets.choose(requested_sizes)
    check_upload_size(len(data), config.limits.max_bytes)
    image_id = uuid.uuid4()
    source_key = join_key(UPLOAD_PREFIX, str(image_id))
    await asyncio.to_thread(sources.put, source_key, data)
    record = ImageRecord(
        id=image_id,
        source_key=source_key,
        origin="upload",
        status="queued",
        sizes=list(sizes),
        content_hash=hashlib.sha256(data).hexdigest(),
        source_bytes=len(data),
        thumbnails={},
        attempts=0,
    )
    try:
        async with unit_of_work(sessions) as session:
            session.add(record)
            await session.flush()
            await send(config.queue_name, PROCESS_IMAGE_ACTOR, [str(image_id)], {})
    except BaseException:
        await asyncio.to_thread(_delete_quietly, sources, source_key)
        raise
    return record


def check_upload_size(size: int, limit: int) -> None:
    """Empty and oversized uploads are refused at the door, and counted as rejections."""
    if size == 0:
        metrics.IMAGES_REJECTED.labels("empty").inc()
        raise EmptyUpload("the file is empty")
    if size > limit:
        metrics.IMAGES_REJECTED.labels("file_too_large").inc()
        raise UploadTooLarge(f"the file is larger than {limit} bytes")


async def get_image(sessions: Sessions, image_id: uuid.UUID) -> ImageRecord:
    async with unit_of_work(sessions) as session:
        record = await session.get(ImageRecord, image_id)
    if record is None:
        raise ImageNotFound(f"no image {image_id}")
    return record


async def list_images(
    sessions: Sessions, *, status: str | None, cursor: str | None, limit: int
) -> Page:
    """Newest first, in keyset pages (stable while images are added)."""
    statement = select(ImageRecord)
    if status is not None:
        statement = statement.where(ImageRecord.status == status)
    statement = _newest_first(statement, ImageRecord.created_at, ImageRecord.id, cursor)
    async with unit_of_work(sessions) as session:
        rows = list((await session.scalars(statement.limit(limit + 1))).all())
    return _page(rows, limit, lambda r: (r.created_at, r.id))


def _newest_first(
    statement: Select[Any], time_column: Any, id_column: Any, cursor: str | None
) -> Select[Any]:
    """Keyset order (time, id) descending, resuming after ``cursor``'s row."""
    if cursor is not None:
        after_time, after_id = decode_cursor(cursor)
        statement = statement.where(
            or_(time_column < after_time, and_(time_column == after_time, id_column < after_id))
        )
    return statement.order_by(time_column.desc(), id_column.desc())


def thumbnail_entry(record: ImageRecord, size: str) -> dict[str, Any]:
    """The stored thumbnail's description; raises unless the image has it ready."""
    if size not in record.sizes:
        raise ThumbnailNotFound(
            f"image {record.id} has no size {size[:40]!r}; its sizes: {', '.join(record.sizes)}"
        )
    if record.status != "done":
        raise ThumbnailNotReady(f"image {record.id} is {record.status}", record.status)
    entry: dict[str, Any] | None = record.thumbnails.get(size)
    if entry is None:
        raise ThumbnailNotFound(f"image {record.id} has no thumbnail {size!r}")
    return entry


async def read_thumbnail(outputs: ObjectStore, entry: dict[str, Any]) -> ThumbnailBytes:
    try:
        data = await asyncio.to_thread(outputs.get, entry["key"])
    except ObjectNotFound:
        raise ThumbnailNotFound("the thumbnail's object is missing from storage") from None
    return ThumbnailBytes(data, entry["content_type"], entry["etag"])


async def list_dead_letters(
    sessions: Sessions,
    *,
    state: dead_letters.State,
    cursor: str | None,
    limit: int,
    actor: str | None = None,
) -> Page:
    """Every queue's dead letters (or one actor's), newest first."""
    record = dead_letters.DeadLetterRecord
    statement = _newest_first(
        dead_letters.selection(state, actor), record.dead_at, record.id, cursor
    )
    async with unit_of_work(sessions) as session:
        rows = list((await session.scalars(statement.limit(limit + 1))).all())
    return _page(rows, limit, lambda r: (r.dead_at, r.id))


def image_id_of(letter: dead_letters.DeadLetterRecord) -> uuid.UUID | None:
    """The image a dead-lettered job was processing; None for other actors' jobs."""
    if letter.actor_name != PROCESS_IMAGE_ACTOR or not letter.args:
        return None
    try:
        return uuid.UUID(str(letter.args[0]))
    except ValueError:
        return None


async def _image_dead_lettered(
    session: AsyncSession, letter: dead_letters.DeadLetterRecord
) -> None:
    image_id = image_id_of(letter)
    if image_id is None:
        return
    await session.execute(
        update(ImageRecord)
        .where(ImageRecord.id == image_id, ImageRecord.status.not_in(FINAL_STATUSES))
        .values(
            status="failed",
            error=letter.error or dead_letters.NO_ERROR_KNOWN,
            updated_at=func.now(),
        )
    )


async def _image_redriven(session: AsyncSession, letter: dead_letters.DeadLetterRecord) -> None:
    image_id = image_id_of(letter)
    if image_id is None:
        return
    await session.execute(
        update(ImageRecord)
        .where(ImageRecord.id == image_id, ImageRecord.status == "failed")
        .values(status="queued", error=None, updated_at=func.now())
    )


# Registered for PROCESS_IMAGE_ACTOR by the composition root: a dead job's image is ``failed``
# with the job's last error; a redrive puts it back to ``queued``.
FAILURE_HOOK = dead_letters.FailureHook(
    dead_lettered=_image_dead_lettered, redriven=_image_redriven
)


# --- ingest from storage ("S3 event" path) ----------------------------------------------------


@dataclass(frozen=True)
class IngestReport:
    seen: int
    enqueued: int
    skipped: int


async def ingest_prefix(
    sessions: Sessions,
    sources: ObjectStore,
    send: SendJob,
    config: ThumbnailsConfig,
    prefix: str,
    *,
    on_progress: Callable[[int, int], None] = lambda seen, total: None,
) -> IngestReport:
    """Record and enqueue every source object under ``prefix`` that has no record yet."""
    try:
        validate_prefix(prefix)
    except InvalidObjectKey as error:
        raise InvalidPrefix(str(error)) from None
    objects = await asyncio.to_thread(lambda: list(sources.list(prefix)))
    enqueued = skipped = 0
    for index, item in enumerate(objects, start=1):
        if item.key.startswith(f"{UPLOAD_PREFIX}/"):
            skipped += 1  # uploads are recorded and enqueued when they arrive
        elif await _ingest_one(sessions, send, config, item.key, item.size):
            enqueued += 1
        else:
            skipped += 1
        on_progress(index, len(objects))
    return IngestReport(seen=len(objects), enqueued=enqueued, skipped=skipped)


async def _ingest_one(
    sessions: Sessions, send: SendJob, config: ThumbnailsConfig, key: str, size: int
) -> bool:
    image_id = uuid.uuid4()
    async with unit_of_work(sessions) as session:
        inserted = await session.scalar(
            insert(ImageRecord)
            .values(
                id=image_id,
                source_key=key,
                origin="ingest",
                status="queued",
                sizes=list(config.presets.default),
                source_bytes=size,
                thumbnails={},
                attempts=0,
            )
            .on_conflict_do_nothing(index_elements=["source_key"])
            .returning(ImageRecord.id)
        )
        if inserted is None:
            return False
        await send(config.queue_name, PROCESS_IMAGE_ACTOR, [str(image_id)], {})
    return True


# --- worker use cases -------------------------------------------------------------------------
# Built once, as Core statements on the table with bound parameters, and each run as its own
# transaction (every one is a single conditional UPDATE, atomic by itself): the ORM-enabled
# form (rebuilt each call, run through the ORM's bulk-update machinery, inside BEGIN … COMMIT)
# cost 4.9 ms of the worker's CPU per image for claim + done; these cost 1.6 to 2.0 ms
# (docs/thumbnails.md, Benchmark).

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


def _into_final(status: str, *returning: ColumnElement[Any], **values: Any) -> Update:
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


# --- cursors and pages ------------------------------------------------------------------------


def encode_cursor(at: datetime, row_id: uuid.UUID) -> str:
    raw = orjson.dumps([at.isoformat(), str(row_id)])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        at, row_id = orjson.loads(base64.urlsafe_b64decode(padded.encode()))
        decoded = datetime.fromisoformat(at), uuid.UUID(row_id)
    except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError):
        raise InvalidCursor("the cursor is not one this API returned") from None
    if decoded[0].tzinfo is None:
        raise InvalidCursor("the cursor is not one this API returned")
    return decoded


def _page(
    rows: list[Any], limit: int, position: Callable[[Any], tuple[datetime, uuid.UUID]]
) -> Page:
    if len(rows) <= limit:
        return Page(rows, None)
    last = rows[limit - 1]
    return Page(rows[:limit], encode_cursor(*position(last)))


def _delete_quietly(store: ObjectStore, key: str) -> None:
    try:
        store.delete(key)
    except Exception as exc:  # best effort: an orphaned source object harms nothing
        log.warning("orphan_source_not_deleted", key=key, error=type(exc).__name__)

"""The thumbnails API's use cases: accept an upload, read images and thumbnails, list images
and dead letters. Plain async functions taking their dependencies as arguments.

The worker's side is :mod:`roost.thumbnails.jobs` (statements) and :mod:`roost.thumbnails.tasks`
(the actor); ingest from storage is :mod:`roost.thumbnails.ingest`.

Object storage is blocking (boto3, files): it is called through :func:`call_storage`, in a
thread; a store that fails is the ``storage`` dependency being unavailable (503).
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import dramatiq
import structlog
from sqlalchemy import Select, and_, or_, select

from roost.core.cursors import InvalidCursor, decode_cursor, encode_cursor
from roost.core.errors import DependencyUnavailable
from roost.infra import dead_letters, queue
from roost.infra.db import unit_of_work
from roost.infra.storage import (
    ObjectNotFound,
    ObjectStore,
    StorageError,
    StorageUnavailable,
    join_key,
)
from roost.thumbnails import metrics
from roost.thumbnails.config import SendJob, Sessions, ThumbnailsConfig
from roost.thumbnails.errors import (
    EmptyUpload,
    ImageNotFound,
    InvalidImageId,
    ThumbnailNotFound,
    ThumbnailNotReady,
    UploadTooLarge,
)
from roost.thumbnails.jobs import PROCESS_IMAGE_ACTOR
from roost.thumbnails.models import ImageRecord, ImageStatus

log = structlog.get_logger("roost.thumbnails")

UPLOAD_PREFIX = "uploads"
MAX_PAGE = 200

T = TypeVar("T")


@dataclass(frozen=True)
class Page:
    items: list[Any]
    next_cursor: str | None


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


async def call_storage(call: Callable[[], T]) -> T:
    """``call`` (blocking object-store work) in a thread. A missing object stays
    :class:`ObjectNotFound` for the caller to judge; any other store failure is the storage
    dependency being unavailable (503), logged when it is not a plain outage."""
    try:
        return await asyncio.to_thread(call)
    except ObjectNotFound:
        raise
    except StorageError as error:
        if not isinstance(error, StorageUnavailable):
            log.error("storage_error", error=f"{type(error).__name__}: {error}"[:300])
        raise DependencyUnavailable("storage") from error


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
    :class:`~roost.thumbnails.errors.SourceNotCommitted`).
    """
    sizes = config.presets.choose(requested_sizes)
    check_upload_size(len(data), config.limits.max_bytes)
    image_id = uuid.uuid4()
    source_key = join_key(UPLOAD_PREFIX, str(image_id))
    await call_storage(lambda: sources.put(source_key, data))
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
    sessions: Sessions, *, status: ImageStatus | None, cursor: str | None, limit: int
) -> Page:
    """Newest first, in keyset pages (stable while images are added)."""
    statement = select(ImageRecord)
    if status is not None:
        statement = statement.where(ImageRecord.status == status)
    statement = _newest_first(statement, ImageRecord.created_at, ImageRecord.id, cursor)
    async with unit_of_work(sessions) as session:
        rows = list((await session.scalars(statement.limit(limit + 1))).all())
    return _page(rows, limit, lambda r: (r.created_at, r.id))


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
        data = await call_storage(lambda: outputs.get(entry["key"]))
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


# --- keyset pages -----------------------------------------------------------------------------


def encode_position(at: datetime, row_id: uuid.UUID) -> str:
    """The cursor of a page that ends at the row (``at``, ``row_id``)."""
    return encode_cursor(at.isoformat(), str(row_id))


def decode_position(cursor: str) -> tuple[datetime, uuid.UUID]:
    """The (time, id) a page resumes after; :class:`InvalidCursor` for anything we did not
    issue, a time without its zone included (it would compare against local time)."""
    at, row_id = decode_cursor(cursor, (str, str))
    try:
        decoded = datetime.fromisoformat(at), uuid.UUID(row_id)
    except ValueError:
        raise InvalidCursor() from None
    if decoded[0].tzinfo is None:
        raise InvalidCursor()
    return decoded


def _newest_first(
    statement: Select[Any], time_column: Any, id_column: Any, cursor: str | None
) -> Select[Any]:
    """Keyset order (time, id) descending, resuming after ``cursor``'s row."""
    if cursor is not None:
        after_time, after_id = decode_position(cursor)
        statement = statement.where(
            or_(time_column < after_time, and_(time_column == after_time, id_column < after_id))
        )
    return statement.order_by(time_column.desc(), id_column.desc())


def _page(
    rows: list[Any], limit: int, position: Callable[[Any], tuple[datetime, uuid.UUID]]
) -> Page:
    if len(rows) <= limit:
        return Page(rows, None)
    last = rows[limit - 1]
    return Page(rows[:limit], encode_position(*position(last)))


def _delete_quietly(store: ObjectStore, key: str) -> None:
    try:
        store.delete(key)
    except Exception as exc:  # best effort: an orphaned source object harms nothing
        log.warning("orphan_source_not_deleted", key=key, error=type(exc).__name__)

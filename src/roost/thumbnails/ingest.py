"""Ingest from storage (the "S3 event" path): record and enqueue every source object under a
prefix that has no image record yet (``roost thumbnails ingest PREFIX``)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.dialects.postgresql import insert

from roost.infra.db import unit_of_work
from roost.infra.storage import ObjectStore, validate_prefix
from roost.infra.storage.keys import InvalidObjectKey
from roost.thumbnails.config import SendJob, Sessions, ThumbnailsConfig
from roost.thumbnails.errors import InvalidPrefix
from roost.thumbnails.jobs import PROCESS_IMAGE_ACTOR
from roost.thumbnails.models import ImageRecord
from roost.thumbnails.service import UPLOAD_PREFIX, call_storage


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
    objects = await call_storage(lambda: list(sources.list(prefix)))
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

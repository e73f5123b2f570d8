"""HTTP routes of the thumbnails role: uploads, image status, thumbnails, dead letters.

The dead-letter routes are the platform's: they list and redrive every queue's dead-lettered
jobs (thumbnails and optimizer alike, filterable by ``actor``) from the one store in
:mod:`roost.infra.dead_letters`; the thumbnails role serves them because it is the role with
the database and the broker that operators already reach for them.

Thin by design: parse, call :mod:`roost.thumbnails.service`, answer with the declared response
model. Domain errors carry their own status (:mod:`roost.thumbnails.errors`) and the core
renders them; every bad input is a 4xx JSON envelope.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Literal

import dramatiq
from fastapi import APIRouter, Depends, Header, Path, Query, Request
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.responses import Response

from roost.core.auth import require_scopes
from roost.core.cursors import CursorQuery
from roost.core.errors import ApiError
from roost.core.openapi import error_responses, multipart_upload, uuid_path
from roost.core.responses import etag_matches, json_response
from roost.infra import dead_letters
from roost.infra.dead_letters import DeadLetterRecord
from roost.infra.storage import ObjectStore
from roost.thumbnails import service
from roost.thumbnails.config import SendJob, Sessions, ThumbnailsConfig
from roost.thumbnails.dead_letters import image_id_of
from roost.thumbnails.errors import InvalidDeadLetterId, InvalidImageId, InvalidSizes, InvalidUpload
from roost.thumbnails.models import ImageRecord, ImageStatus
from roost.thumbnails.schemas import (
    DeadLetterOut,
    DeadLetterPage,
    ImageAccepted,
    ImageOut,
    ImagePage,
    RedriveAllOut,
    RedriveOut,
    ThumbnailOut,
    Timings,
)

API_PREFIX = "/api/v1"
# Room for the multipart envelope around the largest accepted file.
MULTIPART_OVERHEAD_BYTES = 1024 * 1024


@dataclass
class ThumbnailsDeps:
    """What the routes need, set on ``app.state.thumbnails`` by the composition root."""

    sessions: Sessions
    sources: ObjectStore
    outputs: ObjectStore
    broker: dramatiq.Broker
    config: ThumbnailsConfig
    # Every actor's failure hook: the dead-letter routes redrive all queues' jobs.
    failure_hooks: dead_letters.FailureHooks = field(default_factory=dict)
    send: SendJob = field(init=False)

    def __post_init__(self) -> None:
        self.send = service.broker_sender(self.broker)


def _deps(request: Request) -> ThumbnailsDeps:
    deps: ThumbnailsDeps = request.app.state.thumbnails
    return deps


def status_url(image_id: object) -> str:
    return f"{API_PREFIX}/images/{image_id}"


def image_out(record: ImageRecord) -> ImageOut:
    def ms(later: datetime | None, earlier: datetime | None) -> float | None:
        if later is None or earlier is None:
            return None
        return round((later - earlier).total_seconds() * 1000, 1)

    url = status_url(record.id)
    thumbnails = {
        size: ThumbnailOut(
            size=size,
            url=f"{url}/thumbnails/{size}",
            width=entry["width"],
            height=entry["height"],
            bytes=entry["bytes"],
            content_type=entry["content_type"],
        )
        for size, entry in (record.thumbnails or {}).items()
    }
    return ImageOut(
        id=record.id,
        status=record.status,
        status_url=url,
        origin=record.origin,
        source_key=record.source_key,
        sizes=list(record.sizes),
        thumbnails=thumbnails,
        content_hash=record.content_hash,
        source_bytes=record.source_bytes,
        source_format=record.source_format,
        width=record.width,
        height=record.height,
        rejection_reason=record.rejection_reason,
        error=record.error,
        attempts=record.attempts,
        created_at=record.created_at,
        started_at=record.started_at,
        finished_at=record.finished_at,
        timings=Timings(
            queued_ms=ms(record.started_at, record.created_at),
            processing_ms=ms(record.finished_at, record.started_at),
            upload_to_ready_ms=(
                ms(record.finished_at, record.created_at) if record.status == "done" else None
            ),
        ),
    )


def dead_letter_out(record: DeadLetterRecord) -> DeadLetterOut:
    return DeadLetterOut(
        id=record.id,
        message_id=record.message_id,
        queue_name=record.queue_name,
        actor_name=record.actor_name,
        args=record.args,
        image_id=image_id_of(record),
        error=record.error,
        attempts=record.attempts,
        dead_at=record.dead_at,
        redriven_at=record.redriven_at,
        redrive_message_id=record.redrive_message_id,
    )


def redrive_out(record: DeadLetterRecord) -> RedriveOut:
    return RedriveOut.model_validate(
        {
            "id": record.id,
            "image_id": image_id_of(record),
            "actor_name": record.actor_name,
            "redrive_message_id": record.redrive_message_id,
        }
    )


router = APIRouter(prefix=f"{API_PREFIX}/images", tags=["thumbnails"])

ImageIdPath = Annotated[str, uuid_path("The image's id (a UUID; anything else is 400)")]
PageLimit = Annotated[int, Query(ge=1, le=service.MAX_PAGE)]


@router.post(
    "",
    status_code=202,
    response_model=ImageAccepted,
    summary="Upload an image (multipart field 'file', optional 'sizes' like '150,300x300')",
    responses=error_responses(400, 415, 422),
    openapi_extra=multipart_upload(sizes={"type": "string", "example": "150,300,600"}),
)
async def upload_image(
    request: Request,
    sizes: Annotated[str | None, Query(max_length=200, description="e.g. 150,300x300")] = None,
) -> Response:
    deps = _deps(request)
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "multipart/form-data":
        raise ApiError(
            415,
            "unsupported_media_type",
            "send the image as multipart/form-data with a 'file' field",
        )
    data, form_sizes = await _read_upload(request, deps.config.limits.max_bytes)
    record = await service.accept_upload(
        deps.sessions, deps.sources, deps.send, deps.config, data, form_sizes or sizes
    )
    body = ImageAccepted.model_validate(
        {
            "id": record.id,
            "status": record.status,
            "status_url": status_url(record.id),
            "sizes": list(record.sizes),
            "source_bytes": record.source_bytes,
            "content_hash": record.content_hash,
        }
    )
    return json_response(body, 202, headers={"Location": status_url(record.id)})


async def _read_upload(request: Request, max_bytes: int) -> tuple[bytes, str | None]:
    try:
        form = await request.form(max_files=1, max_fields=8, max_part_size=64 * 1024)
    except HTTPException as exc:
        if exc.status_code == 413:
            raise
        raise InvalidUpload(f"malformed multipart body: {exc.detail}") from None
    try:
        if unknown := sorted(set(form.keys()) - {"file", "sizes"}):
            raise InvalidUpload(f"unknown form fields {unknown[:3]}: send 'file' and 'sizes'")
        upload = form.get("file")
        if upload is None:
            raise InvalidUpload("the multipart body has no 'file' field")
        if not isinstance(upload, UploadFile):
            raise InvalidUpload("'file' must be a file part (with a filename), not a text field")
        data = await upload.read(max_bytes + 1)
        sizes = form.get("sizes")
        if sizes is not None and not isinstance(sizes, str):
            raise InvalidSizes("'sizes' must be a text field like '150,300'")
    finally:
        await form.close()
    service.check_upload_size(len(data), max_bytes)
    return data, sizes


@router.get(
    "",
    response_model=ImagePage,
    summary="List images, newest first",
    responses=error_responses(400),
)
async def list_images(
    request: Request,
    status: Annotated[ImageStatus | None, Query()] = None,
    cursor: CursorQuery = None,
    limit: PageLimit = 50,
) -> Response:
    deps = _deps(request)
    page = await service.list_images(deps.sessions, status=status, cursor=cursor, limit=limit)
    items = [image_out(r) for r in page.items]
    return json_response(ImagePage(items=items, next_cursor=page.next_cursor))


@router.get(
    "/{image_id}",
    response_model=ImageOut,
    summary="One image: status, sizes, timings",
    responses=error_responses(400, 404),
)
async def get_image(request: Request, image_id: ImageIdPath) -> Response:
    deps = _deps(request)
    record = await service.get_image(deps.sessions, service.parse_image_id(image_id))
    return json_response(image_out(record), headers={"Cache-Control": "no-cache"})


@router.get(
    "/{image_id}/thumbnails/{size}",
    summary="A thumbnail's bytes (ETag, 304 on If-None-Match)",
    response_class=Response,
    responses={
        200: {"content": {"image/jpeg": {}, "image/webp": {}}},
        304: {"description": "Not modified (If-None-Match)"},
        **error_responses(400, 404, 409),
    },
)
async def get_thumbnail(
    request: Request,
    image_id: ImageIdPath,
    size: Annotated[str, Path(max_length=32)],
    if_none_match: Annotated[str | None, Header(max_length=1024)] = None,
) -> Response:
    deps = _deps(request)
    record = await service.get_image(deps.sessions, service.parse_image_id(image_id))
    entry = service.thumbnail_entry(record, size)
    etag = f'"{entry["etag"]}"'
    headers = {"ETag": etag, "Cache-Control": f"public, max-age={deps.config.cache_seconds}"}
    if etag_matches(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    thumbnail = await service.read_thumbnail(deps.outputs, entry)
    return Response(thumbnail.data, media_type=thumbnail.content_type, headers=headers)


admin = APIRouter(
    prefix=f"{API_PREFIX}/dead-letters",
    tags=["thumbnails", "admin"],
    dependencies=[Depends(require_scopes("admin"))],
)


@admin.get(
    "",
    response_model=DeadLetterPage,
    summary="Dead-lettered jobs, newest first",
    responses=error_responses(400),
)
async def list_dead_letters(
    request: Request,
    state: Annotated[Literal["pending", "redriven", "all"], Query()] = "pending",
    cursor: CursorQuery = None,
    limit: PageLimit = 50,
    actor: Annotated[
        str | None, Query(max_length=128, description="Only this actor's jobs (default: all)")
    ] = None,
) -> Response:
    deps = _deps(request)
    page = await service.list_dead_letters(
        deps.sessions, state=state, cursor=cursor, limit=limit, actor=actor
    )
    items = [dead_letter_out(r) for r in page.items]
    return json_response(DeadLetterPage(items=items, next_cursor=page.next_cursor))


@admin.post("/redrive-all", response_model=RedriveAllOut, summary="Redrive every pending job")
async def redrive_all(
    request: Request,
    actor: Annotated[
        str | None, Query(max_length=128, description="Only this actor's jobs (default: all)")
    ] = None,
) -> Response:
    deps = _deps(request)
    records = await dead_letters.redrive_all(
        deps.sessions, deps.failure_hooks, deps.send, actor=actor
    )
    items = [redrive_out(r) for r in records]
    return json_response(RedriveAllOut(redriven=len(records), items=items))


@admin.post(
    "/{dead_letter_id}/redrive",
    status_code=202,
    response_model=RedriveOut,
    summary="Enqueue one dead-lettered job again",
    responses=error_responses(400, 404, 409),
)
async def redrive(
    request: Request,
    dead_letter_id: Annotated[str, uuid_path()],
) -> Response:
    deps = _deps(request)
    try:
        parsed = service.parse_image_id(dead_letter_id)
    except InvalidImageId:
        raise InvalidDeadLetterId("a dead letter id is a UUID") from None
    record = await dead_letters.redrive(deps.sessions, deps.failure_hooks, deps.send, parsed)
    return json_response(redrive_out(record), 202)

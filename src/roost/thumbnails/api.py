"""HTTP routes of the thumbnails role: uploads, image status, thumbnails, dead letters.

The dead-letter routes are the platform's: they list and redrive every queue's dead-lettered
jobs (thumbnails and optimizer alike, filterable by ``actor``) from the one store in
:mod:`roost.infra.dead_letters`; the thumbnails role serves them because it is the role with
the database and the broker that operators already reach for them.

Thin by design: parse, call :mod:`roost.thumbnails.service`, map domain errors to HTTP in one
place (:func:`install_error_handlers`). Every bad input is a 4xx JSON envelope.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Literal

import dramatiq
import orjson
import structlog
from fastapi import APIRouter, Depends, FastAPI, Header, Path, Query, Request
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.responses import Response

from roost.core.auth import require_scopes
from roost.core.errors import ApiError, DependencyUnavailable, DomainError, error_response
from roost.core.openapi import UUID_PATTERN, error_responses, multipart_upload
from roost.infra import dead_letters
from roost.infra.dead_letters import AlreadyRedriven, DeadLetterNotFound, DeadLetterRecord
from roost.infra.storage import InvalidObjectKey, ObjectStore, StorageError, StorageUnavailable
from roost.thumbnails import service
from roost.thumbnails.errors import (
    EmptyUpload,
    ImageNotFound,
    InvalidCursor,
    InvalidImageId,
    InvalidPrefix,
    InvalidSizes,
    InvalidUpload,
    ThumbnailNotFound,
    ThumbnailNotReady,
    ThumbnailsError,
    UploadTooLarge,
)
from roost.thumbnails.models import ImageRecord
from roost.thumbnails.schemas import (
    DeadLetterPage,
    ImageAccepted,
    ImageOut,
    ImagePage,
    RedriveAllOut,
    RedriveOut,
)
from roost.thumbnails.service import Sessions, ThumbnailsConfig

log = structlog.get_logger("roost.thumbnails.api")

API_PREFIX = "/api/v1"
# Room for the multipart envelope around the largest accepted file.
MULTIPART_OVERHEAD_BYTES = 1024 * 1024

_STATUS: dict[type[DomainError], int] = {
    EmptyUpload: 400,
    UploadTooLarge: 413,
    InvalidUpload: 400,
    InvalidSizes: 422,
    InvalidImageId: 400,
    InvalidCursor: 400,
    InvalidPrefix: 400,
    ImageNotFound: 404,
    ThumbnailNotFound: 404,
    DeadLetterNotFound: 404,
    ThumbnailNotReady: 409,
    AlreadyRedriven: 409,
}


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
    send: service.SendJob = field(init=False)

    def __post_init__(self) -> None:
        self.send = service.broker_sender(self.broker)


def to_api_error(error: DomainError) -> ApiError:
    status = next((s for cls, s in _STATUS.items() if isinstance(error, cls)), 400)
    details = {"status": error.status} if isinstance(error, ThumbnailNotReady) else None
    return ApiError(status, error.code, error.message, details=details)


def install_error_handlers(app: FastAPI) -> None:
    async def domain_error(_: Request, error: Exception) -> Response:
        assert isinstance(error, DomainError)
        api_error = to_api_error(error)
        return error_response(
            api_error.status_code, api_error.code, api_error.message, details=api_error.details
        )

    async def storage_error(_: Request, error: Exception) -> Response:
        if isinstance(error, InvalidObjectKey):
            return error_response(400, error.code, str(error))
        if not isinstance(error, StorageUnavailable):
            log.error("storage_error", error=f"{type(error).__name__}: {error}"[:300])
        unavailable = DependencyUnavailable("storage")
        return error_response(
            unavailable.status_code,
            unavailable.code,
            unavailable.message,
            headers=unavailable.headers,
            details=unavailable.details,
        )

    app.add_exception_handler(ThumbnailsError, domain_error)
    app.add_exception_handler(dead_letters.DeadLetterError, domain_error)
    app.add_exception_handler(StorageError, storage_error)
    app.add_exception_handler(InvalidObjectKey, storage_error)


def _deps(request: Request) -> ThumbnailsDeps:
    deps: ThumbnailsDeps = request.app.state.thumbnails
    return deps


def _json(body: Any, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(body), status_code=status_code, media_type="application/json", headers=headers
    )


def status_url(image_id: object) -> str:
    return f"{API_PREFIX}/images/{image_id}"


def image_json(record: ImageRecord) -> dict[str, Any]:
    def ms(later: datetime | None, earlier: datetime | None) -> float | None:
        if later is None or earlier is None:
            return None
        return round((later - earlier).total_seconds() * 1000, 1)

    url = status_url(record.id)
    thumbnails = {
        size: {
            "size": size,
            "url": f"{url}/thumbnails/{size}",
            "width": entry["width"],
            "height": entry["height"],
            "bytes": entry["bytes"],
            "content_type": entry["content_type"],
        }
        for size, entry in (record.thumbnails or {}).items()
    }
    return {
        "id": str(record.id),
        "status": record.status,
        "status_url": url,
        "origin": record.origin,
        "source_key": record.source_key,
        "sizes": list(record.sizes),
        "thumbnails": thumbnails,
        "content_hash": record.content_hash,
        "source_bytes": record.source_bytes,
        "source_format": record.source_format,
        "width": record.width,
        "height": record.height,
        "rejection_reason": record.rejection_reason,
        "error": record.error,
        "attempts": record.attempts,
        "created_at": _iso(record.created_at),
        "started_at": _iso(record.started_at),
        "finished_at": _iso(record.finished_at),
        "timings": {
            "queued_ms": ms(record.started_at, record.created_at),
            "processing_ms": ms(record.finished_at, record.started_at),
            "upload_to_ready_ms": (
                ms(record.finished_at, record.created_at) if record.status == "done" else None
            ),
        },
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _str_or_none(value: object | None) -> str | None:
    return str(value) if value is not None else None


def dead_letter_json(record: DeadLetterRecord) -> dict[str, Any]:
    return {
        "id": str(record.id),
        "message_id": record.message_id,
        "queue_name": record.queue_name,
        "actor_name": record.actor_name,
        "args": record.args,
        "image_id": _str_or_none(service.image_id_of(record)),
        "error": record.error,
        "attempts": record.attempts,
        "dead_at": _iso(record.dead_at),
        "redriven_at": _iso(record.redriven_at),
        "redrive_message_id": record.redrive_message_id,
    }


def redrive_json(record: DeadLetterRecord) -> dict[str, Any]:
    return {
        "id": str(record.id),
        "image_id": _str_or_none(service.image_id_of(record)),
        "actor_name": record.actor_name,
        "redrive_message_id": record.redrive_message_id,
    }


router = APIRouter(prefix=f"{API_PREFIX}/images", tags=["thumbnails"])

ImageIdPath = Annotated[
    str,
    Path(
        max_length=64,
        description="The image's id (a UUID; anything else is 400)",
        json_schema_extra={"pattern": UUID_PATTERN},
    ),
]


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
    body = {
        "id": str(record.id),
        "status": record.status,
        "status_url": status_url(record.id),
        "sizes": list(record.sizes),
        "source_bytes": record.source_bytes,
        "content_hash": record.content_hash,
    }
    return _json(body, 202, headers={"Location": status_url(record.id)})


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
    status: Annotated[
        Literal["queued", "processing", "done", "rejected", "failed"] | None, Query()
    ] = None,
    cursor: Annotated[str | None, Query(max_length=300)] = None,
    limit: Annotated[int, Query(ge=1, le=service.MAX_PAGE)] = 50,
) -> Response:
    deps = _deps(request)
    page = await service.list_images(deps.sessions, status=status, cursor=cursor, limit=limit)
    return _json({"items": [image_json(r) for r in page.items], "next_cursor": page.next_cursor})


@router.get(
    "/{image_id}",
    response_model=ImageOut,
    summary="One image: status, sizes, timings",
    responses=error_responses(400, 404),
)
async def get_image(request: Request, image_id: ImageIdPath) -> Response:
    deps = _deps(request)
    record = await service.get_image(deps.sessions, service.parse_image_id(image_id))
    return _json(image_json(record), headers={"Cache-Control": "no-cache"})


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
    if if_none_match is not None and _etag_matches(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    thumbnail = await service.read_thumbnail(deps.outputs, entry)
    return Response(thumbnail.data, media_type=thumbnail.content_type, headers=headers)


def _etag_matches(header: str, etag: str) -> bool:
    candidates = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return "*" in candidates or etag in candidates


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
    cursor: Annotated[str | None, Query(max_length=300)] = None,
    limit: Annotated[int, Query(ge=1, le=service.MAX_PAGE)] = 50,
    actor: Annotated[
        str | None, Query(max_length=128, description="Only this actor's jobs (default: all)")
    ] = None,
) -> Response:
    deps = _deps(request)
    page = await service.list_dead_letters(
        deps.sessions, state=state, cursor=cursor, limit=limit, actor=actor
    )
    items = [dead_letter_json(r) for r in page.items]
    return _json({"items": items, "next_cursor": page.next_cursor})


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
    return _json({"redriven": len(records), "items": [redrive_json(r) for r in records]})


@admin.post(
    "/{dead_letter_id}/redrive",
    status_code=202,
    response_model=RedriveOut,
    summary="Enqueue one dead-lettered job again",
    responses=error_responses(400, 404, 409),
)
async def redrive(
    request: Request,
    dead_letter_id: Annotated[
        str, Path(max_length=64, json_schema_extra={"pattern": UUID_PATTERN})
    ],
) -> Response:
    deps = _deps(request)
    try:
        parsed = service.parse_image_id(dead_letter_id)
    except InvalidImageId:
        raise ApiError(400, "invalid_dead_letter_id", "a dead letter id is a UUID") from None
    record = await dead_letters.redrive(deps.sessions, deps.failure_hooks, deps.send, parsed)
    return _json(redrive_json(record), 202)

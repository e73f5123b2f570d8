"""HTTP routes of the bird catalog (role ``birds``, port 4201).

Thin by design: parse, call :mod:`roost.birds.service`, answer with the declared response
model; domain errors carry their own status (:mod:`roost.birds.errors`). Reading is open; creating,
replacing, deleting a bird and uploading its photo need the ``admin`` scope (API key or JWT).
Every bird carries an image; when the bird image service cannot give one in time the bird
still comes back, with this API's placeholder and ``"image_status": "unavailable"``.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urljoin

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.responses import Response

from roost.birds import service
from roost.birds.errors import InvalidPhotoUpload, PhotoTooLarge
from roost.birds.image_lookup import BirdImage
from roost.birds.models import BirdRow
from roost.birds.paging import MAX_SLUG_CHARS, SLUG_PATTERN
from roost.birds.photos import Photo
from roost.birds.placeholder import placeholder_svg
from roost.birds.schemas import BirdIn, BirdOut, BirdPage, ClassicBird, ImageOut
from roost.core.auth import ADMIN_SCOPE, require_scopes
from roost.core.cursors import CursorQuery
from roost.core.errors import ApiError
from roost.core.openapi import UUID_PATTERN, error_responses, multipart_upload, uuid_path
from roost.core.responses import json_response

PREFIX = "/api/v1/birds"
MAX_PAGE = 100
# Multipart framing around the photo bytes (boundaries, part headers).
MULTIPART_OVERHEAD_BYTES = 64 * 1024

admin = [Depends(require_scopes(ADMIN_SCOPE))]
# What the domain accepts as a bird's id or slug (paging.is_slug); documented, not enforced
# here, so that anything else keeps the domain's 400 invalid_bird_id.
IDENTIFIER_SCHEMA = {"maxLength": MAX_SLUG_CHARS, "pattern": f"{UUID_PATTERN}|{SLUG_PATTERN}"}
IdentifierPath = Annotated[
    str,
    Path(
        max_length=100,
        description="A bird's id (UUID) or slug",
        json_schema_extra=IDENTIFIER_SCHEMA,
    ),
]
BirdIdPath = Annotated[str, uuid_path("A bird's id (a UUID)")]
ExcludeQuery = Annotated[
    str | None,
    Query(
        max_length=100,
        description="Id or slug of the bird not to return (empty: none)",
        json_schema_extra={**IDENTIFIER_SCHEMA, "pattern": f"{IDENTIFIER_SCHEMA['pattern']}|^$"},
    ),
]

router = APIRouter(tags=["birds"])


def bird_out(row: BirdRow, image: BirdImage) -> BirdOut:
    return BirdOut(
        id=str(row.id),
        slug=row.slug,
        name=row.common_name,
        scientific_name=row.scientific_name,
        description=row.description,
        region=row.region,
        image=ImageOut.model_validate(image.as_dict()),
        image_status="ok" if image.available else "unavailable",
        photo_id=row.image_ref,
        created_at=row.created_at.isoformat(),
        updated_at=row.updated_at.isoformat(),
    )


def _deps(request: Request) -> service.BirdsDeps:
    deps: service.BirdsDeps = request.app.state.birds
    return deps


async def _one(request: Request, row: BirdRow, status_code: int = 200) -> Response:
    image = await _deps(request).images.image_for(row.slug, row.image_ref)
    return json_response(bird_out(row, image), status_code)


# A random bird must be new on every call, for browsers and proxies alike.
_NO_STORE = {"Cache-Control": "no-store"}


@router.get("/", response_model=ClassicBird, summary="One random bird (the original API)")
async def classic_random_bird(request: Request) -> Response:
    deps = _deps(request)
    row = await service.random_bird(deps.sessions)
    image = await deps.images.image_for(row.slug, row.image_ref)
    # The original API's clients expect absolute URLs: our placeholder lives here, a path from
    # the image service lives there.
    base = str(request.base_url) if not image.available else deps.images.base_url
    url = urljoin(base, image.url)
    body = ClassicBird(name=row.common_name, description=row.description, image=url)
    return json_response(body, headers=_NO_STORE)


@router.get(
    f"{PREFIX}/random",
    response_model=BirdOut,
    summary="A random bird, never `exclude`",
    responses=error_responses(400, 404),
)
async def get_random_bird(request: Request, exclude: ExcludeQuery = None) -> Response:
    deps = _deps(request)
    row = await service.random_bird(deps.sessions, exclude)
    image = await deps.images.image_for(row.slug, row.image_ref)
    return json_response(bird_out(row, image), headers=_NO_STORE)


@router.get(
    PREFIX,
    response_model=BirdPage,
    summary="Birds by slug; `q` searches the names",
    responses=error_responses(400),
)
async def list_birds(
    request: Request,
    cursor: CursorQuery = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 20,
    q: Annotated[
        str | None,
        Query(max_length=100, pattern=r"^[^\x00-\x1f\x7f-\x9f]*$", description="Part of a name"),
    ] = None,
) -> Response:
    deps = _deps(request)
    query = q.strip() if q else None
    page = await service.list_birds(deps.sessions, limit=limit, cursor=cursor, query=query)
    images = await service.with_images(deps.images, page.items)
    items = [bird_out(row, image) for row, image in zip(page.items, images, strict=True)]
    return json_response(BirdPage(items=items, next_cursor=page.next_cursor))


@router.post(
    PREFIX,
    dependencies=admin,
    status_code=201,
    response_model=BirdOut,
    summary="Add a bird",
    responses=error_responses(409, 422),
)
async def create_bird(request: Request, body: BirdIn) -> Response:
    row = await service.create_bird(_deps(request).sessions, body)
    response = await _one(request, row, 201)
    response.headers["Location"] = f"{PREFIX}/{row.id}"
    return response


@router.api_route(f"{PREFIX}/random", methods=["PUT", "DELETE"], include_in_schema=False)
async def random_is_read_only() -> Response:
    """``random`` is no bird id: without this, PUT and DELETE of it reached the by-id routes."""
    raise ApiError(405, "method_not_allowed", "the random bird is read-only", headers=_GET_ONLY)


_GET_ONLY = {"Allow": "GET, HEAD"}


@router.get(
    f"{PREFIX}/{{identifier}}/placeholder.svg",
    summary="The bird's placeholder picture",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}}, **error_responses(400, 404)},
)
async def bird_placeholder(request: Request, identifier: IdentifierPath) -> Response:
    row = await service.find_bird(_deps(request).sessions, identifier)
    return Response(
        placeholder_svg(row.common_name),
        media_type="image/svg+xml",
        headers={"Cache-Control": "public, max-age=86400"},
    )


@router.get(
    f"{PREFIX}/{{identifier}}",
    response_model=BirdOut,
    summary="A bird by id or slug",
    responses=error_responses(400, 404),
)
async def get_bird(request: Request, identifier: IdentifierPath) -> Response:
    row = await service.find_bird(_deps(request).sessions, identifier)
    return await _one(request, row)


@router.put(
    f"{PREFIX}/{{identifier}}",
    dependencies=admin,
    response_model=BirdOut,
    summary="Replace a bird (by id)",
    responses=error_responses(400, 404, 409, 422),
)
async def replace_bird(request: Request, identifier: BirdIdPath, body: BirdIn) -> Response:
    row = await service.replace_bird(_deps(request).sessions, identifier, body)
    return await _one(request, row)


@router.delete(
    f"{PREFIX}/{{identifier}}",
    dependencies=admin,
    status_code=204,
    summary="Delete a bird (by id)",
    responses=error_responses(400, 404),
)
async def delete_bird(request: Request, identifier: BirdIdPath) -> Response:
    await service.delete_bird(_deps(request).sessions, identifier)
    return Response(status_code=204)


@router.post(
    f"{PREFIX}/{{bird_id}}/photo",
    dependencies=admin,
    response_model=BirdOut,
    summary="Upload the bird's photo (multipart field 'file') through the thumbnails pipeline",
    responses=error_responses(400, 404, 413, 415, 422, 502),
    openapi_extra=multipart_upload(),
)
async def upload_photo(request: Request, bird_id: BirdIdPath) -> Response:
    deps = _deps(request)
    photo = await _read_photo(request, deps.max_photo_bytes)
    row = await service.attach_photo(deps.sessions, deps.photos, bird_id, photo)
    return await _one(request, row)


async def _read_photo(request: Request, max_bytes: int) -> Photo:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "multipart/form-data":
        raise ApiError(
            415, "unsupported_media_type", "send the photo as multipart/form-data, field 'file'"
        )
    try:
        form = await request.form(max_files=1, max_fields=4, max_part_size=64 * 1024)
    except HTTPException as exc:
        raise InvalidPhotoUpload(f"malformed multipart body: {exc.detail}") from None
    try:
        if unknown := sorted(set(form.keys()) - {"file"}):
            message = f"unknown form fields {unknown[:3]}: send the photo as 'file' only"
            raise InvalidPhotoUpload(message)
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidPhotoUpload("the multipart body has no 'file' file part")
        content = await upload.read(max_bytes + 1)
        filename = (upload.filename or "photo")[:200]
        content_type = upload.content_type or "application/octet-stream"
    finally:
        await form.close()
    if not content:
        raise InvalidPhotoUpload("the photo is empty")
    if len(content) > max_bytes:
        raise PhotoTooLarge(f"the photo is over {max_bytes} bytes")
    return Photo(filename, content, content_type)

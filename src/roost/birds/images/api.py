"""HTTP routes of the bird image service: the image lookup (ours and the original clients'
``GET /?birdName=``) and the ``/media`` files. Domain errors carry their own status
(:mod:`roost.birds.images.errors`) and the core renders them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import urljoin

import orjson
from fastapi import APIRouter, Header, Path, Query, Request
from starlette.responses import Response

from roost.birds.images.errors import ImageNotFound, InvalidBirdName, InvalidPhotoId
from roost.birds.images.media import (
    IMMUTABLE,
    MediaFile,
    placeholder_file,
    placeholder_url,
    slug_of_file,
)
from roost.birds.images.names import parse_bird_name
from roost.birds.images.service import ImageSources, read_stored_photo, resolve_image
from roost.birds.images.uploads import PHOTO_SIZE, parse_photo_id
from roost.core.openapi import UUID_PATTERN, documented_path, error_responses
from roost.core.responses import etag_matches
from roost.core.routing import READ_METHODS, Endpoint, route_per_method

router = APIRouter()
# The birds API asks again at most this often for the same bird through a shared cache.
ANSWER_CACHE_CONTROL = "public, max-age=60"
PLACEHOLDER_CACHE_CONTROL = "public, max-age=86400"
IfNoneMatch = Annotated[str | None, Header(max_length=1024)]


def sources_of(request: Request) -> ImageSources:
    sources: ImageSources = request.app.state.bird_images
    return sources


PhotoIdQuery = Annotated[
    str | None,
    Query(
        max_length=64,
        description="The bird's photo in the thumbnails pipeline (a UUID)",
        json_schema_extra={"pattern": UUID_PATTERN},
    ),
]
# What parse_bird_name accepts, whitespace runs included (it collapses them). It also needs a
# Latin letter or digit for the slug, which this pattern cannot say: such a name is 400.
BIRD_NAME_PATTERN = r"^\s*[^\W_]+(?:[\s'\u2019.-]+[^\W_]+)*[.]?\s*$"
BirdNamePath = Annotated[
    str, documented_path("A bird's name or slug, e.g. Northern Cardinal", BIRD_NAME_PATTERN)
]


def media_file(suffix: str) -> Any:
    """A media file name: a slug and ``suffix`` (slug_of_file); anything else is 404."""
    pattern = rf"^[a-z0-9]+(?:-[a-z0-9]+)*\{suffix}$"
    return Path(json_schema_extra={"pattern": pattern, "maxLength": 100 + len(suffix)})


def media_route(path: str, summary: str, *content_types: str) -> Callable[[Endpoint], Endpoint]:
    """A ``/media`` file: GET and HEAD, the bytes in one of ``content_types``, 304 on a matching
    If-None-Match, 404 for an unknown file."""
    responses: dict[int | str, dict[str, Any]] = {
        200: {"content": {content_type: {} for content_type in content_types}},
        304: {"description": "Not modified (If-None-Match)"},
        **error_responses(404),
    }
    return route_per_method(
        router,
        path,
        methods=READ_METHODS,
        summary=summary,
        response_class=Response,
        responses=responses,
    )


# The one error envelope (roost.core.errors), for the statuses this route can answer.
_ENVELOPE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "request_id"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "request_id": {"type": ["string", "null"]},
                "details": {},
            },
        }
    },
}
# The original clients read the body as one JSON string: the image URL, absolute.
CLASSIC_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The image URL as a JSON string; the placeholder's for an unknown name",
        "content": {"application/json": {"schema": {"type": "string", "format": "uri"}}},
    },
    422: {
        "description": "`birdName` longer than 1024 characters",
        "content": {"application/json": {"schema": _ENVELOPE_SCHEMA}},
    },
    503: {
        "description": "Maintenance mode: every API route answers 503 with Retry-After",
        "content": {"application/json": {"schema": _ENVELOPE_SCHEMA}},
    },
}
# What an empty or malformed name gets: a placeholder reading "Unknown bird".
UNKNOWN_BIRD_SLUG = "unknown-bird"
ClassicNameQuery = Annotated[
    str | None,
    Query(alias="birdName", max_length=1024, description="The bird's name, e.g. Northern Cardinal"),
]


@router.get(
    "/",
    summary="A bird's image URL as a JSON string (the original clients' contract)",
    response_model=str,
    responses=CLASSIC_RESPONSES,
)
async def classic_image_url(request: Request, bird_name: ClassicNameQuery = None) -> Response:
    try:
        bird = parse_bird_name(bird_name or "")
    except InvalidBirdName:
        url, cache_control = placeholder_url(UNKNOWN_BIRD_SLUG), PLACEHOLDER_CACHE_CONTROL
    else:
        url = (await resolve_image(sources_of(request), bird)).url
        cache_control = ANSWER_CACHE_CONTROL
    headers = {"Cache-Control": cache_control}
    if request.app.state.settings.bird_images_public_url is None:
        # The URL's origin then comes from the request: a shared cache must key on its scheme.
        headers["Vary"] = "X-Forwarded-Proto"
    return Response(
        orjson.dumps(urljoin(_public_origin(request), url)),
        media_type="application/json",
        headers=headers,
    )


@router.get(
    "/api/v1/images/{name}",
    summary="The picture to show for a bird",
    responses=error_responses(400),
)
async def image_for_bird(
    name: BirdNamePath, request: Request, photo_id: PhotoIdQuery = None
) -> Response:
    bird = parse_bird_name(name)
    photo = parse_photo_id(photo_id) if photo_id is not None else None
    answer = await resolve_image(sources_of(request), bird, photo)
    return Response(
        answer.to_json(),
        media_type="application/json",
        headers={"Cache-Control": ANSWER_CACHE_CONTROL},
    )


@media_route("/media/{filename}", "A bundled illustration", "image/jpeg")
async def bundled_photo(
    filename: Annotated[str, media_file(".jpg")],
    request: Request,
    v: str | None = None,
    if_none_match: IfNoneMatch = None,
) -> Response:
    slug = slug_of_file(filename, ".jpg")
    found = sources_of(request).bundled.get(slug) if slug else None
    if found is None:
        raise ImageNotFound()
    # Only the URL naming the current version is immutable; an old or bare one revalidates.
    cache = IMMUTABLE if v == found.version else "public, max-age=3600, must-revalidate"
    return _media_response(found, cache, if_none_match)


@media_route("/media/placeholder/{filename}", "A bird's placeholder", "image/svg+xml")
async def placeholder(
    filename: Annotated[str, media_file(".svg")], if_none_match: IfNoneMatch = None
) -> Response:
    slug = slug_of_file(filename, ".svg")
    if slug is None:
        raise ImageNotFound()
    return _media_response(placeholder_file(slug), PLACEHOLDER_CACHE_CONTROL, if_none_match)


@media_route("/media/photos/{filename}", "A photo from the object store", "image/jpeg")
async def stored_photo(
    filename: Annotated[str, media_file(".jpg")],
    request: Request,
    if_none_match: IfNoneMatch = None,
) -> Response:
    slug = slug_of_file(filename, ".jpg")
    store = sources_of(request).store
    if slug is None or store is None:
        raise ImageNotFound()
    found = await read_stored_photo(store, slug)
    if found is None:
        raise ImageNotFound()
    cache = f"public, max-age={request.app.state.settings.bird_image_cache_seconds}"
    return _media_response(found, cache, if_none_match)


@media_route(
    "/media/photos/{photo_id}/{size}",
    "An uploaded photo, as the thumbnails pipeline made it",
    "image/jpeg",
    "image/webp",
)
async def uploaded_photo(
    photo_id: str, size: str, request: Request, if_none_match: IfNoneMatch = None
) -> Response:
    uploads = sources_of(request).uploads
    try:
        photo = parse_photo_id(photo_id)
    except InvalidPhotoId:
        # In a path, an id that cannot exist names no file: 404, as any other unknown file.
        raise ImageNotFound() from None
    if size != PHOTO_SIZE or uploads is None:
        raise ImageNotFound()
    fetched = await uploads.fetch(photo, if_none_match)
    # One id is one upload: its thumbnail never changes, so browsers may keep it for good.
    headers = {"Cache-Control": IMMUTABLE}
    if fetched.etag is not None:
        headers["ETag"] = fetched.etag
    if fetched.status == 304:
        return Response(status_code=304, headers=headers)
    return Response(fetched.data, media_type=fetched.content_type, headers=headers)


def _public_origin(request: Request) -> str:
    """Where clients reach ``/media``: the configured origin, else the request's own (its
    scheme from X-Forwarded-Proto when a trusted proxy terminated TLS)."""
    configured: str | None = request.app.state.settings.bird_images_public_url
    return (configured + "/") if configured is not None else str(request.base_url)


def _media_response(found: MediaFile, cache_control: str, if_none_match: str | None) -> Response:
    headers = {"ETag": found.etag, "Cache-Control": cache_control}
    if etag_matches(if_none_match, found.etag):
        return Response(status_code=304, headers=headers)
    return Response(found.data, media_type=found.content_type, headers=headers)

"""HTTP routes of the key-value service: the classic contract and the ``/api/v1/kv`` API.

Thin by design: parse, call :mod:`roost.kv.service`, answer; domain errors carry their own
status (:mod:`roost.kv.errors`) and the core renders them. The classic routes skip FastAPI's
dependency solving: they are the benchmarked hot path.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Header, Path, Query, Request
from starlette.responses import Response

from roost.core.cursors import CursorQuery
from roost.core.errors import ApiError
from roost.core.openapi import error_responses
from roost.core.responses import json_response
from roost.core.routing import DirectRoute
from roost.infra.redis import AutoPipeline
from roost.kv import service
from roost.kv.errors import PreconditionFailed, VersionConflict
from roost.kv.keys import KEY_PATTERN, MAX_KEY_CHARS
from roost.kv.schemas import EntryOut, KeyName, KeyPage, PutValue
from roost.kv.service import KVConfig


def _deps(request: Request) -> tuple[AutoPipeline, KVConfig]:
    state = request.app.state
    return state.kv_commands, state.kv_config


def etag(version: int) -> str:
    return f'"{version}"'


# An ETag this API returns ("7"), weak or bare; the schema documents the same pattern.
ETAG_PATTERN = r'^(W/)?"[0-9]{1,18}"$|^[0-9]{1,18}$'
_ETAG = re.compile(ETAG_PATTERN)


def parse_etag(header: str) -> int:
    found = _ETAG.match(header.strip())
    if found is None:
        raise ApiError(400, "invalid_etag", "If-Match must be an ETag this API returned")
    return int(found.group(0).removeprefix("W/").strip('"'))


# Documented only: the domain checks keys (400 invalid_key), so both routes agree.
KeyPath = Annotated[
    str,
    Path(
        description=f"1 to {MAX_KEY_CHARS} characters, no control characters and no '/'",
        json_schema_extra={"minLength": 1, "maxLength": MAX_KEY_CHARS, "pattern": KEY_PATTERN},
    ),
]
IfMatch = Annotated[
    str | None,
    Header(
        description="Write only if the key's current ETag is this one (412 otherwise)",
        json_schema_extra={"pattern": ETAG_PATTERN},
    ),
]


# The classic contract is the benchmarked hot path and takes only the request, the key and a
# query value: DirectRoute calls it without FastAPI's dependency solver (roost.core.routing).
router = APIRouter(tags=["kv"], route_class=DirectRoute)


@router.get("/", summary="Service banner with the value of example_key")
async def root(request: Request) -> Response:
    redis, config = _deps(request)
    value = await service.find_value(redis, config, "example_key")
    return json_response({"message": "Roost key-value service", "example_key": value})


@router.post(
    "/write/{key}",
    summary="Classic write: set key to a string value",
    responses=error_responses(400, 413),
)
async def classic_write(
    request: Request, key: KeyPath, value: Annotated[str, Query(max_length=1024 * 1024)]
) -> Response:
    redis, config = _deps(request)
    await service.put_entry(redis, config, key, value)
    return json_response({"message": f"Key '{key}' set to '{value}'"})


@router.get("/read/{key}", summary="Classic read", responses=error_responses(400, 404))
async def classic_read(request: Request, key: KeyPath) -> Response:
    redis, config = _deps(request)
    entry = await service.get_entry(redis, config, key)
    return json_response({"key": key, "value": entry.value})


v1 = APIRouter(prefix="/api/v1/kv", tags=["kv"])


@v1.get(
    "",
    response_model=KeyPage,
    summary="List keys by prefix (SCAN-based pages)",
    responses=error_responses(400),
)
async def list_keys(
    request: Request,
    # Patterns documented only: the domain checks both and answers 400.
    prefix: Annotated[
        str,
        Query(
            max_length=MAX_KEY_CHARS,
            json_schema_extra={"pattern": r"^[^\x00-\x1f\x7f-\x9f]*$"},
        ),
    ] = "",
    cursor: CursorQuery = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    redis, config = _deps(request)
    page = await service.list_keys(redis, config, prefix=prefix, cursor=cursor, limit=limit)
    items = [KeyName(key=k) for k in page.keys]
    return json_response(KeyPage(items=items, next_cursor=page.next_cursor))


@v1.get(
    "/{key}",
    response_model=EntryOut,
    summary="Read one key",
    responses={304: {"description": "Not modified (If-None-Match)"}, **error_responses(400, 404)},
)
async def get_key(
    request: Request,
    key: KeyPath,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    redis, config = _deps(request)
    # Issued together, so they share one pipelined round trip.
    entry, ttl = await asyncio.gather(
        service.get_entry(redis, config, key), service.ttl_of(redis, config, key)
    )
    tag = etag(entry.version)
    if if_none_match is not None and tag in {t.strip() for t in if_none_match.split(",")}:
        return Response(status_code=304, headers={"ETag": tag})
    body = EntryOut(key=key, value=entry.value, version=entry.version, ttl_seconds=ttl)
    return json_response(body, headers={"ETag": tag, "Cache-Control": "no-cache"})


@v1.put(
    "/{key}",
    response_model=EntryOut,
    summary="Create or replace a key",
    responses={
        201: {"model": EntryOut, "description": "Created"},
        **error_responses(400, 409, 412, 413),
    },
)
async def put_key(
    request: Request,
    key: KeyPath,
    body: PutValue,
    if_match: IfMatch = None,
    if_none_match: Annotated[
        str | None,
        Header(description="'*': create only if absent", json_schema_extra={"enum": ["*"]}),
    ] = None,
) -> Response:
    redis, config = _deps(request)
    if if_none_match is not None and if_none_match.strip() != "*":
        raise ApiError(400, "invalid_precondition", "If-None-Match on PUT must be '*'")
    expected = body.version
    if if_match is not None:
        expected = parse_etag(if_match)
    elif if_none_match is not None:
        expected = 0
    with _preconditions(if_match is not None or if_none_match is not None):
        result = await service.put_entry(
            redis, config, key, body.value, ttl_seconds=body.ttl_seconds, expected_version=expected
        )
    out = EntryOut(
        key=key, value=body.value, version=result.entry.version, ttl_seconds=body.ttl_seconds
    )
    headers = {"ETag": etag(result.entry.version)}
    if result.created:
        headers["Location"] = f"/api/v1/kv/{quote(key, safe='')}"  # headers are latin-1
    return json_response(out, 201 if result.created else 200, headers)


@v1.delete(
    "/{key}",
    status_code=204,
    summary="Delete a key",
    responses=error_responses(400, 404, 409, 412),
)
async def delete_key(request: Request, key: KeyPath, if_match: IfMatch = None) -> Response:
    redis, config = _deps(request)
    expected = parse_etag(if_match) if if_match is not None else None
    with _preconditions(if_match is not None):
        await service.delete_entry(redis, config, key, expected_version=expected)
    return Response(status_code=204)


@contextmanager
def _preconditions(from_headers: bool) -> Iterator[None]:
    """A version conflict is a failed HTTP precondition (412) when the expected version came
    from ``If-Match``/``If-None-Match``, and a conflict with the body (409) otherwise."""
    try:
        yield
    except VersionConflict as conflict:
        if not from_headers:
            raise
        raise PreconditionFailed.of(conflict) from None

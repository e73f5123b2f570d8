"""HTTP routes of the frontend role: the page, its files, and the ``/api`` and ``/media`` proxy."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from starlette.responses import Response

from roost.birds.frontend.proxy import ReverseProxy
from roost.birds.frontend.static_files import INDEX, PAGE_FILES, StaticFile, cache_control
from roost.core.errors import ApiError
from roost.core.openapi import documented_path, error_responses
from roost.core.routing import READ_METHODS, route_per_method

router = APIRouter()
# "." and ".." segments (also percent-encoded) would let a proxied path climb out of /api or
# /media once the upstream normalises it; control characters never belong in a path.
_UNSAFE_PATH = re.compile(r"(^|/)(\.|%2e){1,2}(/|$)|[\x00-\x1f\x7f]|%00", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class FrontendDeps:
    files: dict[str, StaticFile]
    api: ReverseProxy  # -> birds API
    media: ReverseProxy  # -> bird image service


def deps_of(request: Request) -> FrontendDeps:
    deps: FrontendDeps = request.app.state.frontend
    return deps


AcceptEncoding = Annotated[str | None, Header(max_length=1024)]
# Documented, checked by _check_path: segments without control characters, "%" (so no encoded
# dots or NULs) or a "." / ".." of their own. Forwarded as the request has it (raw path).
_CHAR = r"[^/%\x00-\x1f\x7f]"
_NOT_DOT = r"[^/.%\x00-\x1f\x7f]"
_SEGMENT = rf"(?:{_NOT_DOT}{_CHAR}*|\.{_NOT_DOT}{_CHAR}*|\.\.{_CHAR}+)"
PROXIED_PATH_PATTERN = rf"^{_SEGMENT}(?:/{_SEGMENT})*$"
ProxiedPath = Annotated[
    str, documented_path("The path at the peer, below its prefix", PROXIED_PATH_PATTERN)
]
PAGE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/html": {}, "text/javascript": {}, "text/css": {}, "image/svg+xml": {}}},
    304: {"description": "Not modified (If-None-Match)"},
}
# What the peer answers passes through (its own envelope for its errors); 400 is ours for a
# path with dot segments or control characters, 502/503/504 ours when the peer fails.
PROXY_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The peer's answer", "content": {"*/*": {}}},
    304: {"description": "Not modified (If-None-Match)"},
    **error_responses(400, 404, 422, 502, 504),
}
IfNoneMatch = Annotated[str | None, Header(max_length=1024)]


@route_per_method(
    router,
    "/",
    methods=READ_METHODS,
    summary="The page",
    response_class=Response,
    responses=PAGE_RESPONSES,
)
async def index(
    request: Request, if_none_match: IfNoneMatch = None, accept_encoding: AcceptEncoding = None
) -> Response:
    return _static(deps_of(request).files[INDEX], None, if_none_match, accept_encoding)


def _file_route(name: str) -> None:
    async def serve(
        request: Request,
        v: str | None = None,
        if_none_match: IfNoneMatch = None,
        accept_encoding: AcceptEncoding = None,
    ) -> Response:
        return _static(deps_of(request).files[name], v, if_none_match, accept_encoding)

    route_per_method(
        router,
        f"/{name}",
        methods=READ_METHODS,
        summary=f"The page's {name}",
        response_class=Response,
        responses=PAGE_RESPONSES,
    )(serve)


# One plain route per file (no catch-all, which would shadow /healthz and /metrics).
for _name in PAGE_FILES:
    _file_route(_name)


def _proxy_route(prefix: str, summary: str, peer: Callable[[FrontendDeps], ReverseProxy]) -> None:
    """``/<prefix>/{path}`` forwarded to ``peer``; the route is named ``<prefix>_proxy``."""

    async def forward(request: Request, path: ProxiedPath) -> Response:
        _check_path(request)
        return await peer(deps_of(request)).forward(request)

    route_per_method(
        router,
        f"/{prefix}/{{path:path}}",
        methods=READ_METHODS,
        name=f"{prefix}_proxy",
        summary=summary,
        response_class=Response,
        responses=PROXY_RESPONSES,
    )(forward)


_proxy_route("api", "The birds API, proxied", lambda deps: deps.api)
_proxy_route("media", "The bird image service's media, proxied", lambda deps: deps.media)


def _check_path(request: Request) -> None:
    raw = (request.scope.get("raw_path") or b"").decode("latin-1")
    if _UNSAFE_PATH.search(raw) or _UNSAFE_PATH.search(request.url.path):
        raise ApiError(400, "invalid_path", "the path has dot segments or control characters")


def _static(
    file: StaticFile, version: str | None, if_none_match: str | None, accept_encoding: str | None
) -> Response:
    gzip_ok = file.gzipped is not None and "gzip" in (accept_encoding or "").lower()
    # The compressed variant is a different representation, so it gets its own validator.
    etag = f'{file.etag[:-1]}-gz"' if gzip_ok else file.etag
    headers = {"ETag": etag, "Cache-Control": cache_control(file, version)}
    if file.gzipped is not None:
        headers["Vary"] = "Accept-Encoding"
    if if_none_match is not None and etag in {p.strip() for p in if_none_match.split(",")}:
        return Response(status_code=304, headers=headers)
    if gzip_ok:
        headers["Content-Encoding"] = "gzip"
        return Response(file.gzipped, media_type=file.content_type, headers=headers)
    return Response(file.data, media_type=file.content_type, headers=headers)

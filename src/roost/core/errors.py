"""One JSON error envelope for every 4xx/5xx: ``{"error": {"code", "message", "request_id"}}``.

One mechanism turns a domain's error into HTTP: every :class:`DomainError` subclass declares its
``code`` and ``http_status`` (and, when it has them, ``details()`` and ``headers()``), and the one
handler the app factory installs renders it. No domain maps errors by hand. Core's own errors
(authentication, rate limits, outages) are :class:`ApiError` instances. The handlers here render
every error — including validation errors, unknown routes and unexpected crashes — in the same
shape, never with a stack trace.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match

from roost.core.context import current_request_id

log = structlog.get_logger("roost.errors")

_STATUS_CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    411: "length_required",
    412: "precondition_failed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    428: "precondition_required",
    429: "rate_limited",
    500: "internal_error",
    502: "bad_gateway",
    503: "service_unavailable",
    504: "gateway_timeout",
}


class DomainError(Exception):
    """Base of each domain's errors: a stable, machine-readable ``code``, a message fit for
    clients and the HTTP status core answers with.

    A subclass declares ``code`` and ``http_status`` next to each other, so the mapping of an
    error to HTTP is written once, where the error is defined, and read by one handler
    (:func:`install_error_handlers`). The domain's code raises it without knowing HTTP.
    Override :meth:`details` for structured data clients act on (``current_version`` of a
    conflict) and :meth:`headers` for response headers (``Retry-After``).
    """

    code: str = "error"
    http_status: int = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def details(self) -> Any:
        """JSON-ready data for the envelope's ``details``; None leaves it out."""
        return None

    def headers(self) -> Mapping[str, str]:
        return {}


class ApiError(Exception):
    """An error with an HTTP status, a stable machine-readable code and a human message."""

    def __init__(
        self,
        status_code: int,
        code: str,
        message: str,
        *,
        headers: Mapping[str, str] | None = None,
        details: Any = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.headers = dict(headers or {})
        self.details = details


class DependencyUnavailable(ApiError):
    """A backing service (Redis, Postgres, broker, storage, upstream) cannot be reached."""

    def __init__(self, dependency: str, *, retry_after: int = 5) -> None:
        super().__init__(
            503,
            "dependency_unavailable",
            f"{dependency} is unavailable, try again shortly",
            headers={"Retry-After": str(retry_after)},
            details={"dependency": dependency},
        )


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message, "request_id": current_request_id()}
    if details is not None:
        error["details"] = details
    return {"error": error}


def error_response(
    status_code: int,
    code: str,
    message: str,
    *,
    headers: Mapping[str, str] | None = None,
    details: Any = None,
) -> Response:
    return Response(
        orjson.dumps(error_body(code, message, details)),
        status_code=status_code,
        media_type="application/json",
        headers=dict(headers or {}),
    )


def install_error_handlers(app: FastAPI) -> None:
    """The app factory's one set of handlers: every role renders every error the same way."""
    app.add_exception_handler(DomainError, _domain_error)  # type: ignore[arg-type]
    app.add_exception_handler(ApiError, _api_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected_error)


async def _domain_error(_: Request, exc: DomainError) -> Response:
    return error_response(
        exc.http_status, exc.code, exc.message, headers=exc.headers(), details=exc.details()
    )


async def _api_error(_: Request, exc: ApiError) -> Response:
    return error_response(
        exc.status_code, exc.code, exc.message, headers=exc.headers, details=exc.details
    )


async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
    code = _STATUS_CODES.get(exc.status_code, "http_error")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    headers = exc.headers
    if exc.status_code == 404 and message == "Not Found":
        message = "no such route"
    if exc.status_code == 405:
        headers = {**(exc.headers or {}), "Allow": ", ".join(allowed_methods(request))}
    return error_response(exc.status_code, code, message, headers=headers)


def allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path. Starlette's own 405 names only the first
    route that matched the path, though GET, PUT and DELETE of one resource are three routes."""
    matching = [
        route
        for route in request.app.router.routes
        if getattr(route, "include_in_schema", True)
        and route.matches({**request.scope, "method": "GET"})[0] != Match.NONE
    ]
    if not matching:
        return []
    # The resource is the first matching path template (``/birds/random``, not the
    # ``/birds/{identifier}`` that would also match): the methods of its routes.
    template = getattr(matching[0], "path", None)
    methods: set[str] = set()
    for route in matching:
        if getattr(route, "path", None) == template:
            methods.update(getattr(route, "methods", None) or ())
    return sorted(methods)


async def _validation_error(_: Request, exc: RequestValidationError) -> Response:
    problems = [_describe_problem(item) for item in exc.errors()]
    if any(p["type"] == "json_invalid" for p in problems):
        return error_response(400, "invalid_json", "request body is not valid JSON")
    message = "; ".join(p["message"] for p in problems[:5]) or "invalid request"
    return error_response(422, "validation_error", message, details=problems)


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled_error", path=request.url.path, error_type=type(exc).__name__)
    return error_response(500, "internal_error", "internal server error")


def _describe_problem(item: Mapping[str, Any]) -> dict[str, str]:
    location = ".".join(str(part) for part in item.get("loc", ()))
    kind = str(item.get("type", "invalid"))
    if kind == "json_invalid":
        return {"field": "body", "message": "request body is not valid JSON", "type": kind}
    if kind == "extra_forbidden":
        return {"field": location, "message": f"{location}: unknown field", "type": kind}
    return {"field": location, "message": f"{location}: {item.get('msg', 'invalid')}", "type": kind}

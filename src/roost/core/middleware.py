"""Pure-ASGI middleware: request ids, access log, metrics, security headers, body limits.

These run on every request of every role, so they are written against raw ASGI rather than
Starlette's ``BaseHTTPMiddleware`` (which costs a task and a stream copy per request). The kv
benchmark holds them to >= 80% of a bare FastAPI hello-world's throughput.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterable
from typing import Any

import structlog
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from roost.core.context import request_id_var
from roost.core.errors import error_response
from roost.core.logging import AccessLogWriter
from roost.core.metrics import (
    HTTP_IN_PROGRESS,
    HTTP_REQUEST_DURATION,
    HTTP_REQUESTS,
    HTTP_REQUESTS_FAILED,
)

crash_log = structlog.get_logger("roost.errors")

_VALID_REQUEST_ID = re.compile(rb"^[A-Za-z0-9._:-]{1,128}$")
# Probes and scrapes would drown the access log and skew latency metrics.
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/health", "/metrics"})
UNMATCHED_ROUTE = "<unmatched>"

JSON_API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
PAGE_CSP = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'none'"
)


def security_headers(*, csp: str, hsts: bool) -> list[tuple[bytes, bytes]]:
    headers = [
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
        (b"content-security-policy", csp.encode()),
        (b"cross-origin-opener-policy", b"same-origin"),
        (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    ]
    if hsts:
        headers.append((b"strict-transport-security", b"max-age=63072000; includeSubDomains"))
    return headers


def route_template(scope: Scope) -> str:
    """The matched route's path template: bounded label cardinality, never the raw URL."""
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED_ROUTE


class RequestPipeline:
    """Request id, timing, metrics, access log and response headers in one pass."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        extra_headers: Iterable[tuple[bytes, bytes]],
        access_log: AccessLogWriter | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.app = app
        self.extra_headers = list(extra_headers)
        self.access_log_enabled = access_log is not None
        self.access_log = access_log or AccessLogWriter(enabled=False)
        self.clock = clock
        self._series: dict[tuple[str, str, int], _Series] = {}
        self._in_progress: dict[str, Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        request_id = _incoming_request_id(scope) or os.urandom(16).hex()
        token = request_id_var.set(request_id)
        request_id_header = (b"x-request-id", request_id.encode())
        extra_headers = self.extra_headers
        status_holder = [0]  # 0 until the response starts

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder[0] = message["status"]
                headers = list(message.get("headers", ()))
                headers.append(request_id_header)
                headers.extend(extra_headers)
                message["headers"] = headers
            await send(message)

        method = scope["method"]
        started = self.clock()
        in_progress = self._in_progress.get(method)
        if in_progress is None:
            in_progress = self._in_progress[method] = HTTP_IN_PROGRESS.labels(method)
        in_progress.inc()
        try:
            await self.app(scope, receive, send_with_headers)
        except Exception as exc:
            # Answered here rather than by Starlette's outermost error middleware so that a
            # crash still gets the request id, the security headers and the JSON envelope.
            crash_log.error(
                "unhandled_error", path=scope["path"], error_type=type(exc).__name__, exc_info=exc
            )
            if status_holder[0]:
                raise
            await error_response(500, "internal_error", "internal server error")(
                scope, receive, send_with_headers
            )
        finally:
            in_progress.dec()
            self._record(scope, method, status_holder[0] or 500, self.clock() - started)
            request_id_var.reset(token)

    def _record(self, scope: Scope, method: str, status: int, elapsed: float) -> None:
        if scope["path"] in QUIET_PATHS:
            return
        path = route_template(scope)
        series = self._series.get((method, path, status))
        if series is None:
            series = self._series[(method, path, status)] = _Series(method, path, status)
        series.requests.inc()
        series.duration.observe(elapsed)
        if series.failed is not None:
            series.failed.inc()
        if self.access_log_enabled:
            self.access_log.write(
                {
                    "method": method,
                    "path": scope["path"],
                    "route": path,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 3),
                }
            )


class _Series:
    """The metric children of one (method, route, status): ``labels()`` costs ~5 µs a call."""

    __slots__ = ("duration", "failed", "requests")

    def __init__(self, method: str, path: str, status: int) -> None:
        self.requests = HTTP_REQUESTS.labels(method, path, str(status))
        self.duration = HTTP_REQUEST_DURATION.labels(method, path)
        self.failed = HTTP_REQUESTS_FAILED.labels(method, path) if status >= 500 else None


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            return value.decode("ascii") if _VALID_REQUEST_ID.match(value) else None
    return None


class BodySizeLimit:
    """413 before reading a body whose declared or actual size is over the limit; 415 for a
    body in a content coding (``Content-Encoding: gzip``...): no route decodes one, and a
    decoder would turn a small body into an unbounded one (a gzip bomb)."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self._message = f"request body is larger than {max_bytes} bytes"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._reject(scope, receive, send)
            return
        if _content_coded(scope):
            response = error_response(
                415,
                "unsupported_content_encoding",
                "request bodies are accepted without a Content-Encoding (identity) only",
                headers={"Accept-Encoding": "identity", "Connection": "close"},
            )
            await response(scope, receive, send)
            return

        received = 0
        response_started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # An HTTPException passes through FastAPI's body parsing untouched and is
                    # rendered by the shared error handler.
                    raise HTTPException(413, self._message)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except HTTPException as exc:
            if exc.status_code != 413 or response_started:
                raise
            await self._reject(scope, receive, send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(
            413,
            "payload_too_large",
            self._message,
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)


def _content_coded(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-encoding" and value.strip().lower() not in (b"", b"identity"):
            return True
    return False


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None

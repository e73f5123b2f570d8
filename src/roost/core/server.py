"""Run a role under uvicorn: uvloop + httptools, graceful shutdown, connection counting, and
the limits on a request's head that uvicorn leaves out.

uvicorn's httptools protocol bounds neither the size of a request line and headers nor the
time a client may take to send them: one client sending a header a byte a second holds a
connection (and its memory) for ever (slow loris), and a megabyte of headers is parsed and
kept. :class:`RoostHttpProtocol` closes a connection whose request head is not complete within
``header_timeout_seconds`` (408), and refuses a URL over :data:`MAX_URL_BYTES` (414) or headers
over :data:`MAX_HEADER_BYTES` (431), each with the JSON error envelope; so does every request
the parser rejects (400), where uvicorn answers plain text.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any, ClassVar

import httptools
import orjson
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from roost.core.metrics import ACTIVE_CONNECTIONS

GRACEFUL_SHUTDOWN_SECONDS = 20
# As nginx's defaults in spirit (large_client_header_buffers 4 8k, client_header_timeout):
# generous for any real client, small for an abusive one.
MAX_URL_BYTES = 8 * 1024
MAX_HEADER_BYTES = 32 * 1024
HEADER_TIMEOUT_SECONDS = 10.0
_REASONS = {400: b"Bad Request", 408: b"Request Timeout", 414: b"URI Too Long"}
_REASONS[431] = b"Request Header Fields Too Large"


class RequestHeadRefused(httptools.HttpParserError):
    """Raised from a parser callback: the parser stops and the connection is answered."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class RoostHttpProtocol(HttpToolsProtocol):
    """uvicorn's HTTP protocol with request-head limits (see the module's doc), keeping
    ``active_connections`` exact per worker process."""

    header_timeout_seconds: ClassVar[float] = HEADER_TIMEOUT_SECONDS
    _head_deadline: asyncio.TimerHandle | None = None
    _head_bytes = 0
    _head_begun = False
    _refusal: RequestHeadRefused | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        ACTIVE_CONNECTIONS.inc()
        super().connection_made(transport)
        self._arm_head_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        ACTIVE_CONNECTIONS.dec()
        self._disarm_head_deadline()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = 0
        self._head_begun = True
        # Each request head gets the whole timeout from its first byte (the next request on a
        # kept-alive connection too; until it starts, uvicorn's keep-alive timeout applies).
        self._arm_head_deadline()

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        if len(self.url) > MAX_URL_BYTES:
            self._refuse(414, "uri_too_long", f"the URL is longer than {MAX_URL_BYTES} bytes")

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_bytes += len(name) + len(value) + 4
        if self._head_bytes > MAX_HEADER_BYTES:
            self._refuse(
                431,
                "headers_too_large",
                f"the request headers are larger than {MAX_HEADER_BYTES} bytes",
            )
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._disarm_head_deadline()
        self._head_begun = False
        super().on_headers_complete()

    def send_400_response(self, msg: str) -> None:
        """Every request the parser refuses: our envelope and status, not uvicorn's text."""
        refusal, self._refusal = self._refusal, None
        if refusal is None:
            self._answer_and_close(400, "bad_request", "the request is not valid HTTP/1.1")
        else:
            self._answer_and_close(refusal.status, refusal.code, refusal.message)

    def _refuse(self, status: int, code: str, message: str) -> None:
        self._refusal = RequestHeadRefused(status, code, message)
        raise self._refusal

    def _arm_head_deadline(self) -> None:
        self._disarm_head_deadline()
        self._head_deadline = self.loop.call_later(self.header_timeout_seconds, self._head_too_slow)

    def _disarm_head_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_too_slow(self) -> None:
        self._head_deadline = None
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            return  # a request is being answered: the head came in time
        if not self._head_begun:
            # Connected and silent: nothing was asked, so nothing is answered (an unasked-for
            # 408 could be read as the answer to a request sent at the same moment).
            self.transport.close()
            return
        message = f"the request head took longer than {self.header_timeout_seconds:g} s"
        self._answer_and_close(408, "request_timeout", message)

    def _answer_and_close(self, status: int, code: str, message: str) -> None:
        if self.transport.is_closing():
            return
        # No request reached the app, so no request id either: this answer makes its own.
        request_id = os.urandom(16).hex()
        body = orjson.dumps({"error": {"code": code, "message": message, "request_id": request_id}})
        head = [
            b"HTTP/1.1 %d %s\r\n" % (status, _REASONS.get(status, b"Error")),
            b"content-type: application/json\r\n",
            b"content-length: %d\r\n" % len(body),
            b"x-request-id: " + request_id.encode() + b"\r\n",
            b"connection: close\r\n\r\n",
        ]
        self.transport.write(b"".join(head) + body)
        self.transport.close()


def http_protocol(
    header_timeout_seconds: float = HEADER_TIMEOUT_SECONDS,
) -> type[RoostHttpProtocol]:
    """:class:`RoostHttpProtocol` with its own request-head timeout."""
    if header_timeout_seconds == RoostHttpProtocol.header_timeout_seconds:
        return RoostHttpProtocol
    attributes = {"header_timeout_seconds": header_timeout_seconds}
    return type("RoostHttpProtocol", (RoostHttpProtocol,), attributes)


def server_config(
    app: Any,
    *,
    host: str,
    port: int,
    workers: int,
    forwarded_allow_ips: list[str],
    header_timeout_seconds: float = HEADER_TIMEOUT_SECONDS,
) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        factory=isinstance(app, str),
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        http=http_protocol(header_timeout_seconds),
        lifespan="on",
        access_log=False,
        log_config=None,
        server_header=False,
        proxy_headers=True,
        forwarded_allow_ips=forwarded_allow_ips,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        timeout_keep_alive=10,
    )


def run(
    app: Any, *, host: str, port: int, workers: int = 1, forwarded_allow_ips: list[str]
) -> None:
    """Blocking. On SIGTERM/SIGINT uvicorn stops accepting, finishes in-flight requests,
    then runs the lifespan shutdown (closing pools) before exiting."""
    config = server_config(
        app, host=host, port=port, workers=workers, forwarded_allow_ips=forwarded_allow_ips
    )
    if workers > 1:
        from uvicorn.supervisors import Multiprocess

        Multiprocess(config, sockets=[config.bind_socket()]).run()
    else:
        uvicorn.Server(config).run()

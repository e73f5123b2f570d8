"""Real HTTP servers on loopback for the bird image service and frontend tests.

- :func:`serve_in_thread` runs an ASGI app (with its lifespan) under uvicorn in a thread.
- :class:`FakeProvider` is a scriptable stand-in for Unsplash (or any upstream) that records
  what it was sent; a test changes its answer between calls.
- :func:`raw_get` sends a request target byte for byte, as an attacker would, where an HTTP
  client library would normalise ``..`` or refuse a NUL.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from tests.support.parallel import free_port

from roost.infra.embedded import wait_for_port


@contextmanager
def serve_in_thread(app: Any, *, lifespan: Literal["auto", "on", "off"] = "on") -> Iterator[str]:
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan=lifespan, access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_for_port("127.0.0.1", port, 10)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@dataclass
class Seen:
    method: str
    path: str
    query: str
    headers: dict[str, str]


@dataclass
class FakeProvider:
    status: int = 200
    body: bytes = b'{"results": []}'
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    seen: list[Seen] = field(default_factory=list)
    url: str = ""  # set once it is served

    @property
    def calls(self) -> int:
        return len(self.seen)

    def answer(
        self,
        status: int = 200,
        body: bytes = b'{"results": []}',
        headers: dict[str, str] | None = None,
        delay: float = 0.0,
    ) -> None:
        self.status, self.body, self.headers, self.delay = status, body, headers or {}, delay

    def app(self) -> Starlette:
        async def handler(request: Request) -> Response:
            self.seen.append(
                Seen(request.method, request.url.path, request.url.query, dict(request.headers))
            )
            if self.delay:
                await asyncio.sleep(self.delay)
            return Response(
                self.body, self.status, headers=self.headers, media_type="application/json"
            )

        methods = ["GET", "HEAD", "POST", "PUT", "DELETE"]
        return Starlette(routes=[Route("/{path:path}", handler, methods=methods)])


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes


def raw_get(base_url: str, target: bytes) -> RawResponse:
    host, port = base_url.removeprefix("http://").split(":")
    request = b"GET " + target + b" HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return RawResponse(int(status_line.split()[1]), headers, body)

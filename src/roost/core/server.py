"""Run a role under uvicorn: uvloop + httptools, graceful shutdown, connection counting."""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from roost.core.metrics import ACTIVE_CONNECTIONS

GRACEFUL_SHUTDOWN_SECONDS = 20


class CountingHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's HTTP protocol, keeping ``active_connections`` exact per worker process."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        ACTIVE_CONNECTIONS.inc()
        super().connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        ACTIVE_CONNECTIONS.dec()
        super().connection_lost(exc)


def server_config(
    app: Any, *, host: str, port: int, workers: int, forwarded_allow_ips: list[str]
) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        factory=isinstance(app, str),
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        http=CountingHttpToolsProtocol,
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

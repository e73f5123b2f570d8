"""A role's app served in this process as in production, and a database made for the roles.

``ServedRole`` runs an app under the production uvicorn configuration
(``roost.core.server.server_config``: uvloop, httptools, the request-head limits) on a free
loopback port, in a thread, lifespan included: tests that need a real HTTP server (raw sockets,
an external client such as schemathesis) without spawning ``roost serve``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import uvicorn
from tests.support.parallel import free_port

from roost.core.server import HEADER_TIMEOUT_SECONDS, server_config
from roost.core.settings import load_settings
from roost.infra.embedded import wait_for_port
from roost.roles import prepare_database

START_TIMEOUT_SECONDS = 30


class ServedRole:
    """``with ServedRole(app) as served``: ``served.url`` answers until the block ends."""

    def __init__(self, app: Any, *, header_timeout_seconds: float = HEADER_TIMEOUT_SECONDS) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = server_config(
            app,
            host="127.0.0.1",
            port=self.port,
            workers=1,
            forwarded_allow_ips=[],
            header_timeout_seconds=header_timeout_seconds,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def __enter__(self) -> ServedRole:
        self._thread.start()
        wait_for_port("127.0.0.1", self.port, START_TIMEOUT_SECONDS)
        return self

    def __exit__(self, *_: object) -> None:
        self._server.should_exit = True
        self._thread.join(10)


def prepared_database(fresh_database_url: Callable[[str], str], prefix: str) -> str:
    """A new database migrated and seeded as ``roost migrate`` does (birds, demo model)."""
    url = fresh_database_url(prefix)
    prepare_database(load_settings(environment="test", database_url=url), url)
    return url

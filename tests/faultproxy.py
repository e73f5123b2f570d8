"""A fault-injecting TCP proxy for tests, in the spirit of toxiproxy.

Put it between a role and Postgres, Redis, RabbitMQ or a peer role, then break the link on
purpose instead of stopping the machine's shared services:

    with FaultProxy("127.0.0.1", 6379) as proxy:
        env["ROOST_REDIS_URL"] = f"redis://127.0.0.1:{proxy.port}/9"
        ...
        proxy.cut()        # new connections refused, open ones reset
        proxy.blackhole()  # connections accepted, nothing ever answered
        proxy.slow(0.5)    # every chunk delayed by half a second, both ways
        proxy.lose_replies()  # requests reach the server, its answers are dropped
        proxy.restore()    # back to a clean pipe on the same port

The proxy runs its own event loop on a daemon thread, so sync and async tests drive it the same
way; each call returns once the change is in force.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

Mode = Literal["pass", "cut", "blackhole", "slow", "lose_replies"]
T = TypeVar("T")
_CHUNK = 64 * 1024


@dataclass(eq=False)  # identity hash: links live in a set
class _Link:
    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


class FaultProxy:
    def __init__(self, upstream_host: str, upstream_port: int, listen_host: str = "127.0.0.1"):
        self.upstream = (upstream_host, upstream_port)
        self.host = listen_host
        self.port = 0
        self.mode: Mode = "pass"
        self.latency = 0.0
        self.connections_accepted = 0
        self._links: set[_Link] = set()
        self._server: asyncio.Server | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FaultProxy:
        self._thread.start()
        self._call(self._listen())
        return self

    def stop(self) -> None:
        self._call(self._close_all(reset=False))
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # -- faults ------------------------------------------------------------------------------

    def cut(self) -> None:
        """Refuse new connections (nothing listens) and reset every open one."""
        self._call(self._cut())

    def blackhole(self) -> None:
        """Accept connections but never answer; open connections stop delivering too."""
        self._call(self._set_mode("blackhole"))

    def slow(self, seconds: float) -> None:
        """Deliver every chunk, both ways, ``seconds`` late."""
        self.latency = seconds
        self._call(self._set_mode("slow"))

    def lose_replies(self) -> None:
        """Deliver what clients send, drop what the upstream answers: the server acts on a
        request whose reply never arrives, as when a link fails between the two."""
        self._call(self._set_mode("lose_replies"))

    def restore(self) -> None:
        """A clean pipe again, listening on the same port."""
        self._call(self._restore())

    @property
    def open_connections(self) -> int:
        return len(self._links)

    # -- inside the proxy's loop -------------------------------------------------------------

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(10)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(
            self._accept, self.host, self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def _set_mode(self, mode: Mode) -> None:
        self.mode = mode

    async def _cut(self) -> None:
        self.mode = "cut"
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        await self._close_all(reset=True)

    async def _restore(self) -> None:
        # Open connections made under a blackhole never reached the upstream, and those that
        # lost replies are out of step with their server: drop them, so clients reconnect to a
        # clean pipe instead of waiting on a dead one.
        if self.mode in ("blackhole", "lose_replies"):
            await self._close_all(reset=True)
        self.mode = "pass"
        self.latency = 0.0
        if self._server is None:
            await self._listen()

    async def _close_all(self, *, reset: bool) -> None:
        for link in list(self._links):
            for task in link.tasks:
                task.cancel()
            for writer in (link.client, link.upstream):
                if writer is not None:
                    _close(writer, reset=reset)
        self._links.clear()
        if self._server is not None and not reset:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections_accepted += 1
        link = _Link(client=writer)
        self._links.add(link)
        if self.mode == "cut":
            _close(writer, reset=True)
            self._links.discard(link)
            return
        if self.mode == "blackhole":
            return  # held open, never answered, until restore() or stop()
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            _close(writer, reset=True)
            self._links.discard(link)
            return
        link.upstream = upstream_writer
        link.tasks = [
            asyncio.create_task(self._pipe(reader, upstream_writer, link, replies=False)),
            asyncio.create_task(self._pipe(upstream_reader, writer, link, replies=True)),
        ]

    async def _pipe(
        self,
        source: asyncio.StreamReader,
        target: asyncio.StreamWriter,
        link: _Link,
        *,
        replies: bool,
    ) -> None:
        try:
            while data := await source.read(_CHUNK):
                if self.mode == "blackhole" or (replies and self.mode == "lose_replies"):
                    continue  # swallowed
                if self.mode == "slow" and self.latency:
                    await asyncio.sleep(self.latency)
                target.write(data)
                await target.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            if link in self._links:
                self._links.discard(link)
                for writer in (link.client, link.upstream):
                    if writer is not None:
                        _close(writer, reset=False)


def _close(writer: asyncio.StreamWriter, *, reset: bool) -> None:
    if reset:
        # SO_LINGER 0: close() sends RST instead of FIN, as a crashed peer or a cut cable does.
        sock = writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(RuntimeError, OSError):
        writer.close()

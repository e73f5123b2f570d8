"""Periodic background work tied to a lifespan (an ``async with`` block)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager


@asynccontextmanager
async def periodically(
    step: Callable[[], Awaitable[None]], every_seconds: float, name: str
) -> AsyncIterator[None]:
    """Run ``step`` now and then every ``every_seconds`` until the block exits.

    ``step`` handles its own errors: an exception escaping it stops the loop.
    """
    stopping = asyncio.Event()

    async def loop() -> None:
        # Checked after every step, not only via cancel(): a client library that swallows the
        # CancelledError of a call in flight (redis-py does, now and then) would otherwise
        # keep this loop, and with it the shutdown of the whole process, going forever.
        while not stopping.is_set():
            await step()
            if stopping.is_set():
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), every_seconds)

    task = asyncio.create_task(loop(), name=name)
    try:
        yield
    finally:
        stopping.set()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

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

    async def loop() -> None:
        while True:
            await step()
            await asyncio.sleep(every_seconds)

    task = asyncio.create_task(loop(), name=name)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

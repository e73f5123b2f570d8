"""periodically(): runs its step on a schedule and always lets the lifespan end."""

from __future__ import annotations

import asyncio
import time

from roost.core.background import periodically


async def test_the_step_runs_now_and_then_on_schedule() -> None:
    calls: list[float] = []

    async def step() -> None:
        calls.append(time.monotonic())

    async with periodically(step, 0.02, "test-schedule"):
        await asyncio.sleep(0.11)
    assert 4 <= len(calls) <= 7
    count = len(calls)
    await asyncio.sleep(0.05)
    assert len(calls) == count  # nothing runs after the block


async def test_exit_is_prompt_even_when_the_step_swallows_its_cancellation() -> None:
    started = asyncio.Event()

    async def stubborn_step() -> None:
        # What a client library does when it turns a cancel of a call in flight into a
        # normal return: the CancelledError never reaches the loop.
        started.set()
        try:
            await asyncio.sleep(0.2)
        except asyncio.CancelledError:
            return

    began = time.monotonic()
    async with periodically(stubborn_step, 0.01, "test-stubborn"):
        await started.wait()
    assert time.monotonic() - began < 1.0

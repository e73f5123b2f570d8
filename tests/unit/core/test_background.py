"""periodically(): runs its step on a schedule and always lets the lifespan end."""

from __future__ import annotations

import asyncio
import itertools
import time

from roost.core.background import periodically


async def test_the_step_runs_now_and_then_on_schedule() -> None:
    calls: list[float] = []
    interval = 0.02

    async def step() -> None:
        calls.append(time.monotonic())

    async with periodically(step, interval, "test-schedule"):
        await asyncio.sleep(0)  # one turn of the event loop: the first step runs at once
        assert len(calls) == 1
        deadline = time.monotonic() + 10
        while len(calls) < 4:
            assert time.monotonic() < deadline, calls
            await asyncio.sleep(interval / 2)
    # Only lower bounds: a loaded machine stretches the gaps, it never shortens them.
    gaps = [later - earlier for earlier, later in itertools.pairwise(calls)]
    assert min(gaps) >= interval * 0.9, gaps
    count = len(calls)
    await asyncio.sleep(interval * 3)  # a loop left running would step again meanwhile
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

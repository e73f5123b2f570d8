"""``roost worker``: the queue worker process, with its health server on port 9101.

One process runs a dramatiq worker (``ROOST_WORKER_THREADS`` threads consuming the thumbnails
and optimizer queues) next to a small HTTP app built by the shared app factory: ``/healthz``
(the process answers), ``/readyz`` and ``/health`` (broker, Postgres and storage checked),
``/metrics``. The dramatiq worker starts and stops inside that app's lifespan, so SIGTERM
drains it: no new jobs are taken, running ones finish (or go back to the broker
unacknowledged), then the process exits.

Jobs run in worker threads; their database calls are coroutines handed to this process's event
loop (:class:`LoopBridge`), the one the health server runs on, so there is one engine and pool.
Its adapters, broker and every domain's actors come from the composition root
(:func:`roost.roles.open_worker_jobs`); dead-lettered jobs of every queue go to the one
dead-letter store (:mod:`roost.infra.dead_letters`) with each domain's failure hook. Every
``worker_housekeeping_seconds`` the process moves each queue's broker dead letters into Postgres
(catching up on those the store missed) and refreshes ``queue_depth``, ``queue_oldest_job_age``
per queue and ``dead_letter_depth``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import signal
from collections.abc import AsyncIterator, Coroutine
from contextlib import AsyncExitStack
from typing import Any

import dramatiq
import structlog
from dramatiq.middleware import Middleware
from fastapi import FastAPI

from roost.core.app import RoleRuntime, create_app
from roost.core.background import periodically
from roost.core.settings import Settings
from roost.infra import dead_letters, queue
from roost.roles import open_worker_jobs

log = structlog.get_logger("roost.worker")

# How often a thread waiting on the loop checks for dramatiq's asynchronous interrupts (the
# per-job time limit, shutdown): a blocking wait would not see them.
INTERRUPT_CHECK_SECONDS = 0.1


class LoopBridge:
    """Run coroutines on an event loop from worker threads, interruptibly."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def run(self, coroutine: Coroutine[Any, Any, Any]) -> Any:
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        try:
            while True:
                try:
                    return future.result(timeout=INTERRUPT_CHECK_SECONDS)
                except concurrent.futures.TimeoutError:
                    if future.done():
                        return future.result()
        except BaseException:
            future.cancel()
            raise


class MemoryCeiling(Middleware):
    """After each job, a worker whose resident memory is over the ceiling stops taking jobs
    and exits gracefully (SIGTERM to itself); its supervisor starts a fresh process."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.tripped = False

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: dramatiq.MessageProxy,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        resident = resident_bytes()
        if resident <= self.max_bytes or self.tripped:
            return
        self.tripped = True
        log.warning(
            "worker_memory_ceiling",
            resident_mb=round(resident / 2**20),
            ceiling_mb=round(self.max_bytes / 2**20),
        )
        os.kill(os.getpid(), signal.SIGTERM)


def resident_bytes() -> int:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def build_worker(settings: Settings) -> FastAPI:
    """The worker process's app: health and metrics over HTTP, the dramatiq worker inside."""
    from roost.infra import queue_metrics

    async def setup(app: FastAPI, settings: Settings, stack: AsyncExitStack) -> RoleRuntime:
        bridge = LoopBridge(asyncio.get_running_loop())
        jobs = await open_worker_jobs(
            settings,
            stack,
            bridge.run,
            middleware=[MemoryCeiling(settings.worker_max_memory_mb * 2**20)],
        )
        broker, queue_names = jobs.broker, jobs.queue_names
        broker.emit_after("process_boot")
        worker = dramatiq.Worker(
            broker,
            queues=set(queue_names),
            worker_threads=settings.worker_threads,
            worker_timeout=queue.consumer_timeout_ms(broker),
        )
        worker.start()
        log.info(
            "worker_started",
            queues=queue_names,
            threads=settings.worker_threads,
            broker=queue.broker_kind(settings.broker_url or ""),
        )

        async def stop_worker() -> None:
            timeout_ms = int(settings.worker_shutdown_timeout_seconds * 1000)
            await asyncio.to_thread(worker.stop, timeout_ms)
            await asyncio.to_thread(broker.close)
            log.info("worker_stopped")

        stack.push_async_callback(stop_worker)

        async def housekeeping() -> None:
            # Each step on its own: a broker outage must not stop the dead-letter gauge.
            for queue_name in queue_names:
                async with _step("drain_dead_letters"):
                    await asyncio.to_thread(
                        queue.drain_dead_letters, broker, queue_name, jobs.record_dead_letters
                    )
                async with _step("queue_depth"):
                    depth = await asyncio.to_thread(queue.queue_depth, broker, queue_name)
                    queue_metrics.QUEUE_DEPTH.labels(queue_name).set(depth.ready + depth.delayed)
                async with _step("queue_oldest_job_age"):
                    age = await asyncio.to_thread(queue.oldest_ready_age, broker, queue_name)
                    queue_metrics.QUEUE_OLDEST_JOB_AGE.labels(queue_name).set(age)
            async with _step("dead_letter_depth"):
                pending = await dead_letters.count_pending(jobs.sessions)
                queue_metrics.DEAD_LETTER_DEPTH.set(pending)

        await stack.enter_async_context(
            periodically(housekeeping, settings.worker_housekeeping_seconds, "worker-housekeeping")
        )
        return RoleRuntime(checks=jobs.checks)

    return create_app(role="worker", settings=settings, setup=setup)


@contextlib.asynccontextmanager
async def _step(name: str) -> AsyncIterator[None]:
    try:
        yield
    except Exception as exc:
        log.warning("housekeeping_failed", step=name, error=f"{type(exc).__name__}: {exc}"[:300])

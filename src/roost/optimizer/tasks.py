"""The worker side of large optimizations and sweeps: one dramatiq actor.

A job carries only the result id; the validated request and the pinned model version are in
Postgres. The solve runs in the dramatiq worker thread (CPU, NumPy); database calls are
coroutines handed to the worker's event loop through ``run``.

Failure semantics:

- the request cannot be satisfied (infeasible, target unreachable) or the job hits its time
  limit: permanent. The result is stored ``failed`` with its reason and the job acknowledged.
- Postgres unavailable: the exception escapes and dramatiq retries with backoff; a result left
  ``running`` by a dead worker runs again on redelivery.
- a redelivery of a finished job changes nothing.
- anything else (a bug): retried with backoff, then dead-lettered; the dead-letter store's
  hook (:mod:`roost.optimizer.dead_letters`) stores the result ``failed`` with the last error,
  and a redrive puts it back to ``queued``.

The job is acknowledged only when the actor returns, after the result is stored.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import dramatiq
import structlog
from dramatiq.middleware import TimeLimitExceeded
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from roost.infra.queue import wait_out_outages
from roost.optimizer.config import OptimizerConfig
from roost.optimizer.dead_letters import RUN_OPTIMIZATION_ACTOR
from roost.optimizer.errors import OptimizerError
from roost.optimizer.jobs import Job, claim_job, error_body, finish_job
from roost.optimizer.planning import measured_run

log = structlog.get_logger("roost.optimizer.worker")

__all__ = ["RUN_OPTIMIZATION_ACTOR", "OptimizationJobs", "register_actors"]
RunCoroutine = Callable[[Coroutine[Any, Any, Any]], Any]


@dataclass
class OptimizationJobs:
    sessions: async_sessionmaker[AsyncSession]
    config: OptimizerConfig
    run: RunCoroutine

    def process(self, result_id: str) -> str:
        """Run one job; returns ``done``, ``failed`` or ``skipped`` (already final)."""
        job: Job | None = self.run(claim_job(self.sessions, result_id))
        if job is None:
            log.info("optimization_skipped", result_id=result_id, reason="already final")
            return "skipped"
        try:
            body = measured_run(job.model, job.request, self.config)
        except TimeLimitExceeded:
            return self._fail(
                result_id,
                {"code": "time_limit", "message": "the optimization ran past the job time limit"},
            )
        except OptimizerError as error:
            return self._fail(result_id, error_body(error))
        except (ValueError, ArithmeticError) as error:
            # A defect, not an outage: a retry would fail the same way.
            log.exception("optimization_crashed", result_id=result_id)
            return self._fail(result_id, error_body(error))
        self.run(finish_job(self.sessions, result_id, result=body))
        log.info(
            "optimization_done",
            result_id=result_id,
            channels=len(job.request.budget),
            solver_status=body.get("solver", {}).get("status"),
            time_taken_ms=body.get("time_taken_ms"),
        )
        return "done"

    def _fail(self, result_id: str, error: dict[str, Any]) -> str:
        self.run(finish_job(self.sessions, result_id, error=error))
        log.info("optimization_failed", result_id=result_id, code=error.get("code"))
        return "failed"


def register_actors(
    broker: dramatiq.Broker,
    jobs: OptimizationJobs,
    *,
    queue_name: str,
    max_retries: int,
    time_limit_ms: int,
    outage_wait_seconds: float,
) -> dramatiq.Actor[Any, Any]:
    """Bind the ``optimizer.run_optimization`` actor to ``broker`` (not to a global one)."""

    def run_optimization(result_id: str) -> None:
        wait_out_outages(lambda: jobs.process(result_id), outage_wait_seconds)

    actor: dramatiq.Actor[Any, Any] = dramatiq.Actor(
        run_optimization,
        broker=broker,
        actor_name=RUN_OPTIMIZATION_ACTOR,
        queue_name=queue_name,
        priority=0,
        options={"max_retries": max_retries, "time_limit": time_limit_ms},
    )
    return actor

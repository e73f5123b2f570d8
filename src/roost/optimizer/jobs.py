"""The lifecycle of a background optimization: queued, claimed by a worker, finished.

The API side stores a ``queued`` result and sends its id (:func:`queue_job`); the worker side
(:mod:`roost.optimizer.tasks`) claims it and stores its outcome.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from roost.core.errors import DependencyUnavailable
from roost.infra.db import unit_of_work
from roost.optimizer import registry
from roost.optimizer.config import Enqueue
from roost.optimizer.errors import ConstraintError, OptimizerError
from roost.optimizer.models import FINAL_STATUSES, OptimizationResultRow
from roost.optimizer.registry import ModelVersion
from roost.optimizer.results import new_result_row, result_row_by_id
from roost.optimizer.schemas import OptimizeRequest

log = structlog.get_logger("roost.optimizer")


@dataclass(frozen=True)
class Job:
    result_id: str
    model: ModelVersion
    request: OptimizeRequest


async def queue_job(
    sessions: async_sessionmaker[AsyncSession],
    enqueue: Enqueue | None,
    model: ModelVersion,
    request: OptimizeRequest,
    *,
    requested_by: str | None,
) -> OptimizationResultRow:
    """Store a ``queued`` result and send its job; 503 (and the result ``failed``) when the
    broker cannot take it."""
    if enqueue is None:
        raise DependencyUnavailable("broker")
    row = new_result_row(model, request, requested_by=requested_by, status="queued")
    async with unit_of_work(sessions) as session:
        session.add(row)
    try:
        await enqueue(str(row.id))
    except Exception as exc:
        log.warning("optimization_enqueue_failed", result_id=str(row.id), error=type(exc).__name__)
        await finish_job(
            sessions,
            str(row.id),
            error={"code": "broker_unavailable", "message": "the job could not be queued"},
        )
        raise DependencyUnavailable("broker") from exc
    return row


async def claim_job(sessions: async_sessionmaker[AsyncSession], result_id: str) -> Job | None:
    """Mark a queued result ``running`` and return what to solve; None when already final.

    Redelivered jobs are safe: a finished result is left alone, a ``running`` one (its worker
    died mid-job) runs again.
    """
    async with unit_of_work(sessions) as session:
        row = await result_row_by_id(session, result_id, for_update=True)
        if row.status in FINAL_STATUSES:
            return None
        row.status, row.started_at, row.attempts = "running", datetime.now(UTC), row.attempts + 1
        model = await registry.resolve_model(session, row.model_name, row.model_version)
        request = OptimizeRequest.model_validate(row.request)
    return Job(result_id, model, request)


async def finish_job(
    sessions: async_sessionmaker[AsyncSession],
    result_id: str,
    *,
    result: dict[str, Any] | None = None,
    error: dict[str, Any] | None = None,
) -> None:
    """Store a job's outcome: its result body, or the reason it failed for good."""
    async with unit_of_work(sessions) as session:
        row = await result_row_by_id(session, result_id, for_update=True)
        row.status = "failed" if error is not None else "done"
        row.result, row.error, row.finished_at = result, error, datetime.now(UTC)


def error_body(error: BaseException) -> dict[str, Any]:
    """How a failed job explains itself in ``GET /api/v1/results/{id}``."""
    if not isinstance(error, OptimizerError):
        return {"code": "internal_error", "message": f"{type(error).__name__}: {error}"[:500]}
    body: dict[str, Any] = {"code": error.code, "message": error.message}
    if isinstance(error, ConstraintError):
        body["field"] = error.constraint
    return body

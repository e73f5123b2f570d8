"""What a dead-lettered optimization job does to its result (light: no NumPy, no solver).

Registered with the queue's one dead-letter store (:mod:`roost.infra.dead_letters`) by the
composition root, so the thumbnails role, which serves the platform's dead-letter routes, can
redrive optimizer jobs without loading the solver.
"""

from __future__ import annotations

import uuid

from sqlalchemy import ColumnElement, and_, func, or_, update
from sqlalchemy.ext.asyncio import AsyncSession

from roost.infra.dead_letters import NO_ERROR_KNOWN, DeadLetterRecord, FailureHook
from roost.optimizer.models import UNFINISHED_STATUSES, OptimizationResultRow

RUN_OPTIMIZATION_ACTOR = "optimizer.run_optimization"
# The code a dead-lettered result's error carries in ``GET /api/v1/results/{id}``.
DEAD_LETTERED = "dead_lettered"


def result_id_of(letter: DeadLetterRecord) -> uuid.UUID | None:
    """The result a dead-lettered job was computing; None for other actors' jobs."""
    if letter.actor_name != RUN_OPTIMIZATION_ACTOR or not letter.args:
        return None
    try:
        return uuid.UUID(str(letter.args[0]))
    except ValueError:
        return None


async def _result_dead_lettered(session: AsyncSession, letter: DeadLetterRecord) -> None:
    result_id = result_id_of(letter)
    if result_id is None:
        return
    error = {"code": DEAD_LETTERED, "message": (letter.error or NO_ERROR_KNOWN)[:500]}
    await session.execute(
        update(OptimizationResultRow)
        .where(
            OptimizationResultRow.id == result_id,
            or_(
                OptimizationResultRow.status.in_(UNFINISHED_STATUSES),
                # Failed by this dead letter already, without its error: the error arrives.
                _dead_lettered(),
            ),
        )
        .values(status="failed", error=error, finished_at=func.now())
    )


async def _result_redriven(session: AsyncSession, letter: DeadLetterRecord) -> None:
    result_id = result_id_of(letter)
    if result_id is None:
        return
    # Only a result its dead letter failed: one that failed for a reason of its own (an
    # infeasible request) would fail the same way again.
    await session.execute(
        update(OptimizationResultRow)
        .where(
            OptimizationResultRow.id == result_id,
            _dead_lettered(),
        )
        .values(status="queued", error=None, finished_at=None)
    )


def _dead_lettered() -> ColumnElement[bool]:
    return and_(
        OptimizationResultRow.status == "failed",
        OptimizationResultRow.error["code"].astext == DEAD_LETTERED,
    )


# A dead job's result is ``failed`` with the job's last error; a redrive puts it back to ``queued``.
FAILURE_HOOK = FailureHook(dead_lettered=_result_dead_lettered, redriven=_result_redriven)

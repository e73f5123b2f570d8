"""Stored optimization results: new rows, lookups, newest-first pages, and their JSON views.

Views carry no URLs: the API layer adds each result's ``links`` (it knows its routes).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from roost.optimizer.errors import ResultNotFound
from roost.optimizer.models import OptimizationResultRow
from roost.optimizer.registry import ModelVersion
from roost.optimizer.schemas import OptimizeRequest

# What a page of results shows of a finished result's body: enough to compare runs, not the
# whole allocation (a sweep over a thousand totals is megabytes).
SUMMARY_FIELDS = ("total", "predicted_response", "lift")


@dataclass(frozen=True)
class ResultPosition:
    """Where a newest-first page of results stopped: the last result it showed."""

    created_at: datetime
    id: uuid.UUID


@dataclass(frozen=True)
class ResultPage:
    items: list[dict[str, Any]]
    next_position: ResultPosition | None


def new_result_row(
    model: ModelVersion,
    request: OptimizeRequest,
    *,
    requested_by: str | None,
    status: str,
    at: datetime | None = None,
) -> OptimizationResultRow:
    return OptimizationResultRow(
        id=uuid.uuid4(),
        kind="sweep" if request.sweep is not None else "optimize",
        objective=request.objective,
        status=status,
        model_name=model.name,
        model_version=model.version,
        channel_count=len(request.budget),
        # The resolved model is pinned, so a retried job uses the version the caller got.
        request=request.model_dump(mode="json")
        | {"model": model.name, "model_version": model.version},
        attempts=0,
        requested_by=requested_by,
        created_at=at or datetime.now(UTC),
    )


async def result_row_by_id(
    session: AsyncSession, result_id: str, *, for_update: bool = False
) -> OptimizationResultRow:
    try:
        key = uuid.UUID(result_id)
    except ValueError:
        raise ResultNotFound(f"no result {result_id!r}") from None
    query = select(OptimizationResultRow).where(OptimizationResultRow.id == key)
    row = await session.scalar(query.with_for_update() if for_update else query)
    if row is None:
        raise ResultNotFound(f"no result {result_id!r}")
    return row


async def page_of_results(
    session: AsyncSession,
    *,
    limit: int,
    after: ResultPosition | None,
    status: str | None,
    model: str | None,
) -> ResultPage:
    """Newest first; ``after`` is the last result of the previous page. The position is a
    unique key, so every result stored before the first page was read is listed exactly once
    whatever is stored meanwhile; new results show at the top of a fresh first page."""
    columns = OptimizationResultRow
    query: Select[tuple[Any, ...]] = select(
        *_SUMMARY_COLUMNS,
        *(columns.result[name].label(name) for name in SUMMARY_FIELDS),
    )
    if after is not None:
        query = query.where(
            tuple_(columns.created_at, columns.id) < tuple_(after.created_at, after.id)
        )
    if status is not None:
        query = query.where(columns.status == status)
    if model is not None:
        query = query.where(columns.model_name == model)
    query = query.order_by(columns.created_at.desc(), columns.id.desc()).limit(limit + 1)
    rows = (await session.execute(query)).all()
    more, rows = len(rows) > limit, rows[:limit]
    items = [_summary(row._mapping) for row in rows]
    last = rows[-1] if more else None
    return ResultPage(items, ResultPosition(last.created_at, last.id) if last else None)


def result_view(row: OptimizationResultRow) -> dict[str, Any]:
    """A result as ``GET /api/v1/results/{id}`` shows it, without its links."""
    view = _head({name: getattr(row, name) for name in _HEAD_COLUMNS})
    if row.status == "done" and row.result is not None:
        view.update(row.result)
    if row.status == "failed" and row.error is not None:
        view["error"] = row.error
    return view


# The columns every view of a result starts from.
_HEAD_COLUMNS = (
    "id",
    "status",
    "kind",
    "objective",
    "model_name",
    "model_version",
    "channel_count",
    "attempts",
    "created_at",
    "started_at",
    "finished_at",
)
_SUMMARY_COLUMNS = tuple(getattr(OptimizationResultRow, name) for name in (*_HEAD_COLUMNS, "error"))


def _summary(row: Mapping[str, Any]) -> dict[str, Any]:
    """Every field always present (null when it does not apply), so a page's items have one
    shape whatever their status."""
    done, failed = row["status"] == "done", row["status"] == "failed"
    return _head(row) | {
        "error": row["error"] if failed else None,
        **{name: row[name] if done else None for name in SUMMARY_FIELDS},
    }


def _head(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "status": row["status"],
        "kind": row["kind"],
        "objective": row["objective"],
        "model": {"name": row["model_name"], "version": row["model_version"]},
        "channel_count": row["channel_count"],
        "attempts": row["attempts"],
        "created_at": _iso(row["created_at"]),
        "started_at": _iso(row["started_at"]),
        "finished_at": _iso(row["finished_at"]),
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None

"""Optimizer use cases: plain async functions taking their dependencies as arguments.

Each opens its own unit of work; the API only parses, calls one of these and renders. Solving is
CPU work: :func:`optimize` runs it in a thread, at most ``slots`` at a time per process; requests
over ``async_channel_threshold`` channels and every sweep go to the queue instead
(:mod:`roost.optimizer.jobs`). What is solved, and how, is :mod:`roost.optimizer.planning`.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from roost.core.cursors import InvalidCursor, decode_cursor, encode_cursor
from roost.infra.db import unit_of_work
from roost.optimizer import registry
from roost.optimizer.charts import Chart, compact, curves_chart
from roost.optimizer.config import OptimizerConfig, OptimizerDeps
from roost.optimizer.errors import (
    ConstraintError,
    OptimizerError,
    ResultNotReady,
    UnknownModel,
)
from roost.optimizer.jobs import queue_job
from roost.optimizer.metrics import MODEL_PREDICTION, OPTIMIZATION_REQUESTS
from roost.optimizer.planning import (
    channels_named,
    is_background,
    measured_run,
    method_of,
    validate_request,
)
from roost.optimizer.registry import ModelSummary, ModelVersion
from roost.optimizer.results import (
    ResultPosition,
    new_result_row,
    page_of_results,
    result_row_by_id,
    result_view,
)
from roost.optimizer.schemas import OptimizeRequest
from roost.optimizer.solver import predict

Sessions = async_sessionmaker[AsyncSession]


@dataclass(frozen=True)
class Outcome:
    """A finished result (``queued`` False) or an accepted background job, as viewed."""

    view: dict[str, Any]
    queued: bool


# --------------------------------------------------------------------------------------------
# Optimizations and their results
# --------------------------------------------------------------------------------------------


async def optimize(
    deps: OptimizerDeps, request: OptimizeRequest, *, requested_by: str | None
) -> Outcome:
    """Solve now and store the result, or store a queued job and enqueue it."""
    config = deps.config
    received = datetime.now(UTC)
    async with unit_of_work(deps.sessions) as session:
        model = await _model_for(session, request, config)
    method = method_of(request)
    try:
        validate_request(model, request, config)
    except OptimizerError:
        OPTIMIZATION_REQUESTS.labels(method, "rejected").inc()
        raise
    if is_background(request, config):
        queued = await queue_job(
            deps.sessions, deps.enqueue, model, request, requested_by=requested_by
        )
        OPTIMIZATION_REQUESTS.labels(method, "queued").inc()
        return Outcome(result_view(queued), queued=True)
    async with deps.slots:
        started = datetime.now(UTC)
        body = await asyncio.to_thread(measured_run, model, request, config)
    row = new_result_row(model, request, requested_by=requested_by, status="done", at=received)
    row.result, row.started_at, row.finished_at, row.attempts = body, started, datetime.now(UTC), 1
    async with unit_of_work(deps.sessions) as session:
        session.add(row)
    return Outcome(result_view(row), queued=False)


async def get_result(sessions: Sessions, result_id: str) -> dict[str, Any]:
    async with unit_of_work(sessions) as session:
        return result_view(await result_row_by_id(session, result_id))


@dataclass(frozen=True)
class ResultsPage:
    items: list[dict[str, Any]]
    next_cursor: str | None


async def list_results(
    sessions: Sessions,
    *,
    limit: int,
    cursor: str | None,
    status: str | None,
    model: str | None,
) -> ResultsPage:
    """Past results, newest first, as summaries; ``cursor`` is a previous page's
    ``next_cursor`` (a forged one is :class:`InvalidCursor`)."""
    after = _position_of(cursor) if cursor else None
    async with unit_of_work(sessions) as session:
        page = await page_of_results(session, limit=limit, after=after, status=status, model=model)
    last = page.next_position
    next_cursor = encode_cursor(last.created_at.isoformat(), str(last.id)) if last else None
    return ResultsPage(page.items, next_cursor)


async def predict_spend(
    sessions: Sessions, name: str, version: int | None, budget: dict[str, float]
) -> dict[str, Any]:
    async with unit_of_work(sessions) as session:
        model = await registry.resolve_model(session, name, version)
    channels = channels_named(model, list(budget))
    with MODEL_PREDICTION.labels(model.name).time():
        prediction = predict(channels, list(budget.values()))
    return {
        "model": {"name": model.name, "version": model.version},
        "channels": {
            channel.name: {
                "spend": budget[channel.name],
                "response": float(prediction.response[index]),
                "marginal_return": float(prediction.marginal[index]),
            }
            for index, channel in enumerate(channels)
        },
        "total_spend": float(sum(budget.values())),
        "total_response": prediction.total,
    }


async def result_chart(sessions: Sessions, result_id: str) -> Chart:
    """The response-curve chart of a finished single optimization."""
    async with unit_of_work(sessions) as session:
        row = await result_row_by_id(session, result_id)
        if row.kind != "optimize":
            raise ResultNotReady(f"result {result_id} is a {row.kind}; charts show one allocation")
        if row.status != "done" or row.result is None:
            raise ResultNotReady(f"result {result_id} is {row.status}, not done")
        model = await registry.resolve_model(session, row.model_name, row.model_version)
    return chart_of_result(model, row.objective, row.result)


def chart_of_result(model: ModelVersion, objective: str, body: dict[str, Any]) -> Chart:
    by_name = {channel.name: channel for channel in model.channels}
    rows = body["channels"]
    before, after = body["predicted_response"]["before"], body["predicted_response"]["after"]
    relative = body["lift"]["relative"]
    lift = f" ({relative:+.1%})" if relative is not None else ""
    return curves_chart(
        title=f"{model.name} v{model.version} · {objective}",
        subtitle=(
            f"budget {compact(body['total'])} · predicted response {compact(before)} → "
            f"{compact(after)}{lift}"
        ),
        channels=[by_name[row["name"]] for row in rows],
        current=[row["current_spend"] for row in rows],
        optimal=[row["optimal_spend"] for row in rows],
        marginal_roi=[row["marginal_roi"] for row in rows],
        locked=[row["locked"] for row in rows],
    )


# --------------------------------------------------------------------------------------------
# The model registry
# --------------------------------------------------------------------------------------------


async def list_models(sessions: Sessions, *, limit: int, after: str | None) -> list[ModelSummary]:
    async with unit_of_work(sessions) as session:
        return await registry.list_models(session, limit=limit, after=after)


async def register_model(
    sessions: Sessions,
    config: OptimizerConfig,
    *,
    name: str,
    description: str,
    channels: Sequence[Mapping[str, Any]],
    created_by: str | None,
) -> tuple[ModelVersion, bool]:
    """The version holding ``channels`` (as the request gave them) and whether it is new (the
    same content twice is the same version)."""
    parsed = registry.parse_channels(channels)
    if len(parsed) > config.max_channels:
        raise ConstraintError(
            f"{len(parsed)} channels; the limit is {config.max_channels}",
            constraint="channels",
            code="too_many_channels",
        )
    async with unit_of_work(sessions) as session:
        return await registry.register_model(
            session, name=name, description=description, channels=parsed, created_by=created_by
        )


async def model_versions(sessions: Sessions, name: str) -> list[ModelVersion]:
    async with unit_of_work(sessions) as session:
        return await registry.model_versions(session, name)


async def model_version(sessions: Sessions, name: str, version: int) -> ModelVersion:
    async with unit_of_work(sessions) as session:
        return await registry.resolve_model(session, name, version)


async def set_model_status(
    sessions: Sessions, name: str, version: int, status: str
) -> ModelVersion:
    async with unit_of_work(sessions) as session:
        return await registry.set_status(session, name, version, status)


def _position_of(cursor: str) -> ResultPosition:
    created_at, result_id = decode_cursor(cursor, (str, str))
    try:
        position = ResultPosition(datetime.fromisoformat(created_at), uuid.UUID(result_id))
    except ValueError:
        raise InvalidCursor() from None
    if position.created_at.tzinfo is None:  # compared with timestamptz, which needs a zone
        raise InvalidCursor()
    return position


async def _model_for(
    session: AsyncSession, request: OptimizeRequest, config: OptimizerConfig
) -> ModelVersion:
    name = request.model or config.default_model
    try:
        return await registry.resolve_model(session, name, request.model_version)
    except registry.ModelVersionNotFound as error:
        raise UnknownModel(error.message, constraint="model_version") from None
    except (registry.ModelNotFound, registry.NoActiveVersion) as error:
        raise UnknownModel(error.message, constraint="model") from None

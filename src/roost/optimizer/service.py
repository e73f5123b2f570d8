"""Optimization use cases: from a request and a registered model to a stored result.

A request is checked completely before anything runs (unknown channels, bounds, sums of
bounds against the total), so a large request that will run as a queue job is refused with a
422 straight away instead of failing later in the worker. Solving is CPU work: the API runs it
in a thread, at most ``optimizer_max_concurrent`` at a time per process; requests over
``optimizer_async_channel_threshold`` channels and every sweep go to the queue instead.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from roost.core.errors import DependencyUnavailable
from roost.core.ratelimit import RateLimit
from roost.core.settings import Settings
from roost.infra.db import unit_of_work
from roost.optimizer import registry
from roost.optimizer.charts import Chart, compact, curves_chart
from roost.optimizer.curves import Channel, FloatArray
from roost.optimizer.errors import (
    ConstraintError,
    InfeasibleConstraints,
    OptimizerError,
    TargetUnreachable,
)
from roost.optimizer.metrics import (
    ACTIVE_OPTIMIZATIONS,
    MODEL_PREDICTION,
    OPTIMIZATION_DURATION,
    OPTIMIZATION_REQUESTS,
)
from roost.optimizer.models import OptimizationResultRow
from roost.optimizer.registry import ModelVersion
from roost.optimizer.schemas import MAX_AMOUNT, OptimizeRequest, Target
from roost.optimizer.solver import (
    AllocationResult,
    format_amount,
    minimum_budget_for_target,
    optimize_allocation,
    predict,
)

log = structlog.get_logger("roost.optimizer")

RESULTS_PATH = "/api/v1/results"
# Bisection on the budget stops when it is known to this relative precision.
_BUDGET_REL_TOL = 1e-9
_BISECTION_MAX_STEPS = 200


class UnknownChannel(ConstraintError):
    code = "unknown_channel"


class UnknownModel(ConstraintError):
    code = "unknown_model"


class ResultNotFound(OptimizerError):
    code = "result_not_found"


class ResultNotReady(OptimizerError):
    code = "result_not_ready"


# --------------------------------------------------------------------------------------------
# Configuration and dependencies
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OptimizerConfig:
    require_auth: bool
    rate_limit: RateLimit
    async_channel_threshold: int
    max_channels: int
    max_sweep_totals: int
    default_model: str
    max_nodes: int

    @classmethod
    def from_settings(cls, settings: Settings) -> OptimizerConfig:
        require_auth = settings.optimizer_require_auth
        return cls(
            require_auth=settings.is_production if require_auth is None else require_auth,
            rate_limit=RateLimit(
                "optimize", settings.optimizer_rate_per_second, settings.optimizer_rate_burst
            ),
            async_channel_threshold=settings.optimizer_async_channel_threshold,
            max_channels=settings.optimizer_max_channels,
            max_sweep_totals=settings.optimizer_max_sweep_totals,
            default_model=settings.optimizer_default_model,
            max_nodes=settings.optimizer_max_nodes,
        )


Enqueue = Callable[[str], Awaitable[None]]


@dataclass
class OptimizerDeps:
    """What the use cases need, wired by the composition root (``roost.roles``)."""

    sessions: async_sessionmaker[AsyncSession]
    config: OptimizerConfig
    enqueue: Enqueue | None
    slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(4))


@dataclass(frozen=True)
class Outcome:
    """A finished result (``queued`` False) or an accepted background job."""

    view: dict[str, Any]
    queued: bool


# --------------------------------------------------------------------------------------------
# Pure: request -> solver inputs -> result body
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    channels: tuple[Channel, ...]
    current: FloatArray
    lower: FloatArray
    upper: FloatArray
    locked: tuple[bool, ...]

    @property
    def names(self) -> list[str]:
        return [channel.name for channel in self.channels]


def method_of(request: OptimizeRequest) -> str:
    return "sweep" if request.sweep is not None else request.objective


def is_background(request: OptimizeRequest, config: OptimizerConfig) -> bool:
    return request.sweep is not None or len(request.budget) > config.async_channel_threshold


def build_plan(model: ModelVersion, request: OptimizeRequest, config: OptimizerConfig) -> Plan:
    """Channels, current spend and bounds in request order; raises naming the bad field."""
    names = list(request.budget)
    if len(names) > config.max_channels:
        raise ConstraintError(
            f"{len(names)} channels in budget; the limit is {config.max_channels}",
            constraint="budget",
            code="too_many_channels",
        )
    by_name = {channel.name: channel for channel in model.channels}
    for name in names:
        if name not in by_name:
            raise UnknownChannel(
                f"channel {name!r} is not in model {model.name!r} version {model.version} "
                f"(its channels: {_listing(by_name)})",
                constraint=f"budget.{name}",
            )
    bounds, locked = request.constraints.channels, set(request.constraints.locked)
    for name in bounds:
        if name not in request.budget:
            raise UnknownChannel(
                f"constraints.channels names {name!r}, which has no current spend in budget",
                constraint=f"constraints.channels.{name}",
            )
    for name in request.constraints.locked:
        if name not in request.budget:
            raise UnknownChannel(
                f"constraints.locked names {name!r}, which has no current spend in budget",
                constraint="constraints.locked",
            )
        if name in bounds:
            raise ConstraintError(
                f"channel {name!r} is locked and also has bounds; give one or the other",
                constraint=f"constraints.channels.{name}",
                code="conflicting_constraints",
            )
    current = np.array([request.budget[name] for name in names], dtype=np.float64)
    lower, upper = np.zeros(len(names)), np.full(len(names), np.inf)
    for index, name in enumerate(names):
        spend = float(current[index])
        if name in locked:
            lower[index] = upper[index] = spend
            continue
        bound = bounds.get(name)
        if bound is None:
            continue
        if bound.min is not None:
            lower[index] = bound.min
        elif bound.min_fraction is not None:
            lower[index] = bound.min_fraction * spend
        if bound.max is not None:
            upper[index] = bound.max
        elif bound.max_fraction is not None:
            upper[index] = bound.max_fraction * spend
        if lower[index] > upper[index]:
            raise InfeasibleConstraints(
                f"channel {name!r}: minimum {format_amount(lower[index])} exceeds maximum "
                f"{format_amount(upper[index])}",
                constraint=f"constraints.channels.{name}",
                code="min_exceeds_max",
            )
    return Plan(
        channels=tuple(by_name[name] for name in names),
        current=current,
        lower=lower,
        upper=upper,
        locked=tuple(name in locked for name in names),
    )


def validate_request(
    model: ModelVersion, request: OptimizeRequest, config: OptimizerConfig
) -> Plan:
    """Everything that can be checked without solving: the plan and its totals."""
    plan = build_plan(model, request, config)
    if request.sweep is not None:
        if len(request.sweep.totals) > config.max_sweep_totals:
            raise ConstraintError(
                f"{len(request.sweep.totals)} sweep totals; the limit is {config.max_sweep_totals}",
                constraint="sweep.totals",
                code="too_many_scenarios",
            )
        for position, total in enumerate(request.sweep.totals):
            _check_total(plan, total, f"sweep.totals[{position}]")
    elif request.objective == "max_response":
        _check_total(plan, planned_total(plan, request), "constraints.total")
    return plan


def planned_total(plan: Plan, request: OptimizeRequest) -> float:
    total = request.constraints.total
    return float(plan.current.sum()) if total is None else total


def run_request(
    model: ModelVersion, request: OptimizeRequest, config: OptimizerConfig
) -> dict[str, Any]:
    """Solve a validated request: the result body stored and returned (CPU-bound, no I/O)."""
    started = time.perf_counter()
    plan = validate_request(model, request, config)
    with _request_fields():
        if request.sweep is not None:
            body = _sweep(plan, request.sweep.totals, config.max_nodes)
        elif request.target is not None:
            body = _reach_target(plan, request.target, request.constraints.total, config)
        else:
            total = planned_total(plan, request)
            result = optimize_allocation(
                plan.channels, total, plan.lower, plan.upper, max_nodes=config.max_nodes
            )
            body = _allocation_body(plan, result, total)
    body["time_taken_ms"] = round((time.perf_counter() - started) * 1000, 3)
    return body


def measured_run(
    model: ModelVersion, request: OptimizeRequest, config: OptimizerConfig
) -> dict[str, Any]:
    """:func:`run_request` with the optimization metrics (API threads and worker alike)."""
    method = method_of(request)
    ACTIVE_OPTIMIZATIONS.inc()
    started = time.perf_counter()
    try:
        body = run_request(model, request, config)
    except OptimizerError:
        OPTIMIZATION_REQUESTS.labels(method, "rejected").inc()
        raise
    except Exception:
        OPTIMIZATION_REQUESTS.labels(method, "failed").inc()
        raise
    finally:
        ACTIVE_OPTIMIZATIONS.dec()
        OPTIMIZATION_DURATION.observe(time.perf_counter() - started)
    OPTIMIZATION_REQUESTS.labels(method, _solver_status(body)).inc()
    return body


def next_unit_return(plan: Plan, allocation: FloatArray) -> float:
    """What one more unit of budget earns at ``allocation``: the best marginal return among
    channels that may still grow (0 when none may)."""
    marginal = np.array(
        [
            float(channel.marginal(float(x)))
            for channel, x in zip(plan.channels, allocation, strict=True)
        ]
    )
    room = allocation < plan.upper * (1 - 1e-12)
    return float(marginal[room].max()) if room.any() else 0.0


def _check_total(plan: Plan, total: float, where: str) -> None:
    floor, ceiling = float(plan.lower.sum()), float(plan.upper.sum())
    slack = 1e-12 * max(total, 1.0)
    if floor > total + slack:
        raise InfeasibleConstraints(
            f"{where}: sum of minimums ({format_amount(floor)}) exceeds the total budget "
            f"({format_amount(total)})",
            constraint=where,
            code="minimums_exceed_total",
        )
    if ceiling < total - slack:
        raise InfeasibleConstraints(
            f"{where}: sum of maximums ({format_amount(ceiling)}) is below the total budget "
            f"({format_amount(total)}); "
            "locked channels count at their current spend",
            constraint=where,
            code="maximums_below_total",
        )


@contextmanager
def _request_fields() -> Iterator[None]:
    """Re-raise the solver's constraint errors naming the request field instead."""
    try:
        yield
    except ConstraintError as error:
        raise type(error)(
            error.message, constraint=_request_field(error.constraint), code=error.code
        ) from None


_INDEXED = re.compile(r"^(?:lower|upper|bounds)\[(.+)\]$")


def _request_field(constraint: str) -> str:
    if constraint in ("total", "lower", "upper"):
        return "constraints.total"
    match = _INDEXED.match(constraint)
    if match:
        return f"constraints.channels.{match.group(1)}"
    return constraint


def _reach_target(
    plan: Plan, target: Target, cap: float | None, config: OptimizerConfig
) -> dict[str, Any]:
    if target.response is not None:
        result = minimum_budget_for_target(
            plan.channels, target.response, plan.lower, plan.upper, max_nodes=config.max_nodes
        )
    else:
        assert target.marginal_roi is not None  # the schema requires one of the two
        result = _budget_for_marginal_roi(plan, target.marginal_roi, config.max_nodes)
    if cap is not None and result.total > cap * (1 + 1e-9):
        raise TargetUnreachable(
            f"reaching the target takes a budget of {result.total:g}, more than "
            f"constraints.total ({cap:g})",
            max_achievable=result.objective,
        )
    body = _allocation_body(plan, result, result.total)
    body["target"] = target.model_dump(exclude_none=True)
    body["achieved"] = {
        "response": result.objective,
        "marginal_roi": next_unit_return(plan, result.allocation),
        "roi": result.objective / result.total if result.total > 0 else None,
    }
    return body


def _budget_for_marginal_roi(plan: Plan, target: float, max_nodes: int) -> AllocationResult:
    """The smallest budget whose optimal plan earns at most ``target`` on its next unit.

    On concave curves the next unit's return falls as the budget grows, so bisection finds
    the budget where it crosses the target exactly; with S-curves it can jump up where a new
    channel becomes worth buying, and the budget found is a crossing, not necessarily the first.
    """

    def solve(budget: float) -> AllocationResult:
        return optimize_allocation(
            plan.channels, budget, plan.lower, plan.upper, max_nodes=max_nodes
        )

    floor = float(plan.lower.sum())
    cheapest = solve(floor)
    if next_unit_return(plan, cheapest.allocation) <= target:
        return cheapest
    ceiling = float(plan.upper.sum())
    if math.isfinite(ceiling):
        dear = solve(ceiling)
    else:
        budget = floor + max(floor, 1.0)
        dear = solve(budget)
        while next_unit_return(plan, dear.allocation) > target:
            budget = floor + 2.0 * (budget - floor)
            if budget > MAX_AMOUNT:
                raise TargetUnreachable(
                    f"the next unit still returns more than {target:g} at any budget up to "
                    f"{MAX_AMOUNT:g}",
                    max_achievable=dear.objective,
                )
            dear = solve(budget)
    cheap_total = floor
    for _ in range(_BISECTION_MAX_STEPS):
        if dear.total - cheap_total <= _BUDGET_REL_TOL * max(dear.total, 1.0):
            break
        attempt = solve(0.5 * (cheap_total + dear.total))
        if next_unit_return(plan, attempt.allocation) <= target:
            dear = attempt
        else:
            cheap_total = attempt.total
    return dear


def _sweep(plan: Plan, totals: Sequence[float], max_nodes: int) -> dict[str, Any]:
    before = predict(plan.channels, plan.current)
    scenarios: list[dict[str, Any]] = []
    statuses: list[str] = []
    for total in totals:
        result = optimize_allocation(
            plan.channels, total, plan.lower, plan.upper, max_nodes=max_nodes
        )
        statuses.append(result.status)
        scenarios.append(
            {
                "total": total,
                "allocation": _by_name(plan, result.allocation),
                "predicted_response": result.objective,
                "lift": _lift(before.total, result.objective),
                "marginal_roi": _by_name(plan, result.marginal),
                "budget_marginal_roi": next_unit_return(plan, result.allocation),
                "solver": _solver_block(result),
            }
        )
    return {
        "current": _by_name(plan, plan.current),
        "predicted_response": {"before": before.total},
        "scenarios": scenarios,
        "solver": {"status": _worst_status(statuses)},
    }


def _allocation_body(plan: Plan, result: AllocationResult, total: float) -> dict[str, Any]:
    before = predict(plan.channels, plan.current)
    channels = []
    for index, channel in enumerate(plan.channels):
        current, optimal = float(plan.current[index]), float(result.allocation[index])
        channels.append(
            {
                "name": channel.name,
                "current_spend": current,
                "optimal_spend": optimal,
                "change": optimal - current,
                "min": float(plan.lower[index]),
                "max": _finite_or_none(float(plan.upper[index])),
                "locked": plan.locked[index],
                "response_before": float(before.response[index]),
                "response_after": float(result.response[index]),
                "marginal_roi": float(result.marginal[index]),
            }
        )
    return {
        "total": float(total),
        "allocation": _by_name(plan, result.allocation),
        "current": _by_name(plan, plan.current),
        "predicted_response": {"before": before.total, "after": result.objective},
        "lift": _lift(before.total, result.objective),
        "marginal_roi": _by_name(plan, result.marginal),
        "budget_marginal_roi": next_unit_return(plan, result.allocation),
        "channels": channels,
        "solver": _solver_block(result),
    }


def _solver_block(result: AllocationResult) -> dict[str, Any]:
    return {
        "status": result.status,
        "iterations": result.iterations,
        "elapsed_ms": round(result.elapsed_seconds * 1000, 3),
        "upper_bound": _finite_or_none(result.upper_bound),
        "gap": _finite_or_none(result.gap),
    }


def _solver_status(body: dict[str, Any]) -> str:
    return str(body.get("solver", {}).get("status", "optimal"))


def _worst_status(statuses: Sequence[str]) -> str:
    return "optimal" if all(status == "optimal" for status in statuses) else "node_limit"


def _lift(before: float, after: float) -> dict[str, float | None]:
    return {"absolute": after - before, "relative": (after - before) / before if before else None}


def _by_name(plan: Plan, values: FloatArray) -> dict[str, float]:
    return {name: float(value) for name, value in zip(plan.names, values, strict=True)}


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _listing(by_name: dict[str, Channel], limit: int = 10) -> str:
    names = sorted(by_name)
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


# --------------------------------------------------------------------------------------------
# Use cases
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
        return await _enqueue(deps, model, request, requested_by=requested_by)
    async with deps.slots:
        started = datetime.now(UTC)
        body = await asyncio.to_thread(measured_run, model, request, config)
    row = _result_row(model, request, requested_by=requested_by, status="done", at=received)
    row.result, row.started_at, row.finished_at, row.attempts = body, started, datetime.now(UTC), 1
    async with unit_of_work(deps.sessions) as session:
        session.add(row)
    return Outcome(result_view(row), queued=False)


async def get_result(sessions: async_sessionmaker[AsyncSession], result_id: str) -> dict[str, Any]:
    async with unit_of_work(sessions) as session:
        return result_view(await _result_row_by_id(session, result_id))


async def predict_spend(
    sessions: async_sessionmaker[AsyncSession],
    name: str,
    version: int | None,
    budget: dict[str, float],
) -> dict[str, Any]:
    async with unit_of_work(sessions) as session:
        model = await registry.resolve_model(session, name, version)
    by_name = {channel.name: channel for channel in model.channels}
    for channel_name in budget:
        if channel_name not in by_name:
            raise UnknownChannel(
                f"channel {channel_name!r} is not in model {model.name!r} version "
                f"{model.version} (its channels: {_listing(by_name)})",
                constraint=f"budget.{channel_name}",
            )
    channels = [by_name[channel_name] for channel_name in budget]
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


async def result_chart(sessions: async_sessionmaker[AsyncSession], result_id: str) -> Chart:
    """The response-curve chart of a finished single optimization."""
    async with unit_of_work(sessions) as session:
        row = await _result_row_by_id(session, result_id)
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
# Background jobs (the worker side is roost.optimizer.tasks)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    result_id: str
    model: ModelVersion
    request: OptimizeRequest


async def claim_job(sessions: async_sessionmaker[AsyncSession], result_id: str) -> Job | None:
    """Mark a queued result ``running`` and return what to solve; None when already final.

    Redelivered jobs are safe: a finished result is left alone, a ``running`` one (its worker
    died mid-job) runs again.
    """
    async with unit_of_work(sessions) as session:
        row = await _result_row_by_id(session, result_id, for_update=True)
        if row.status in ("done", "failed"):
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
        row = await _result_row_by_id(session, result_id, for_update=True)
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


# --------------------------------------------------------------------------------------------
# Persistence helpers
# --------------------------------------------------------------------------------------------


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


async def _enqueue(
    deps: OptimizerDeps, model: ModelVersion, request: OptimizeRequest, *, requested_by: str | None
) -> Outcome:
    if deps.enqueue is None:
        raise DependencyUnavailable("broker")
    row = _result_row(model, request, requested_by=requested_by, status="queued")
    async with unit_of_work(deps.sessions) as session:
        session.add(row)
    try:
        await deps.enqueue(str(row.id))
    except Exception as exc:
        log.warning("optimization_enqueue_failed", result_id=str(row.id), error=type(exc).__name__)
        await finish_job(
            deps.sessions,
            str(row.id),
            error={"code": "broker_unavailable", "message": "the job could not be queued"},
        )
        raise DependencyUnavailable("broker") from exc
    OPTIMIZATION_REQUESTS.labels(method_of(request), "queued").inc()
    return Outcome(result_view(row), queued=True)


def _result_row(
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


async def _result_row_by_id(
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


def result_view(row: OptimizationResultRow) -> dict[str, Any]:
    result_id = str(row.id)
    links = {"self": f"{RESULTS_PATH}/{result_id}"}
    if row.kind == "optimize" and row.status == "done":
        links["curves_svg"] = f"/api/v1/optimize/{result_id}/curves.svg"
        links["curves_png"] = f"/api/v1/optimize/{result_id}/curves.png"
    view: dict[str, Any] = {
        "id": result_id,
        "status": row.status,
        "kind": row.kind,
        "objective": row.objective,
        "model": {"name": row.model_name, "version": row.model_version},
        "channel_count": row.channel_count,
        "attempts": row.attempts,
        "created_at": _iso(row.created_at),
        "started_at": _iso(row.started_at),
        "finished_at": _iso(row.finished_at),
        "links": links,
    }
    if row.status == "done" and row.result is not None:
        view.update(row.result)
    if row.status == "failed" and row.error is not None:
        view["error"] = row.error
    return view


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None

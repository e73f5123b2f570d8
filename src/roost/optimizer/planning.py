"""Pure planning: from a request and a registered model to solver inputs and a result body.

A request is checked completely before anything runs (unknown channels, bounds, sums of
bounds against the total), so a large request that will run as a queue job is refused with a
422 straight away instead of failing later in the worker. Nothing here does I/O; the API runs
:func:`measured_run` in a thread, the worker in its own.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from roost.optimizer.config import OptimizerConfig
from roost.optimizer.curves import Channel, FloatArray
from roost.optimizer.errors import (
    ConstraintError,
    InfeasibleConstraints,
    OptimizerError,
    TargetUnreachable,
    UnknownChannel,
)
from roost.optimizer.metrics import (
    ACTIVE_OPTIMIZATIONS,
    OPTIMIZATION_DURATION,
    OPTIMIZATION_REQUESTS,
)
from roost.optimizer.registry import ModelVersion
from roost.optimizer.schemas import MAX_AMOUNT, OptimizeRequest, Target
from roost.optimizer.solver import (
    AllocationResult,
    format_amount,
    minimum_budget_for_target,
    optimize_allocation,
    predict,
)

# Bisection on the budget stops when it is known to this relative precision.
_BUDGET_REL_TOL = 1e-9
_BISECTION_MAX_STEPS = 200


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
    channels = channels_named(model, names)
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
        channels=tuple(channels),
        current=current,
        lower=lower,
        upper=upper,
        locked=tuple(name in locked for name in names),
    )


def channels_named(model: ModelVersion, names: Sequence[str]) -> list[Channel]:
    """The model's channels in the order of ``names``; an unknown one is named as
    ``budget.<name>``, the field it came from."""
    by_name = {channel.name: channel for channel in model.channels}
    for name in names:
        if name not in by_name:
            raise UnknownChannel(
                f"channel {name!r} is not in model {model.name!r} version {model.version} "
                f"(its channels: {_listing(by_name)})",
                constraint=f"budget.{name}",
            )
    return [by_name[name] for name in names]


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

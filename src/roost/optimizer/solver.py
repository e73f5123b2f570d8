"""Budget allocation across channels (pure NumPy, no I/O).

    maximise  sum_i f_i(x_i)   subject to   sum_i x_i = total,   lower_i <= x_i <= upper_i

Concave curves: the KKT conditions say every channel strictly inside its bounds earns the same
marginal return ``lambda``, channels at their upper bound earn at least ``lambda`` and channels at
their lower bound at most ``lambda``. For a given ``lambda`` each channel's spend is therefore its
inverse marginal clipped to its bounds (one vectorised call per curve kind), total spend is
nonincreasing in ``lambda``, and a one-dimensional root find on ``lambda`` solves the problem
("water-filling"), at a cost linear in the number of channels.

S-curves are not concave, and local methods started from an even split stall with the S-curve
stuck where its marginal is tiny. We use branch and bound on concave envelopes:

* on a box ``[a, b]`` of spends the concave envelope of an S-curve is the tangent line from
  ``(a, f(a))`` to the curve followed by the curve itself, or the chord when the curve is convex
  on the whole box. Water-filling on the envelopes solves this relaxation exactly; each envelope
  contributes one jump (from ``a`` to the tangency point) at ``lambda`` equal to its slope, so we
  first locate ``lambda`` among these thresholds and only then root-find where spend is continuous.
* the relaxation's value bounds the true optimum from above, and its allocation is feasible, so
  its true value bounds it from below. Only channels sitting strictly inside a linear envelope
  segment make the two differ; generically there is one such channel.
* we branch on the channel whose envelope is loosest: at its inflection point when its box
  straddles it (the concave half is then exact) and otherwise at its relaxed spend (the gap of a
  chord shrinks quadratically with the box width). Nodes are explored best-bound first.
* identical channels (same curve, same bounds) are solved as one class with a multiplicity.
  At an optimum, copies on the concave branch earn the same marginal and so share one spend,
  at most one copy sits anywhere else, and the others stay at their minimum. A class of S-curves
  is four rows with counts (one odd copy, copies on the concave branch, copies not decided yet,
  copies off); the relaxation weighs each row by its count, rounds the undecided copies to
  "bought at the tangency point or not" (one copy takes the remainder, so the gap is one copy's)
  and branching moves undecided copies to "on" or "off": a binary search on how many to buy.
  1,000 identical S-curves close in about a dozen nodes; a class of concave curves is one row.
* before searching, an activation heuristic tries buying the m most attractive S-curve copies
  (by their tangent slope) on their concave branch and none of the others, for m around the
  number of copies the root's rounding buys: each choice is concave and solved exactly, so the
  search starts from a good allocation, which is what matters when the node limit stops it.

Problems of up to ``SMALL_PROBLEM_CHANNELS`` channels first try the root relaxation in pure
Python (``small.py``): the same envelopes and water-filling on floats, several times faster
than NumPy at that size, where each NumPy call's fixed cost dominates. When that root closes
its answer is returned (the same certificate); otherwise the search below runs from scratch.

The search stops when the best upper bound is within ``rel_tol`` of the best allocation found,
so ``status == "optimal"`` is a certificate: no allocation beats ``objective`` by more than
``upper_bound - objective``. Choosing which S-curves to buy is a knapsack-like problem (NP-hard
in general): many near-identical S-curves competing for a budget can need many nodes.
``max_nodes`` caps the work (relaxations solved, never more); hitting it returns the best
allocation found with status ``"node_limit"`` and the certified ``upper_bound``.
"""

from __future__ import annotations

import heapq
import itertools
import math
import numbers
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from roost.optimizer.curves import (
    Channel,
    CurveBatch,
    FloatArray,
    LinearWithCapCurve,
    PowerCurve,
    ResponseCurve,
)
from roost.optimizer.errors import ConstraintError, InfeasibleConstraints, TargetUnreachable
from roost.optimizer.small import (
    SMALL_PROBLEM_CHANNELS,
    next_log_multiplier,
    secant,
    solve_root,
)

BoolArray = npt.NDArray[np.bool_]

STATUS_OPTIMAL = "optimal"
STATUS_NODE_LIMIT = "node_limit"

DEFAULT_REL_TOL = 1e-9
DEFAULT_MAX_NODES = 1000
# Rounding slack when comparing sums of bounds with the total.
_FEASIBILITY_SLACK = 1e-12
_ROOT_MAX_ITERATIONS = 200
# Branch-and-bound nodes solved before the activation heuristic is tried.
_NODES_BEFORE_HEURISTIC = 5
# Up to this many (jump, channel) pairs, a relaxation without a hint evaluates the spend at
# every jump in one call instead of searching them.
_GRID_SIZE = 4096
# exp() of these stays a normal, finite float.
_LOG_FLOOR, _LOG_CEILING = -700.0, 700.0


@dataclass(frozen=True)
class AllocationResult:
    """An allocation and what it earns.

    ``multiplier`` is the Lagrange multiplier of the budget constraint (the marginal return of
    one more unit of budget); ``iterations`` counts relaxations solved (branch-and-bound nodes);
    ``upper_bound`` is a proven bound on the best achievable objective.
    """

    allocation: FloatArray
    objective: float
    response: FloatArray
    marginal: FloatArray
    multiplier: float
    status: str
    iterations: int
    elapsed_seconds: float
    upper_bound: float

    @property
    def total(self) -> float:
        return float(self.allocation.sum())

    @property
    def gap(self) -> float:
        """How much better than ``objective`` any allocation could possibly be."""
        return max(self.upper_bound - self.objective, 0.0)


@dataclass(frozen=True)
class Prediction:
    response: FloatArray
    total: float
    marginal: FloatArray


def optimize_allocation(
    channels: Sequence[Channel],
    total: float,
    lower: FloatArray | Sequence[float] | None = None,
    upper: FloatArray | Sequence[float] | None = None,
    *,
    rel_tol: float = DEFAULT_REL_TOL,
    max_nodes: int = DEFAULT_MAX_NODES,
) -> AllocationResult:
    """Spend exactly ``total`` within ``[lower, upper]`` to maximise the summed response.

    Raises :class:`InfeasibleConstraints` naming the broken constraint, or
    :class:`ConstraintError` for malformed input.
    """
    started = time.perf_counter()
    _check_options(rel_tol, max_nodes)
    _check_channels(channels)
    low, high = _check_bounds(channels, lower, upper)
    budget = _check_total(total)
    _check_feasible(low, high, budget)
    return _optimize(channels, budget, low, high, rel_tol, max_nodes, started)


def minimum_budget_for_target(
    channels: Sequence[Channel],
    target_response: float,
    lower: FloatArray | Sequence[float] | None = None,
    upper: FloatArray | Sequence[float] | None = None,
    *,
    rel_tol: float = DEFAULT_REL_TOL,
    max_nodes: int = DEFAULT_MAX_NODES,
) -> AllocationResult:
    """The optimal allocation of the smallest total whose best response reaches the target.

    The best response is nondecreasing in the total, so we bisect on the total (to ``rel_tol``).
    Raises :class:`TargetUnreachable` when even the largest feasible spend falls short.
    """
    started = time.perf_counter()
    _check_options(rel_tol, max_nodes)
    _check_channels(channels)
    low, high = _check_bounds(channels, lower, upper)
    target = _as_number(target_response)
    if target is None or not math.isfinite(target):
        raise ConstraintError(
            f"target response must be a finite number, got {target_response!r}",
            constraint="target",
            code="invalid_target",
        )
    curves = [channel.effective_curve for channel in channels]
    high = np.array(
        [_saturation_cap(curve, lo, hi) for curve, lo, hi in zip(curves, low, high, strict=True)]
    )

    def solve(budget: float) -> AllocationResult:
        return _optimize(channels, budget, low, high, rel_tol, max_nodes, started)

    floor = float(low.sum())
    cheapest = solve(floor)
    if cheapest.objective >= target:
        return cheapest
    finite = np.isfinite(high)
    bounded_best = sum(
        float(curve.response(hi)) if fin else curve.supremum
        for curve, hi, fin in zip(curves, high, finite, strict=True)
    )
    unattainable = target > bounded_best or (target == bounded_best and not finite.all())
    if unattainable:
        raise TargetUnreachable(
            f"target response {target:g} exceeds the most the channels can deliver within "
            f"their bounds ({bounded_best:g})",
            max_achievable=bounded_best,
        )
    if finite.all():
        best = solve(float(high.sum()))
        if best.objective < target:
            raise TargetUnreachable(
                f"target response {target:g} exceeds the most the channels can deliver within "
                f"their bounds ({best.objective:g})",
                max_achievable=best.objective,
            )
    else:
        step = max(floor, 1.0)
        best = solve(floor + step)
        while best.objective < target:
            step *= 2.0
            if not math.isfinite(floor + step):
                raise TargetUnreachable(
                    f"target response {target:g} is not reached by any finite budget",
                    max_achievable=best.objective,
                )
            best = solve(floor + step)
    cheap_total, dear_total = floor, best.total
    while dear_total - cheap_total > rel_tol * max(dear_total, 1e-300):
        middle = 0.5 * (cheap_total + dear_total)
        if middle in (cheap_total, dear_total):
            break
        attempt = solve(middle)
        if attempt.objective >= target:
            best, dear_total = attempt, middle
        else:
            cheap_total = middle
    return replace(best, elapsed_seconds=time.perf_counter() - started)


def predict(channels: Sequence[Channel], spend: FloatArray | Sequence[float]) -> Prediction:
    """Per-channel response and marginal return at ``spend``, and the total response."""
    _check_channels(channels)
    values = np.asarray(spend, dtype=np.float64)
    if values.shape != (len(channels),):
        raise ConstraintError(
            f"spend has {values.size} entries for {len(channels)} channels",
            constraint="spend",
            code="invalid_spend",
        )
    for channel, value in zip(channels, values, strict=True):
        if not math.isfinite(value) or value < 0:
            raise ConstraintError(
                f"spend for channel {channel.name!r} must be a finite number >= 0, got {value}",
                constraint=f"spend[{channel.name}]",
                code="invalid_spend",
            )
    batch = CurveBatch([channel.effective_curve for channel in channels])
    response, marginal = batch.response(values), batch.marginal(values)
    return Prediction(response=response, total=float(response.sum()), marginal=marginal)


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------


def _check_channels(channels: Sequence[Channel]) -> None:
    if len(channels) == 0:
        raise ConstraintError(
            "at least one channel is required", constraint="channels", code="no_channels"
        )
    seen: set[str] = set()
    for channel in channels:
        if not isinstance(channel, Channel):
            raise ConstraintError(
                f"expected a Channel, got {type(channel).__name__}", constraint="channels"
            )
        if channel.name in seen:
            raise ConstraintError(
                f"channel {channel.name!r} appears twice",
                constraint=f"channel[{channel.name}]",
                code="duplicate_channel",
            )
        seen.add(channel.name)


def _check_total(total: float) -> float:
    value = _as_number(total)
    if value is None:
        raise InfeasibleConstraints(
            f"total budget must be a number, got {total!r}",
            constraint="total",
            code="invalid_total",
        )
    if not math.isfinite(value):
        raise InfeasibleConstraints(
            f"total budget must be finite, got {total!r}", constraint="total", code="invalid_total"
        )
    if value < 0:
        raise InfeasibleConstraints(
            f"total budget must be >= 0, got {value:g}", constraint="total", code="negative_total"
        )
    return value


def _as_number(value: Any) -> float | None:
    # Only real numbers: float("100") would quietly accept a string, and True is an int.
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    return float(value)


def _check_options(rel_tol: float, max_nodes: int) -> None:
    # Below 1e-12 the relaxation's own rounding would pass for a gap worth branching on.
    tolerance = _as_number(rel_tol)
    if tolerance is None or not 1e-12 <= tolerance < 1:
        raise ConstraintError(
            f"rel_tol must be a number in [1e-12, 1), got {rel_tol!r}",
            constraint="rel_tol",
            code="invalid_option",
        )
    # nan would compare false with every bound and lift the cap; 1.5 nodes means nothing.
    whole = isinstance(max_nodes, numbers.Integral) and not isinstance(max_nodes, bool)
    if not whole or max_nodes < 1:
        raise ConstraintError(
            f"max_nodes must be an integer >= 1, got {max_nodes!r}",
            constraint="max_nodes",
            code="invalid_option",
        )


def _check_bounds(
    channels: Sequence[Channel],
    lower: FloatArray | Sequence[float] | None,
    upper: FloatArray | Sequence[float] | None,
) -> tuple[FloatArray, FloatArray]:
    count = len(channels)
    try:
        low = np.zeros(count) if lower is None else np.array(lower, dtype=np.float64)
        high = np.full(count, np.inf) if upper is None else np.array(upper, dtype=np.float64)
    except (TypeError, ValueError):
        raise ConstraintError(
            "bounds must be lists of numbers", constraint="bounds", code="invalid_bound"
        ) from None
    for name, values in (("lower", low), ("upper", high)):
        if values.shape != (count,):
            raise ConstraintError(
                f"{name} bounds have {values.size} entries for {count} channels",
                constraint=name,
                code="invalid_bound",
            )
    kinds = (("minimum", "lower", low, False), ("maximum", "upper", high, True))
    # Checked as arrays (a thousand channels cost microseconds); the first offender is named.
    for label, name, values, infinite_ok in kinds:
        bad = np.isnan(values) | (values < 0)
        if not infinite_ok:
            bad |= np.isinf(values)
        if bad.any():
            first = int(np.argmax(bad))
            channel, value = channels[first], float(values[first])
            raise InfeasibleConstraints(
                f"{label} for channel {channel.name!r} must be a finite number >= 0"
                f"{' or inf' if infinite_ok else ''}, got {value}",
                constraint=f"{name}[{channel.name}]",
                code="invalid_bound",
            )
    crossed = low > high
    if crossed.any():
        first = int(np.argmax(crossed))
        channel, lo, hi = channels[first], float(low[first]), float(high[first])
        raise InfeasibleConstraints(
            f"minimum {format_amount(lo)} for channel {channel.name!r} exceeds its maximum "
            f"{format_amount(hi)}",
            constraint=f"bounds[{channel.name}]",
            code="min_exceeds_max",
        )
    return low, high


def _check_feasible(low: FloatArray, high: FloatArray, budget: float) -> None:
    slack = _FEASIBILITY_SLACK * max(budget, 1.0)
    floor, ceiling = float(low.sum()), float(high.sum())
    if floor > budget + slack:
        raise InfeasibleConstraints(
            f"sum of minimums ({format_amount(floor)}) exceeds the total budget "
            f"({format_amount(budget)})",
            constraint="lower",
            code="minimums_exceed_total",
        )
    if ceiling < budget - slack:
        raise InfeasibleConstraints(
            f"sum of maximums ({format_amount(ceiling)}) is below the total budget "
            f"({format_amount(budget)})",
            constraint="upper",
            code="maximums_below_total",
        )


def format_amount(value: float) -> str:
    """Enough digits to tell apart two amounts the feasibility check (1e-12 slack) tells apart."""
    return f"{value:.15g}"


def _saturation_cap(curve: ResponseCurve, low: float, high: float) -> float:
    # Spending past the point where a capped curve saturates buys nothing; capping an infinite
    # upper bound there lets a target equal to the cap be reached with a finite budget.
    if math.isinf(high) and isinstance(curve, LinearWithCapCurve):
        return max(low, curve.cap / curve.slope)
    return high


# --------------------------------------------------------------------------------------------
# Branch and bound
# --------------------------------------------------------------------------------------------


def _optimize(
    channels: Sequence[Channel],
    budget: float,
    low: FloatArray,
    high: FloatArray,
    rel_tol: float,
    max_nodes: int,
    started: float,
) -> AllocationResult:
    curves = [channel.effective_curve for channel in channels]
    if len(curves) <= SMALL_PROBLEM_CHANNELS:
        # Most small problems close at the root, which pure Python solves several times
        # faster than NumPy at this size (see small.py); the others come back as None.
        root = solve_root(
            [curve.scalar for curve in curves], budget, low.tolist(), high.tolist(), rel_tol
        )
        if root is not None:
            return AllocationResult(
                allocation=np.array(root.allocation),
                objective=root.objective,
                response=np.array(root.response),
                marginal=np.array(root.marginal),
                multiplier=root.multiplier,
                status=STATUS_OPTIMAL,
                iterations=1,
                elapsed_seconds=time.perf_counter() - started,
                upper_bound=root.upper_bound,
            )
    batch = CurveBatch(curves)
    search = _allocate(curves, batch, budget, low, high, rel_tol, max_nodes)
    allocation = search.allocation
    response, marginal = batch.response(allocation), batch.marginal(allocation)
    objective = float(response.sum())
    return AllocationResult(
        allocation=allocation,
        objective=objective,
        response=response,
        marginal=marginal,
        multiplier=search.multiplier,
        status=search.status,
        iterations=search.nodes,
        elapsed_seconds=time.perf_counter() - started,
        upper_bound=max(search.upper_bound, objective),
    )


def _allocate(
    curves: Sequence[ResponseCurve],
    batch: CurveBatch,
    budget: float,
    low: FloatArray,
    high: FloatArray,
    rel_tol: float,
    max_nodes: int,
) -> _SearchResult:
    """Solve for the channels that can move; the others sit at their minimum."""
    spare = budget - float(low.sum())
    if spare <= 0:
        return _SearchResult(low.copy(), 0.0, 0, -math.inf, STATUS_OPTIMAL)
    # No channel can take more than its minimum plus everything the minimums leave over.
    reachable = np.minimum(high, low + spare)
    if float(reachable.sum()) <= budget:
        return _SearchResult(reachable, 0.0, 0, -math.inf, STATUS_OPTIMAL)
    free = np.flatnonzero(reachable > low)
    everyone = free.size == len(curves)
    moving = list(curves) if everyone else [curves[i] for i in free.tolist()]
    problem = _Problem(moving, batch if everyone else None, low[free], reachable[free])
    result = problem.solve(spare + float(low[free].sum()), rel_tol, max_nodes)
    if everyone:
        return result
    allocation = low.copy()
    allocation[free] = result.allocation
    fixed = np.ones(len(curves), dtype=bool)
    fixed[free] = False
    fixed_value = sum(curves[i].response(float(low[i])) for i in np.flatnonzero(fixed).tolist())
    return replace(result, allocation=allocation, upper_bound=result.upper_bound + fixed_value)


@dataclass(frozen=True)
class _SearchResult:
    allocation: FloatArray
    multiplier: float
    nodes: int
    upper_bound: float
    status: str


@dataclass(frozen=True)
class _Class:
    """Identical S-curves (same curve, same bounds), searched by how many of them are bought.

    At an optimum, copies on the concave branch earn the same marginal and so share one spend,
    at most one copy sits anywhere else, and the rest stay at their minimum. So the search
    works on four rows: ``odd`` (one copy, its whole box), ``on`` (copies on the concave
    branch), ``open`` (copies not decided yet, their whole box) and ``off`` (copies at their
    minimum). Branching moves copies from ``open`` to ``on`` or ``off``: a binary search on
    the count, instead of one branch per copy and the permutations of which copies to buy.
    """

    members: npt.NDArray[np.intp]
    odd: int
    on: int
    open: int
    off: int


@dataclass
class _Node:
    """Each row's box of spends and count of copies, and the concave envelope of its curve.

    On ``[low, start)`` a row's envelope is linear with slope ``threshold`` (it is worth
    buying only when the multiplier is below that slope, and then at least up to ``start``);
    ``threshold == inf`` means the curve is concave on the box. ``pinned`` rows jump straight
    to ``start`` (chords and linear pieces); the others follow their curve from ``start``.
    After relaxing, ``full`` copies of a row sit at ``start`` and one at ``remainder`` when the
    row's spend is on its linear segment (the rest at ``low``); otherwise all at the spend.
    """

    low: FloatArray
    high: FloatArray
    base: FloatArray
    threshold: FloatArray
    start: FloatArray
    pinned: BoolArray
    count: FloatArray
    allocation: FloatArray | None = None
    multiplier: float = 0.0
    bound: float = -math.inf
    value: float = -math.inf
    gaps: FloatArray | None = None
    full: FloatArray | None = None
    remainder: FloatArray | None = None

    def child(
        self,
        curves: Sequence[ResponseCurve],
        boxes: dict[int, tuple[float, float]],
        counts: dict[int, float] | None = None,
    ) -> _Node | None:
        """This node with some rows' boxes or counts replaced; None when a box is empty."""
        node = self.unrelaxed_copy()
        for row, (low, high) in boxes.items():
            if low > high:
                return None
            curve = curves[row]
            node.low[row], node.high[row] = low, high
            node.base[row] = curve.response(low)
            envelope = _box_envelope(curve, low, high)
            node.threshold[row], node.start[row], node.pinned[row] = envelope
        for row, count in (counts or {}).items():
            node.count[row] = count
        return node

    def unrelaxed_copy(self) -> _Node:
        """The same boxes, counts and envelopes, in arrays of its own, not yet relaxed."""
        return _Node(
            low=self.low.copy(),
            high=self.high.copy(),
            base=self.base.copy(),
            threshold=self.threshold.copy(),
            start=self.start.copy(),
            pinned=self.pinned.copy(),
            count=self.count.copy(),
        )

    def fits(self, budget: float) -> bool:
        return float(self.count @ self.low) <= budget <= float(self.count @ self.high)


class _Problem:
    """Channels that still have room to move, as rows of identical copies, and their search.

    Channels with the same curve and bounds form one row (all copies share one spend when the
    curve is concave on the box) or, for S-curves, one :class:`_Class` of four rows.
    """

    def __init__(
        self,
        curves: Sequence[ResponseCurve],
        batch: CurveBatch | None,
        low: FloatArray,
        high: FloatArray,
    ) -> None:
        groups: dict[tuple[ResponseCurve, float, float], list[int]] = {}
        for i, key in enumerate(zip(curves, low.tolist(), high.tolist(), strict=True)):
            groups.setdefault(key, []).append(i)
        self.classes: list[_Class] = []
        if len(groups) == len(curves):
            # The usual case, every channel different: one row per channel.
            self.curves = list(curves)
            self.batch = batch if batch is not None else CurveBatch(self.curves)
            self.low, self.high = low, high
            self.count = np.ones(len(curves))
            self.row_of = np.arange(len(curves))
        else:
            self._group_rows(list(groups.values()), curves, low, high)
        self.inflection = self.batch.inflection
        self.linear = [i for i, curve in enumerate(self.curves) if _is_linear(curve)]
        self.class_of_open = {group.open: group for group in self.classes}
        # Rows whose copies are rounded to "bought or not" when on a linear envelope segment.
        self.rounds = np.zeros(len(self.curves), dtype=bool)
        self.rounds[list(self.class_of_open)] = True

    def _group_rows(
        self,
        groups: list[list[int]],
        curves: Sequence[ResponseCurve],
        low: FloatArray,
        high: FloatArray,
    ) -> None:
        firsts = [group[0] for group in groups]
        inflection = CurveBatch([curves[i] for i in firsts]).inflection
        row_curves: list[ResponseCurve] = []
        row_low: list[float] = []
        row_high: list[float] = []
        row_count: list[float] = []
        self.row_of = np.zeros(len(curves), dtype=np.intp)

        def add_row(curve: ResponseCurve, lo: float, hi: float, count: int) -> int:
            row_curves.append(curve)
            row_low.append(lo)
            row_high.append(hi)
            row_count.append(float(count))
            return len(row_curves) - 1

        for group, bend in zip(groups, inflection.tolist(), strict=True):
            curve, lo, hi = curves[group[0]], float(low[group[0]]), float(high[group[0]])
            if len(group) == 1 or bend <= lo or _is_linear(curve):
                self.row_of[group] = add_row(curve, lo, hi, len(group))
                continue
            concave_from = min(max(lo, bend), hi)
            rows = (
                add_row(curve, lo, hi, 1),
                add_row(curve, concave_from, hi, 0),
                add_row(curve, lo, hi, len(group) - 1),
                add_row(curve, lo, lo, 0),
            )
            self.classes.append(_Class(np.array(group, dtype=np.intp), *rows))
        self.curves = row_curves
        self.batch = CurveBatch(row_curves)
        self.low, self.high = np.array(row_low), np.array(row_high)
        self.count = np.array(row_count)

    def solve(self, budget: float, rel_tol: float, max_nodes: int) -> _SearchResult:
        root = self._root()
        self._relax(root, budget)
        best, nodes, tried_heuristic = root, 1, False
        # Every node is either still queued or was closed with its bound at most this much.
        closed_bound = -math.inf
        order = itertools.count()
        queue: list[tuple[float, int, _Node]] = [(-root.bound, next(order), root)]
        status = STATUS_OPTIMAL
        while queue:
            node = queue[0][2]
            if node.bound - best.value <= rel_tol * abs(best.value):
                break
            # Most problems close in a few nodes without the heuristic's five relaxations; the
            # others get it once those few are spent, and in any case while the cap leaves room.
            heuristic_due = nodes >= _NODES_BEFORE_HEURISTIC or max_nodes - nodes <= 6
            if heuristic_due and not tried_heuristic:
                tried_heuristic = True
                found, extra = self._activation_heuristic(root, budget, rel_tol, max_nodes - nodes)
                nodes += extra
                best = found if found.value > best.value else best
                continue
            # A child with no allocation fitting its box has nothing to bound.
            children = [child for child in self._branch(node) if child.fits(budget)]
            if nodes + len(children) > max_nodes:
                status = STATUS_NODE_LIMIT
                break
            heapq.heappop(queue)
            for child in children:
                self._relax(child, budget, hint=node.multiplier)
                nodes += 1
                if child.value > best.value:
                    best = child
                if child.bound - best.value > rel_tol * abs(best.value):
                    heapq.heappush(queue, (-child.bound, next(order), child))
                else:
                    closed_bound = max(closed_bound, child.bound)
        open_bound = -queue[0][0] if queue else -math.inf
        return _SearchResult(
            allocation=self._channel_spends(best),
            multiplier=best.multiplier,
            nodes=nodes,
            upper_bound=max(best.value, open_bound, closed_bound),
            status=status,
        )

    def _channel_spends(self, node: _Node) -> FloatArray:
        """Each channel's spend in a relaxed node: rows handed out to the copies they stand for."""
        assert node.allocation is not None
        spends = node.allocation[self.row_of]
        if node.full is None or node.remainder is None:
            return spends
        for group in self.classes:
            members = group.members.tolist()
            spends[members[0]] = node.allocation[group.odd]
            at = 1
            for row in (group.on, group.open):
                count = int(node.count[row])
                full = int(node.full[row])
                taken = members[at : at + count]
                spends[taken] = node.allocation[row]
                if full or node.remainder[row] != node.allocation[row]:
                    spends[taken] = node.low[row]
                    spends[taken[:full]] = node.start[row]
                    spends[taken[full]] = node.remainder[row]
                at += count
            spends[members[at:]] = node.low[group.off]
        return spends

    def _activation_heuristic(
        self, root: _Node, budget: float, rel_tol: float, max_nodes: int
    ) -> tuple[_Node, int]:
        """The best of the root and of a few on/off choices of its S-curves: (best, nodes).

        At an optimum, S-curves are bought on their concave branch or not at all (but for one
        at most). Ranking them by the slope of their tangent from the lower bound (the best
        average return they offer), buying the top ``m`` on their concave branch and none of
        the others leaves a concave problem, solved exactly. Trying ``m`` around the number the
        root buys gives branch and bound a good allocation from the start, where best-bound
        order alone can meet one late among many near-identical S-curves. Copies of a class
        count one each: the root spreads a class's budget over all its open copies, but buys
        only as many as that budget pays for.
        """
        if root.allocation is None or root.bound - root.value <= rel_tol * abs(root.value):
            return root, 0
        assert root.full is not None
        thresholds = np.where(root.pinned | (root.count == 0), np.inf, root.threshold)
        choosable = np.flatnonzero(np.isfinite(thresholds))
        if choosable.size == 0:
            return root, 0
        ranked = choosable[np.argsort(-thresholds[choosable], kind="stable")].tolist()
        counts = root.count.astype(np.intp)
        assert root.remainder is not None
        # On a linear segment: the copies at ``start`` and the one taking the remainder.
        partly = root.full + (root.remainder > root.low)
        bought_rows = np.where(root.allocation < root.start, partly, root.count)
        bought = int(bought_rows[ranked].sum())
        units = int(counts[ranked].sum())
        best, nodes = root, 0
        for wanted in range(max(bought - 2, 0), min(bought + 2, units) + 1):
            if nodes >= max_nodes:
                break
            candidate = self._buying(root, ranked, wanted)
            if not candidate.fits(budget):
                continue
            self._relax(candidate, budget, hint=root.multiplier)
            nodes += 1
            if candidate.value > best.value:
                best = candidate
        return best, nodes

    def _buying(self, root: _Node, ranked: list[int], wanted: int) -> _Node:
        """The root with its ``wanted`` best S-curve copies bought and the others off.

        A bought copy's box starts at its tangency point, on the concave branch, so its curve
        is concave there; a copy not bought is held at its minimum. Built in one pass over
        arrays: there can be hundreds of S-curves.
        """
        node = root.unrelaxed_copy()
        counts = root.count[ranked]
        # Copies are taken best first: each row gets what is still wanted, up to its count.
        taken = np.minimum(np.maximum(wanted - (np.cumsum(counts) - counts), 0.0), counts)
        on: list[int] = []
        off: list[int] = []
        for row, bought in zip(ranked, taken.tolist(), strict=True):
            group = self.class_of_open.get(row)
            if group is not None:
                node.count[group.on] += bought
                node.count[group.off] += float(root.count[row]) - bought
                node.count[row] = 0.0
            else:
                (on if bought else off).append(row)
        on_rows, off_rows = np.array(on, dtype=np.intp), np.array(off, dtype=np.intp)
        node.low[on_rows] = root.start[on_rows]
        node.base[on_rows] = self.batch.response(node.low)[on_rows]
        node.high[off_rows] = root.low[off_rows]
        for changed in (on_rows, off_rows):
            node.threshold[changed] = np.inf
            node.start[changed] = node.low[changed]
            node.pinned[changed] = False
        return node

    def _root(self) -> _Node:
        low, high, inflection = self.low, self.high, self.inflection
        count = len(self.curves)
        threshold = np.full(count, np.inf)
        start = low.copy()
        pinned = np.zeros(count, dtype=bool)
        base = self.batch.response(low)
        width = high - low
        with np.errstate(divide="ignore", invalid="ignore"):
            chord_slope = (self.batch.response(high) - base) / width
        # A box of (almost) one point has nothing to buy: leave it concave, at its low end.
        convex = (inflection >= high) & (width > 1e-12 * np.maximum(np.abs(high), 1.0))
        threshold[convex], start[convex], pinned[convex] = chord_slope[convex], high[convex], True
        for i in self.linear:
            threshold[i], start[i], pinned[i] = _box_envelope(self.curves[i], low[i], high[i])
        straddling = (inflection > low) & (inflection < high)
        if straddling.any():
            tangent, slope, touches = _tangency(
                self.batch, low, high, straddling, (base, chord_slope)
            )
            missing = straddling & ~touches
            threshold[touches], start[touches] = slope[touches], tangent[touches]
            threshold[missing], start[missing], pinned[missing] = (
                chord_slope[missing],
                high[missing],
                True,
            )
        return _Node(
            low=low.copy(),
            high=high.copy(),
            base=base,
            threshold=threshold,
            start=start,
            pinned=pinned,
            count=self.count.copy(),
        )

    def _branch(self, node: _Node) -> list[_Node]:
        assert node.gaps is not None
        assert node.allocation is not None
        assert node.full is not None
        row = int(np.argmax(node.gaps))
        group = self.class_of_open.get(row)
        if group is not None:
            # Of the open copies, ``full`` fit the relaxed budget: either at most that many
            # are bought (the others join ``off``), or at least one more (they join ``on``).
            full, count = float(node.full[row]), float(node.count[row])
            fewer = {row: full, group.off: node.count[group.off] + count - full}
            more = {row: count - full - 1.0, group.on: node.count[group.on] + full + 1.0}
            children = (node.child(self.curves, {}, fewer), node.child(self.curves, {}, more))
            return [child for child in children if child is not None]
        low, high = float(node.low[row]), float(node.high[row])
        inflection = float(self.inflection[row])
        split = inflection if low < inflection < high else float(node.allocation[row])
        margin = 1e-6 * (high - low)
        if not low + margin < split < high - margin:
            # Rounding put the relaxed spend on an end of the box; halving still shrinks it.
            split = 0.5 * (low + high)
        children = (
            node.child(self.curves, {row: (low, split)}),
            node.child(self.curves, {row: (split, high)}),
        )
        return [child for child in children if child is not None]

    # ----------------------------------------------------------------------------------------
    # Relaxation: water-filling on the envelopes of one node
    # ----------------------------------------------------------------------------------------

    def _relax(self, node: _Node, budget: float, hint: float | None = None) -> None:
        allocation, multiplier = self._water_fill(node, budget, hint)
        response = self.batch.response(allocation)
        count = node.count
        on_segment = np.isfinite(node.threshold) & (allocation < node.start)
        slope = np.where(on_segment, node.threshold, 0.0)
        envelope = np.where(on_segment, node.base + slope * (allocation - node.low), response)
        gaps = envelope - response
        value = count * response
        full = np.zeros(len(count))
        remainder = allocation
        rounded = on_segment & self.rounds & (count > 1)
        if rounded.any():
            # Of a row's copies on a linear segment, as many as its spend pays for sit at
            # ``start`` (where the envelope touches the curve), one takes what is left, the
            # others stay at ``low``: the same spend, and short of the envelope by one copy's
            # gap at most instead of every copy's.
            width = np.where(rounded, node.start - node.low, 1.0)
            bought = np.where(rounded, count * (allocation - node.low) / width, 0.0)
            full = np.minimum(np.floor(bought), np.maximum(count - 1.0, 0.0))
            remainder = np.where(rounded, node.low + (bought - full) * width, allocation)
            at_start = self.batch.response(np.where(rounded, node.start, allocation))
            at_remainder = self.batch.response(remainder)
            value = np.where(
                rounded,
                full * at_start + at_remainder + (count - full - 1.0) * node.base,
                value,
            )
            remainder_envelope = node.base + slope * (remainder - node.low)
            gaps = np.where(rounded, remainder_envelope - at_remainder, gaps)
        node.allocation = allocation
        node.multiplier = multiplier
        node.gaps = np.where(count > 0, np.maximum(gaps, 0.0), 0.0)
        node.full, node.remainder = full, remainder
        node.value = float(value.sum())
        node.bound = float(count @ envelope)

    def _spend_at(self, node: _Node, multiplier: float, on: BoolArray) -> FloatArray:
        """Each channel's spend on its envelope at this multiplier; ``on`` says who is bought."""
        if (on & ~node.pinned).any():
            # Channels that are not bought are evaluated at their own threshold instead, and
            # pinned ones not at all: near the peak of an S-curve's marginal the inverse is
            # slow to converge, and neither value is used.
            asked = np.where(node.pinned, np.inf, np.minimum(multiplier, node.threshold))
            target = self.batch.inverse_marginal(asked)
            branch = np.minimum(np.maximum(target, node.start), node.high)
            branch = np.where(node.pinned, node.start, branch)
        else:
            branch = node.start
        return np.where(on, branch, node.low)

    def _water_fill(
        self, node: _Node, budget: float, hint: float | None
    ) -> tuple[FloatArray, float]:
        """Exact solution of the node's relaxation: (allocation, multiplier).

        Total spend is a nonincreasing function of the multiplier, continuous except for one
        jump per linear envelope segment. We first find the two neighbouring jumps that bracket
        the budget (interpolation search, starting near ``hint``), then solve the continuous
        piece in between by safeguarded Newton on the log of the multiplier.
        """
        thresholds = node.threshold
        # As the multiplier falls to 0+, every channel worth anything is bought up to its bound.
        at_zero = np.where(thresholds > 0, np.where(node.pinned, node.start, node.high), node.low)
        count = node.count
        total_at_zero = float(count @ at_zero)
        if total_at_zero <= budget:
            # Only zero-return room is left (flat curve segments): fill it proportionally.
            room = node.high - at_zero
            share = (budget - total_at_zero) / max(float(count @ room), 1e-300)
            return at_zero + min(share, 1.0) * room, 0.0
        jumps = np.unique(thresholds[(thresholds > 0) & np.isfinite(thresholds) & (count > 0)])
        log_jumps = np.log(jumps)
        # Bracket ends: (log multiplier, spend - budget, spend) on each side of the root.
        below = _Side(-math.inf, total_at_zero - budget, at_zero)
        above = _Side(math.inf, float(count @ node.low) - budget, node.low)
        below_index, above_index = -1, len(jumps)
        if hint is None and 0 < len(jumps) * len(thresholds) <= _GRID_SIZE:
            # Small problem, no hint: every jump at once costs about what one probe does.
            found = self._spends_at_jumps(node, jumps, budget)
            if not isinstance(found, _Bracket):
                return found
            below_index, below, above_index, above = (
                found.below_index,
                found.below,
                found.above_index,
                found.above,
            )
        # Search the jumps: from the hint (the parent node's multiplier) outwards with doubling
        # steps until both ends are known, then by interpolation (Illinois variant: an end kept
        # twice in a row has its weight halved, so the secant cannot creep), and by bisection
        # without a hint or once it takes too long.
        below_weight, above_weight = below.excess, above.excess
        last_moved = ""
        patience = 4 + 2 * len(jumps).bit_length()
        stride = 1
        while above_index - below_index > 1:
            patience -= 1
            bracketed = math.isfinite(below.log + above.log)
            if hint and not last_moved:
                index = _nearest(log_jumps, math.log(hint))
            elif bracketed and patience > 0:
                fraction = below_weight / (below_weight - above_weight)
                guess = below.log + min(max(fraction, 0.0), 1.0) * (above.log - below.log)
                index = _nearest(log_jumps, guess)
            elif hint and not bracketed:
                index = below_index + stride if math.isfinite(below.log) else above_index - stride
                stride *= 2
            else:
                index = (below_index + above_index) // 2
            index = min(max(index, below_index + 1), above_index - 1)
            jump = float(jumps[index])
            bought = self._spend_at(node, jump, thresholds >= jump)
            skipped = np.where(thresholds == jump, node.low, bought)
            bought_total, skipped_total = float(count @ bought), float(count @ skipped)
            if skipped_total <= budget <= bought_total:
                # The budget runs out inside these channels' linear envelope segments.
                return _blend(skipped, bought, budget, count), jump
            if skipped_total > budget:
                below_index, below = index, _Side(log_jumps[index], skipped_total - budget, skipped)
                below_weight = below.excess
                above_weight *= 0.5 if last_moved == "below" else 1.0
                last_moved = "below"
            else:
                above_index, above = index, _Side(log_jumps[index], bought_total - budget, bought)
                above_weight = above.excess
                below_weight *= 0.5 if last_moved == "above" else 1.0
                last_moved = "above"
        lower_jump = float(jumps[below_index]) if below_index >= 0 else 0.0
        return self._continuous_root(node, budget, thresholds > lower_jump, below, above, hint)

    def _spends_at_jumps(
        self, node: _Node, jumps: FloatArray, budget: float
    ) -> tuple[FloatArray, float] | _Bracket:
        """Spend at every jump in one evaluation (rows: jumps; columns: rows of the problem).

        Either the allocation and multiplier, when the budget runs out inside the linear
        segments of one jump, or the two neighbouring jumps bracketing it, as the interpolation
        search in :meth:`_water_fill` would have found them.
        """
        thresholds, count = node.threshold, node.count
        column = jumps[:, None]
        asked = np.where(node.pinned, np.inf, np.minimum(column, thresholds))
        branch = np.minimum(
            np.maximum(self.batch.inverse_marginal_rows(asked), node.start), node.high
        )
        branch = np.where(node.pinned, node.start, branch)
        bought = np.where(thresholds >= column, branch, node.low)
        skipped = np.where(thresholds == column, node.low, bought)
        bought_totals, skipped_totals = bought @ count, skipped @ count
        inside = np.flatnonzero((skipped_totals <= budget) & (budget <= bought_totals))
        if inside.size:
            index = int(inside[0])
            return _blend(skipped[index], bought[index], budget, count), float(jumps[index])
        # Spend falls as the multiplier (and the jump index) grows.
        below_index = int(np.count_nonzero(skipped_totals > budget)) - 1
        above_index = below_index + 1
        at_zero = np.where(thresholds > 0, np.where(node.pinned, node.start, node.high), node.low)
        below = (
            _Side(
                math.log(jumps[below_index]),
                skipped_totals[below_index] - budget,
                skipped[below_index],
            )
            if below_index >= 0
            else _Side(-math.inf, float(count @ at_zero) - budget, at_zero)
        )
        above = (
            _Side(
                math.log(jumps[above_index]),
                bought_totals[above_index] - budget,
                bought[above_index],
            )
            if above_index < len(jumps)
            else _Side(math.inf, float(count @ node.low) - budget, node.low)
        )
        return _Bracket(below_index, below, above_index, above)

    def _continuous_root(
        self,
        node: _Node,
        budget: float,
        on: BoolArray,
        below: _Side,
        above: _Side,
        hint: float | None,
    ) -> tuple[FloatArray, float]:
        """Multiplier between ``below`` and ``above`` where spend meets the budget.

        Spend is continuous there and its derivative in log(multiplier) is
        ``sum(multiplier / f''(x))`` over channels strictly inside their branch, so Newton's
        method applies; the bracket catches its overshoots at kinks.
        """
        following = on & ~node.pinned
        count = node.count
        tolerance = 1e-12 * budget
        mu = self._starting_log(node, budget, following, below, above, hint)
        previous_excess = math.inf
        for _ in range(_ROOT_MAX_ITERATIONS):
            multiplier = math.exp(mu)
            spend = self._spend_at(node, multiplier, on)
            excess = float(count @ spend) - budget
            moving = following & (spend > node.start) & (spend < node.high)
            with np.errstate(divide="ignore", over="ignore"):
                slopes = np.where(moving, multiplier / self.batch.curvature(spend), 0.0)
            # A channel bending this little takes up any change in budget by itself.
            slopes = np.maximum(slopes, -1e250)
            weight = float(count @ slopes)
            step = -excess / weight if weight < 0 else math.copysign(2.0, excess)
            moving_spend = float(count @ np.where(moving, spend, 0.0))
            wanted = moving_spend - excess
            if weight < 0 and 0.5 * moving_spend < wanted < 2.0 * moving_spend:
                # The same Newton step on log(spend of the moving channels): exact for power
                # curves, whose spend is a power of the multiplier, and close for the others,
                # where a step in spend itself overshoots. Only near the root: far from it
                # channels still to come off their bounds dominate what is wanted.
                step = math.log(wanted / moving_spend) * moving_spend / weight
            if abs(excess) <= 1e-5 * budget and abs(step) <= 1e-5:
                # One more Newton step, taken in spend space: its error is second order, far
                # below the rounding of the sum, unless a channel hits a bound on the way.
                corrected = np.clip(spend - excess * slopes / weight, node.low, node.high)
                if abs(float(count @ corrected) - budget) <= tolerance:
                    return corrected, multiplier * math.exp(step)
            if abs(excess) <= tolerance:
                return spend, multiplier
            if excess > 0:
                below = _Side(mu, excess, spend)
            else:
                above = _Side(mu, excess, spend)
            if above.log - below.log <= 1e-14 * max(1.0, abs(mu)):
                return _blend(above.spend, below.spend, budget, count), multiplier
            mu, previous_excess = (
                next_log_multiplier(mu, step, excess, previous_excess, below, above),
                excess,
            )
        return _blend(above.spend, below.spend, budget, count), math.exp(mu)

    def _starting_log(
        self,
        node: _Node,
        budget: float,
        following: BoolArray,
        below: _Side,
        above: _Side,
        hint: float | None,
    ) -> float:
        if hint and below.log < math.log(hint) < above.log:
            return math.log(hint)
        if math.isfinite(below.log) and math.isfinite(above.log):
            return secant(below, above)
        # The marginal at an even share of the spare budget is the right order of magnitude.
        share = (budget - float(node.count @ node.low)) / max(float(node.count @ following), 1.0)
        marginals = self.batch.marginal(np.minimum(node.low + share, node.high))[following]
        marginals = marginals[np.isfinite(marginals) & (marginals > 0)]
        # The middle marginal (np.median costs 20x more on a handful of numbers).
        middle = float(np.sort(marginals)[marginals.size // 2]) if marginals.size else 1.0
        guess = math.log(middle)
        guess = min(max(guess, _LOG_FLOOR), _LOG_CEILING)
        return min(max(guess, below.log + 1e-9), above.log - 1e-9)


@dataclass(frozen=True)
class _Side:
    """One end of a bracket: log multiplier, spend minus budget, and the spend itself."""

    log: float
    excess: float
    spend: FloatArray


@dataclass(frozen=True)
class _Bracket:
    """The neighbouring jumps (indices and ends) between which spend meets the budget."""

    below_index: int
    below: _Side
    above_index: int
    above: _Side


def _nearest(sorted_values: FloatArray, value: float) -> int:
    index = int(np.searchsorted(sorted_values, value))
    if index == len(sorted_values) or (
        index > 0 and value - sorted_values[index - 1] < sorted_values[index] - value
    ):
        index -= 1
    return index


def _blend(short: FloatArray, over: FloatArray, budget: float, count: FloatArray) -> FloatArray:
    """The point on the segment from ``short`` to ``over`` that spends exactly ``budget``."""
    short_total, over_total = float(count @ short), float(count @ over)
    if over_total <= short_total:
        return over
    weight = min(max((budget - short_total) / (over_total - short_total), 0.0), 1.0)
    return short + weight * (over - short)


def _is_linear(curve: ResponseCurve) -> bool:
    return isinstance(curve, LinearWithCapCurve) or (isinstance(curve, PowerCurve) and curve.b == 1)


def _chord(curve: ResponseCurve, low: float, high: float) -> tuple[float, float, bool]:
    width = high - low
    if width <= 1e-12 * max(abs(high), 1.0):
        return math.inf, low, False
    slope = (curve.response(high) - curve.response(low)) / width
    return slope, high, True


def _box_envelope(curve: ResponseCurve, low: float, high: float) -> tuple[float, float, bool]:
    """Concave envelope of one curve on one box.

    Returns (threshold, start, pinned) as stored in :class:`_Node`.
    """
    if isinstance(curve, LinearWithCapCurve):
        saturation = curve.cap / curve.slope
        if low >= saturation:
            return 0.0, low, True
        return curve.slope, min(saturation, high), True
    if isinstance(curve, PowerCurve) and curve.b == 1:
        return curve.a, high, True
    if curve.inflection >= high:
        return _chord(curve, low, high)
    if curve.inflection <= low:
        return math.inf, low, False
    tangent, slope, touches = _tangency(
        CurveBatch([curve]), np.array([low]), np.array([high]), np.array([True])
    )
    if touches[0]:
        return float(slope[0]), float(tangent[0]), False
    return _chord(curve, low, high)


def _tangency(
    batch: CurveBatch,
    low: FloatArray,
    high: FloatArray,
    straddling: BoolArray,
    chord: tuple[FloatArray, FloatArray] | None = None,
) -> tuple[FloatArray, FloatArray, BoolArray]:
    """Where the tangent from ``(low, f(low))`` touches each straddling S-curve.

    The slope ``y`` of that tangent is the root of ``H(y) = f(x) - f(low) - y (x - low)`` with
    ``x = inverse_marginal(y)``; ``H' = -(x - low)`` and ``H'' = -1 / f''(x) > 0``, so ``H`` is
    convex and decreasing and Newton's method converges monotonically from any slope below the
    root, such as any chord slope from ``low``. Its step simplifies to "take the chord slope
    from ``low`` to the current ``x``". ``touches`` is False where the tangency lies beyond
    ``high``: there the envelope is the chord. Entries outside ``straddling`` are meaningless.
    ``chord``, when the caller has it: ``f(low)`` and the chord slopes from ``low`` to ``high``.
    """
    if chord is None:
        base = batch.response(low)
        # Rows of a single point (a class's copies held at their minimum) do not straddle.
        with np.errstate(divide="ignore", invalid="ignore"):
            slope = (batch.response(high) - base) / (high - low)
    else:
        base, slope = chord
    touches = straddling & (batch.marginal(high) < slope)
    # Moving the tangent's foot up the convex part moves the tangency down, so the tangency
    # from the origin is a close start (exact for Hill curves from 0).
    x = np.where(touches, np.clip(batch.origin_tangency, batch.inflection, high), high)
    x = np.where(x > low, x, high)
    for _ in range(_ROOT_MAX_ITERATIONS):
        with np.errstate(divide="ignore", invalid="ignore"):
            slope = (batch.response(x) - base) / (x - low)
        # x is the tangency exactly where the curve's own slope equals the chord's.
        unsettled = touches & (np.abs(batch.marginal(x) - slope) > 1e-13 * slope)
        if not unsettled.any():
            break
        asked = np.where(unsettled, slope, np.inf)
        x = np.where(unsettled, np.minimum(batch.inverse_marginal(asked), high), x)
    return x, slope, touches

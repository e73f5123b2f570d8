"""The solver's fast path for small problems: the root relaxation in pure Python (``math``).

Most problems of a few dozen channels close at the root of the branch and bound in
``solver.py``: the water-filling on the concave envelopes already spends the budget where the
curves and their envelopes agree, so its value equals its bound. Done with NumPy that root is
several hundred calls on arrays of a few elements, each costing about a microsecond whatever
its size; here the same steps run on floats, one channel at a time, at a fraction of a
microsecond per formula (``scalar_curves.py`` holds the formulas). The steps are those of
``solver._Problem`` on a root without identical-channel classes: the envelope of each channel
on its box (tangent from its lower bound, chord, or linear piece), the bracket of envelope
jumps holding the root (bisection: a handful of jumps), then safeguarded Newton on the log of
the multiplier.

:func:`solve_root` returns the allocation only when the root closes (its bound within
``rel_tol`` of its value), which is then the same certificate the general solver gives. When
it does not close (a channel sits on a linear envelope segment, so branching is needed), or a
float overflows where NumPy would carry ``inf``, it returns None and the caller runs the
general solver from scratch: the time spent here is lost, which on a small problem is little.
Grouping identical channels into classes only changes how the search branches, so a root that
closes here is optimal whether or not channels repeat.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from roost.optimizer.scalar_curves import ScalarKernel, ScalarLinearWithCap, ScalarPower

# Up to this many channels the pure-Python root is faster than the NumPy one (measured: 20-35 us
# per channel against a near-constant 1-2.5 ms, equal at 64-80 channels; docs/optimizer.md).
SMALL_PROBLEM_CHANNELS = 64
_ROOT_MAX_ITERATIONS = 200
_LOG_FLOOR, _LOG_CEILING = -700.0, 700.0


@dataclass(frozen=True)
class RootSolution:
    """A closed root: each channel's spend, response and marginal, and the certificate."""

    allocation: list[float]
    response: list[float]
    marginal: list[float]
    multiplier: float
    objective: float
    upper_bound: float


def solve_root(
    kernels: Sequence[ScalarKernel],
    budget: float,
    low: Sequence[float],
    high: Sequence[float],
    rel_tol: float,
) -> RootSolution | None:
    """The optimal allocation when the root relaxation closes, else None (see the module)."""
    try:
        return _RootProblem(kernels, budget, low, high).solve(rel_tol)
    except (OverflowError, ValueError, ZeroDivisionError):
        return None


class BracketEnd(Protocol):
    """One end of a bracket on the multiplier: its log, and spend minus budget there."""

    @property
    def log(self) -> float: ...

    @property
    def excess(self) -> float: ...


def secant(below: BracketEnd, above: BracketEnd) -> float:
    """Where the line through both ends crosses zero excess, kept strictly inside."""
    fraction = below.excess / (below.excess - above.excess)
    fraction = min(max(fraction, 0.05), 0.95)
    return below.log + fraction * (above.log - below.log)


def next_log_multiplier(
    mu: float,
    step: float,
    excess: float,
    previous_excess: float,
    below: BracketEnd,
    above: BracketEnd,
) -> float:
    """Newton's ``step`` from ``mu`` (log multiplier), safeguarded by the bracket.

    A step leaving the bracket, or a stall (excess not halved), falls back to the secant or
    bisection once both ends are known, else to halfway towards the known end. Shared by the
    pure-Python root and solver._Problem._continuous_root.
    """
    candidate = mu + max(min(step, 10.0), -10.0)
    bracketed = math.isfinite(below.log) and math.isfinite(above.log)
    stalled = abs(excess) > 0.5 * abs(previous_excess)
    if bracketed and (stalled or not below.log < candidate < above.log):
        candidate = secant(below, above) if not stalled else 0.5 * (below.log + above.log)
    elif not below.log < candidate < above.log:
        candidate = 0.5 * (mu + (above.log if excess > 0 else below.log))
    return min(max(candidate, _LOG_FLOOR), _LOG_CEILING)


@dataclass(frozen=True)
class _Side:
    """One end of a bracket: log multiplier, spend minus budget, and the spend itself."""

    log: float
    excess: float
    spend: list[float]


class _RootProblem:
    """One root relaxation: every channel's box, envelope, and the water-filling on them."""

    def __init__(
        self,
        kernels: Sequence[ScalarKernel],
        budget: float,
        low: Sequence[float],
        high: Sequence[float],
    ) -> None:
        self.kernels, self.budget, self.low = kernels, budget, list(low)
        spare = budget - math.fsum(low)
        # No channel can take more than its minimum plus everything the minimums leave over.
        self.high = [min(hi, lo + spare) for lo, hi in zip(low, high, strict=True)]
        self.spare = spare
        self.warm: list[float | None] = [None] * len(kernels)

    def solve(self, rel_tol: float) -> RootSolution | None:
        if self.spare <= 0 or math.fsum(self.high) <= self.budget:
            return None  # nothing to choose: the general solver answers at once
        self._envelopes()
        at_zero = [
            (start if pinned else hi) if threshold > 0 else lo
            for threshold, start, pinned, lo, hi in zip(
                self.threshold, self.start, self.pinned, self.low, self.high, strict=True
            )
        ]
        if math.fsum(at_zero) <= self.budget:
            return None  # only zero-return room left (flat curve segments): rare, general path
        allocation, multiplier = self._water_fill(at_zero)
        kernels = self.kernels
        response = [kernel.response(x) for kernel, x in zip(kernels, allocation, strict=True)]
        bound = 0.0
        for i, (x, value) in enumerate(zip(allocation, response, strict=True)):
            threshold = self.threshold[i]
            on_segment = threshold < math.inf and x < self.start[i]
            bound += self.base[i] + threshold * (x - self.low[i]) if on_segment else value
        objective = math.fsum(response)
        if bound - objective > rel_tol * abs(objective):
            return None
        return RootSolution(
            allocation=allocation,
            response=response,
            marginal=[kernel.marginal(x) for kernel, x in zip(kernels, allocation, strict=True)],
            multiplier=multiplier,
            objective=objective,
            upper_bound=max(bound, objective),
        )

    # ----------------------------------------------------------------------------------------
    # Envelopes: as solver._Problem._root and solver._box_envelope
    # ----------------------------------------------------------------------------------------

    def _envelopes(self) -> None:
        """Each channel's envelope on its box: (threshold, start, pinned), and f(low).

        On ``[low, start)`` the envelope is linear with slope ``threshold`` (inf: concave on
        the box); pinned channels jump straight to ``start`` when bought.
        """
        self.base: list[float] = []
        self.threshold: list[float] = []
        self.start: list[float] = []
        self.pinned: list[bool] = []
        for i, kernel in enumerate(self.kernels):
            lo, hi = self.low[i], self.high[i]
            base = kernel.response(lo)
            width = hi - lo
            envelope = (math.inf, lo, False)
            if kernel.linear:
                envelope = _linear_envelope(kernel, lo, hi)
            elif kernel.inflection >= hi and width > 1e-12 * max(abs(hi), 1.0):
                envelope = ((kernel.response(hi) - base) / width, hi, True)
            elif lo < kernel.inflection < hi:
                envelope = self._tangent(i, base, lo, hi)
            self.base.append(base)
            threshold, start, pinned = envelope
            self.threshold.append(threshold)
            self.start.append(start)
            self.pinned.append(pinned)
        # Rows that follow their curve when bought, and rows that jump to ``start`` (pinned
        # envelopes, and boxes with no room above ``start``).
        self.following_rows = [
            (i, kernel.inverse_marginal, start, hi, threshold)
            for i, (kernel, start, hi, threshold, pinned) in enumerate(
                zip(self.kernels, self.start, self.high, self.threshold, self.pinned, strict=True)
            )
            if not pinned and start < hi
        ]
        self.jumping_rows = [
            (i, start)
            for i, (start, hi, pinned) in enumerate(
                zip(self.start, self.high, self.pinned, strict=True)
            )
            if pinned or start >= hi
        ]

    def _tangent(self, i: int, base: float, lo: float, hi: float) -> tuple[float, float, bool]:
        """The tangent from ``(lo, f(lo))`` to an S-curve straddling its inflection, or the
        chord when the tangency lies beyond ``hi`` (as solver._tangency)."""
        kernel = self.kernels[i]
        chord = (kernel.response(hi) - base) / (hi - lo)
        if not kernel.marginal(hi) < chord:
            return chord, hi, True
        x = min(max(kernel.origin_tangency, kernel.inflection), hi)
        x = x if x > lo else hi
        slope = chord
        for _ in range(_ROOT_MAX_ITERATIONS):
            slope = (kernel.response(x) - base) / (x - lo)
            if abs(kernel.marginal(x) - slope) <= 1e-13 * slope:
                break
            x, self.warm[i] = kernel.inverse_marginal(slope, self.warm[i])
            x = min(x, hi)
        return slope, x, False

    # ----------------------------------------------------------------------------------------
    # Water-filling: as solver._Problem._water_fill without a hint
    # ----------------------------------------------------------------------------------------

    def _water_fill(self, at_zero: list[float]) -> tuple[list[float], float]:
        budget, low, thresholds = self.budget, self.low, self.threshold
        jumps = sorted({t for t in thresholds if 0 < t < math.inf})
        below = _Side(-math.inf, math.fsum(at_zero) - budget, at_zero)
        above = _Side(math.inf, math.fsum(low) - budget, low)
        # Bisect the jumps for the two neighbours between which spend meets the budget. (An
        # interpolation search from a guess of the multiplier, as solver._water_fill does from
        # its parent's, took more evaluations on the benchmark's 20 channels: 9 against 6.)
        below_index, above_index = -1, len(jumps)
        while above_index - below_index > 1:
            index = (below_index + above_index) // 2
            jump = jumps[index]
            bought = self._spend_at(jump, [t >= jump for t in thresholds])
            skipped = [
                lo if t == jump else x for lo, t, x in zip(low, thresholds, bought, strict=True)
            ]
            bought_total, skipped_total = math.fsum(bought), math.fsum(skipped)
            if skipped_total <= budget <= bought_total:
                # The budget runs out inside these channels' linear envelope segments.
                return _blend(skipped, bought, budget), jump
            if skipped_total > budget:
                below_index, below = index, _Side(math.log(jump), skipped_total - budget, skipped)
            else:
                above_index, above = index, _Side(math.log(jump), bought_total - budget, bought)
        lower_jump = jumps[below_index] if below_index >= 0 else 0.0
        return self._continuous_root([t > lower_jump for t in thresholds], below, above)

    def _spend_at(self, multiplier: float, on: list[bool]) -> list[float]:
        """Each channel's spend on its envelope at this multiplier; ``on`` says who is bought."""
        # The hot loop of the fast path: rows are read from tuples built once in _envelopes.
        spend = self.low.copy()
        warm = self.warm
        for i, inverse_marginal, start, high, threshold in self.following_rows:
            if on[i]:
                asked = multiplier if multiplier < threshold else threshold
                x, warm[i] = inverse_marginal(asked, warm[i])
                spend[i] = start if x < start else (high if x > high else x)
        for i, start in self.jumping_rows:
            if on[i]:
                spend[i] = start
        return spend

    def _continuous_root(
        self, on: list[bool], below: _Side, above: _Side
    ) -> tuple[list[float], float]:
        """Multiplier between ``below`` and ``above`` where spend meets the budget: Newton on
        log(multiplier) with the bracket catching overshoots (as solver._continuous_root)."""
        budget, low, high, start = self.budget, self.low, self.high, self.start
        following = [bought and not pinned for bought, pinned in zip(on, self.pinned, strict=True)]
        tolerance = 1e-12 * budget
        mu = self._starting_log(following, below, above)
        previous_excess = math.inf
        for _ in range(_ROOT_MAX_ITERATIONS):
            multiplier = math.exp(mu)
            spend = self._spend_at(multiplier, on)
            excess = math.fsum(spend) - budget
            slopes = [0.0] * len(spend)
            moving_spend = 0.0
            for i, x in enumerate(spend):
                if following[i] and start[i] < x < high[i]:
                    # A channel bending this little takes up any change in budget by itself.
                    slopes[i] = max(multiplier / self.kernels[i].curvature(x), -1e250)
                    moving_spend += x
            weight = math.fsum(slopes)
            step = -excess / weight if weight < 0 else math.copysign(2.0, excess)
            wanted = moving_spend - excess
            if weight < 0 and 0.5 * moving_spend < wanted < 2.0 * moving_spend:
                # Newton on log(spend of the moving channels): exact for power curves.
                step = math.log(wanted / moving_spend) * moving_spend / weight
            if abs(excess) <= 1e-5 * budget and abs(step) <= 1e-5:
                # One more Newton step in spend space: its error is second order.
                corrected = [
                    min(max(x - excess * slope / weight, lo), hi)
                    for x, slope, lo, hi in zip(spend, slopes, low, high, strict=True)
                ]
                if abs(math.fsum(corrected) - budget) <= tolerance:
                    return corrected, multiplier * math.exp(step)
            if abs(excess) <= tolerance:
                return spend, multiplier
            if excess > 0:
                below = _Side(mu, excess, spend)
            else:
                above = _Side(mu, excess, spend)
            if above.log - below.log <= 1e-14 * max(1.0, abs(mu)):
                return _blend(above.spend, below.spend, budget), multiplier
            mu, previous_excess = (
                next_log_multiplier(mu, step, excess, previous_excess, below, above),
                excess,
            )
        return _blend(above.spend, below.spend, budget), math.exp(mu)

    def _starting_log(self, following: list[bool], below: _Side, above: _Side) -> float:
        if math.isfinite(below.log) and math.isfinite(above.log):
            return secant(below, above)
        # The marginal at an even share of the spare budget is the right order of magnitude.
        share = (self.budget - math.fsum(self.low)) / max(sum(following), 1)
        marginals = sorted(
            value
            for value in (
                self.kernels[i].marginal(min(self.low[i] + share, self.high[i]))
                for i, follows in enumerate(following)
                if follows
            )
            if 0 < value < math.inf
        )
        middle = marginals[len(marginals) // 2] if marginals else 1.0
        guess = min(max(math.log(middle), _LOG_FLOOR), _LOG_CEILING)
        return min(max(guess, below.log + 1e-9), above.log - 1e-9)


def _linear_envelope(kernel: ScalarKernel, lo: float, hi: float) -> tuple[float, float, bool]:
    if isinstance(kernel, ScalarLinearWithCap):
        if lo >= kernel.saturation:
            return 0.0, lo, True
        return kernel.slope, min(kernel.saturation, hi), True
    assert isinstance(kernel, ScalarPower)
    return kernel.a, hi, True


def _blend(short: list[float], over: list[float], budget: float) -> list[float]:
    """The point on the segment from ``short`` to ``over`` that spends exactly ``budget``."""
    short_total, over_total = math.fsum(short), math.fsum(over)
    if over_total <= short_total:
        return over
    weight = min(max((budget - short_total) / (over_total - short_total), 0.0), 1.0)
    return [s + weight * (o - s) for s, o in zip(short, over, strict=True)]

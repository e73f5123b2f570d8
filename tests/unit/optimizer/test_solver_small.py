"""The small-problem fast path (pure-Python root relaxation) against the general NumPy solver."""

from __future__ import annotations

import importlib
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from roost.optimizer import solver
from roost.optimizer.curves import (
    Channel,
    HillCurve,
    LinearWithCapCurve,
    LogisticCurve,
    PowerCurve,
    ResponseCurve,
)
from roost.optimizer.errors import InfeasibleConstraints
from roost.optimizer.small import SMALL_PROBLEM_CHANNELS, solve_root
from roost.optimizer.solver import STATUS_OPTIMAL, AllocationResult, optimize_allocation


@st.composite
def curves(draw: st.DrawFn) -> ResponseCurve:
    kind = draw(st.sampled_from(["hill", "s-hill", "logistic", "power", "linear_with_cap"]))
    scale = draw(st.floats(1.0, 500.0))
    vmax = draw(st.floats(1.0, 1e4))
    if kind == "hill":
        return HillCurve(vmax, scale, draw(st.floats(0.2, 1.0)))
    if kind == "s-hill":
        return HillCurve(vmax, scale, draw(st.sampled_from([2.0, 1.5, 3.0, 7.0])))
    if kind == "logistic":
        return LogisticCurve(vmax, draw(st.floats(0.5, 10.0)) / scale, draw(st.floats(0.0, scale)))
    if kind == "power":
        return PowerCurve(vmax / scale, draw(st.sampled_from([1.0, 0.3, 0.7])))
    return LinearWithCapCurve(vmax / scale, vmax)


@st.composite
def problems(draw: st.DrawFn) -> tuple[list[Channel], float, np.ndarray, np.ndarray]:
    drawn = draw(st.lists(curves(), min_size=1, max_size=24))
    adstock = draw(st.sampled_from([0.0, 0.4]))
    channels = [Channel(f"c{i}", curve, adstock) for i, curve in enumerate(drawn)]
    count = len(channels)
    total = draw(st.floats(1e-3, 200.0 * count))
    share = total / count
    lower = np.array([draw(st.one_of(st.just(0.0), st.floats(0.0, share))) for _ in range(count)])
    upper = np.array(
        [
            draw(st.one_of(st.just(math.inf), st.just(float(lo)), st.floats(share, 3 * share)))
            for lo in lower
        ]
    )
    return channels, total, lower, upper


def general_solution(
    monkeypatch: pytest.MonkeyPatch,
    channels: list[Channel],
    total: float,
    lower: np.ndarray | None = None,
    upper: np.ndarray | None = None,
) -> AllocationResult:
    """The same problem through the NumPy branch and bound, the fast path switched off."""
    with monkeypatch.context() as patched:
        patched.setattr(solver, "SMALL_PROBLEM_CHANNELS", 0)
        return optimize_allocation(channels, total, lower, upper)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_fast_path_matches_the_general_solver(
    problem: tuple[list[Channel], float, np.ndarray, np.ndarray],
) -> None:
    channels, total, lower, upper = problem
    try:
        general = general_solution(pytest.MonkeyPatch(), channels, total, lower, upper)
    except InfeasibleConstraints:
        return  # upper bounds equal to the lower ones can sum below the total

    fast = optimize_allocation(channels, total, lower, upper)

    assert fast.status == general.status
    assert fast.objective == pytest.approx(general.objective, rel=1e-10, abs=1e-10)
    assert fast.upper_bound >= general.objective * (1 - 1e-10)
    assert fast.upper_bound - fast.objective <= 1e-9 * abs(fast.objective) + 1e-12 or (
        fast.status != STATUS_OPTIMAL
    )
    assert fast.allocation.sum() == pytest.approx(total, rel=1e-10)
    assert np.all(fast.allocation >= lower - 1e-9 * total)
    assert np.all(fast.allocation <= upper + 1e-9 * total)
    np.testing.assert_allclose(
        fast.response,
        [ch.response(float(x)) for ch, x in zip(channels, fast.allocation, strict=True)],
    )
    np.testing.assert_allclose(
        fast.marginal,
        [ch.marginal(float(x)) for ch, x in zip(channels, fast.allocation, strict=True)],
    )


def mixed_channels(count: int, seed: int) -> tuple[list[Channel], float]:
    """A quarter each of concave Hill, power, S-shaped Hill and logistic, as the benchmark."""
    rng = np.random.default_rng(seed)
    channels, scales = [], []
    for i in range(count):
        scale, vmax = float(rng.uniform(20.0, 200.0)), float(rng.uniform(50.0, 500.0))
        curve: ResponseCurve = (
            HillCurve(vmax, scale, float(rng.uniform(0.5, 1.0))),
            PowerCurve(0.5 * vmax / scale**0.5, 0.5),
            HillCurve(vmax, scale, float(rng.uniform(1.5, 3.0))),
            LogisticCurve(vmax, float(rng.uniform(3.0, 8.0)) / scale, scale),
        )[i % 4]
        channels.append(Channel(f"channel-{i}", curve))
        scales.append(scale)
    return channels, 0.6 * sum(scales)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("count", [2, 5, 20, SMALL_PROBLEM_CHANNELS])
def test_fast_path_closes_whenever_the_general_root_does(count: int, seed: int) -> None:
    # What keeps small problems fast: a problem the general solver closes at its root is
    # closed here too, with the same allocation.
    channels, total = mixed_channels(count, seed)

    root = solve_root(
        [channel.effective_curve.scalar for channel in channels],
        total,
        [0.0] * count,
        [math.inf] * count,
        solver.DEFAULT_REL_TOL,
    )

    general = general_solution(pytest.MonkeyPatch(), channels, total)
    assert (root is not None) == (general.iterations == 1)
    if root is not None:
        assert root.objective == pytest.approx(general.objective, rel=1e-12)
        np.testing.assert_allclose(
            root.allocation, general.allocation, rtol=1e-7, atol=1e-9 * total
        )
        assert root.multiplier == pytest.approx(general.multiplier, rel=1e-7)


@pytest.mark.parametrize("count", [2, 5, 20, 50])
def test_benchmark_problems_take_the_fast_path(count: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[3]))
    bench = importlib.import_module("bench.optimizer")
    case = bench.make_case(count, np.random.default_rng(7 + count))  # the benchmark's seed

    root = solve_root(
        [channel.effective_curve.scalar for channel in case.channels],
        case.total,
        [0.0] * count,
        [math.inf] * count,
        solver.DEFAULT_REL_TOL,
    )

    assert root is not None


def test_problem_needing_branching_is_handed_to_the_general_solver() -> None:
    # Ten identical S-curves: the root spreads the budget over all of them on their tangent.
    channels = [Channel(f"c{i}", HillCurve(1000.0, 100.0, 3.0)) for i in range(10)]
    scalar = [channel.curve.scalar for channel in channels]

    assert solve_root(scalar, 900.0, [0.0] * 10, [math.inf] * 10, 1e-9) is None
    result = optimize_allocation(channels, 900.0)
    assert result.status == STATUS_OPTIMAL
    assert result.objective == pytest.approx(4760.261194029848, rel=1e-12)


def test_extreme_parameters_give_the_general_solver_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    # Near the parameter limits floats overflow in math (NumPy carries inf): the fast path
    # must either agree or step aside.
    channels = [
        Channel("huge", HillCurve(1e15, 1e-9, 0.3)),
        Channel("tiny", HillCurve(1e-3, 1e15, 4.0)),
        Channel("steep", LogisticCurve(1e15, 1e15, 1e-12)),
        Channel("flat", PowerCurve(1e15, 1.0)),
    ]
    for total in (1e-12, 1.0, 1e12):
        fast = optimize_allocation(channels, total)
        general = general_solution(monkeypatch, channels, total)
        assert fast.objective == pytest.approx(general.objective, rel=1e-10)
        assert fast.allocation.sum() == pytest.approx(total, rel=1e-10)


@settings(max_examples=200, deadline=None)
@given(
    curve=curves(),
    # Below about 1e-150 x * x underflows: math raises where NumPy returns inf, and the fast
    # path hands such problems to the general solver.
    spend=st.one_of(st.just(0.0), st.floats(1e-100, 1e4)),
    marginal_share=st.floats(1e-6, 1.0),
)
def test_scalar_formulas_match_the_numpy_kernels(
    curve: ResponseCurve, spend: float, marginal_share: float
) -> None:
    scalar = curve.scalar

    assert scalar.response(spend) == pytest.approx(curve.response(spend), rel=1e-12, abs=1e-300)
    assert scalar.marginal(spend) == pytest.approx(curve.marginal(spend), rel=1e-12, abs=1e-300)
    assert scalar.curvature(spend) == pytest.approx(curve.curvature(spend), rel=1e-12, abs=1e-300)
    assert scalar.inflection == pytest.approx(curve.inflection, rel=1e-12)
    lam = marginal_share * float(curve.marginal(max(curve.inflection, 1e-9)))
    if lam > 0:
        inverse, _ = scalar.inverse_marginal(lam)
        reference = curve.inverse_marginal(lam)
        # Near the peak of an S-curve's marginal the root is ill-conditioned (the marginal is
        # flat there) and both stop within their tolerance of it at slightly different spends:
        # what must agree is the marginal there, and the spend closely.
        assert inverse == pytest.approx(reference, rel=1e-6)
        if math.isfinite(inverse):
            assert curve.marginal(inverse) == pytest.approx(curve.marginal(reference), rel=1e-9)

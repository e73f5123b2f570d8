from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize, minimize_scalar

from roost.optimizer.curves import (
    Channel,
    CurveBatch,
    HillCurve,
    LinearWithCapCurve,
    LogisticCurve,
    PowerCurve,
    ResponseCurve,
)
from roost.optimizer.errors import ConstraintError, InfeasibleConstraints, TargetUnreachable
from roost.optimizer.solver import (
    STATUS_NODE_LIMIT,
    STATUS_OPTIMAL,
    AllocationResult,
    minimum_budget_for_target,
    optimize_allocation,
    predict,
)

# --------------------------------------------------------------------------------------------
# References
# --------------------------------------------------------------------------------------------


def objective_of(channels: Sequence[Channel], allocation: np.ndarray) -> float:
    return float(sum(ch.response(float(x)) for ch, x in zip(channels, allocation, strict=True)))


def slsqp(
    channels: Sequence[Channel],
    total: float,
    start: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
) -> np.ndarray:
    """SciPy SLSQP with analytic gradients, projected back onto the constraints."""
    batch = CurveBatch([channel.effective_curve for channel in channels])

    # Named functions, not lambdas: mypy cannot infer a lambda against minimize's overloads.
    def negative_response(x: np.ndarray) -> float:
        return -float(batch.response(np.clip(x, lower, upper)).sum())

    def negative_marginal(x: np.ndarray) -> np.ndarray:
        gradient: np.ndarray = -np.minimum(batch.marginal(np.clip(x, lower + 1e-12, upper)), 1e12)
        return gradient

    def unspent(x: np.ndarray) -> float:
        return float(x.sum()) - total

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = minimize(
            negative_response,
            start,
            jac=negative_marginal,
            method="SLSQP",
            bounds=list(zip(lower, upper, strict=True)),
            constraints=[{"type": "eq", "fun": unspent}],
            options={"maxiter": 500, "ftol": 1e-15},
        )
    return project(np.asarray(result.x), total, lower, upper)


def project(x: np.ndarray, total: float, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Clip to the bounds and hand the rounding residual to channels that have room."""
    x = np.clip(x, lower, upper)
    residual = total - float(x.sum())
    room = (upper - x) if residual > 0 else (x - lower)
    if residual != 0 and room.sum() > 0:
        x = x + residual * room / room.sum()
    clipped: np.ndarray = np.clip(x, lower, upper)
    return clipped


def brute_force(
    channels: Sequence[Channel],
    total: float,
    lower: np.ndarray | None = None,
    upper: np.ndarray | None = None,
) -> float:
    """Best objective found by exhaustive search: a dense grid, then a local polish.

    Two channels: a 1-D grid of 20 001 points polished by bounded Brent. Three or four: a grid
    over the simplex, then SLSQP from the best few grid points.
    """
    count = len(channels)
    low = np.zeros(count) if lower is None else np.asarray(lower, dtype=float)
    high = np.full(count, total) if upper is None else np.minimum(np.asarray(upper), total)

    def values(points: np.ndarray) -> np.ndarray:
        return sum(ch.response(points[..., i]) for i, ch in enumerate(channels))  # type: ignore[return-value]

    if count == 2:
        start, stop = max(low[0], total - high[1]), min(high[0], total - low[1])
        grid = np.linspace(start, stop, 20001)
        scores = values(np.stack([grid, total - grid], axis=-1))
        best = int(np.argmax(scores))
        window = (grid[max(best - 1, 0)], grid[min(best + 1, grid.size - 1)])
        polished = minimize_scalar(
            lambda a: -float(values(np.array([a, total - a]))),
            bounds=window,
            method="bounded",
            options={"xatol": 1e-12 * max(stop, 1.0)},
        )
        return max(float(scores[best]), -float(polished.fun))
    points = {3: 201, 4: 61}[count]
    axes = [np.linspace(low[i], high[i], points) for i in range(count - 1)]
    mesh = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, count - 1)
    last = total - mesh.sum(axis=1)
    feasible = (last >= low[-1]) & (last <= high[-1])
    candidates = np.column_stack([mesh, last])[feasible]
    scores = values(candidates)
    best_score = float(scores.max())
    for index in np.argsort(scores)[-6:]:
        local_optimum = slsqp(channels, total, candidates[index], low, high)
        best_score = max(best_score, objective_of(channels, local_optimum))
    return best_score


def even_split(total: float, count: int) -> np.ndarray:
    return np.full(count, total / count)


def assert_feasible(
    result: AllocationResult, total: float, lower: np.ndarray, upper: np.ndarray
) -> None:
    x = result.allocation
    assert x.sum() == pytest.approx(total, rel=1e-9, abs=1e-9)
    assert np.all(x >= lower - 1e-9 * max(total, 1.0))
    assert np.all(x <= upper + 1e-9 * max(total, 1.0))


def channels_of(*curves: ResponseCurve) -> list[Channel]:
    return [Channel(f"channel-{i}", curve) for i, curve in enumerate(curves)]


SEARCH = PowerCurve(a=6.0, b=0.5)
TV = HillCurve(vmax=500.0, k=120.0, slope=3.0)
RADIO = LogisticCurve(vmax=300.0, r=0.08, m=90.0)


# --------------------------------------------------------------------------------------------
# Optimality
# --------------------------------------------------------------------------------------------


def random_concave_channels(rng: np.random.Generator, count: int) -> list[Channel]:
    curves: list[ResponseCurve] = []
    for i in range(count):
        kind = i % 3
        if kind == 0:
            curves.append(
                HillCurve(rng.uniform(50, 500), rng.uniform(20, 200), rng.uniform(0.3, 1.0))
            )
        elif kind == 1:
            curves.append(PowerCurve(rng.uniform(1, 10), rng.uniform(0.2, 0.9)))
        else:
            curves.append(LogisticCurve(rng.uniform(50, 500), rng.uniform(0.005, 0.05), 0.0))
    return channels_of(*curves)


@pytest.mark.parametrize("seed", range(6))
def test_concave_solution_satisfies_kkt_conditions(seed: int) -> None:
    rng = np.random.default_rng(seed)
    channels = random_concave_channels(rng, 12)
    total = float(rng.uniform(500, 3000))
    lower = np.where(rng.random(12) < 0.3, rng.uniform(0, 150, 12), 0.0)
    upper = np.where(rng.random(12) < 0.3, lower + rng.uniform(10, 200, 12), np.inf)

    result = optimize_allocation(channels, total, lower, upper)

    assert result.status == STATUS_OPTIMAL
    assert_feasible(result, total, lower, upper)
    x, marginal, lam = result.allocation, result.marginal, result.multiplier
    slack = 1e-9 * total
    at_lower, at_upper = x <= lower + slack, x >= upper - slack
    interior = ~at_lower & ~at_upper
    assert interior.any()
    np.testing.assert_allclose(marginal[interior], lam, rtol=1e-8)
    assert np.all(marginal[at_upper & ~at_lower] >= lam * (1 - 1e-8))
    assert np.all(marginal[at_lower & ~at_upper] <= lam * (1 + 1e-8))
    # Concave problems need no branching: the relaxation is the problem.
    assert result.iterations == 1
    assert result.upper_bound == pytest.approx(result.objective, rel=1e-12)


BRUTE_FORCE_CASES = [
    pytest.param(channels_of(SEARCH, TV), 60.0, None, None, id="power+hill-s-interior-convex"),
    pytest.param(channels_of(SEARCH, TV), 100.0, None, None, id="power+hill-s"),
    pytest.param(channels_of(TV, RADIO), 150.0, None, None, id="two-s-curves"),
    pytest.param(
        channels_of(LinearWithCapCurve(2.0, 100.0), HillCurve(300.0, 40.0, 0.7)),
        80.0,
        None,
        None,
        id="linear-cap+hill",
    ),
    pytest.param(channels_of(SEARCH, TV, RADIO), 100.0, None, None, id="three-slsqp-trap"),
    pytest.param(channels_of(SEARCH, TV, RADIO), 200.0, None, None, id="three-slsqp-trap-2"),
    pytest.param(
        channels_of(SEARCH, TV, RADIO),
        260.0,
        np.array([20.0, 0.0, 0.0]),
        np.array([np.inf, 150.0, 100.0]),
        id="three-bounded",
    ),
    pytest.param(
        [
            Channel("search", SEARCH),
            Channel("tv", TV, adstock=0.4),
            Channel("radio", RADIO),
            Channel("social", PowerCurve(a=2.5, b=1.0)),
        ],
        220.0,
        np.array([0.0, 0.0, 10.0, 0.0]),
        np.array([np.inf, np.inf, np.inf, 40.0]),
        id="four-adstock-linear",
    ),
]


@pytest.mark.parametrize(("channels", "total", "lower", "upper"), BRUTE_FORCE_CASES)
def test_solver_matches_brute_force_on_small_problems(
    channels: list[Channel], total: float, lower: np.ndarray | None, upper: np.ndarray | None
) -> None:
    result = optimize_allocation(channels, total, lower, upper)
    reference = brute_force(channels, total, lower, upper)

    assert result.status == STATUS_OPTIMAL
    assert result.objective == pytest.approx(reference, rel=1e-6)
    assert result.objective >= reference - 1e-8 * abs(reference)
    assert result.upper_bound >= reference - 1e-9 * abs(reference)


def random_mixed_channels(rng: np.random.Generator, count: int) -> list[Channel]:
    curves: list[ResponseCurve] = []
    for _ in range(count):
        kind = rng.integers(5)
        scale = rng.uniform(20, 150)
        vmax = rng.uniform(50, 500)
        if kind == 0:
            curves.append(HillCurve(vmax, scale, rng.uniform(0.4, 1.0)))
        elif kind == 1:
            curves.append(HillCurve(vmax, scale, rng.uniform(1.5, 4.0)))
        elif kind == 2:
            curves.append(LogisticCurve(vmax, rng.uniform(2, 8) / scale, scale))
        elif kind == 3:
            curves.append(PowerCurve(0.5 * vmax / scale**0.5, rng.uniform(0.3, 0.8)))
        else:
            curves.append(LinearWithCapCurve(vmax / scale, vmax))
    return channels_of(*curves)


@pytest.mark.parametrize("seed", range(12))
def test_solver_matches_brute_force_on_random_s_curve_mixes(seed: int) -> None:
    rng = np.random.default_rng(1000 + seed)
    count = 2 + seed % 3
    channels = random_mixed_channels(rng, count)
    total = float(rng.uniform(30, 80) * count)

    result = optimize_allocation(channels, total)
    reference = brute_force(channels, total)

    assert result.objective == pytest.approx(reference, rel=1e-6)
    assert result.objective >= reference - 1e-8 * abs(reference)


@pytest.mark.parametrize("total", [100.0, 200.0])
def test_slsqp_from_an_even_split_gets_stuck_where_we_do_not(total: float) -> None:
    channels = channels_of(SEARCH, TV, RADIO)
    lower, upper = np.zeros(3), np.full(3, total)

    stuck = objective_of(channels, slsqp(channels, total, even_split(total, 3), lower, upper))
    ours = optimize_allocation(channels, total).objective
    reference = brute_force(channels, total)

    assert stuck < 0.97 * reference
    assert ours == pytest.approx(reference, rel=1e-6)


def test_result_is_certified_even_when_the_node_budget_runs_out() -> None:
    channels = channels_of(SEARCH, TV)
    limited = optimize_allocation(channels, 60.0, max_nodes=1)
    full = optimize_allocation(channels, 60.0)

    assert limited.status == STATUS_NODE_LIMIT
    assert limited.upper_bound >= full.objective
    assert full.status == STATUS_OPTIMAL
    assert full.objective >= limited.objective
    assert full.gap <= 1e-9 * full.objective


# --------------------------------------------------------------------------------------------
# Constraints
# --------------------------------------------------------------------------------------------


def test_locked_channel_keeps_exactly_its_spend() -> None:
    channels = channels_of(SEARCH, TV, RADIO)
    result = optimize_allocation(channels, 300.0, [0.0, 75.0, 0.0], [np.inf, 75.0, np.inf])
    assert result.allocation[1] == 75.0
    assert result.allocation.sum() == pytest.approx(300.0, rel=1e-12)
    unlocked = optimize_allocation(channels_of(SEARCH, RADIO), 225.0)
    np.testing.assert_allclose(result.allocation[[0, 2]], unlocked.allocation, rtol=1e-7)


def test_binding_bounds_are_respected() -> None:
    channels = random_concave_channels(np.random.default_rng(3), 6)
    free = optimize_allocation(channels, 1000.0)
    lower = np.zeros(6)
    upper = np.full(6, np.inf)
    richest, poorest = int(np.argmax(free.allocation)), int(np.argmin(free.allocation))
    upper[richest] = free.allocation[richest] / 2
    lower[poorest] = free.allocation[poorest] + 50.0

    result = optimize_allocation(channels, 1000.0, lower, upper)

    assert result.allocation[richest] == pytest.approx(upper[richest], rel=1e-9)
    assert result.allocation[poorest] == pytest.approx(lower[poorest], rel=1e-9)
    assert_feasible(result, 1000.0, lower, upper)
    assert result.objective < free.objective


def test_zero_budget_and_budget_equal_to_the_minimums() -> None:
    channels = channels_of(SEARCH, TV, RADIO)
    assert np.all(optimize_allocation(channels, 0.0).allocation == 0.0)
    minimums = np.array([10.0, 20.0, 30.0])
    np.testing.assert_array_equal(
        optimize_allocation(channels, 60.0, minimums).allocation, minimums
    )


def test_budget_equal_to_the_maximums_fills_every_channel() -> None:
    channels = channels_of(SEARCH, TV, RADIO)
    maximums = np.array([10.0, 20.0, 30.0])
    result = optimize_allocation(channels, 60.0, None, maximums)
    np.testing.assert_allclose(result.allocation, maximums)


@pytest.mark.parametrize(
    ("total", "lower", "upper", "code", "message"),
    [
        (100.0, [60.0, 50.0], None, "minimums_exceed_total", r"sum of minimums \(110\)"),
        (100.0, None, [30.0, 40.0], "maximums_below_total", r"sum of maximums \(70\)"),
        (100.0, [0.0, 50.0], [10.0, 40.0], "min_exceeds_max", "channel 'tv'"),
        (-5.0, None, None, "negative_total", "total budget must be >= 0"),
        (float("nan"), None, None, "invalid_total", "total budget must be finite"),
        (float("inf"), None, None, "invalid_total", "total budget must be finite"),
        (100.0, [float("nan"), 0.0], None, "invalid_bound", "minimum for channel 'search'"),
        (100.0, [-1.0, 0.0], None, "invalid_bound", "minimum for channel 'search'"),
        (100.0, None, [float("nan"), 1.0], "invalid_bound", "maximum for channel 'search'"),
    ],
)
def test_infeasible_constraints_name_the_broken_constraint(
    total: float,
    lower: list[float] | None,
    upper: list[float] | None,
    code: str,
    message: str,
) -> None:
    channels = [Channel("search", SEARCH), Channel("tv", TV)]
    with pytest.raises(InfeasibleConstraints, match=message) as caught:
        optimize_allocation(channels, total, lower, upper)
    assert caught.value.code == code
    assert isinstance(caught.value, ConstraintError)


def test_malformed_requests_raise_constraint_errors() -> None:
    channels = [Channel("search", SEARCH), Channel("tv", TV)]
    with pytest.raises(ConstraintError, match="3 entries for 2 channels") as caught:
        optimize_allocation(channels, 10.0, [0.0, 0.0, 0.0])
    assert caught.value.code == "invalid_bound"
    with pytest.raises(ConstraintError, match="appears twice"):
        optimize_allocation([Channel("tv", SEARCH), Channel("tv", TV)], 10.0)
    with pytest.raises(ConstraintError, match="at least one channel"):
        optimize_allocation([], 10.0)


@pytest.mark.parametrize(
    ("total", "options", "code", "message"),
    [
        ("100", {}, "invalid_total", "total budget must be a number, got '100'"),
        (True, {}, "invalid_total", "total budget must be a number"),
        (100.0, {"max_nodes": float("nan")}, "invalid_option", "max_nodes must be an integer"),
        (100.0, {"max_nodes": 1.5}, "invalid_option", "max_nodes must be an integer"),
        (100.0, {"max_nodes": "10"}, "invalid_option", "max_nodes must be an integer"),
        (100.0, {"max_nodes": 0}, "invalid_option", "max_nodes must be an integer >= 1"),
        (100.0, {"rel_tol": "1e-9"}, "invalid_option", "rel_tol must be a number"),
        (100.0, {"rel_tol": float("nan")}, "invalid_option", "rel_tol must be a number"),
    ],
)
def test_library_callers_get_typed_errors_for_malformed_arguments(
    total: object, options: dict[str, object], code: str, message: str
) -> None:
    channels = [Channel("search", SEARCH), Channel("tv", TV)]
    with pytest.raises(ConstraintError, match=message) as caught:
        optimize_allocation(channels, total, **options)  # type: ignore[arg-type]
    assert caught.value.code == code


def test_numpy_numbers_are_accepted_as_the_total_and_the_node_cap() -> None:
    channels = [Channel("search", SEARCH), Channel("tv", TV)]
    result = optimize_allocation(channels, np.float64(100.0), max_nodes=np.int64(50))  # type: ignore[arg-type]
    assert result.allocation.sum() == pytest.approx(100.0, rel=1e-12)


def test_target_given_as_a_string_is_rejected() -> None:
    with pytest.raises(ConstraintError, match="target response must be a finite number") as caught:
        minimum_budget_for_target([Channel("search", SEARCH)], "10")  # type: ignore[arg-type]
    assert caught.value.code == "invalid_target"


def test_minimums_over_the_total_by_a_hair_print_the_difference() -> None:
    channels = [Channel("search", SEARCH), Channel("tv", TV)]
    with pytest.raises(InfeasibleConstraints, match=r"minimums \(300.0000003\) exceeds .*\(300\)"):
        optimize_allocation(channels, 300.0, [150.0, 150.0000003])


def near_identical_s_curves(count: int) -> list[Channel]:
    """Hill S-curves whose vmax and k differ by about 1 %: too far apart to be one class."""
    rng = np.random.default_rng(3)
    return channels_of(
        *(
            HillCurve(
                100 * (1 + 0.01 * rng.standard_normal()),
                50 * (1 + 0.01 * rng.standard_normal()),
                2.5,
            )
            for _ in range(count)
        )
    )


@pytest.mark.parametrize("max_nodes", [1, 2, 3, 7, 40])
def test_node_count_never_exceeds_the_cap(max_nodes: int) -> None:
    # Curves 1 % apart need hundreds of nodes to prove; every cap must be honoured exactly.
    channels = near_identical_s_curves(64)

    result = optimize_allocation(channels, 0.3 * 50 * 64, max_nodes=max_nodes)

    assert result.status == STATUS_NODE_LIMIT
    assert result.iterations <= max_nodes
    assert result.upper_bound >= result.objective


def test_adstock_channel_is_optimised_on_its_steady_state_curve() -> None:
    with_adstock = [Channel("search", SEARCH), Channel("tv", TV, adstock=0.5)]
    rescaled = [Channel("search", SEARCH), Channel("tv", TV.rescaled(2.0))]
    first = optimize_allocation(with_adstock, 120.0)
    second = optimize_allocation(rescaled, 120.0)
    np.testing.assert_allclose(first.allocation, second.allocation, rtol=1e-9)
    assert first.objective == pytest.approx(second.objective, rel=1e-12)


# --------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------


@st.composite
def curves(draw: st.DrawFn) -> ResponseCurve:
    kind = draw(st.sampled_from(["hill", "logistic", "power", "linear_with_cap"]))
    scale = draw(st.floats(1.0, 500.0))
    vmax = draw(st.floats(1.0, 1e4))
    if kind == "hill":
        return HillCurve(vmax, scale, draw(st.floats(0.2, 5.0)))
    if kind == "logistic":
        return LogisticCurve(vmax, draw(st.floats(0.5, 10.0)) / scale, draw(st.floats(0.0, scale)))
    if kind == "power":
        return PowerCurve(vmax / scale, draw(st.floats(0.1, 1.0)))
    return LinearWithCapCurve(vmax / scale, vmax)


@st.composite
def problems(draw: st.DrawFn) -> tuple[list[Channel], float, np.ndarray, np.ndarray]:
    channels = channels_of(*draw(st.lists(curves(), min_size=1, max_size=6)))
    count = len(channels)
    total = draw(st.one_of(st.just(0.0), st.floats(1e-3, 5000.0)))
    share = total / count
    lower = np.array([draw(st.one_of(st.just(0.0), st.floats(0.0, share))) for _ in range(count)])
    upper = np.array(
        [draw(st.one_of(st.just(math.inf), st.floats(share, 3 * share + 1))) for _ in range(count)]
    )
    return channels, total, lower, upper


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_allocation_is_feasible_and_beats_the_even_split(
    problem: tuple[list[Channel], float, np.ndarray, np.ndarray],
) -> None:
    channels, total, lower, upper = problem

    result = optimize_allocation(channels, total, lower, upper)

    assert_feasible(result, total, lower, upper)
    assert result.objective == pytest.approx(objective_of(channels, result.allocation), rel=1e-12)
    # lower <= total / count <= upper by construction, so the even split is feasible.
    even = objective_of(channels, even_split(total, len(channels)))
    assert result.objective >= even - 1e-9 * max(abs(even), 1e-12)
    assert result.upper_bound >= result.objective


# --------------------------------------------------------------------------------------------
# Minimum budget and predictions
# --------------------------------------------------------------------------------------------


def test_minimum_budget_recovers_the_budget_behind_a_concave_optimum() -> None:
    channels = random_concave_channels(np.random.default_rng(11), 5)
    target = optimize_allocation(channels, 800.0).objective

    result = minimum_budget_for_target(channels, target)

    assert result.total == pytest.approx(800.0, rel=1e-6)
    assert result.objective >= target


def test_minimum_budget_is_the_smallest_that_reaches_an_s_curve_target() -> None:
    channels = channels_of(SEARCH, TV, RADIO)
    target = 400.0

    result = minimum_budget_for_target(channels, target)

    assert result.objective >= target
    slightly_less = optimize_allocation(channels, result.total * (1 - 1e-6))
    assert slightly_less.objective < target


def test_minimum_budget_is_the_floor_when_the_minimums_already_reach_the_target() -> None:
    channels = channels_of(SEARCH, TV)
    result = minimum_budget_for_target(channels, 10.0, lower=[10.0, 0.0])
    np.testing.assert_array_equal(result.allocation, [10.0, 0.0])


def test_minimum_budget_reaches_the_cap_of_a_saturating_channel() -> None:
    channels = channels_of(LinearWithCapCurve(2.0, 100.0))
    result = minimum_budget_for_target(channels, 100.0)
    assert result.total == pytest.approx(50.0, rel=1e-6)


@pytest.mark.parametrize(
    ("upper", "target", "limit"),
    # Without bounds the Hill curves approach their vmax; with them they stop at f(100).
    [(None, 800.0, 800.0), ([100.0, 100.0], 600.0, 150.0 + 250.0)],
)
def test_unreachable_target_reports_the_most_achievable(
    upper: list[float] | None, target: float, limit: float
) -> None:
    channels = channels_of(HillCurve(300.0, 100.0, 1.0), HillCurve(500.0, 100.0, 1.0))
    with pytest.raises(TargetUnreachable, match="exceeds the most") as caught:
        minimum_budget_for_target(channels, target, upper=upper)
    assert caught.value.max_achievable == pytest.approx(limit)
    assert caught.value.code == "target_unreachable"


def test_predict_reports_each_channel_and_the_total() -> None:
    channels = [Channel("search", SEARCH), Channel("tv", TV, adstock=0.2)]
    prediction = predict(channels, [25.0, 140.0])
    expected = [SEARCH.response(25.0), TV.response(140.0 / 0.8)]
    np.testing.assert_allclose(prediction.response, expected, rtol=1e-12)
    assert prediction.total == pytest.approx(sum(expected))
    np.testing.assert_allclose(
        prediction.marginal, [SEARCH.marginal(25.0), TV.marginal(175.0) / 0.8], rtol=1e-12
    )
    with pytest.raises(ConstraintError, match="channel 'tv'"):
        predict(channels, [1.0, -1.0])


# --------------------------------------------------------------------------------------------
# Identical channels, against exact enumeration
# --------------------------------------------------------------------------------------------


def best_among_identical(curve: ResponseCurve, count: int, total: float) -> float:
    """Exact optimum of ``count`` copies of one curve from 0: enumerate how many copies share
    one spend on the concave branch and where the one other copy sits on the convex branch
    (everything else earns less: moving spend between two convex-branch copies, or evening
    out two concave-branch ones, gains). The odd copy's spend is found by zooming grids."""
    best = max(float(curve.response(total)), count * float(curve.response(total / count)))
    sharing = np.arange(1, count, dtype=float)[:, None]
    top = min(total, curve.inflection)
    low, high = np.zeros_like(sharing), np.full_like(sharing, top)
    for _ in range(8):
        odd = low + (high - low) * np.linspace(0.0, 1.0, 41)
        value = sharing * curve.response((total - odd) / sharing) + curve.response(odd)
        best = max(best, float(value.max(initial=-np.inf)))
        chosen = odd[np.arange(len(odd)), np.argmax(value, axis=1)][:, None]
        step = (high - low) / 40
        low, high = np.maximum(chosen - step, 0.0), np.minimum(chosen + step, top)
    return best


def best_among_identical_groups(groups: Sequence[tuple[ResponseCurve, int]], total: float) -> float:
    """Exact optimum of a few groups of identical copies from 0: enumerate how many copies of
    each group share one concave-branch spend (water-filling between the groups by bisection on
    the multiplier) and which group, if any, has one copy on its convex branch."""
    every = np.array(list(itertools.product(*(range(n + 1) for _, n in groups))), dtype=float)
    bought = every.sum(axis=1) > 0
    alone = np.full((int(bought.sum()), 1), total)
    best = float(concave_share_value(groups, every[bought], alone).max(initial=-np.inf))
    for odd, (curve, count) in enumerate(groups):
        best = max(best, float(curve.response(total)))
        counts = every[bought & (every[:, odd] < count)]
        top = min(total, curve.inflection)
        low, high = np.zeros((len(counts), 1)), np.full((len(counts), 1), top)
        for _ in range(6):
            spend = low + (high - low) * np.linspace(0.0, 1.0, 41)
            value = curve.response(spend) + concave_share_value(groups, counts, total - spend)
            best = max(best, float(value.max(initial=-np.inf)))
            chosen = spend[np.arange(len(spend)), np.argmax(value, axis=1)][:, None]
            step = (high - low) / 40
            low, high = np.maximum(chosen - step, 0.0), np.minimum(chosen + step, top)
    return best


def concave_share_value(
    groups: Sequence[tuple[ResponseCurve, int]], counts: np.ndarray, remaining: np.ndarray
) -> np.ndarray:
    """counts[row, group] copies per group share one spend each on the concave branch and
    spend ``remaining[row, point]`` in all: the best value, -inf when the branch is out of reach."""
    low, high = np.full(remaining.shape, -60.0), np.full(remaining.shape, 60.0)
    for _ in range(64):  # 120 / 2**64: the multiplier to machine precision
        middle = 0.5 * (low + high)
        spend = sum(
            counts[:, [g]] * curve.inverse_marginal(np.exp(middle))
            for g, (curve, _) in enumerate(groups)
        )
        too_much = spend > remaining
        low, high = np.where(too_much, middle, low), np.where(too_much, high, middle)
    shares = [curve.inverse_marginal(np.exp(high)) for curve, _ in groups]
    value = sum(counts[:, [g]] * groups[g][0].response(y) for g, y in enumerate(shares))
    spent = sum(counts[:, [g]] * y for g, y in enumerate(shares))
    # What bisection leaves unspent earns the multiplier's rate.
    value = value + (remaining - spent) * np.exp(high)
    floor = sum(counts[:, [g]] * curve.inflection for g, (curve, _) in enumerate(groups))
    return np.where(remaining >= floor * (1 - 1e-12), value, -np.inf)


def copies(curve: ResponseCurve, count: int, prefix: str = "region") -> list[Channel]:
    return [Channel(f"{prefix}-{i}", curve) for i in range(count)]


def test_ten_identical_s_curves_buy_seven_of_them() -> None:
    # The reproduction: an even split (90 each) earns 4216.31; 7 copies earn 4760.26.
    channels = copies(HillCurve(1000.0, 100.0, 3.0), 10)

    result = optimize_allocation(channels, 900.0)

    assert result.status == STATUS_OPTIMAL
    assert result.objective == pytest.approx(4760.261194029848, rel=1e-12)
    assert np.count_nonzero(result.allocation) == 7
    np.testing.assert_allclose(result.allocation[result.allocation > 0], 900.0 / 7, rtol=1e-12)


@settings(max_examples=15, deadline=None)
@given(
    count=st.integers(2, 1000),
    budget_per_copy=st.floats(0.2, 300.0),
    slope=st.floats(1.5, 5.0),
)
def test_identical_s_curves_match_exact_enumeration(
    count: int, budget_per_copy: float, slope: float
) -> None:
    curve = HillCurve(vmax=1000.0, k=100.0, slope=slope)
    total = count * budget_per_copy

    result = optimize_allocation(copies(curve, count), total)

    assert result.status == STATUS_OPTIMAL
    exact = best_among_identical(curve, count, total)
    assert result.objective == pytest.approx(exact, rel=1e-9)
    assert result.objective == pytest.approx(objective_of(copies(curve, count), result.allocation))
    assert result.allocation.sum() == pytest.approx(total, rel=1e-12)
    # A binary search on how many copies to buy, not one branch per copy.
    assert result.iterations <= 60


@settings(max_examples=6, deadline=None)
@given(
    first=st.integers(1, 4),
    second=st.integers(1, 4),
    budget_per_copy=st.floats(5.0, 250.0),
)
def test_groups_of_identical_s_curves_match_exact_enumeration(
    first: int, second: int, budget_per_copy: float
) -> None:
    hill, logistic = HillCurve(1000.0, 100.0, 3.0), LogisticCurve(600.0, 0.06, 80.0)
    channels = copies(hill, first, "hill") + copies(logistic, second, "logistic")
    total = (first + second) * budget_per_copy

    result = optimize_allocation(channels, total)

    assert result.status == STATUS_OPTIMAL
    exact = best_among_identical_groups([(hill, first), (logistic, second)], total)
    assert result.objective == pytest.approx(exact, rel=1e-9)


def test_thousand_identical_copies_in_three_groups_are_proven_in_a_few_nodes() -> None:
    channels = (
        copies(HillCurve(1000.0, 100.0, 3.0), 300, "hill")
        + copies(LogisticCurve(600.0, 0.06, 80.0), 300, "logistic")
        + copies(HillCurve(500.0, 60.0, 2.0), 400, "small")
    )

    result = optimize_allocation(channels, 50.0 * len(channels))

    assert result.status == STATUS_OPTIMAL
    assert result.iterations < 100
    assert result.gap <= 1e-9 * result.objective
    by_curve = {
        name: result.allocation[[channel.name.startswith(name) for channel in channels]]
        for name in ("hill", "logistic", "small")
    }
    # Bought copies of one curve share one spend; at most one copy in all sits elsewhere.
    elsewhere = 0
    for spends in by_curve.values():
        bought = spends[spends > 0]
        if bought.size:
            shared = np.median(bought)
            elsewhere += int(np.sum(~np.isclose(bought, shared, rtol=1e-9)))
    assert elsewhere <= 1


def test_identical_channels_with_different_bounds_are_not_grouped() -> None:
    curve = HillCurve(1000.0, 100.0, 3.0)
    upper = np.array([50.0, np.inf, np.inf, np.inf])

    result = optimize_allocation(copies(curve, 4), 360.0, upper=upper)

    assert result.status == STATUS_OPTIMAL
    assert result.allocation[0] <= 50.0
    reference = brute_force_grouped_bounds(curve, 360.0)
    assert result.objective >= reference * (1 - 1e-12)
    assert result.objective == pytest.approx(reference, rel=1e-6)


def brute_force_grouped_bounds(curve: ResponseCurve, total: float) -> float:
    """The first copy capped at 50, three free ones: the capped copy's spend on a fine grid,
    the free copies by exact enumeration for what is left."""
    capped = np.linspace(0.0, 50.0, 501)
    values = [float(curve.response(x)) + best_among_identical(curve, 3, total - x) for x in capped]
    return max(values)


def test_near_identical_s_curves_get_their_best_allocation_within_a_few_nodes() -> None:
    # Curves 1 % apart are not one class, and proving which 30 % of them to buy takes
    # thousands of nodes; the allocation returned at the node limit must still be the best one
    # the search knows, not whatever best-bound order happened to meet first (1 % worse).
    channels = near_identical_s_curves(64)
    total = 0.3 * 50 * 64

    quick = optimize_allocation(channels, total, max_nodes=10)
    longer = optimize_allocation(channels, total, max_nodes=1000)

    assert quick.status == STATUS_NODE_LIMIT
    assert quick.objective >= longer.objective * (1 - 1e-12)
    assert quick.upper_bound >= longer.objective
    assert quick.allocation.sum() == pytest.approx(total, rel=1e-12)

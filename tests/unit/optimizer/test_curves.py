from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from roost.optimizer.curves import (
    Channel,
    CurveBatch,
    HillCurve,
    LinearWithCapCurve,
    LogisticCurve,
    PowerCurve,
    ResponseCurve,
    curve_from_dict,
    steady_state_spend,
)
from roost.optimizer.errors import InvalidCurve

CURVES: list[ResponseCurve] = [
    HillCurve(vmax=500.0, k=80.0, slope=0.6),
    HillCurve(vmax=500.0, k=80.0, slope=1.0),
    HillCurve(vmax=500.0, k=80.0, slope=2.5),
    HillCurve(vmax=3.0, k=0.5, slope=9.0),
    LogisticCurve(vmax=300.0, r=0.08, m=90.0),
    LogisticCurve(vmax=300.0, r=0.02, m=0.0),
    PowerCurve(a=6.0, b=0.5),
    PowerCurve(a=2.0, b=1.0),
    LinearWithCapCurve(slope=2.0, cap=100.0),
]
S_CURVES = [curve for curve in CURVES if not curve.is_concave]
# Linear pieces have a constant marginal, so no pointwise inverse.
INVERTIBLE = [
    curve
    for curve in CURVES
    if not isinstance(curve, LinearWithCapCurve) and curve.curvature(1.0) != 0.0
]
# Spends spanning four orders of magnitude around the curves' scales, avoiding 0 and the
# linear_with_cap kink at 50.
SPENDS = np.geomspace(0.05, 2000.0, 157)


def central_difference(function: Any, x: np.ndarray) -> np.ndarray:
    step = 1e-6 * np.maximum(x, 1.0)
    return (function(x + step) - function(x - step)) / (2.0 * step)  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("function", "derivative", "rtol"),
    [("response", "marginal", 1e-6), ("marginal", "curvature", 1e-5)],
)
@pytest.mark.parametrize("curve", CURVES, ids=lambda curve: repr(curve))
def test_analytic_derivatives_match_central_differences(
    curve: ResponseCurve, function: str, derivative: str, rtol: float
) -> None:
    x = SPENDS[np.abs(SPENDS - 50.0) > 1e-3]
    numeric = central_difference(getattr(curve, function), x)
    scale = max(float(np.abs(numeric).max()), 1e-300)
    np.testing.assert_allclose(
        getattr(curve, derivative)(x), numeric, rtol=rtol, atol=rtol * 0.1 * scale
    )


@pytest.mark.parametrize("curve", CURVES, ids=lambda curve: repr(curve))
def test_every_curve_starts_at_zero_and_never_decreases(curve: ResponseCurve) -> None:
    assert curve.response(0.0) == 0.0
    values = curve.response(np.concatenate([[0.0], SPENDS]))
    assert np.all(np.diff(values) >= 0)
    assert np.all(curve.marginal(SPENDS) >= 0)


@pytest.mark.parametrize("curve", CURVES, ids=lambda curve: repr(curve))
def test_response_is_vectorised_and_keeps_scalars_scalar(curve: ResponseCurve) -> None:
    grid = SPENDS[:156].reshape(3, -1)
    values = curve.response(grid)
    assert values.shape == grid.shape
    assert isinstance(curve.response(12.5), float)
    assert values[1, 4] == curve.response(float(grid[1, 4]))


@pytest.mark.parametrize("curve", INVERTIBLE, ids=lambda curve: repr(curve))
def test_inverse_marginal_lands_on_the_concave_branch(curve: ResponseCurve) -> None:
    start = curve.inflection * 1.001
    x = SPENDS[start < SPENDS]
    targets = curve.marginal(x)
    targets = targets[targets > 1e-250]
    inverse = curve.inverse_marginal(targets)
    assert np.all(inverse >= curve.inflection)
    np.testing.assert_allclose(curve.marginal(inverse), targets, rtol=1e-9)
    assert curve.inverse_marginal(0.0) == math.inf


@pytest.mark.parametrize("curve", S_CURVES, ids=lambda curve: repr(curve))
def test_inverse_marginal_above_the_peak_returns_the_inflection(curve: ResponseCurve) -> None:
    peak = curve.marginal(curve.inflection)
    assert curve.inverse_marginal(peak * 1.5) == pytest.approx(curve.inflection)


@pytest.mark.parametrize("curve", S_CURVES, ids=lambda curve: repr(curve))
def test_s_curves_turn_from_convex_to_concave_at_their_inflection(curve: ResponseCurve) -> None:
    c = curve.inflection
    assert c > 0
    assert curve.curvature(c * 0.99) > 0 > curve.curvature(c * 1.01)


def test_hill_concavity_depends_on_its_slope() -> None:
    assert HillCurve(vmax=1.0, k=1.0, slope=1.0).is_concave
    assert not HillCurve(vmax=1.0, k=1.0, slope=1.2).is_concave
    assert LogisticCurve(vmax=1.0, r=1.0, m=0.0).is_concave


@pytest.mark.parametrize("curve", CURVES, ids=lambda curve: repr(curve))
def test_rescaled_curve_reads_the_spend_multiplied(curve: ResponseCurve) -> None:
    rescaled = curve.rescaled(2.5)
    assert type(rescaled) is type(curve)
    np.testing.assert_allclose(rescaled.response(SPENDS), curve.response(2.5 * SPENDS), rtol=1e-12)
    np.testing.assert_allclose(
        rescaled.marginal(SPENDS), 2.5 * curve.marginal(2.5 * SPENDS), rtol=1e-12
    )


@pytest.mark.parametrize("curve", CURVES, ids=lambda curve: repr(curve))
def test_supremum_bounds_every_response(curve: ResponseCurve) -> None:
    assert np.all(curve.response(SPENDS * 1e6) <= curve.supremum * (1 + 1e-12))
    if math.isfinite(curve.supremum):
        assert curve.response(1e12) == pytest.approx(curve.supremum, rel=1e-6)


def test_curve_batch_matches_each_curve_on_mixed_kinds() -> None:
    batch = CurveBatch(CURVES)
    x = np.linspace(1.0, 400.0, len(CURVES))
    for method in ("response", "marginal", "curvature"):
        expected = [getattr(curve, method)(float(v)) for curve, v in zip(CURVES, x, strict=True)]
        np.testing.assert_allclose(getattr(batch, method)(x), expected, rtol=1e-12)
    targets = np.full(len(CURVES), 0.7)
    expected = [curve.inverse_marginal(0.7) for curve in CURVES]
    np.testing.assert_allclose(batch.inverse_marginal(targets), expected, rtol=1e-12)
    np.testing.assert_allclose(batch.inflection, [curve.inflection for curve in CURVES])


@pytest.mark.parametrize("curve", CURVES, ids=lambda curve: repr(curve))
def test_to_dict_round_trips(curve: ResponseCurve) -> None:
    data = curve.to_dict()
    assert data["type"] == curve.kind
    assert curve_from_dict(data) == curve
    assert type(curve).from_dict(data) == curve


def test_integer_parameters_are_stored_as_floats() -> None:
    curve = curve_from_dict({"type": "hill", "params": {"vmax": 10, "k": 3, "slope": 2}})
    assert curve.params() == {"vmax": 10.0, "k": 3.0, "slope": 2.0}
    assert all(type(value) is float for value in curve.to_dict()["params"].values())


@pytest.mark.parametrize(
    ("kind", "params", "parameter"),
    [
        ("hill", {"vmax": -1.0, "k": 1.0, "slope": 1.0}, "vmax"),
        ("hill", {"vmax": 1.0, "k": 0.0, "slope": 1.0}, "k"),
        ("hill", {"vmax": 1.0, "k": float("nan"), "slope": 1.0}, "k"),
        ("hill", {"vmax": 1.0, "k": 1.0, "slope": 0.0}, "slope"),
        ("hill", {"vmax": 1.0, "k": 1.0, "slope": 10.5}, "slope"),
        ("hill", {"vmax": float("inf"), "k": 1.0, "slope": 1.0}, "vmax"),
        ("logistic", {"vmax": 1.0, "r": -0.1, "m": 1.0}, "r"),
        ("logistic", {"vmax": 1.0, "r": 0.1, "m": -1.0}, "m"),
        ("power", {"a": 1.0, "b": 1.5}, "b"),
        ("power", {"a": 1.0, "b": 0.0}, "b"),
        ("power", {"a": "3", "b": 0.5}, "a"),
        ("power", {"a": True, "b": 0.5}, "a"),
        ("linear_with_cap", {"slope": 1.0, "cap": -5.0}, "cap"),
        ("linear_with_cap", {"slope": 1e16, "cap": 5.0}, "slope"),
    ],
)
def test_bad_parameters_are_rejected_by_name(
    kind: str, params: dict[str, Any], parameter: str
) -> None:
    with pytest.raises(InvalidCurve, match=f"'{parameter}'") as caught:
        curve_from_dict({"type": kind, "params": params})
    assert caught.value.code == "invalid_curve"
    assert caught.value.parameter == parameter


@pytest.mark.parametrize(
    ("data", "parameter", "message"),
    [
        ({"type": "gompertz", "params": {}}, "type", "unknown curve type 'gompertz'"),
        ({"params": {"a": 1.0, "b": 0.5}}, "type", "unknown curve type None"),
        ({"type": "power", "params": {"a": 1.0}}, "b", "missing parameter 'b'"),
        ({"type": "power", "params": {"a": 1.0, "b": 0.5, "c": 1}}, "c", "unknown parameter 'c'"),
        ({"type": "power", "params": [1.0, 0.5]}, "params", "'params' object"),
        ({"type": "power", "params": {}, "extra": 1}, "extra", "unknown curve field 'extra'"),
        ([1, 2], "curve", "must be an object"),
    ],
)
def test_malformed_descriptions_say_what_is_wrong(data: Any, parameter: str, message: str) -> None:
    with pytest.raises(InvalidCurve, match=message) as caught:
        curve_from_dict(data)
    assert caught.value.parameter == parameter


def test_from_dict_on_a_subclass_rejects_other_kinds() -> None:
    with pytest.raises(InvalidCurve, match="expected a hill curve"):
        HillCurve.from_dict({"type": "power", "params": {"a": 1.0, "b": 0.5}})


def test_steady_state_spend_sums_the_geometric_carryover() -> None:
    assert steady_state_spend(100.0, 0.0) == 100.0
    assert steady_state_spend(100.0, 0.75) == pytest.approx(400.0)
    # Spend s each period, a fraction a of each period's effect carried into the next.
    carried = sum(100.0 * 0.75**lag for lag in range(400))
    assert steady_state_spend(100.0, 0.75) == pytest.approx(carried)
    np.testing.assert_allclose(steady_state_spend(np.array([1.0, 2.0]), 0.5), [2.0, 4.0])


@pytest.mark.parametrize("adstock", [1.0, -0.1, float("nan")])
def test_adstock_outside_zero_to_one_is_rejected(adstock: float) -> None:
    with pytest.raises(InvalidCurve, match="adstock") as caught:
        Channel("tv", PowerCurve(a=1.0, b=0.5), adstock=adstock)
    assert caught.value.parameter == "adstock"
    with pytest.raises(InvalidCurve, match="adstock"):
        steady_state_spend(1.0, adstock)


def test_channel_applies_its_curve_to_the_steady_state_spend() -> None:
    curve = HillCurve(vmax=500.0, k=80.0, slope=2.5)
    channel = Channel("tv", curve, adstock=0.6)
    spend = np.array([10.0, 40.0, 90.0])
    effective = steady_state_spend(spend, 0.6)
    np.testing.assert_allclose(channel.response(spend), curve.response(effective), rtol=1e-12)
    np.testing.assert_allclose(
        channel.marginal(spend), curve.marginal(effective) / (1 - 0.6), rtol=1e-12
    )


def test_channel_round_trips_through_dict() -> None:
    channel = Channel("tv", LogisticCurve(vmax=300.0, r=0.08, m=90.0), adstock=0.3)
    assert Channel.from_dict(channel.to_dict()) == channel


@pytest.mark.parametrize(
    ("data", "parameter"),
    [
        ({"name": "", "curve": {"type": "power", "params": {"a": 1.0, "b": 0.5}}}, "name"),
        ({"name": "tv"}, "curve"),
        ({"name": "tv", "curve": {"type": "power", "params": {"a": 1.0}}}, "b"),
        ("tv", "channel"),
    ],
)
def test_malformed_channels_are_rejected(data: Any, parameter: str) -> None:
    with pytest.raises(InvalidCurve) as caught:
        Channel.from_dict(data)
    assert caught.value.parameter == parameter

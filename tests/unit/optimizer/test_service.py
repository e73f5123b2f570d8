"""The optimize use case without I/O: request body -> plan -> solved result body."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from roost.core.ratelimit import RateLimit
from roost.optimizer.config import OptimizerConfig
from roost.optimizer.demo import demo_channels
from roost.optimizer.errors import ConstraintError, InfeasibleConstraints, UnknownChannel
from roost.optimizer.planning import run_request
from roost.optimizer.registry import ModelVersion
from roost.optimizer.schemas import OptimizeRequest

DEMO = ModelVersion(
    name="demo",
    version=1,
    status="active",
    description="",
    checksum="0" * 64,
    created_at=datetime(2026, 1, 1, tzinfo=UTC),
    created_by=None,
    channels=demo_channels(),
)
CHANNELS = [channel.name for channel in DEMO.channels]
CONFIG = OptimizerConfig(
    require_auth=False,
    rate_limit=RateLimit("optimize", 1.0, 5),
    async_channel_threshold=100,
    max_channels=1000,
    max_sweep_totals=50,
    default_model="demo",
    max_nodes=1000,
)


def solve(body: dict[str, Any]) -> dict[str, Any]:
    return run_request(DEMO, OptimizeRequest.model_validate(body), CONFIG)


def spend() -> st.SearchStrategy[float]:
    return st.one_of(st.just(0.0), st.floats(1.0, 400_000.0))


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    """Random rich requests over the demo model that are feasible by construction: every
    channel's bounds contain its share of the total, so the sums always fit."""
    names = draw(st.lists(st.sampled_from(CHANNELS), min_size=1, max_size=5, unique=True))
    budget = {name: draw(spend()) for name in names}
    locked = [name for name in names if draw(st.booleans()) and draw(st.booleans())]
    free = [name for name in names if name not in locked]
    locked_total = sum(budget[name] for name in locked)
    if not free:
        total = locked_total
    else:
        total = locked_total + draw(st.one_of(st.just(0.0), st.floats(1.0, 1_000_000.0)))
    share = (total - locked_total) / max(len(free), 1)
    bounds: dict[str, dict[str, float]] = {}
    for name in free:
        current = budget[name]
        bound: dict[str, float] = {}
        if draw(st.booleans()):
            bound["min"] = draw(st.floats(0.0, share))
        elif current > 0 and draw(st.booleans()):
            bound["min_fraction"] = draw(st.floats(0.0, share / current)) if share else 0.0
        if draw(st.booleans()):
            bound["max"] = draw(st.floats(share, 3 * share + 1.0))
        elif current > 0 and draw(st.booleans()):
            bound["max_fraction"] = draw(st.floats(share / current, 1e6)) if share else 1.0
        if bound:
            bounds[name] = bound
    return {
        "budget": budget,
        "constraints": {"total": total, "channels": bounds, "locked": locked},
    }


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests())
def test_any_feasible_request_spends_its_total_within_every_bound(body: dict[str, Any]) -> None:
    result = solve(body)

    total = body["constraints"]["total"]
    allocation = result["allocation"]
    assert set(allocation) == set(body["budget"])
    assert math.fsum(allocation.values()) == pytest.approx(total, rel=1e-9, abs=1e-6)
    for row in result["channels"]:
        name, spent = row["name"], row["optimal_spend"]
        slack = 1e-9 * max(total, 1.0)
        assert row["min"] - slack <= spent
        assert row["max"] is None or spent <= row["max"] + slack
        if name in body["constraints"]["locked"]:
            assert spent == body["budget"][name]
    current_is_feasible = math.isclose(math.fsum(body["budget"].values()), total) and all(
        row["min"] <= row["current_spend"] <= (row["max"] if row["max"] is not None else math.inf)
        for row in result["channels"]
    )
    if current_is_feasible:
        before, after = (
            result["predicted_response"]["before"],
            result["predicted_response"]["after"],
        )
        assert after >= before - 1e-9 * max(abs(before), 1.0)


def test_fraction_bounds_scale_with_current_spend() -> None:
    body = {
        "budget": {"tv": 100_000, "digital": 200_000},
        "constraints": {
            "total": 300_000,
            "channels": {"digital": {"min_fraction": 0.9, "max_fraction": 1.1}},
        },
    }
    rows = {row["name"]: row for row in solve(body)["channels"]}

    assert rows["digital"]["min"] == pytest.approx(180_000)
    assert rows["digital"]["max"] == pytest.approx(220_000)
    assert 180_000 * (1 - 1e-12) <= rows["digital"]["optimal_spend"] <= 220_000 * (1 + 1e-12)


def test_fractions_of_a_channel_without_current_spend_pin_it_at_zero() -> None:
    body = {
        "budget": {"tv": 0, "digital": 50_000},
        "constraints": {"total": 50_000, "channels": {"tv": {"max_fraction": 2.0}}},
    }
    result = solve(body)

    assert result["allocation"] == {"tv": 0.0, "digital": 50_000.0}


@pytest.mark.parametrize(
    ("body", "error", "field"),
    [
        (
            {
                "budget": {"tv": 1, "digital": 1},
                "constraints": {"total": 1, "locked": ["tv", "tv"]},
            },
            None,
            None,
        ),
        (
            {"budget": {"tv": 10, "digital": 10}, "constraints": {"total": 5, "locked": ["tv"]}},
            InfeasibleConstraints,
            "constraints.total",
        ),
        (
            {
                "budget": {"tv": 10, "digital": 10},
                "constraints": {"channels": {"tv": {"min_fraction": 2, "max_fraction": 1}}},
            },
            InfeasibleConstraints,
            "constraints.channels.tv",
        ),
        ({"budget": {"télé 📺": 1}}, UnknownChannel, "budget.télé 📺"),
    ],
    ids=["locked-twice", "locked-over-total", "fractions-crossed", "unicode-channel"],
)
def test_requests_that_cannot_be_met_name_their_field(
    body: dict[str, Any], error: type[ConstraintError] | None, field: str | None
) -> None:
    if error is None:
        # Naming a locked channel twice is harmless: it is still locked once.
        assert solve(body)["allocation"]["tv"] == 1.0
        return
    with pytest.raises(error) as raised:
        solve(body)
    assert raised.value.constraint == field


def test_huge_budgets_stay_finite_and_exact() -> None:
    body = {"budget": {name: 1e14 for name in CHANNELS}, "constraints": {"total": 1e15}}
    result = solve(body)

    values = np.array(list(result["allocation"].values()))
    assert np.all(np.isfinite(values))
    assert math.fsum(values) == pytest.approx(1e15, rel=1e-12)
    assert math.isfinite(result["predicted_response"]["after"])


def test_minimums_over_the_total_by_a_hair_show_the_difference() -> None:
    # With 6 significant digits both amounts would read "100": the message must tell them apart.
    body = {
        "budget": {"tv": 100.0000001, "digital": 10},
        "constraints": {"total": 100, "locked": ["tv"]},
    }
    with pytest.raises(InfeasibleConstraints, match=r"\(100\.0000001\) exceeds .* \(100\)"):
        solve(body)

"""POST /api/v1/optimize and GET /api/v1/results/{id} on real Postgres and Redis."""

from __future__ import annotations

from typing import Any

import httpx
import numpy as np
import pytest
from tests.integration.optimizer.optimizer_helpers import CLASSIC_BODY, hill
from tests.support.fixture_types import OptimizerClient

from roost.optimizer.demo import demo_channels
from roost.optimizer.schemas import ResultView

pytestmark = pytest.mark.integration


def demo_response(name: str, spend: float) -> float:
    channel = next(c for c in demo_channels() if c.name == name)
    return float(channel.response(spend))


async def test_classic_request_spends_the_total_and_beats_the_current_split(
    optimizer_client: OptimizerClient,
) -> None:
    async with optimizer_client() as client:
        response = await client.post("/api/v1/optimize", json=CLASSIC_BODY)
        body = response.json()
        stored = await client.get(f"/api/v1/results/{body['id']}")
    assert response.status_code == 200, response.text
    allocation = body["allocation"]
    assert set(allocation) == {"tv", "digital"}
    assert sum(allocation.values()) == pytest.approx(300000, rel=1e-9)
    assert all(value >= 0 for value in allocation.values())
    before, after = body["predicted_response"]["before"], body["predicted_response"]["after"]
    assert before == pytest.approx(
        demo_response("tv", 100000) + demo_response("digital", 200000), rel=1e-12
    )
    assert after == pytest.approx(
        demo_response("tv", allocation["tv"]) + demo_response("digital", allocation["digital"]),
        rel=1e-12,
    )
    assert after > before
    assert body["lift"]["absolute"] == pytest.approx(after - before)
    assert body["solver"]["status"] == "optimal"
    assert body["solver"]["iterations"] >= 1
    assert body["time_taken_ms"] > 0
    assert set(body["marginal_roi"]) == {"tv", "digital"}
    assert body["status"] == "done"
    assert response.headers["location"] == f"/api/v1/results/{body['id']}"
    assert stored.status_code == 200
    assert stored.json() == body
    ResultView.model_validate(body)  # the declared response model, field for field


async def test_classic_answer_matches_a_brute_force_grid(optimizer_client: OptimizerClient) -> None:
    async with optimizer_client() as client:
        body = (await client.post("/api/v1/optimize", json=CLASSIC_BODY)).json()
    tv = np.linspace(0, 300000, 30001)  # every 10 of currency
    channels = {c.name: c for c in demo_channels()}
    grid = channels["tv"].response(tv) + channels["digital"].response(300000 - tv)
    best = float(grid.max())
    after = body["predicted_response"]["after"]
    assert after >= best * (1 - 1e-9)
    assert body["allocation"]["tv"] == pytest.approx(float(tv[grid.argmax()]), abs=20)
    # At an interior optimum both channels earn the same marginal return.
    roi = body["marginal_roi"]
    assert roi["tv"] == pytest.approx(roi["digital"], rel=1e-6)


async def test_total_defaults_to_current_spend_and_locked_channels_stay(
    optimizer_client: OptimizerClient,
) -> None:
    body = {
        "model": "demo",
        "budget": {"tv": 100000, "digital": 200000, "search": 50000},
        "constraints": {"locked": ["search"]},
    }
    async with optimizer_client() as client:
        response = await client.post("/api/v1/optimize", json=body)
    result = response.json()
    assert response.status_code == 200, response.text
    assert result["total"] == 350000
    assert result["allocation"]["search"] == 50000
    assert sum(result["allocation"].values()) == pytest.approx(350000, rel=1e-9)
    search = next(row for row in result["channels"] if row["name"] == "search")
    assert search["locked"] is True
    assert search["min"] == search["max"] == 50000


async def test_bounds_absolute_and_as_fractions_of_current_spend_hold(
    optimizer_client: OptimizerClient,
) -> None:
    from roost.optimizer.solver import optimize_allocation

    names = ["tv", "digital", "search", "social"]
    body = {
        "budget": {"tv": 100000, "digital": 200000, "search": 50000, "social": 30000},
        "constraints": {
            "total": 400000,
            "channels": {
                "tv": {"max_fraction": 1.2},
                "digital": {"min_fraction": 0.95},
                "search": {"min": 60000},
                "social": {"max": 10000},
            },
        },
    }
    async with optimizer_client() as client:
        response = await client.post("/api/v1/optimize", json=body)
    allocation = response.json()["allocation"]
    channels = {c.name: c for c in demo_channels()}
    reference = optimize_allocation(
        [channels[name] for name in names],
        400000,
        [0, 190000, 60000, 0],
        [120000, float("inf"), float("inf"), 10000],
    )
    assert response.status_code == 200, response.text
    for name, expected in zip(names, reference.allocation, strict=True):
        assert allocation[name] == pytest.approx(float(expected), rel=1e-9, abs=1e-6)
    # Without these bounds the optimum is far from them: each of them binds.
    assert allocation["tv"] == pytest.approx(120000)
    assert allocation["digital"] == pytest.approx(190000)
    assert allocation["social"] == pytest.approx(10000)
    assert allocation["search"] >= 60000 * (1 - 1e-12)
    assert sum(allocation.values()) == pytest.approx(400000, rel=1e-9)


async def test_target_response_finds_the_smallest_budget_reaching_it(
    optimizer_client: OptimizerClient,
) -> None:
    target = 500000.0
    body = {
        "budget": {"tv": 100000, "digital": 200000},
        "objective": "target_roi",
        "target": {"response": target},
    }
    async with optimizer_client() as client:
        response = await client.post("/api/v1/optimize", json=body)
        found = response.json()
        slightly_less = {
            "budget": {"tv": 100000, "digital": 200000},
            "constraints": {"total": found["total"] * (1 - 1e-4)},
        }
        short = (await client.post("/api/v1/optimize", json=slightly_less)).json()
    assert response.status_code == 200, response.text
    ResultView.model_validate(found)
    assert found["achieved"]["response"] >= target * (1 - 1e-9)
    assert found["predicted_response"]["after"] == pytest.approx(target, rel=1e-6)
    assert sum(found["allocation"].values()) == pytest.approx(found["total"], rel=1e-9)
    assert short["predicted_response"]["after"] < target


async def test_target_marginal_roi_stops_where_the_next_unit_returns_the_target(
    optimizer_client: OptimizerClient,
) -> None:
    body = {
        "budget": {"digital": 50000, "search": 50000},
        "objective": "target_roi",
        "target": {"marginal_roi": 0.5},
    }
    async with optimizer_client() as client:
        response = await client.post("/api/v1/optimize", json=body)
    result = response.json()
    assert response.status_code == 200, response.text
    assert result["achieved"]["marginal_roi"] == pytest.approx(0.5, rel=1e-5)
    # Both concave channels are bought up to the same marginal return.
    assert result["marginal_roi"]["digital"] == pytest.approx(0.5, rel=1e-5)
    assert result["marginal_roi"]["search"] == pytest.approx(0.5, rel=1e-5)


async def test_unreachable_target_is_a_422_naming_the_target(
    optimizer_client: OptimizerClient,
) -> None:
    body = {
        "budget": {"tv": 1, "digital": 1},
        "objective": "target_roi",
        "target": {"response": 1e12},
    }
    async with optimizer_client() as client:
        response = await client.post("/api/v1/optimize", json=body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "target_unreachable"
    assert error["details"]["field"] == "target"


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        (
            {
                "budget": {"tv": 100, "digital": 100},
                "constraints": {
                    "total": 1000,
                    "channels": {"tv": {"min": 800}, "digital": {"min": 800}},
                },
            },
            "minimums_exceed_total",
            "constraints.total",
        ),
        (
            {
                "budget": {"tv": 100, "digital": 100},
                "constraints": {"total": 1000, "channels": {"tv": {"min": 500, "max": 400}}},
            },
            "min_exceeds_max",
            "constraints.channels.tv",
        ),
        (
            {"budget": {"tv": 100, "podcast": 100}, "constraints": {"total": 200}},
            "unknown_channel",
            "budget.podcast",
        ),
        (
            {"budget": {"tv": 100}, "constraints": {"channels": {"digital": {"max": 5}}}},
            "unknown_channel",
            "constraints.channels.digital",
        ),
        (
            {"budget": {"tv": 100}, "constraints": {"locked": ["radio"]}},
            "unknown_channel",
            "constraints.locked",
        ),
        (
            {
                "budget": {"tv": 100, "digital": 100},
                "constraints": {"total": 1000, "channels": {"tv": {"max": 10}}, "locked": ["tv"]},
            },
            "conflicting_constraints",
            "constraints.channels.tv",
        ),
        (
            {
                "budget": {"tv": 100, "digital": 100},
                "constraints": {"total": 5000, "locked": ["tv", "digital"]},
            },
            "maximums_below_total",
            "constraints.total",
        ),
        (
            {"model": "no-such-model", "budget": {"tv": 100}},
            "unknown_model",
            "model",
        ),
        (
            {"model": "demo", "model_version": 999, "budget": {"tv": 100}},
            "unknown_model",
            "model_version",
        ),
    ],
)
async def test_infeasible_or_unknown_constraints_are_422_naming_them(
    optimizer_client: OptimizerClient, body: dict[str, Any], code: str, field: str
) -> None:
    async with optimizer_client() as client:
        response = await client.post("/api/v1/optimize", json=body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["details"]["field"] == field
    name = field.rsplit(".", 1)[-1]
    if name not in ("total", "locked", "model", "model_version"):
        assert name in error["message"]


BAD_BODIES: list[tuple[str, bytes, int]] = [
    ("not json", b'{"budget": {"tv": 1', 400),
    ("a list", b"[1, 2]", 422),
    ("negative spend", b'{"budget": {"tv": -5}}', 422),
    ("NaN", b'{"budget": {"tv": NaN}}', 422),
    ("Infinity", b'{"budget": {"tv": Infinity}}', 422),
    ("overflowing float", b'{"budget": {"tv": 1e400}}', 422),
    ("huge integer", b'{"budget": {"tv": 1' + b"0" * 400 + b"}}", 422),
    ("beyond any budget", b'{"budget": {"tv": 1e16}}', 422),
    ("string number", b'{"budget": {"tv": "100"}}', 422),
    ("boolean spend", b'{"budget": {"tv": true}}', 422),
    ("empty budget", b'{"budget": {}}', 422),
    ("no budget", b'{"constraints": {"total": 5}}', 422),
    ("unknown objective", b'{"budget": {"tv": 1}, "objective": "max_profit"}', 422),
    ("unknown field", b'{"budget": {"tv": 1}, "colour": "blue"}', 422),
    ("unknown constraint", b'{"budget": {"tv": 1}, "constraints": {"max": 5}}', 422),
    ("negative total", b'{"budget": {"tv": 1}, "constraints": {"total": -1}}', 422),
    ("NaN total", b'{"budget": {"tv": 1}, "constraints": {"total": NaN}}', 422),
    ("both min forms", b'{"budget": {"tv": 1}, "constraints": {"channels": '
     b'{"tv": {"min": 1, "min_fraction": 0.5}}}}', 422),
    ("target without objective", b'{"budget": {"tv": 1}, "target": {"response": 5}}', 422),
    ("objective without target", b'{"budget": {"tv": 1}, "objective": "target_roi"}', 422),
    ("two targets", b'{"budget": {"tv": 1}, "objective": "target_roi", '
     b'"target": {"response": 5, "marginal_roi": 1}}', 422),
    ("model version zero", b'{"budget": {"tv": 1}, "model_version": 0}', 422),
    ("model version overflow", b'{"budget": {"tv": 1}, "model_version": 99999999999}', 422),
    ("bad model name", b'{"budget": {"tv": 1}, "model": "../etc"}', 422),
    ("channel name too long", b'{"budget": {"' + b"x" * 500 + b'": 1}}', 422),
]  # fmt: skip


@pytest.mark.parametrize(("label", "raw", "status"), BAD_BODIES, ids=[b[0] for b in BAD_BODIES])
async def test_bad_optimize_bodies_are_4xx_envelopes(
    optimizer_client: OptimizerClient, label: str, raw: bytes, status: int
) -> None:
    async with optimizer_client() as client:
        response = await client.post(
            "/api/v1/optimize", content=raw, headers={"content-type": "application/json"}
        )
    assert response.status_code == status, f"{label}: {response.text}"
    error = response.json()["error"]
    assert error["code"]
    assert error["message"]
    assert error["request_id"]


async def test_bad_requests_store_nothing_and_change_no_model(
    optimizer_client: OptimizerClient, admin_headers: dict[str, str]
) -> None:
    from sqlalchemy import func, select

    from roost.infra.db import unit_of_work
    from roost.optimizer.models import OptimizationResultRow

    async def count_results(client: httpx.AsyncClient) -> int:
        app: Any = client.app  # type: ignore[attr-defined]  # serve_asgi attaches the app
        async with unit_of_work(app.state.optimizer.sessions) as session:
            return int(await session.scalar(select(func.count(OptimizationResultRow.id))) or 0)

    async with optimizer_client() as client:
        demo_before = (await client.get("/api/v1/models/demo")).json()
        results_before = await count_results(client)
        for _, raw, _ in BAD_BODIES:
            await client.post(
                "/api/v1/optimize", content=raw, headers={"content-type": "application/json"}
            )
        await client.post(
            "/api/v1/optimize",
            json={"budget": {"tv": 100, "digital": 100}, "constraints": {"total": 1,
                  "channels": {"tv": {"min": 50}, "digital": {"min": 50}}}},
        )  # fmt: skip
        results_after = await count_results(client)
        demo_after = (await client.get("/api/v1/models/demo")).json()
    assert results_after == results_before
    assert demo_after == demo_before


async def test_unknown_result_ids_are_404(optimizer_client: OptimizerClient) -> None:
    async with optimizer_client() as client:
        missing = await client.get("/api/v1/results/6f1c1d8e-0000-4000-8000-000000000000")
        garbage = await client.get("/api/v1/results/not-a-uuid")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "result_not_found"
    assert garbage.status_code == 404


async def test_explicit_model_version_is_used_and_recorded(
    optimizer_client: OptimizerClient, admin_headers: dict[str, str], unique: str
) -> None:
    name = f"pinned-{unique}"
    first = {"name": name, "channels": [hill("a", 100, 10, 1), hill("b", 100, 10, 1)]}
    second = {"name": name, "channels": [hill("a", 100, 10, 1), hill("b", 300, 10, 1)]}
    request = {"model": name, "budget": {"a": 50, "b": 50}}
    async with optimizer_client() as client:
        await client.post("/api/v1/models", json=first, headers=admin_headers)
        await client.post("/api/v1/models", json=second, headers=admin_headers)
        latest = (await client.post("/api/v1/optimize", json=request)).json()
        pinned = (await client.post("/api/v1/optimize", json=request | {"model_version": 1})).json()
    assert latest["model"] == {"name": name, "version": 2}
    assert pinned["model"] == {"name": name, "version": 1}
    # Identical curves split evenly; a stronger b draws money to it.
    assert pinned["allocation"]["a"] == pytest.approx(50, rel=1e-9)
    assert latest["allocation"]["b"] > latest["allocation"]["a"]

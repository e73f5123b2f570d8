"""Large optimizations and sweeps as queue jobs: a real Redis broker and dramatiq worker."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import dramatiq
import httpx
import numpy as np
import pytest
from tests.integration.optimizer.optimizer_helpers import hill
from tests.support.fixture_types import OptimizerClient

from roost.core.settings import Settings
from roost.optimizer.schemas import ResultView

pytestmark = pytest.mark.integration

CHANNELS = 120  # over the default threshold of 100


@asynccontextmanager
async def running_worker(client: httpx.AsyncClient) -> AsyncIterator[None]:
    """The optimizer's actor consumed by a dramatiq worker in this process, on the app's
    database sessions, as `roost worker` wires it."""
    from roost.infra import queue
    from roost.roles import register_optimizer_actors
    from roost.worker import LoopBridge

    app: Any = client.app  # type: ignore[attr-defined]
    settings: Settings = app.state.settings
    broker = queue.create_broker(settings)
    bridge = LoopBridge(asyncio.get_running_loop())
    queue_name = register_optimizer_actors(
        broker, settings, app.state.optimizer.sessions, bridge.run
    )
    broker.emit_after("process_boot")
    worker = dramatiq.Worker(broker, queues={queue_name}, worker_threads=1, worker_timeout=100)
    worker.start()
    try:
        yield
    finally:
        await asyncio.to_thread(worker.stop, 5000)
        await asyncio.to_thread(broker.close)


async def wait_final(client: httpx.AsyncClient, url: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body: dict[str, Any] = (await client.get(url)).json()
        if body["status"] in ("done", "failed"):
            return body
        await asyncio.sleep(0.05)
    raise AssertionError(f"{url} still {body['status']} after {timeout}s")


async def register_wide_model(
    client: httpx.AsyncClient, headers: dict[str, str], name: str
) -> None:
    rng = np.random.default_rng(7)
    channels = [
        hill(
            f"c{i:03d}",
            vmax=float(rng.uniform(1e4, 1e5)),
            k=float(rng.uniform(1e4, 5e4)),
            slope=float(rng.choice([0.8, 1.0, 2.0, 3.0])),
        )
        for i in range(CHANNELS)
    ]
    response = await client.post(
        "/api/v1/models", json={"name": name, "channels": channels}, headers=headers
    )
    assert response.status_code == 201, response.text


async def test_large_request_is_queued_with_a_status_url_and_finishes(
    optimizer_client: OptimizerClient, admin_headers: dict[str, str], unique: str
) -> None:
    name = f"wide-{unique}"
    budget = {f"c{i:03d}": 10000.0 for i in range(CHANNELS)}
    request = {"model": name, "budget": budget, "constraints": {"total": 1_500_000}}
    async with optimizer_client() as client:
        await register_wide_model(client, admin_headers, name)
        accepted = await client.post("/api/v1/optimize", json=request)
        status_url = accepted.headers["location"]
        queued = await client.get(status_url)
        async with running_worker(client):
            final = await wait_final(client, status_url)
        chart = await client.get(final["links"]["curves_svg"])
        metrics = (await client.get("/metrics")).text
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["status"] == "queued"
    for view in (accepted.json(), queued.json(), final):
        ResultView.model_validate(view)  # the declared response model, field for field
    assert status_url == f"/api/v1/results/{accepted.json()['id']}"
    assert queued.json()["status"] == "queued"
    assert queued.headers["retry-after"] == "1"
    assert "allocation" not in queued.json()
    assert final["status"] == "done", final
    assert final["channel_count"] == CHANNELS
    assert sum(final["allocation"].values()) == pytest.approx(1_500_000, rel=1e-9)
    assert final["predicted_response"]["after"] >= final["predicted_response"]["before"]
    assert final["solver"]["status"] == "optimal"
    assert final["started_at"]
    assert final["finished_at"]
    assert chart.status_code == 200
    assert f"{CHANNELS - 9} more channels not drawn" in chart.text
    assert 'optimization_requests_total{method="max_response",status="queued"}' in metrics


async def test_sweep_is_a_job_answering_each_total(optimizer_client: OptimizerClient) -> None:
    totals = [100000.0, 200000.0, 300000.0, 400000.0]
    request = {"budget": {"tv": 100000, "digital": 200000}, "sweep": {"totals": totals}}
    async with optimizer_client() as client:
        accepted = await client.post("/api/v1/optimize", json=request)
        async with running_worker(client):
            final = await wait_final(client, accepted.headers["location"])
        chart = await client.get(f"/api/v1/optimize/{final['id']}/curves.svg")
    assert accepted.status_code == 202
    assert final["status"] == "done", final
    assert final["kind"] == "sweep"
    ResultView.model_validate(final)
    scenarios = final["scenarios"]
    assert [s["total"] for s in scenarios] == totals
    for scenario in scenarios:
        assert sum(scenario["allocation"].values()) == pytest.approx(scenario["total"], rel=1e-9)
    responses = [s["predicted_response"] for s in scenarios]
    assert responses == sorted(responses)  # more budget never predicts less
    assert chart.status_code == 409


async def test_a_job_that_cannot_be_satisfied_fails_with_its_reason(
    optimizer_client: OptimizerClient, admin_headers: dict[str, str], unique: str
) -> None:
    name = f"wide-{unique}"
    request = {
        "model": name,
        "budget": {f"c{i:03d}": 1.0 for i in range(CHANNELS)},
        "objective": "target_roi",
        "target": {"response": 1e14},
    }
    async with optimizer_client() as client:
        await register_wide_model(client, admin_headers, name)
        accepted = await client.post("/api/v1/optimize", json=request)
        async with running_worker(client):
            final = await wait_final(client, accepted.headers["location"])
    assert accepted.status_code == 202
    assert final["status"] == "failed"
    assert final["error"]["code"] == "target_unreachable"
    assert "allocation" not in final
    ResultView.model_validate(final)


async def test_a_redelivered_job_changes_nothing(optimizer_client: OptimizerClient) -> None:
    from roost.optimizer.tasks import OptimizationJobs
    from roost.roles import optimizer_config
    from roost.worker import LoopBridge

    request = {"budget": {"tv": 1000, "digital": 2000}, "sweep": {"totals": [3000.0]}}
    async with optimizer_client() as client:
        accepted = (await client.post("/api/v1/optimize", json=request)).json()
        app: Any = client.app  # type: ignore[attr-defined]
        jobs = OptimizationJobs(
            app.state.optimizer.sessions,
            optimizer_config(app.state.settings),
            LoopBridge(asyncio.get_running_loop()).run,
        )
        first = await asyncio.to_thread(jobs.process, accepted["id"])
        done = (await client.get(f"/api/v1/results/{accepted['id']}")).json()
        second = await asyncio.to_thread(jobs.process, accepted["id"])
        again = (await client.get(f"/api/v1/results/{accepted['id']}")).json()
    assert (first, second) == ("done", "skipped")
    assert again == done
    assert done["attempts"] == 1


async def test_queue_jobs_are_validated_before_they_are_queued(
    optimizer_client: OptimizerClient,
) -> None:
    request = {
        "budget": {"tv": 100, "digital": 100},
        "constraints": {"channels": {"tv": {"min": 500}}},
        "sweep": {"totals": [1000.0, 200.0]},
    }
    async with optimizer_client() as client:
        response = await client.post("/api/v1/optimize", json=request)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "minimums_exceed_total"
    assert response.json()["error"]["details"]["field"] == "sweep.totals[1]"


async def test_large_requests_are_503_when_the_broker_is_missing_or_down(
    optimizer_client: OptimizerClient,
) -> None:
    request = {"budget": {"tv": 1, "digital": 1}, "sweep": {"totals": [2.0]}}
    async with optimizer_client(broker_url=None) as client:
        no_broker = await client.post("/api/v1/optimize", json=request)
        small = await client.post("/api/v1/optimize", json={"budget": {"tv": 1, "digital": 1}})
    async with optimizer_client(broker_url="redis://127.0.0.1:1/0") as client:
        broker_down = await client.post("/api/v1/optimize", json=request)
    for response in (no_broker, broker_down):
        assert response.status_code == 503, response.text
        assert response.json()["error"]["details"]["dependency"] == "broker"
        assert response.headers["retry-after"]
    assert small.status_code == 200  # small requests never needed the queue

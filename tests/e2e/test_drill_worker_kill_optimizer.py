"""Drill: the worker is SIGKILLed in the middle of 50 optimizer jobs, then started again.

Every job ends exactly once: each result reaches ``done``, and across both workers' logs each
one was recorded done by exactly one delivery (a redelivered job that had already finished is
skipped, one killed mid-run runs again). The killed worker's last log lines may die with it
(log lines are written in batches): a result without a line must have finished before the kill.
"""

from __future__ import annotations

import json
import signal
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from tests.e2e.processes import Role, migrate, role_environment
from tests.support.parallel import free_port

pytestmark = pytest.mark.e2e

JOBS = 50
KILL_AFTER_DONE = 10
SWEEP = {"budget": {"tv": 1, "digital": 1}, "sweep": {"totals": [1e5, 2e5, 3e5, 4e5, 5e5]}}


def done_events(*logs: Path) -> Counter[str]:
    """How many times each result was recorded done, from the workers' JSON log lines."""
    counted: Counter[str] = Counter()
    for log in logs:
        if not log.exists():
            continue
        for line in log.read_text(errors="replace").splitlines():
            if '"optimization_done"' in line:
                counted[json.loads(line)["result_id"]] += 1
    return counted


def test_worker_killed_mid_batch_every_optimizer_job_ends_exactly_once(
    tmp_path: Path, redis_url: str, fresh_database_url: Callable[[str], str]
) -> None:
    tag = uuid.uuid4().hex[:8]
    env = role_environment(
        ROOST_DATABASE_URL=fresh_database_url("drill_optimizer_kill"),
        ROOST_REDIS_URL=redis_url,
        ROOST_BROKER_URL=redis_url,
        ROOST_BROKER_NAMESPACE=f"kill{tag}",
        ROOST_OPTIMIZER_QUEUE=f"kill_optimizer_{tag}",
        ROOST_THUMBNAILS_QUEUE=f"kill_thumbnails_{tag}",
        # A dead worker's jobs come back after 2 s instead of 10.
        ROOST_BROKER_HEARTBEAT_TIMEOUT_SECONDS="2",
        ROOST_STORAGE_URL=(tmp_path / "objects").as_uri(),
        ROOST_DATA_DIR=str(tmp_path),
        ROOST_ACCESS_LOG="false",
        ROOST_OPTIMIZER_RATE_PER_SECOND="1000",
        ROOST_OPTIMIZER_RATE_BURST="1000",
    )
    migrate(env)
    api = Role("optimizer", free_port(), env, tmp_path / "optimizer.log")
    first = Role("worker", free_port(), env, tmp_path / "worker-1.log")
    second = Role("worker", first.port, env, tmp_path / "worker-2.log")
    api.spawn()
    first.spawn()
    try:
        api.wait_until_ready()
        first.wait_until_ready()
        status_urls: dict[str, str] = {}
        with httpx.Client(base_url=api.url, timeout=30) as client:
            for _ in range(JOBS):
                response = client.post("/api/v1/optimize", json=SWEEP)
                assert response.status_code == 202, response.text
                status_urls[response.json()["id"]] = response.headers["location"]

            deadline = time.monotonic() + 60
            while sum(done_events(first.log).values()) < KILL_AFTER_DONE:
                assert time.monotonic() < deadline, first.log_tail()
                time.sleep(0.05)
            first.kill()  # SIGKILL, mid-batch
            killed_at = datetime.now(UTC)
            done_before_kill = sum(done_events(first.log).values())
            second.start()

            final: dict[str, str] = {}
            finished_at: dict[str, datetime] = {}
            deadline = time.monotonic() + 120
            while len(final) < JOBS:
                assert time.monotonic() < deadline, (
                    f"{JOBS - len(final)} jobs never ended:\n{second.log_tail()}"
                )
                for result_id, url in status_urls.items():
                    if result_id not in final:
                        view = client.get(url).json()
                        if view["status"] in ("done", "failed"):
                            final[result_id] = view["status"]
                            finished_at[result_id] = datetime.fromisoformat(view["finished_at"])
                time.sleep(0.2)

        recorded = done_events(first.log, second.log)
        unlogged = set(status_urls) - set(recorded)
        print(
            f"\nworker kill drill (optimizer): jobs {JOBS}, done before the SIGKILL "
            f"{done_before_kill}, after {sum(recorded.values()) - done_before_kill}; final "
            f"{dict(Counter(final.values()))}; recorded done twice "
            f"{sum(1 for n in recorded.values() if n > 1)}, line lost with the killed worker "
            f"{len(unlogged)}"
        )
        assert done_before_kill < JOBS, "the kill came after the batch: nothing was mid-flight"
        assert Counter(final.values()) == Counter({"done": JOBS})
        assert set(recorded) <= set(status_urls)
        late = {r: finished_at[r].isoformat() for r in unlogged if finished_at[r] >= killed_at}
        assert late == {}, "done after the kill, yet no worker logged it"
        assert set(recorded.values()) == {1}, "a job was recorded done more than once"
    finally:
        for role in (second, first, api):
            if role.process is not None and role.process.poll() is None:
                role.process.send_signal(signal.SIGTERM)
                role.process.wait(30)

"""The optimizer as `roost up --roles optimizer` runs it: seeded demo model, smoke, queue jobs."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import httpx
import pytest
from tests.e2e.processes import ROOST, free_port_offset, start_roost_up, stop_roost_up, wait_ready

pytestmark = pytest.mark.e2e


def test_roost_up_optimizer_passes_smoke_and_runs_queue_jobs(tmp_path: Path) -> None:
    offset = free_port_offset(8002, 9101)
    url = f"http://127.0.0.1:{8002 + offset}"
    worker_url = f"http://127.0.0.1:{9101 + offset}"
    log = tmp_path / "up.log"
    platform = start_roost_up(tmp_path / "data", offset, log, "optimizer")
    try:
        wait_ready(url, platform, log)
        smoke = subprocess.run([*ROOST, "smoke", url], capture_output=True, text=True, timeout=60)
        assert smoke.returncode == 0, smoke.stdout + smoke.stderr
        assert "optimizer classic optimize spends the total" in smoke.stderr

        classic = httpx.post(
            f"{url}/api/v1/optimize",
            json={"budget": {"tv": 100000, "digital": 200000}, "constraints": {"total": 300000}},
        ).json()
        png = httpx.get(f"{url}{classic['links']['curves_png']}")
        assert png.status_code == 200
        assert png.content.startswith(b"\x89PNG")

        wait_ready(worker_url, platform, log)
        sweep = httpx.post(
            f"{url}/api/v1/optimize",
            json={"budget": {"tv": 1, "digital": 1}, "sweep": {"totals": [1e5, 3e5]}},
        )
        assert sweep.status_code == 202, sweep.text
        status_url = f"{url}{sweep.headers['location']}"
        deadline = time.monotonic() + 30
        body = httpx.get(status_url).json()
        while body["status"] not in ("done", "failed") and time.monotonic() < deadline:
            time.sleep(0.2)
            body = httpx.get(status_url).json()
        assert body["status"] == "done", (body, (tmp_path / "data/logs/worker.log").read_text())
        assert [round(sum(s["allocation"].values())) for s in body["scenarios"]] == [1e5, 3e5]
    finally:
        code = stop_roost_up(platform)
    assert code == 0, log.read_text()[-3000:]

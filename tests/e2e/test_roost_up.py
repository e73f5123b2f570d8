"""``roost up`` as the README runs it: start, use the kv contract, stop, start, read back."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pytest
from tests.e2e.processes import ROOST, free_port_offset, start_roost_up, stop_roost_up, wait_ready

pytestmark = pytest.mark.e2e


def test_roost_up_serves_kv_and_keeps_data_across_restarts(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    log = tmp_path / "up.log"
    offset = free_port_offset(8000)
    url = f"http://127.0.0.1:{8000 + offset}"

    first = start_roost_up(data_dir, offset, log, "kv")
    try:
        wait_ready(url, first, log)
        assert (
            httpx.post(f"{url}/write/persisted", params={"value": "still here"}).status_code == 200
        )
        put = httpx.put(f"{url}/api/v1/kv/doc", json={"value": {"n": 1}})
        assert put.status_code == 201
        smoke = subprocess.run([*ROOST, "smoke", url], capture_output=True, text=True, timeout=60)
        assert smoke.returncode == 0, smoke.stdout + smoke.stderr
    finally:
        code = stop_roost_up(first)
    assert code == 0, log.read_text()[-3000:]
    assert "stopped" in log.read_text()

    second = start_roost_up(data_dir, offset, log, "kv")
    try:
        wait_ready(url, second, log)
        assert httpx.get(f"{url}/read/persisted").json() == {
            "key": "persisted",
            "value": "still here",
        }
        assert httpx.get(f"{url}/api/v1/kv/doc").json()["value"] == {"n": 1}
    finally:
        assert stop_roost_up(second) == 0
    leftovers = subprocess.run(["pgrep", "-f", str(data_dir)], capture_output=True, text=True)
    assert leftovers.stdout.strip() == "", "roost up left processes behind"

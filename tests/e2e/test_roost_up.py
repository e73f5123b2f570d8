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


def test_a_second_roost_up_refuses_busy_ports_and_a_data_dir_in_use(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    log = tmp_path / "up.log"
    offset = free_port_offset(8000)
    url = f"http://127.0.0.1:{8000 + offset}"
    first = start_roost_up(data_dir, offset, log, "kv")
    try:
        wait_ready(url, first, log)
        base = [*ROOST, "up", "--roles", "kv"]
        # Another data dir, the same ports: refused before anything starts, naming the owner.
        same_ports = subprocess.run(
            [*base, "--data-dir", str(tmp_path / "other"), "--port-offset", str(offset)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert same_ports.returncode == 2, same_ports.stdout + same_ports.stderr
        said = " ".join((same_ports.stdout + same_ports.stderr).split())
        assert f"port {8000 + offset} is in use by pid" in said
        assert "--port-offset" in said
        assert not (tmp_path / "other" / "postgres").exists(), "it started a backend first"

        # The same data dir on other ports: refused, naming the first one's pid.
        other_offset = free_port_offset(8000)
        same_dir = subprocess.run(
            [*base, "--data-dir", str(data_dir), "--port-offset", str(other_offset)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert same_dir.returncode == 2, same_dir.stdout + same_dir.stderr
        said = " ".join((same_dir.stdout + same_dir.stderr).split())
        assert f"in use by another roost (pid {first.pid})" in said
        # The first platform is untouched.
        assert httpx.get(f"{url}/readyz").status_code == 200
    finally:
        assert stop_roost_up(first) == 0

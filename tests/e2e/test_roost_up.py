"""``roost up`` as the README runs it: start, use the kv contract, stop, start, read back."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from tests.e2e.processes import wait_ready

from roost.infra.embedded import free_port

pytestmark = pytest.mark.e2e

ROOST = [sys.executable, "-m", "roost"]


def start_platform(data_dir: Path, offset: int, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROOST_")}
    with log.open("ab") as out:
        return subprocess.Popen(
            [
                *ROOST,
                "up",
                "--data-dir",
                str(data_dir),
                "--port-offset",
                str(offset),
                "--roles",
                "kv",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )


def stop_platform(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGINT)  # what Ctrl-C does
    try:
        return process.wait(60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        raise


def test_roost_up_serves_kv_and_keeps_data_across_restarts(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    log = tmp_path / "up.log"
    offset = free_port() - 8000 if free_port() > 9000 else 20000
    url = f"http://127.0.0.1:{8000 + offset}"

    first = start_platform(data_dir, offset, log)
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
        code = stop_platform(first)
    assert code == 0, log.read_text()[-3000:]
    assert "stopped" in log.read_text()

    second = start_platform(data_dir, offset, log)
    try:
        wait_ready(url, second, log)
        assert httpx.get(f"{url}/read/persisted").json() == {
            "key": "persisted",
            "value": "still here",
        }
        assert httpx.get(f"{url}/api/v1/kv/doc").json()["value"] == {"n": 1}
    finally:
        assert stop_platform(second) == 0
    leftovers = subprocess.run(["pgrep", "-f", str(data_dir)], capture_output=True, text=True)
    assert leftovers.stdout.strip() == "", "roost up left processes behind"

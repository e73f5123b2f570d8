"""The soak's short run: the same code as `make soak`, for 60 seconds, on every role."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from tests.conftest import REPO_ROOT

# timing: its latency and throughput gates run alone, after the parallel phase of make test.
pytestmark = [pytest.mark.e2e, pytest.mark.timing]


def test_sixty_second_soak_keeps_every_process_flat(artifacts_dir: Path) -> None:
    out = artifacts_dir / "soak"
    run = subprocess.run(
        [sys.executable, "-m", "loadtests.soak", "--seconds", "60", "--warmup", "20",
         "--interval", "5", "--out", str(out)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=400,
    )  # fmt: skip
    print(f"\n{run.stdout}")
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    report = json.loads((out / "soak-report.json").read_text())
    assert set(report["roles"]) >= {
        "kv", "thumbnails", "optimizer", "birds", "bird-images", "frontend", "worker"
    }  # fmt: skip
    assert report["unexpected"] == {}
    assert report["requests"] > 500
    assert (out / "soak-chart.png").read_bytes().startswith(b"\x89PNG")

"""Run the `roost` CLI in a child process against the services a test's settings name."""

from __future__ import annotations

import os
import subprocess
import sys

from roost.core.settings import Settings

# Passed on when set: the backends and the names a test made unique.
PASSED_SETTINGS = (
    "database_url",
    "broker_url",
    "storage_url",
    "redis_url",
    "broker_namespace",
    "thumbnails_queue",
    "thumbnails_output_url",
    "optimizer_queue",
)


def run_cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROOST_")}
    for field in PASSED_SETTINGS:
        if getattr(settings, field) is not None:
            env[f"ROOST_{field.upper()}"] = str(getattr(settings, field))
    env["COLUMNS"] = "200"  # rich tables: one row per line, ids unbroken
    return subprocess.run(
        [sys.executable, "-m", "roost", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

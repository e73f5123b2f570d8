"""One owner per data directory, busy ports named before anything starts, crash loops end."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rich.console import Console

from roost.core.settings import Settings
from roost.infra.local_guard import DataDirInUse, DataDirLock, busy_ports
from roost.platform import Child, CrashLoop, Platform


def test_a_second_lock_on_the_same_data_dir_is_refused_naming_the_holder(tmp_path: Path) -> None:
    with DataDirLock(tmp_path):
        with pytest.raises(DataDirInUse) as refused:
            DataDirLock(tmp_path).__enter__()
        assert refused.value.holder == str(os.getpid())
        assert f"pid {os.getpid()}" in str(refused.value)
    # Released on exit: the next owner gets it.
    with DataDirLock(tmp_path):
        pass


def test_busy_ports_names_the_listening_process(tmp_path: Path) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        taken = listener.getsockname()[1]
        with socket.socket() as spare:
            spare.bind(("127.0.0.1", 0))
            free = spare.getsockname()[1]
        busy = busy_ports("127.0.0.1", [taken, free])
    assert [port.port for port in busy] == [taken]
    assert busy[0].owner is not None
    assert busy[0].owner.startswith(f"pid {os.getpid()} ")


def test_a_role_that_keeps_crashing_is_given_up_on_with_its_last_log_lines(
    tmp_path: Path,
) -> None:
    crash = "import sys; print('boom: cannot start'); sys.exit(3)"
    child = Child(
        role="kv",
        port=None,
        command=[sys.executable, "-c", crash],
        log_path=tmp_path / "kv.log",
        crashes=CrashLoop(limit=3, window=60.0),
    )
    output = tmp_path / "console.txt"
    with output.open("w") as stream:
        platform = Platform(Settings(data_dir=tmp_path), console=Console(file=stream, width=200))
        platform._spawn(child, dict(os.environ))
        started = time.monotonic()
        platform._supervise([child], dict(os.environ))  # returns once every role is given up
        elapsed = time.monotonic() - started
    printed = output.read_text()
    assert child.given_up
    assert child.restarts == 2  # started, restarted twice, third exit ends it
    assert "restarting in 0.5s" in printed
    assert "restarting in 1s" in printed
    assert "giving up on it" in printed
    assert "boom: cannot start" in printed  # the last log lines are shown
    assert elapsed >= 1.5  # the backoff was waited out, not spun


def test_a_backup_of_embedded_data_refuses_while_another_one_runs(tmp_path: Path) -> None:
    from roost.infra.local_guard import BACKUP_LOCK_FILE
    from roost.infra.runtime import write_runtime

    # What a running `roost up` leaves: the embedded backends' URLs (never reached here).
    write_runtime(
        tmp_path,
        {"database_url": "postgresql://127.0.0.1:1/x", "redis_url": "redis://127.0.0.1:1/0"},
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROOST_")}
    env["ROOST_DATA_DIR"] = str(tmp_path)
    with DataDirLock(tmp_path, BACKUP_LOCK_FILE):  # "the other backup"
        second = subprocess.run(
            [sys.executable, "-m", "roost", "backup", "--output", str(tmp_path / "out")],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    said = " ".join((second.stdout + second.stderr).split())
    assert second.returncode == 2, said
    assert f"another backup or restore is running on {tmp_path} (pid {os.getpid()})" in said
    assert not (tmp_path / "out").exists()

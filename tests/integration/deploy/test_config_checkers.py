"""Every config file checked by its real tool, offline, failing with the tool's own output.

- GitHub workflows: check-jsonschema (the workflow schema) and zizmor (no finding at medium or
  above; accepted ones carry an inline `# zizmor: ignore[...]` with their reason).
- compose: check-jsonschema with the Compose Specification schema.
- checkov: every rendered overlay, deploy/terraform and the workflows, each run once. No failed
  check, and every skipped one carries its reason: in Terraform `# checkov:skip=ID: reason`, on
  Kubernetes objects `checkov.io/skipN: ID=reason` annotations (the AWS overlays' patches).

check-jsonschema and zizmor come from the dev extras; checkov has its own venv (.venv/checkov,
made by `make checkov`: it pins a boto3 that roost cannot share).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from tests.prerequisites import missing, require_executable

REPO_ROOT = Path(__file__).resolve().parents[3]
BIN = REPO_ROOT / ".venv" / "bin"
WORKFLOWS = sorted((REPO_ROOT / ".github" / "workflows").glob("*.yml"))
COMPOSE_FILE = REPO_ROOT / "deploy" / "compose" / "docker-compose.yml"
OVERLAYS = REPO_ROOT / "deploy" / "kubernetes" / "overlays"
TERRAFORM = REPO_ROOT / "deploy" / "terraform"
CHECKOV_IN_ITS_VENV = REPO_ROOT / ".venv" / "checkov" / "bin" / "checkov"

# The dev overlay runs throwaway PostgreSQL, Redis and RabbitMQ pods from upstream images on a
# laptop cluster; hardening them is not the point. The roles' own manifests are checked without
# these skips in staging and prod (same base).
DEV_ONLY_SKIPS = {
    "CKV_K8S_8": "dev backing services: upstream images without an HTTP liveness endpoint",
    "CKV_K8S_11": "no CPU limits, as in staging/prod (requests and the HPA size the pods)",
    "CKV_K8S_14": "dev backing services track their upstream image's major version tag",
    "CKV_K8S_15": "dev images are built or loaded locally; pulling Always would fail",
    "CKV_K8S_20": "dev backing services run as their upstream images define",
    "CKV_K8S_22": "dev backing services write to their image's filesystem",
    "CKV_K8S_23": "dev backing services run as their upstream images define",
    "CKV_K8S_28": "dev backing services run as their upstream images define",
    "CKV_K8S_29": "dev backing services run as their upstream images define",
    "CKV_K8S_30": "dev backing services run as their upstream images define",
    "CKV_K8S_31": "dev backing services run as their upstream images define",
    "CKV_K8S_35": "settings are ROOST_* environment variables, as in staging/prod",
    "CKV_K8S_37": "dev backing services run as their upstream images define",
    "CKV_K8S_38": "dev backing services keep the default service account token",
    "CKV_K8S_40": "dev backing services run as their upstream images define",
    "CKV_K8S_43": "dev images are local tags; there is no registry digest to pin",
}


def run(*command: str | Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(part) for part in command],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=REPO_ROOT,
    )


def dev_tool(name: str) -> Path:
    path = BIN / name
    if not path.exists():
        missing(f"{name} not installed (dev extras: make install)")
    return path


@pytest.fixture(scope="module")
def checkov() -> str:
    if CHECKOV_IN_ITS_VENV.exists():
        return str(CHECKOV_IN_ITS_VENV)
    found = shutil.which("checkov")
    if found is None:
        missing("checkov not installed (make checkov makes .venv/checkov)")
    return found


@pytest.fixture(scope="module")
def kubectl() -> str:
    return require_executable("kubectl", "kubectl, for `kubectl kustomize`")


def test_workflows_match_the_github_workflow_schema() -> None:
    assert WORKFLOWS
    result = run(
        dev_tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *WORKFLOWS
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_zizmor_finds_nothing_at_medium_or_above() -> None:
    result = run(dev_tool("zizmor"), "--offline", "--min-severity", "medium", *WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_zizmor_reports_an_unpinned_action(tmp_path: Path) -> None:
    # Guards the guard: the exit status is what the test above relies on.
    workflow = tmp_path / "unpinned.yml"
    workflow.write_text(
        "on: push\npermissions: {}\njobs:\n  a:\n    runs-on: ubuntu-24.04\n"
        "    steps:\n      - uses: actions/checkout@v4\n"
    )
    result = run(dev_tool("zizmor"), "--offline", "--min-severity", "medium", workflow)
    assert result.returncode != 0
    assert "unpinned-uses" in result.stdout + result.stderr


def test_compose_file_matches_the_compose_specification() -> None:
    result = run(
        dev_tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", COMPOSE_FILE
    )
    assert result.returncode == 0, result.stdout + result.stderr


def checkov_report(checkov: str, *arguments: str | Path) -> dict[str, Any]:
    result = run(checkov, *arguments, "--output", "json", "--compact")
    assert result.returncode in (0, 1), result.stdout + result.stderr
    report = json.loads(result.stdout)
    # One framework per run: a single report, not a list of them.
    assert isinstance(report, dict), result.stdout[:2000]
    return report


def assert_clean(report: dict[str, Any]) -> None:
    summary = report["summary"]
    failed = [
        f"{check['check_id']} {check['resource']} ({check['file_path']}): {check['check_name']}"
        for check in report["results"].get("failed_checks", [])
    ]
    assert not failed, "\n".join(failed)
    assert summary["passed"] > 0, summary
    unexplained = [
        f"{check['check_id']} {check['resource']}"
        for check in report["results"].get("skipped_checks", [])
        if not (check["check_result"].get("suppress_comment") or "").strip(" :")
    ]
    assert not unexplained, "skipped without a reason: " + ", ".join(unexplained)


@pytest.mark.parametrize("overlay", ["staging", "prod"])
def test_checkov_passes_the_aws_overlays(
    checkov: str, kubectl: str, overlay: str, tmp_path: Path
) -> None:
    rendered = run(kubectl, "kustomize", OVERLAYS / overlay)
    assert rendered.returncode == 0, rendered.stderr
    manifests = tmp_path / f"{overlay}.yaml"
    manifests.write_text(rendered.stdout)
    assert_clean(checkov_report(checkov, "--file", manifests, "--framework", "kubernetes"))


def test_checkov_passes_the_dev_overlay(checkov: str, kubectl: str, tmp_path: Path) -> None:
    rendered = run(kubectl, "kustomize", OVERLAYS / "dev")
    assert rendered.returncode == 0, rendered.stderr
    manifests = tmp_path / "dev.yaml"
    manifests.write_text(rendered.stdout)
    report = checkov_report(
        checkov,
        "--file",
        manifests,
        "--framework",
        "kubernetes",
        "--skip-check",
        ",".join(sorted(DEV_ONLY_SKIPS)),
    )
    assert_clean(report)


def test_checkov_passes_terraform(checkov: str) -> None:
    assert_clean(checkov_report(checkov, "--directory", TERRAFORM, "--framework", "terraform"))


def test_checkov_passes_the_workflows(checkov: str) -> None:
    report = checkov_report(
        checkov, "--directory", REPO_ROOT / ".github", "--framework", "github_actions"
    )
    assert_clean(report)

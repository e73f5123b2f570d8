"""The alert rules, their unit tests and the Prometheus config, checked by promtool itself.

promtool comes from Debian's `prometheus` package, which `make test` installs. Without it the
tests skip locally and fail in CI (CI=true), where a rule change must never go unchecked.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from tests.prerequisites import require_executable
from tests.support.deploy_checks import PROMETHEUS_CONFIG, RULE_TESTS_DIR, RULES_DIR

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def promtool() -> str:
    return require_executable("promtool", "Debian package prometheus; `make test` installs it")


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def test_rule_files_are_valid(promtool: str) -> None:
    files = sorted(str(path) for path in RULES_DIR.glob("*.yml"))
    assert files
    result = run(promtool, "check", "rules", *files)
    assert result.returncode == 0, result.stdout + result.stderr


def test_rule_unit_tests_pass(promtool: str) -> None:
    files = sorted(str(path) for path in RULE_TESTS_DIR.glob("*.yml"))
    assert files
    result = run(promtool, "test", "rules", *files)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_rule_file_has_a_unit_test_file() -> None:
    tested = set()
    for path in RULE_TESTS_DIR.glob("*.yml"):
        text = path.read_text()
        tested |= {rule.name for rule in RULES_DIR.glob("*.yml") if f"../rules/{rule.name}" in text}
    assert tested == {rule.name for rule in RULES_DIR.glob("*.yml")}


def test_prometheus_config_is_valid_and_loads_every_rule_file(promtool: str) -> None:
    # The rule_files glob is relative to the config file, so checking it in place also proves
    # that it finds the rules.
    result = run(promtool, "check", "config", str(PROMETHEUS_CONFIG))
    assert result.returncode == 0, result.stdout + result.stderr
    rule_count = len(list(RULES_DIR.glob("*.yml")))
    assert f"SUCCESS: {rule_count} rule files found" in result.stdout + result.stderr


def test_a_broken_rule_is_reported(promtool: str, tmp_path: Path) -> None:
    # Guards the guard: promtool's exit status is what the checks above rely on.
    broken = tmp_path / "broken.yml"
    broken.write_text("groups:\n  - name: x\n    rules:\n      - alert: X\n        expr: sum(\n")
    assert run(promtool, "check", "rules", str(broken)).returncode != 0

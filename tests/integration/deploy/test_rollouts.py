"""The production canary, checked offline by the tools that define it.

The AWS overlays (staging, prod) are rendered with kustomize; their Argo Rollouts and Prometheus
Operator objects are validated against those projects' own schemas by
deploy/kubernetes/validate/validate.mjs (npm `@kubernetes-models/*`, installed by `make test`
with `npm ci`); the AnalysisTemplate's queries are evaluated by promtool against fed series,
with the recording rules they read loaded.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]
from tests.prerequisites import missing, require_executable

REPO_ROOT = Path(__file__).resolve().parents[3]
KUBERNETES = REPO_ROOT / "deploy" / "kubernetes"
VALIDATOR = KUBERNETES / "validate" / "validate.mjs"
RECORDING_RULES = REPO_ROOT / "deploy" / "observability" / "prometheus" / "rules" / "recording.yml"
AWS_OVERLAYS = ("staging", "prod")
# The roles behind the public ingress; each releases as a canary.
PUBLIC_ROLES = ("kv", "thumbnails", "optimizer", "bird-images", "birds", "frontend")
CANARY_WEIGHTS = [10, 50]  # then 100: the Rollout completes after its last step


@pytest.fixture(scope="module")
def kubectl() -> str:
    return require_executable("kubectl", "kubectl, for `kubectl kustomize`")


@pytest.fixture(scope="module")
def node() -> str:
    path = require_executable("node", "Node.js 20, Debian package nodejs")
    if not (VALIDATOR.parent / "node_modules" / "@kubernetes-models").is_dir():
        missing("deploy/kubernetes/validate/node_modules missing (`make node-deps` runs npm ci)")
    return path


@pytest.fixture(scope="module")
def promtool() -> str:
    return require_executable("promtool", "Debian package prometheus; `make test` installs it")


@pytest.fixture(scope="module")
def rendered(kubectl: str) -> dict[str, str]:
    """Each AWS overlay rendered once, as kustomize prints it."""
    out = {}
    for overlay in AWS_OVERLAYS:
        result = subprocess.run(
            [kubectl, "kustomize", str(KUBERNETES / "overlays" / overlay)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        out[overlay] = result.stdout
    return out


def validate(node: str, manifests: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [node, str(VALIDATOR)],
        input=manifests,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def objects(manifests: str, kind: str) -> dict[str, dict[str, Any]]:
    return {
        doc["metadata"]["name"]: doc
        for doc in yaml.safe_load_all(manifests)
        if doc and doc.get("kind") == kind
    }


@pytest.mark.parametrize("overlay", AWS_OVERLAYS)
def test_rollouts_and_service_monitor_match_their_projects_schemas(
    node: str, rendered: dict[str, str], overlay: str
) -> None:
    result = validate(node, rendered[overlay])
    assert result.returncode == 0, result.stdout + result.stderr
    for role in PUBLIC_ROLES:
        assert f"ok Rollout/roost-{role}" in result.stdout
    assert "ok AnalysisTemplate/roost-canary" in result.stdout
    assert "ok ServiceMonitor/roost" in result.stdout


def test_prometheus_rules_cd_applies_match_the_operators_schema(node: str) -> None:
    # CD applies the alert and recording rules as PrometheusRule objects (cd.yml "Alert rules").
    generator = REPO_ROOT / "deploy" / "observability" / "prometheus" / "prometheusrule.py"
    rules = subprocess.run(
        [sys.executable, str(generator), "--namespace", "monitoring"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    result = validate(node, rules.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
    rule_files = list(RECORDING_RULES.parent.glob("*.yml"))
    assert result.stdout.count("ok PrometheusRule/") == len(rule_files)


def test_the_validator_rejects_a_malformed_rollout(node: str, rendered: dict[str, str]) -> None:
    # Guards the guard: a weight that is not a number must not pass.
    broken = rendered["prod"].replace("setWeight: 10", "setWeight: ten", 1)
    result = validate(node, broken)
    assert result.returncode == 1
    assert "INVALID Rollout/" in result.stdout


@pytest.mark.parametrize("overlay", AWS_OVERLAYS)
def test_every_public_role_goes_10_50_100_under_analysis(
    rendered: dict[str, str], overlay: str
) -> None:
    manifests = rendered[overlay]
    rollouts = objects(manifests, "Rollout")
    deployments = objects(manifests, "Deployment")
    autoscalers = objects(manifests, "HorizontalPodAutoscaler")
    templates = objects(manifests, "AnalysisTemplate")
    assert sorted(rollouts) == sorted(f"roost-{role}" for role in PUBLIC_ROLES)
    for name, rollout in rollouts.items():
        spec = rollout["spec"]
        target = deployments[spec["workloadRef"]["name"]]
        assert spec["selector"] == target["spec"]["selector"], name
        canary = spec["strategy"]["canary"]
        weights = [step["setWeight"] for step in canary["steps"] if "setWeight" in step]
        assert weights == CANARY_WEIGHTS, name
        # Background analysis from the first step: every step is watched.
        assert "startingStep" not in canary["analysis"], name
        template_names = [t["templateName"] for t in canary["analysis"]["templates"]]
        assert all(template in templates for template in template_names), name
        assert {"name": "job", "value": name} in canary["analysis"]["args"], name
        scale_target = autoscalers[name]["spec"]["scaleTargetRef"]
        assert (scale_target["kind"], scale_target["name"]) == ("Rollout", name)


# Fed series, one minute apart: roost-kv is healthy (0.5% errors, every request under 100 ms),
# roost-birds is a bad canary (10% errors, 40% of requests between 0.5 s and 1 s), and
# roost-frontend served nothing.
FED_SERIES = """
  - series: 'http_requests_total{job="roost-kv"}'
    values: '0+600x20'
  - series: 'http_requests_failed_total{job="roost-kv"}'
    values: '0+3x20'
  - series: 'http_request_duration_seconds_bucket{job="roost-kv", le="0.1"}'
    values: '0+600x20'
  - series: 'http_request_duration_seconds_bucket{job="roost-kv", le="+Inf"}'
    values: '0+600x20'
  - series: 'http_requests_total{job="roost-birds"}'
    values: '0+600x20'
  - series: 'http_requests_failed_total{job="roost-birds"}'
    values: '0+60x20'
  - series: 'http_request_duration_seconds_bucket{job="roost-birds", le="0.1"}'
    values: '0+300x20'
  - series: 'http_request_duration_seconds_bucket{job="roost-birds", le="0.5"}'
    values: '0+360x20'
  - series: 'http_request_duration_seconds_bucket{job="roost-birds", le="1"}'
    values: '0+600x20'
  - series: 'http_request_duration_seconds_bucket{job="roost-birds", le="+Inf"}'
    values: '0+600x20'
  - series: 'http_requests_total{job="roost-frontend"}'
    values: '0+0x20'
"""
# What each metric of the template must measure for each fed job.
EXPECTED = {
    ("error-ratio", "roost-kv"): 0.005,
    ("error-ratio", "roost-birds"): 0.1,
    ("error-ratio", "roost-frontend"): 0.0,
    ("p95-latency", "roost-kv"): 0.095,
    # rank 0.95 * 10 req/s = 9.5 falls in (0.5, 1]: 0.5 + 0.5 * (9.5 - 6) / (10 - 6)
    ("p95-latency", "roost-birds"): 0.9375,
    ("p95-latency", "roost-frontend"): 0.0,
}
HEALTHY_JOBS = {"roost-kv", "roost-frontend"}


def passes(condition: str, value: float) -> bool:
    """Argo's `result[0] <= N` conditions, the only form the template uses."""
    match = re.fullmatch(r"result\[0\] <= ([0-9.]+)", condition)
    assert match, f"unexpected successCondition {condition!r}"
    return value <= float(match.group(1))


def test_analysis_queries_measure_the_recording_rules_and_fail_a_bad_canary(
    promtool: str, rendered: dict[str, str], tmp_path: Path
) -> None:
    template = objects(rendered["prod"], "AnalysisTemplate")["roost-canary"]
    metrics = {metric["name"]: metric for metric in template["spec"]["metrics"]}
    assert sorted(metrics) == ["error-ratio", "p95-latency"]
    cases = []
    for (metric_name, job), value in EXPECTED.items():
        metric = metrics[metric_name]
        query = metric["provider"]["prometheus"]["query"].replace("{{args.job}}", job).strip()
        cases.append({"expr": query, "eval_time": "10m", "exp_samples": [{"value": value}]})
        assert passes(metric["successCondition"], value) == (job in HEALTHY_JOBS), (
            metric_name,
            job,
        )
    test_file = tmp_path / "analysis_test.yml"
    test_file.write_text(
        yaml.safe_dump(
            {
                "rule_files": [str(RECORDING_RULES)],
                "evaluation_interval": "30s",
                "tests": [
                    {
                        "interval": "1m",
                        "input_series": yaml.safe_load(FED_SERIES),
                        "promql_expr_test": cases,
                    }
                ],
            }
        )
    )
    result = subprocess.run(
        [promtool, "test", "rules", str(test_file)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr

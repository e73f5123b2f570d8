"""deploy/ and docs/ name things the code defines: metrics, labels, ports, probes, settings,
log fields, CLI commands. When the code renames one, these tests say which file to change.
Metrics of the exporters deploy/ runs beside Roost (kube-state-metrics, cAdvisor,
redis_exporter) are checked against the list in exporter_metrics.py instead.

Metrics come from importing every roost module that constructs a prometheus_client metric and
walking the registry. A domain's rule file or dashboard may name metrics the code does not
export yet only while that domain's package defines no metrics at all; the test then skips,
naming what it waits for, and starts checking by itself when the domain's metrics land.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from tests.support.deploy_checks import (
    COMPOSE_FILE,
    DEPLOY,
    KUBERNETES,
    PROMETHEUS_CONFIG,
    PROMETHEUS_SERIES,
    REPO_ROOT,
    RULE_TESTS_DIR,
    RUNBOOKS_DIR,
    TARGET_LABELS,
    Expression,
    alerts,
    dashboard_expressions,
    dashboard_files,
    exported_metrics,
    kebab_case,
    load_yaml,
    load_yaml_documents,
    promql_usage,
    recorded_names,
    rule_expressions,
    rule_files,
)
from tests.unit.deploy.exporter_metrics import EXPORTER_METRICS

from roost.core.settings import ROLE_PORTS, Settings

ARTIFACTS = rule_files() + dashboard_files()
ALERT_NAMES = [rule["alert"] for rule in alerts()]
ROLE_FILES = sorted((KUBERNETES / "base" / "roles").glob("*.yaml"))

# Commands the issues give to roles still being built; runbooks may name them before they land.
PENDING_COMMANDS = {
    "dlq": "issue 4",
    "thumbnails": "issue 4",
    "worker": "issue 4",
    "birds": "issue 5",
}


def expressions_of(path: Path) -> list[Expression]:
    return rule_expressions(path) if path.suffix == ".yml" else dashboard_expressions(path)


# --------------------------------------------------------------------------------------------
# The PromQL reader the checks below rely on.


def test_promql_reader_finds_metrics_but_not_functions_keywords_or_variables() -> None:
    usage = promql_usage(
        "histogram_quantile(0.95, sum by (le, path) (rate(http_request_duration_seconds_bucket"
        '{job=~"$job", path!="/x"}[$__rate_interval]))) > 0.5 and on (job) group_left '
        "max(maintenance_mode) unless sum without (instance) (up offset 1h) * 2"
    )
    assert usage.metrics == {"http_request_duration_seconds_bucket", "maintenance_mode", "up"}
    assert usage.matchers == [("http_request_duration_seconds_bucket", frozenset({"job", "path"}))]
    assert usage.grouping == {"le", "path", "job", "instance"}


def test_registry_walk_sees_counter_histogram_and_gauge_sample_names() -> None:
    samples = exported_metrics().samples
    assert {"http_requests_total", "http_request_duration_seconds_bucket", "dependency_up"} <= (
        samples
    )
    assert "http_requests" not in samples  # a counter's family name is not a sample name


# --------------------------------------------------------------------------------------------
# Metrics and labels.


@pytest.mark.parametrize("path", ARTIFACTS, ids=lambda p: p.name)
def test_metrics_in_rules_and_dashboards_are_exported_by_the_code(path: Path) -> None:
    known = (
        exported_metrics().samples | recorded_names() | PROMETHEUS_SERIES | set(EXPORTER_METRICS)
    )
    missing: dict[str, str] = {}
    for expression in expressions_of(path):
        for name in promql_usage(expression.promql).metrics - known:
            missing.setdefault(name, expression.where)
    if not missing:
        return
    details = "; ".join(f"{name} (in {where})" for name, where in sorted(missing.items()))
    pytest.fail(
        f"not exported by any roost module ({', '.join(exported_metrics().modules)}) nor "
        f"listed in exporter_metrics.py: {details}"
    )


@pytest.mark.parametrize("path", ARTIFACTS, ids=lambda p: p.name)
def test_labels_in_rules_and_dashboards_exist_on_their_metrics(path: Path) -> None:
    labels = {**exported_metrics().labels, **EXPORTER_METRICS}
    problems = []
    for expression in expressions_of(path):
        usage = promql_usage(expression.promql)
        for metric, matched in usage.matchers:
            if metric in labels and (unknown := matched - labels[metric] - TARGET_LABELS):
                problems.append(f"{expression.where}: {metric} has no label {sorted(unknown)}")
        if usage.metrics and all(metric in labels for metric in usage.metrics):
            available = set().union(*(labels[m] for m in usage.metrics)) | TARGET_LABELS
            if ungrouped := usage.grouping - available:
                problems.append(f"{expression.where}: groups by unknown {sorted(ungrouped)}")
    assert not problems, "\n".join(problems)


def test_circuit_breaker_alert_fires_on_the_breakers_open_state() -> None:
    from roost.core.upstream import BreakerState

    (rule,) = [rule for rule in alerts() if rule["alert"] == "RoostCircuitBreakerOpen"]
    threshold = re.search(r"circuit_breaker_state\)\s*>=\s*(\d+)", rule["expr"])
    assert threshold is not None, rule["expr"]
    assert int(threshold.group(1)) == BreakerState.OPEN


# --------------------------------------------------------------------------------------------
# Alerts: shape, runbooks, promtool coverage.


@pytest.mark.parametrize("rule", alerts(), ids=lambda rule: rule["alert"])
def test_alert_waits_and_has_a_severity_and_summary(rule: dict[str, Any]) -> None:
    assert re.fullmatch(r"\d+[smh]", rule.get("for", "")), "every alert needs a `for:`"
    assert rule["labels"]["severity"] in {"critical", "warning", "info"}
    assert rule["annotations"]["summary"]


@pytest.mark.parametrize("alert", ALERT_NAMES)
def test_alert_has_a_runbook_and_links_to_it(alert: str) -> None:
    runbook = RUNBOOKS_DIR / f"{kebab_case(alert)}.md"
    assert runbook.is_file(), f"missing runbook {runbook.relative_to(REPO_ROOT)}"
    (rule,) = [rule for rule in alerts() if rule["alert"] == alert]
    assert rule["annotations"]["runbook_url"].endswith(f"/docs/runbooks/{runbook.name}")
    text = runbook.read_text()
    assert alert in text, "a runbook names its alert"
    for section in ("## What it means", "## Confirm", "## Likely causes", "## Mitigate"):
        assert section in text, f"{runbook.name} lacks {section!r}"


def test_every_runbook_belongs_to_an_alert() -> None:
    expected = {f"{kebab_case(alert)}.md" for alert in ALERT_NAMES} | {"README.md"}
    orphans = {path.name for path in RUNBOOKS_DIR.glob("*.md")} - expected
    assert not orphans, f"runbooks without an alert: {sorted(orphans)}"


def test_runbooks_use_only_real_roost_commands() -> None:
    import typer.main

    from roost.cli import app

    commands = set(typer.main.get_command(app).commands)  # type: ignore[attr-defined]
    used = {
        match.group(1)
        for path in RUNBOOKS_DIR.glob("*.md")
        for match in re.finditer(r"(?m)(?:^\s*(?:\$ )?|-- )roost ([a-z][a-z-]*)", path.read_text())
    }
    unknown = used - commands - set(PENDING_COMMANDS)
    assert not unknown, f"runbooks use commands `roost` does not have: {sorted(unknown)}"
    assert used & commands, "runbooks should show real commands"


@pytest.mark.parametrize("alert", ALERT_NAMES)
def test_alert_is_exercised_by_a_promtool_test_that_expects_it_to_fire(alert: str) -> None:
    firing = set()
    for path in RULE_TESTS_DIR.glob("*.yml"):
        for case in load_yaml(path)["tests"]:
            for check in case.get("alert_rule_test", []):
                if check.get("exp_alerts"):
                    firing.add(check["alertname"])
    assert alert in firing


# --------------------------------------------------------------------------------------------
# Ports and probes: ROLE_PORTS is the one source.


def role_of_command(command: list[str]) -> str | None:
    if command[:1] == ["serve"]:
        return command[1]
    return "worker" if command[:1] == ["worker"] else None


def test_compose_runs_every_role_on_its_port() -> None:
    services = load_yaml(COMPOSE_FILE)["services"]
    seen = {}
    for name, service in services.items():
        role = role_of_command(service.get("command", []))
        if role is None:
            continue
        assert role in ROLE_PORTS, f"compose service {name} runs unknown role {role}"
        port = ROLE_PORTS[role]
        assert f"127.0.0.1:{port}:{port}" in service.get("ports", []), name
        seen[role] = name
    assert set(seen) == set(ROLE_PORTS)
    assert all(name == role for role, name in seen.items()), "service name = role name"


def test_prometheus_scrapes_every_role_on_its_port() -> None:
    jobs = {job["job_name"]: job for job in load_yaml(PROMETHEUS_CONFIG)["scrape_configs"]}
    for role, port in ROLE_PORTS.items():
        job = jobs.get(f"roost-{role}")
        assert job is not None, f"no scrape job roost-{role}"
        targets = [t for config in job["static_configs"] for t in config["targets"]]
        assert targets == [f"{role}:{port}"]
        assert job.get("metrics_path", "/metrics") == "/metrics"


def test_kubernetes_has_one_manifest_per_role() -> None:
    assert {path.stem for path in ROLE_FILES} == set(ROLE_PORTS)


@pytest.mark.parametrize("path", ROLE_FILES, ids=lambda p: p.stem)
def test_kubernetes_role_listens_and_is_probed_where_the_code_expects(path: Path) -> None:
    role, port = path.stem, ROLE_PORTS[path.stem]
    documents = {doc["kind"]: doc for doc in load_yaml_documents(path)}
    pod = documents["Deployment"]["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    expected_args = ["worker"] if role == "worker" else ["serve", role, "--host", "0.0.0.0"]
    assert container["args"] == expected_args
    assert container["ports"] == [{"name": "http", "containerPort": port, "protocol": "TCP"}]
    assert pod["metadata"]["annotations"]["prometheus.io/port"] == str(port)
    assert documents["Service"]["spec"]["ports"][0]["port"] == port
    assert documents["Service"]["spec"]["ports"][0]["targetPort"] == "http"
    for probe, probe_path in (
        ("startupProbe", "/healthz"),
        ("livenessProbe", "/healthz"),
        ("readinessProbe", "/readyz"),
    ):
        assert container[probe]["httpGet"] == {"path": probe_path, "port": "http"}, probe


def test_dockerfile_exposes_every_role_port() -> None:
    text = (DEPLOY / "docker" / "Dockerfile").read_text()
    exposed = {int(p) for line in re.findall(r"(?m)^EXPOSE (.+)$", text) for p in line.split()}
    assert exposed == set(ROLE_PORTS.values())


def test_nginx_proxies_every_http_role_to_its_port() -> None:
    text = (DEPLOY / "nginx" / "conf.d" / "roost.conf").read_text()
    upstreams = dict(re.findall(r"upstream roost_(\w+) \{[^}]*?server [\w.-]+:(\d+)", text))
    expected = {role.replace("-", "_"): port for role, port in ROLE_PORTS.items()}
    del expected["worker"]  # no public HTTP API
    assert {name: int(port) for name, port in upstreams.items()} == expected


# --------------------------------------------------------------------------------------------
# Settings: every ROOST_ variable deploy/ sets is one the Settings object reads.


def roost_variables_in_deploy() -> dict[str, str]:
    found: dict[str, str] = {}
    for name, service in load_yaml(COMPOSE_FILE)["services"].items():
        for key in service.get("environment") or {}:
            found.setdefault(key, f"compose service {name}")
    for path in sorted(KUBERNETES.rglob("*.yaml")):
        for document in load_yaml_documents(path):
            for generator in document.get("configMapGenerator", []) + document.get(
                "secretGenerator", []
            ):
                for literal in generator.get("literals", []):
                    found.setdefault(literal.split("=", 1)[0], str(path.relative_to(DEPLOY)))
            for container in _containers(document):
                for item in container.get("env", []):
                    found.setdefault(item["name"], str(path.relative_to(DEPLOY)))
    return {key: where for key, where in found.items() if key.startswith("ROOST_")}


def _containers(document: dict[str, Any]) -> list[dict[str, Any]]:
    spec = document.get("spec", {})
    pod_spec = spec.get("template", {}).get("spec", {})
    return list(pod_spec.get("containers", []))


def test_deploy_sets_only_roost_variables_that_settings_reads() -> None:
    fields = {f"ROOST_{name.upper()}" for name in Settings.model_fields}
    variables = roost_variables_in_deploy()
    assert "ROOST_DATABASE_URL" in variables  # the walk found something
    unknown = {key: where for key, where in variables.items() if key not in fields}
    assert not unknown, f"not a Settings field: {unknown}"


# --------------------------------------------------------------------------------------------
# Logs: promtail parses the fields the code writes.

PROMTAIL_FILES = sorted((DEPLOY / "observability" / "promtail").glob("*.yml"))


def parsing_stages(path: Path) -> list[dict[str, Any]]:
    (job,) = load_yaml(path)["scrape_configs"]
    return [stage for stage in job["pipeline_stages"] if "cri" not in stage]


def test_promtail_configs_parse_lines_the_same_way() -> None:
    first, *others = (parsing_stages(path) for path in PROMTAIL_FILES)
    assert others, "compose and kubernetes configs"
    assert all(stages == first for stages in others)


async def test_promtail_extracts_the_fields_an_access_log_line_has(
    serve_asgi: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    from contextlib import AsyncExitStack

    from fastapi import APIRouter, FastAPI

    from roost.core.app import RoleRuntime, create_app
    from roost.core.settings import load_settings

    router = APIRouter()

    @router.get("/things/{thing_id}")
    async def thing(thing_id: int) -> dict[str, int]:
        return {"id": thing_id}

    async def setup(app: FastAPI, settings: Settings, stack: AsyncExitStack) -> RoleRuntime:
        return RoleRuntime()

    app = create_app(role="test", settings=load_settings(), routers=[router], setup=setup)
    async with serve_asgi(app) as client:
        response = await client.get("/things/7", headers={"x-request-id": "deploy-check-1"})
        assert response.status_code == 200

    lines = [_json_or_none(line) for line in capfd.readouterr().out.splitlines()]
    (logged,) = [line for line in lines if line and line.get("request_id") == "deploy-check-1"]
    assert logged["route"] == "/things/{thing_id}"
    assert logged["path"] == "/things/7"

    (json_stage,) = [s["json"] for s in parsing_stages(PROMTAIL_FILES[0]) if "json" in s]
    extracted = set(json_stage["expressions"])
    assert extracted == {
        "timestamp", "level", "event", "request_id", "method", "path", "route", "status",
        "duration_ms",
    }  # fmt: skip
    assert extracted <= set(logged), f"promtail expects fields the log line lacks: {logged}"
    assert set(logged) - extracted <= {"trace_id", "span_id"}, "a logged field is not parsed"
    # The timestamp stage reads RFC3339 in UTC.
    assert logged["timestamp"].endswith("Z")
    datetime.fromisoformat(logged["timestamp"])


def _json_or_none(line: str) -> dict[str, Any] | None:
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None

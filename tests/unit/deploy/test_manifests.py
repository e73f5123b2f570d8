"""deploy/ files parse, and hold the properties production relies on: non-root read-only pods
with probes and limits, the Redis settings, a single image, pipelines that gate production.

Tools that validate a format for real (kubectl kustomize, terraform fmt, amtool, nginx -t) run
when installed and skip otherwise; none of them touches the network.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]
from deploy_checks import (
    COMPOSE_FILE,
    DASHBOARDS_DIR,
    DEPLOY,
    KUBERNETES,
    OBSERVABILITY,
    REPO_ROOT,
    RULES_DIR,
    load_yaml,
    load_yaml_documents,
)
from tests.prerequisites import require_executable

from roost.core.settings import ROLE_PORTS

OVERLAYS = sorted(path.parent for path in (KUBERNETES / "overlays").glob("*/kustomization.yaml"))
WORKFLOWS = REPO_ROOT / ".github" / "workflows"
# docs/operations.md: AOF on, 512 MB cap, LRU eviction over all keys.
REDIS_PRODUCTION_OPTIONS = {
    "--appendonly": "yes",
    "--maxmemory": "512mb",
    "--maxmemory-policy": "allkeys-lru",
}


def redis_options(arguments: list[str]) -> dict[str, str]:
    return {
        argument: arguments[index + 1]
        for index, argument in enumerate(arguments[:-1])
        if argument.startswith("--")
    }


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def load_script(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --------------------------------------------------------------------------------------------
# Every YAML and JSON file parses.


@pytest.mark.parametrize(
    "path",
    sorted(DEPLOY.rglob("*.yml")) + sorted(DEPLOY.rglob("*.yaml")) + sorted(WORKFLOWS.glob("*")),
    ids=lambda p: str(p.relative_to(REPO_ROOT)),
)
def test_yaml_file_parses(path: Path) -> None:
    assert load_yaml_documents(path)


@pytest.mark.parametrize("path", sorted(DASHBOARDS_DIR.glob("*.json")), ids=lambda p: p.name)
def test_dashboard_is_provisionable(path: Path) -> None:
    dashboard = json.loads(path.read_text())
    assert dashboard["uid"] == path.stem
    panels = list(dashboard["panels"]) + [
        child for p in dashboard["panels"] for child in p.get("panels", [])
    ]
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids)), "panel ids are unique"
    provisioned = load_yaml(OBSERVABILITY / "grafana/provisioning/datasources/datasources.yml")
    uids = {source["uid"] for source in provisioned["datasources"]} | {"${datasource}"}
    for panel in panels:
        for target in panel.get("targets", []):
            assert target["datasource"]["uid"] in uids, panel["title"]


# --------------------------------------------------------------------------------------------
# Compose.


def test_compose_redis_runs_with_production_settings() -> None:
    command = load_yaml(COMPOSE_FILE)["services"]["redis"]["command"]
    assert redis_options(command).items() >= REDIS_PRODUCTION_OPTIONS.items()


def test_compose_roles_share_one_hardened_image() -> None:
    services = load_yaml(COMPOSE_FILE)["services"]
    roles = {n: s for n, s in services.items() if "com.roost.role" in s.get("labels", {})}
    assert set(ROLE_PORTS) <= set(roles)
    assert len({service["image"] for service in roles.values()}) == 1
    for name, service in roles.items():
        assert service["read_only"] is True, name
        assert service["cap_drop"] == ["ALL"], name
        assert not service.get("privileged"), name


# --------------------------------------------------------------------------------------------
# Kubernetes.


def test_kustomizations_name_only_files_that_exist() -> None:
    for path in KUBERNETES.rglob("kustomization.yaml"):
        kustomization = load_yaml(path)
        entries = kustomization.get("resources", []) + kustomization.get("components", [])
        entries += [p["path"] for p in kustomization.get("patches", []) if "path" in p]
        for entry in entries:
            assert (path.parent / entry).exists(), f"{path}: {entry}"


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict[str, Any]]]:
    kubectl = require_executable("kubectl", "on this machine kind's image; renders the overlays")
    out = {}
    for overlay in OVERLAYS:
        result = run(kubectl, "kustomize", str(overlay))
        assert result.returncode == 0, f"{overlay.name}: {result.stderr}"
        out[overlay.name] = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    return out


def roost_pods(
    documents: Iterable[dict[str, Any]], *, rendered: bool = True
) -> list[tuple[str, dict[str, Any]]]:
    """(kind/name, pod template) of every roost workload. Rendered output also holds the dev
    backends, told apart by the part-of label that kustomize adds to ours."""
    return [
        (f"{doc['kind']}/{doc['metadata']['name']}", doc["spec"]["template"])
        for doc in documents
        if doc["kind"] in ("Deployment", "Job")
        and (not rendered or part_of_roost(doc["spec"]["template"]))
    ]


def part_of_roost(template: dict[str, Any]) -> bool:
    labels = template.get("metadata", {}).get("labels", {})
    return bool(labels.get("app.kubernetes.io/part-of") == "roost")


def test_overlays_render(rendered: dict[str, list[dict[str, Any]]]) -> None:
    assert set(rendered) == {"dev", "staging", "prod"}


def assert_hardened(where: str, pod: dict[str, Any]) -> None:
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True, where
    assert pod["spec"]["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", where
    for container in pod["spec"]["containers"]:
        security = container["securityContext"]
        assert security["readOnlyRootFilesystem"] is True, where
        assert security["allowPrivilegeEscalation"] is False, where
        assert security["capabilities"]["drop"] == ["ALL"], where
        assert container["resources"]["requests"]["memory"], where
        assert container["resources"]["limits"]["memory"], where
        assert not container["image"].endswith(":latest"), where
        assert {"configMapRef", "secretRef"} == {
            key for source in container["envFrom"] for key in source
        }, where


def test_base_pods_are_non_root_read_only_and_limited() -> None:
    # Without kubectl too: the base files alone already carry every property.
    base = [
        *sorted((KUBERNETES / "base" / "roles").glob("*.yaml")),
        KUBERNETES / "base/migrate-job.yaml",
    ]
    pods = roost_pods((doc for path in base for doc in load_yaml_documents(path)), rendered=False)
    assert len(pods) == len(ROLE_PORTS) + 1
    for name, pod in pods:
        assert_hardened(f"base {name}", pod)


def test_every_roost_pod_is_non_root_read_only_and_limited(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    for overlay, documents in rendered.items():
        pods = roost_pods(documents)
        assert len(pods) == len(ROLE_PORTS) + 1, f"{overlay}: every role and the migration"
        for name, pod in pods:
            assert_hardened(f"{overlay} {name}", pod)


def test_every_role_has_service_autoscaler_and_disruption_budget(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    for overlay, documents in rendered.items():
        names = {(doc["kind"], doc["metadata"]["name"]) for doc in documents}
        for role in ROLE_PORTS:
            for kind in ("Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"):
                assert (kind, f"roost-{role}") in names, f"{overlay}: {kind} roost-{role}"


def test_one_image_runs_every_role(rendered: dict[str, list[dict[str, Any]]]) -> None:
    for overlay, documents in rendered.items():
        images = {c["image"] for _, pod in roost_pods(documents) for c in pod["spec"]["containers"]}
        assert len(images) == 1, f"{overlay}: {images}"


def test_network_policy_denies_by_default(rendered: dict[str, list[dict[str, Any]]]) -> None:
    for overlay, documents in rendered.items():
        (deny,) = [
            d
            for d in documents
            if d["kind"] == "NetworkPolicy" and "default-deny" in d["metadata"]["name"]
        ]
        assert set(deny["spec"]["policyTypes"]) == {"Ingress", "Egress"}, overlay
        assert not deny["spec"].keys() & {"ingress", "egress"}, f"{overlay}: allows nothing"


def test_aws_overlays_enforce_restricted_pods_and_take_secrets_from_outside(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    (namespace,) = load_yaml_documents(KUBERNETES / "cluster" / "namespace.yaml")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    for overlay in ("staging", "prod"):
        documents = rendered[overlay]
        assert {d["metadata"].get("namespace") for d in documents} == {
            namespace["metadata"]["name"]
        }
        assert not [d for d in documents if d["kind"] == "Secret"], "no secrets in git"
        (account,) = [d for d in documents if d["kind"] == "ServiceAccount"]
        assert account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]


def test_dev_redis_runs_with_production_settings() -> None:
    documents = load_yaml_documents(KUBERNETES / "overlays" / "dev" / "backing-services.yaml")
    (redis,) = [
        d for d in documents if d["kind"] == "Deployment" and d["metadata"]["name"] == "redis"
    ]
    args = redis["spec"]["template"]["spec"]["containers"][0]["args"]
    assert redis_options(args).items() >= REDIS_PRODUCTION_OPTIONS.items()


# --------------------------------------------------------------------------------------------
# The image.

DOCKERFILE = DEPLOY / "docker" / "Dockerfile"
HEALTHCHECK = load_script(DEPLOY / "docker" / "healthcheck.py")


def final_stage(text: str) -> str:
    return text[text.rindex("\nFROM ") :]


def test_dockerfile_builds_in_stages_and_runs_roost_as_non_root() -> None:
    text = DOCKERFILE.read_text()
    assert len(re.findall(r"(?m)^FROM ", text)) >= 2, "multi-stage"
    assert re.search(r"(?m)^ARG PYTHON_IMAGE=python:3\.11-slim", text)
    assert "-c constraints.txt" in text
    runtime = final_stage(text)
    user = re.findall(r"(?m)^USER (\S+)", runtime)
    assert user
    assert user[-1].split(":")[0] not in ("0", "root")
    assert user[-1].split(":")[0].isdigit(), "numeric uid: runAsNonRoot can verify it"
    assert re.search(r'(?m)^ENTRYPOINT \["roost"\]$', runtime)
    assert re.search(r"(?m)^HEALTHCHECK ", runtime)
    assert "build-essential" not in runtime, "compilers stay in the build stage"


def test_kubernetes_runs_the_images_uid() -> None:
    uid = re.findall(r"(?m)^USER (\d+)", final_stage(DOCKERFILE.read_text()))[-1]
    for path in (KUBERNETES / "base" / "roles").glob("*.yaml"):
        (deployment,) = [d for d in load_yaml_documents(path) if d["kind"] == "Deployment"]
        assert str(deployment["spec"]["template"]["spec"]["securityContext"]["runAsUser"]) == uid


def test_dockerignore_keeps_the_context_small_but_complete() -> None:
    lines = (REPO_ROOT / ".dockerignore").read_text().splitlines()
    assert "*" in lines, "allow-list: nothing enters the context unless named"
    copied = re.findall(r"(?m)^COPY (?!--from)(\S+)", DOCKERFILE.read_text())
    for source in copied:
        assert f"!{source.rstrip('/')}" in {line.rstrip("/") for line in lines}, source


@pytest.mark.parametrize(
    ("command", "port"),
    [
        (["/opt/venv/bin/python", "/opt/venv/bin/roost", "serve", "kv", "--host", "0.0.0.0"], 8000),
        (["roost", "serve", "bird-images"], 4200),
        (["roost", "serve", "optimizer", "--port", "9000"], 9000),
        (["roost", "serve", "birds", "--port=4300"], 4300),
        (["roost", "worker"], 9101),
    ],
)
def test_healthcheck_finds_the_port_of_the_running_role(command: list[str], port: int) -> None:
    assert HEALTHCHECK.port_from_command(command, ROLE_PORTS) == port


def test_healthcheck_refuses_commands_it_cannot_place() -> None:
    for command in (["roost", "serve", "nope"], ["roost", "migrate"], ["roost", "serve"]):
        with pytest.raises(HEALTHCHECK.UnknownPort):
            HEALTHCHECK.port_from_command(command, ROLE_PORTS)


# --------------------------------------------------------------------------------------------
# Observability configs that have their own checkers.


def test_prometheusrule_objects_carry_the_rule_files_unchanged() -> None:
    script = load_script(OBSERVABILITY / "prometheus" / "prometheusrule.py")
    objects = script.prometheus_rules(RULES_DIR, namespace="monitoring", labels={"release": "x"})
    by_name = {obj["metadata"]["name"]: obj for obj in objects}
    for path in RULES_DIR.glob("*.yml"):
        assert by_name[f"roost-{path.stem}"]["spec"]["groups"] == load_yaml(path)["groups"]


def test_alertmanager_config_is_valid_pages_on_critical_and_emails_info() -> None:
    amtool = require_executable("amtool", "Debian package prometheus-alertmanager")
    config = str(OBSERVABILITY / "alertmanager" / "alertmanager.yml")
    result = run(amtool, "check-config", config)
    assert result.returncode == 0, result.stdout + result.stderr
    expected = {"critical": "pager,chat", "warning": "chat", "info": "email"}
    for severity, receivers in expected.items():
        routed = run(
            amtool, "config", "routes", "test", f"--config.file={config}", f"severity={severity}"
        )
        assert routed.stdout.strip() == receivers, severity


def test_nginx_config_is_valid(tmp_path: Path) -> None:
    nginx = require_executable("nginx", "Debian package nginx")
    openssl = require_executable("openssl", "Debian package openssl")
    # Same files, with paths under tmp_path, a throwaway certificate, and upstream hosts that
    # resolve here (nginx -t resolves them).
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "tls").mkdir()
    (tmp_path / "logs").mkdir()
    certificate = run(
        openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes", "-keyout", str(tmp_path / "tls/roost.key"), "-out",
        str(tmp_path / "tls/roost.crt"), "-subj", "/CN=roost.example.com", "-days", "1",
    )  # fmt: skip
    assert certificate.returncode == 0, certificate.stderr
    main = (DEPLOY / "nginx" / "nginx.conf").read_text()
    for original, replacement in (
        ("/etc/nginx/conf.d", f"{tmp_path}/conf.d"),
        ("/etc/nginx/tls", f"{tmp_path}/tls"),
        ("/var/log/nginx", f"{tmp_path}/logs"),
        ("/run/nginx.pid", f"{tmp_path}/nginx.pid"),
    ):
        main = main.replace(original, replacement)
    (tmp_path / "nginx.conf").write_text(main)
    sites = (DEPLOY / "nginx" / "conf.d" / "roost.conf").read_text()
    sites = re.sub(r"server [a-z-]+:(\d+)", r"server 127.0.0.1:\1", sites)
    (tmp_path / "conf.d" / "roost.conf").write_text(sites)
    result = run(nginx, "-t", "-q", "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path))
    assert result.returncode == 0, result.stderr


# --------------------------------------------------------------------------------------------
# Terraform.

TERRAFORM = DEPLOY / "terraform"


def test_terraform_is_fmt_clean() -> None:
    terraform = require_executable("terraform", "on this machine kind's image")
    result = run(terraform, "fmt", "-check", "-recursive", "-diff", str(TERRAFORM))
    assert result.returncode == 0, result.stdout + result.stderr


def test_terraform_declares_the_platform() -> None:
    text = "\n".join(path.read_text() for path in TERRAFORM.glob("*.tf"))
    for resource in (
        'module "vpc"',
        'module "eks"',
        'resource "aws_db_instance"',
        'resource "aws_elasticache_replication_group"',
        'resource "aws_s3_bucket" "source"',
        'resource "aws_s3_bucket" "thumbnails"',
        'resource "aws_sqs_queue" "jobs"',
        'resource "aws_sqs_queue" "dead_letters"',
        'resource "aws_ecr_repository"',
        'resource "aws_iam_role" "app"',
    ):
        assert resource in text, resource
    assert "maxmemory-policy" in text
    assert "allkeys-lru" in text


def test_app_role_grants_no_wildcard_actions() -> None:
    text = (TERRAFORM / "iam.tf").read_text()
    actions = re.findall(r'"((?:s3|sqs|ecr|eks|kms|secretsmanager):[A-Za-z*]+)"', text)
    assert actions
    assert not [action for action in actions if action.endswith(":*")], "least privilege"


# --------------------------------------------------------------------------------------------
# Pipelines.


def workflow(name: str) -> dict[str, Any]:
    loaded = load_yaml(WORKFLOWS / name)
    # YAML 1.1 reads the key `on` as True.
    loaded["on"] = loaded.pop(True, loaded.get("on"))
    return loaded  # type: ignore[no-any-return]


def test_ci_runs_make_lint_and_make_test_against_real_services() -> None:
    # The Makefile is the one definition of the checks (lint, the suite with the image and the
    # config checkers, the coverage gate); CI runs it rather than a copy of its steps.
    ci = workflow("ci.yml")
    services = {name for job in ci["jobs"].values() for name in (job.get("services") or {})}
    assert {"postgres", "redis", "rabbitmq"} <= services
    runs = [step.get("run", "") for job in ci["jobs"].values() for step in job["steps"]]
    assert "make lint" in runs
    assert "make test" in runs
    assert "workflow_call" in ci["on"], "cd.yml runs CI before building a release"


def test_cd_builds_only_after_ci_passed_for_two_architectures_with_an_sbom() -> None:
    cd = workflow("cd.yml")
    jobs = cd["jobs"]
    ci_job = next(name for name, job in jobs.items() if job.get("uses", "").endswith("/ci.yml"))
    assert jobs["image"]["needs"] == ci_job
    build = next(s for s in jobs["image"]["steps"] if "build-push-action" in s.get("uses", ""))
    assert build["with"]["platforms"] == "linux/amd64,linux/arm64"
    assert "github.sha" in build["with"]["tags"]
    assert "github.ref_name" in build["with"]["tags"]
    assert any(step.get("run") == "make sbom" for step in jobs["image"]["steps"])


def test_cd_gates_production_behind_staging_smoke_tests_and_approval() -> None:
    cd = workflow("cd.yml")
    assert "tags" in cd["on"]["push"]
    jobs = cd["jobs"]
    by_environment = {job.get("environment", {}).get("name"): job for job in jobs.values()}
    production, staging = by_environment["production"], by_environment["staging"]
    staging_name = next(name for name, job in jobs.items() if job is staging)
    assert staging_name in production["needs"], "production only after staging"
    for job in (staging, production):
        steps = {step.get("id") or step.get("name"): step for step in job["steps"]}
        assert "deploy.sh deploy" in steps["deploy"]["run"]
        rollback = steps["Roll back"]
        assert "failure()" in rollback["if"]
        assert "deploy.sh rollback" in rollback["run"]
    script = (KUBERNETES / "deploy.sh").read_text()
    assert "roost smoke" in script
    assert "rollout undo" in script
    assert "roost-migrate" in script, "migrations run before the new pods"


def test_terraform_job_queues_are_the_ones_the_sqs_broker_looks_up() -> None:
    from roost.core.settings import Settings

    defaults = Settings()
    sqs = (TERRAFORM / "sqs.tf").read_text()
    variables = (TERRAFORM / "variables.tf").read_text()
    declared = re.search(r"job_queues\s*=\s*toset\(\[([^\]]*)\]\)", sqs)
    assert declared is not None
    names = set(re.findall(r'"([^"]+)"', declared.group(1)))
    assert names == {defaults.thumbnails_queue, defaults.optimizer_queue}
    namespace = re.search(
        r'variable "broker_namespace" \{[^}]*default\s*=\s*"([^"]+)"', variables, re.S
    )
    assert namespace is not None
    assert namespace.group(1) == defaults.broker_namespace
    assert '"${var.broker_namespace}_${each.key}"' in sqs  # dramatiq-sqs: <namespace>_<queue>
    assert '"${var.broker_namespace}_${each.key}_dlq"' in sqs

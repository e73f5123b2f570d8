"""deploy/ files parse, and hold the properties production relies on: non-root read-only pods
with probes and limits, the Redis settings, a single image, pipelines that gate production.

Pure reads of the files; what a real tool checks (kubectl kustomize, terraform fmt, amtool,
nginx -t) is in tests/integration/deploy/test_deploy_tools.py.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from tests.support.deploy_checks import (
    COMPOSE_FILE,
    DASHBOARDS_DIR,
    DEPLOY,
    KUBERNETES,
    OBSERVABILITY,
    REPO_ROOT,
    RULES_DIR,
    assert_hardened,
    load_yaml,
    load_yaml_documents,
    roost_pods,
)

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


# --------------------------------------------------------------------------------------------
# Terraform.

TERRAFORM = DEPLOY / "terraform"


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

"""The compose stack: valid against the Compose Specification, every service limited, nginx in
front of the public roles, Redis watched by redis_exporter, and `.env.example` naming exactly
the variables the file reads (secrets left blank)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]
from tests.prerequisites import require_executable

pytestmark = pytest.mark.integration

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"
COMPOSE_FILE = DEPLOY / "compose" / "docker-compose.yml"
ENV_EXAMPLE = DEPLOY / "compose" / ".env.example"
NGINX_SITES = DEPLOY / "nginx" / "conf.d" / "roost.conf"
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|_KEY$")


def services() -> dict[str, dict[str, Any]]:
    loaded: dict[str, dict[str, Any]] = yaml.safe_load(COMPOSE_FILE.read_text())["services"]
    return loaded


def test_compose_file_is_valid_against_the_compose_specification() -> None:
    checker = Path(sys.executable).parent / "check-jsonschema"
    if not checker.is_file():
        checker = Path(require_executable("check-jsonschema", "the dev extra in pyproject.toml"))
    result = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.compose-spec", str(COMPOSE_FILE)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", sorted(services()))
def test_every_service_has_cpu_and_memory_limits(name: str) -> None:
    limits = services()[name].get("deploy", {}).get("resources", {}).get("limits", {})
    assert float(limits["cpus"]) > 0
    assert re.fullmatch(r"\d+[MG]", str(limits["memory"])), limits


def test_env_example_lists_every_variable_the_stack_reads_with_secrets_blank() -> None:
    read = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", COMPOSE_FILE.read_text()))
    example = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            example[key.strip()] = value.strip()
    assert read, "the compose file reads variables"
    assert set(example) == read
    secrets = {key for key in example if SECRET_NAME.search(key)}
    assert {"ROOST_JWT_SECRET", "POSTGRES_PASSWORD"} <= secrets
    assert all(example[key] == "" for key in secrets), "secrets are left blank"


def test_nginx_fronts_every_public_role_with_the_deploy_config() -> None:
    stack = services()
    nginx = stack["nginx"]
    mounts = {volume.split(":")[1]: volume.split(":")[0] for volume in nginx["volumes"]}
    assert (COMPOSE_FILE.parent / mounts["/etc/nginx/nginx.conf"]).resolve() == (
        DEPLOY / "nginx" / "nginx.conf"
    )
    assert (COMPOSE_FILE.parent / mounts["/etc/nginx/conf.d"]).resolve() == NGINX_SITES.parent
    assert "127.0.0.1:443:443" in nginx["ports"]
    upstream_hosts = set(
        re.findall(r"upstream \w+ \{\s*server ([\w.-]+):\d+", NGINX_SITES.read_text())
    )
    assert upstream_hosts, "nginx proxies to the roles"
    assert upstream_hosts <= set(stack), "every upstream is a compose service"
    assert upstream_hosts <= set(nginx["depends_on"]), "nginx starts once its upstreams serve"


def test_redis_exporter_watches_the_stacks_redis_and_prometheus_scrapes_it() -> None:
    exporter = services()["redis-exporter"]
    assert exporter["environment"]["REDIS_ADDR"] == "redis://redis:6379"
    prometheus = yaml.safe_load(
        (DEPLOY / "observability" / "prometheus" / "prometheus.yml").read_text()
    )
    targets = {
        target
        for job in prometheus["scrape_configs"]
        for config in job.get("static_configs", [])
        for target in config["targets"]
    }
    assert "redis-exporter:9121" in targets


def test_dev_overlay_runs_redis_exporter_beside_redis_for_prometheus() -> None:
    documents = [
        doc
        for doc in yaml.safe_load_all(
            (DEPLOY / "kubernetes" / "overlays" / "dev" / "backing-services.yaml").read_text()
        )
        if doc
    ]
    (redis,) = [
        d for d in documents if d["kind"] == "Deployment" and d["metadata"]["name"] == "redis"
    ]
    pod = redis["spec"]["template"]
    containers = {c["name"]: c for c in pod["spec"]["containers"]}
    exporter = containers["redis-exporter"]
    assert {"name": "REDIS_ADDR", "value": "redis://127.0.0.1:6379"} in exporter["env"]
    (port,) = exporter["ports"]
    assert pod["metadata"]["annotations"]["prometheus.io/port"] == str(port["containerPort"])
    assert exporter["resources"]["limits"]["memory"]

"""deploy/ files checked by the real tools that read them: the overlays as `kubectl kustomize`
renders them (hardened pods, one image, default-deny policies, AWS overlays without secrets),
Alertmanager's routing by `amtool`, the nginx config by `nginx -t`, Terraform by `terraform fmt`.
None of them touches the network. The pure checks of the same files are in tests/unit/deploy.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]
from tests.prerequisites import require_executable
from tests.support.deploy_checks import (
    DEPLOY,
    KUBERNETES,
    OBSERVABILITY,
    assert_hardened,
    load_yaml_documents,
    roost_pods,
)

from roost.core.settings import ROLE_PORTS

pytestmark = pytest.mark.integration

OVERLAYS = sorted(path.parent for path in (KUBERNETES / "overlays").glob("*/kustomization.yaml"))
TERRAFORM = DEPLOY / "terraform"


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict[str, Any]]]:
    kubectl = require_executable("kubectl", "on this machine kind's image; renders the overlays")
    out = {}
    for overlay in OVERLAYS:
        result = run(kubectl, "kustomize", str(overlay))
        assert result.returncode == 0, f"{overlay.name}: {result.stderr}"
        out[overlay.name] = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    return out


def test_overlays_render(rendered: dict[str, list[dict[str, Any]]]) -> None:
    assert set(rendered) == {"dev", "staging", "prod"}


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


def test_terraform_is_fmt_clean() -> None:
    terraform = require_executable("terraform", "on this machine kind's image")
    result = run(terraform, "fmt", "-check", "-recursive", "-diff", str(TERRAFORM))
    assert result.returncode == 0, result.stdout + result.stderr

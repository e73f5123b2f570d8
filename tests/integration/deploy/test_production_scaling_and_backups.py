"""What production promises about scaling, availability and backups, read from the manifests
`kubectl kustomize` renders for the AWS overlays (the same output CD applies)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]
from tests.prerequisites import require_executable

from roost.core.settings import ROLE_PORTS

pytestmark = pytest.mark.integration

OVERLAYS = Path(__file__).resolve().parents[3] / "deploy" / "kubernetes" / "overlays"
# The roles with a public host in the ingress; the worker and the console are not reachable.
PUBLIC_ROLES = {"kv", "thumbnails", "optimizer", "birds", "bird-images", "frontend"}
# The console's manifest is built under its own issue; it joins these checks when it lands.
NOT_YET_CHECKED = {"console"}
# An Argo Rollout may take over a Deployment (workloadRef): the pods are still the Deployment's
# template, and the autoscaler then scales the Rollout.
WORKLOAD_KINDS = ("Deployment", "Rollout")


def render(overlay: str) -> list[dict[str, Any]]:
    kubectl = require_executable("kubectl", "on this machine kind's image; renders the overlays")
    result = subprocess.run(
        [kubectl, "kustomize", str(OVERLAYS / overlay)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="module")
def production() -> list[dict[str, Any]]:
    return render("prod")


def by_kind(documents: list[dict[str, Any]], *kinds: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in documents if doc["kind"] in kinds}


def checked_roles() -> list[str]:
    return sorted(set(ROLE_PORTS) - NOT_YET_CHECKED)


@pytest.mark.parametrize("role", checked_roles())
def test_production_autoscaler_scales_on_cpu_and_memory_up_fast_down_slow(
    production: list[dict[str, Any]], role: str
) -> None:
    hpa = by_kind(production, "HorizontalPodAutoscaler")[f"roost-{role}"]["spec"]
    targets = {
        metric["resource"]["name"]: metric["resource"]["target"]["averageUtilization"]
        for metric in hpa["metrics"]
        if metric["type"] == "Resource"
    }
    assert targets == {"cpu": 70, "memory": 80}
    up, down = hpa["behavior"]["scaleUp"], hpa["behavior"]["scaleDown"]
    assert up["policies"] == [{"type": "Percent", "value": 100, "periodSeconds": 30}]
    assert down["policies"] == [{"type": "Percent", "value": 50, "periodSeconds": 60}]
    assert down["stabilizationWindowSeconds"] == 300
    assert hpa["minReplicas"] >= 3, "one pod per availability zone at least"
    if role in PUBLIC_ROLES:
        assert (hpa["minReplicas"], hpa["maxReplicas"]) == (3, 10)
    target = hpa["scaleTargetRef"]
    assert target["kind"] in WORKLOAD_KINDS
    assert target["name"] in by_kind(production, target["kind"])


@pytest.mark.parametrize("role", checked_roles())
def test_production_pods_spread_over_zones_and_nodes_and_keep_one_through_disruptions(
    production: list[dict[str, Any]], role: str
) -> None:
    name = f"roost-{role}"
    pod = by_kind(production, "Deployment")[name]["spec"]["template"]
    selector = {"app.kubernetes.io/component": role}
    (zones,) = pod["spec"]["topologySpreadConstraints"]
    assert zones["topologyKey"] == "topology.kubernetes.io/zone"
    assert zones["labelSelector"]["matchLabels"] == selector
    (per_node,) = pod["spec"]["affinity"]["podAntiAffinity"][
        "preferredDuringSchedulingIgnoredDuringExecution"
    ]
    assert per_node["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    assert per_node["podAffinityTerm"]["labelSelector"]["matchLabels"] == selector
    assert per_node["weight"] == 100

    budget = by_kind(production, "PodDisruptionBudget")[name]["spec"]
    assert budget["selector"]["matchLabels"] == selector
    fewest_pods = by_kind(production, "HorizontalPodAutoscaler")[name]["spec"]["minReplicas"]
    # minAvailable: 1, or maxUnavailable that leaves at least one of the fewest pods running.
    if "minAvailable" in budget:
        assert budget["minAvailable"] >= 1
    else:
        assert 1 <= budget["maxUnavailable"] <= fewest_pods - 1


@pytest.mark.parametrize("overlay", ["staging", "prod"])
def test_aws_overlays_back_up_nightly_to_their_own_bucket_and_can_restore_from_it(
    overlay: str,
) -> None:
    documents = render(overlay)
    cron = by_kind(documents, "CronJob")["roost-backup"]["spec"]
    minute, hour, *every = cron["schedule"].split()
    assert minute.isdigit()
    assert hour.isdigit()
    assert every == ["*", "*", "*"], "once a day"
    assert cron["concurrencyPolicy"] == "Forbid"
    pod = cron["jobTemplate"]["spec"]["template"]
    assert pod["metadata"]["labels"]["app.kubernetes.io/part-of"] == "roost", "egress policy"
    (container,) = pod["spec"]["containers"]
    assert container["args"] == ["backup", "--keep", "14"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["resources"]["limits"]["memory"]
    assert {key for source in container["envFrom"] for key in source} == {
        "configMapRef",
        "secretRef",
    }
    restore = by_kind(documents, "CronJob")["roost-restore"]["spec"]
    assert restore["suspend"] is True, "only ever started by hand (kubectl create job --from)"
    (restorer,) = restore["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert restorer["args"] == ["restore", "--yes"]
    assert restorer["envFrom"] == container["envFrom"]
    (config,) = [
        doc
        for doc in documents
        if doc["kind"] == "ConfigMap" and doc["metadata"]["name"].startswith("roost-config")
    ]
    backup_url = config["data"]["ROOST_BACKUP_URL"]
    assert backup_url.startswith(f"s3://roost-{overlay}-backups/")
    assert backup_url.split("/")[2] != config["data"]["ROOST_STORAGE_URL"].split("/")[2]


def test_dev_overlay_runs_no_backup_job() -> None:
    assert "roost-backup" not in by_kind(render("dev"), "CronJob")

"""Every overlay's NetworkPolicies, evaluated against the flows the code needs.

The flow matrix comes from the code and the rendered manifests, not from a list kept by hand:

- role -> role: each role builder's ``settings.<x>_url or peer_url("<role>")`` (and the console's
  ``CONSOLE_PEER_URL_SETTINGS``), resolved through the rendered ConfigMap's URL to the Service,
  its target port and the pods it selects;
- role -> backends: which adapters each builder opens (Postgres engine, Redis, broker, object
  store, the image provider); in-cluster backends (the dev overlay) are found from the URL in
  the rendered config, the others are AWS services outside the cluster (staging, prod);
- every pod -> kube-dns on 53 (UDP and TCP) and the OTLP collector;
- the ingress controller -> the roles the Ingress objects publish; Prometheus (namespace
  ``monitoring``) -> every pod's ``prometheus.io/port``.

Each required flow must be allowed; every other flow from or to a Roost pod (pod to pod, and
pod to the external backends) must be denied. ``tests/support/netpol.py`` holds the policy
semantics (unit-tested in tests/unit/deploy/test_netpol.py).
"""

from __future__ import annotations

import base64
import inspect
import re
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml  # type: ignore[import-untyped]
from tests.prerequisites import require_executable
from tests.support.netpol import ContainerPort, External, Flow, Pod, PolicySet

from roost import roles as role_builders
from roost.core import settings as settings_module
from roost.core.settings import ROLE_PORTS

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[3]
OVERLAYS = sorted(
    p.parent for p in (REPO_ROOT / "deploy/kubernetes/overlays").glob("*/kustomization.yaml")
)
WORKLOAD_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "Job", "Rollout"})
COMPONENT = "app.kubernetes.io/component"
MIGRATE = "migrate"  # the `roost migrate` Job: a pod without a role port

# Cluster add-ons the policies name, labelled as their charts label them.
INGRESS_CONTROLLER = Pod(
    "ingress-nginx-controller",
    "ingress-nginx",
    {"app.kubernetes.io/name": "ingress-nginx", COMPONENT: "controller"},
    (ContainerPort(80, "http"), ContainerPort(443, "https")),
)
PROMETHEUS = Pod(
    "prometheus-kube-prometheus-stack-0",
    "monitoring",
    {"app.kubernetes.io/name": "prometheus"},
    (ContainerPort(9090, "http-web"),),
)
KUBE_DNS = Pod(
    "coredns",
    "kube-system",
    {"k8s-app": "kube-dns"},
    (ContainerPort(53, "dns", "UDP"), ContainerPort(53, "dns-tcp"), ContainerPort(9153, "metrics")),
)
# Anyone else's pod, to be kept out of (and away from) Roost.
STRANGER = Pod("stranger", "default", {"app": "stranger"}, (ContainerPort(8080, "http"),))
ADDONS = (INGRESS_CONTROLLER, PROMETHEUS, KUBE_DNS, STRANGER)

# Backends outside the cluster (staging and prod on AWS; their URLs live in a Secret, not in
# git): private addresses in the VPC. S3, SQS and the image provider are HTTPS to addresses that
# are neither fixed nor told apart by a NetworkPolicy: one endpoint stands for all of them.
RDS = External("RDS PostgreSQL", "10.20.11.5")
ELASTICACHE = External("ElastiCache Redis", "10.20.12.5")
AMAZON_MQ = External("Amazon MQ", "10.20.13.5")
HTTPS = External("S3, SQS, api.unsplash.com (HTTPS)", "52.94.0.10")
OTLP = External("OTLP collector", "10.20.14.5")
EXTERNAL: dict[str, set[tuple[External, int]]] = {
    "postgres": {(RDS, 5432)},
    "redis": {(ELASTICACHE, 6379)},
    # Whichever the broker URL names: Redis, RabbitMQ (amqp/amqps) or SQS.
    "broker": {(ELASTICACHE, 6379), (AMAZON_MQ, 5672), (AMAZON_MQ, 5671), (HTTPS, 443)},
    "object store": {(HTTPS, 443)},
    "image provider": {(HTTPS, 443)},
    "tracing": {(OTLP, 4318)},
}
# The setting that holds each backend's URL (an in-cluster Service in the dev overlay).
BACKEND_URL_SETTINGS = {
    "postgres": "ROOST_DATABASE_URL",
    "redis": "ROOST_REDIS_URL",
    "broker": "ROOST_BROKER_URL",
    "object store": "ROOST_S3_ENDPOINT_URL",
}
# What in a builder's source opens which backend.
BACKEND_MARKERS = {
    "postgres": (
        "db.create_engine(",
        "open_thumbnail_adapters(",
        "open_worker_jobs(",
        "migrate.upgrade(",
    ),
    "redis": ("open_redis(", "open_redis_if_configured("),
    "broker": ("queue.create_broker(", "optimizer_sender(", "open_worker_jobs("),
    "object store": (
        "open_store(",
        "thumbnail_stores(",
        "open_thumbnail_adapters(",
        "open_worker_jobs(",
    ),
    "image provider": ("UnsplashClient(",),
}
PEER_URL = re.compile(r'settings\.(\w+_url)\s+or\s+peer_url\("([\w-]+)"\)')
DEFAULT_PORTS = {"postgresql": 5432, "redis": 6379, "rediss": 6379, "amqp": 5672, "amqps": 5671}


# --------------------------------------------------------------------------------------------
# What the code says each role needs.


@cache
def role_sources() -> dict[str, str]:
    """The source of whatever builds each role's process, by component label."""
    from roost import worker

    sources = {
        role: inspect.getsource(builder) for role, builder in role_builders.ROLE_BUILDERS.items()
    }
    sources["worker"] = inspect.getsource(worker.build_worker)
    sources[MIGRATE] = inspect.getsource(role_builders.prepare_database)
    return sources


def peer_url_settings(role: str) -> dict[str, str]:
    """Setting name -> the role it points at, for each peer ``role`` calls."""
    source = role_sources().get(role, "")  # no builder: test_every_role_runs_... says so
    calls = {setting: peer for setting, peer in PEER_URL.findall(source)}
    if "console_peers(" in source:
        console_peers: dict[str, str] = getattr(settings_module, "CONSOLE_PEER_URL_SETTINGS", {})
        calls.update({setting: peer for peer, setting in console_peers.items()})
    return calls


def backends_of(role: str) -> set[str]:
    source = role_sources().get(role, "")
    used = {name for name, markers in BACKEND_MARKERS.items() if any(m in source for m in markers)}
    return used | {"tracing"}  # every process exports traces when ROOST_OTLP_ENDPOINT is set


def test_matrix_has_the_calls_the_birds_page_makes() -> None:
    # The page's pictures come through the frontend's /media proxy from the image service.
    assert set(peer_url_settings("frontend").values()) == {"birds", "bird-images"}
    assert set(peer_url_settings("birds").values()) == {"bird-images", "thumbnails"}
    assert backends_of("kv") == {"redis", "tracing"}
    assert backends_of(MIGRATE) == {"postgres", "tracing"}


# --------------------------------------------------------------------------------------------
# What an overlay renders to.


@dataclass
class Rendered:
    overlay: str
    documents: list[dict[str, Any]]

    def of_kind(self, *kinds: str) -> Iterator[dict[str, Any]]:
        return (doc for doc in self.documents if doc["kind"] in kinds)

    def workloads(self) -> Iterator[dict[str, Any]]:
        # A Rollout with a workloadRef runs the referenced Deployment's pod template.
        return (doc for doc in self.of_kind(*WORKLOAD_KINDS) if "template" in doc["spec"])

    def all_pods(self) -> list[Pod]:
        return [pod_of(doc, self.default_namespace) for doc in self.workloads()]

    def roost_pods(self) -> list[Pod]:
        return [
            pod for pod in self.all_pods() if pod.labels.get("app.kubernetes.io/part-of") == "roost"
        ]

    def pods_of(self, role: str) -> list[Pod]:
        return [pod for pod in self.roost_pods() if pod.labels.get(COMPONENT) == role]

    @property
    def default_namespace(self) -> str:
        return "default"

    def setting(self, name: str) -> str | None:
        for doc in self.of_kind("ConfigMap"):
            if doc["metadata"]["name"].startswith("roost-config") and name in doc.get("data", {}):
                return str(doc["data"][name])
        for doc in self.of_kind("Secret"):
            if doc["metadata"]["name"].startswith("roost-secrets") and name in doc.get("data", {}):
                return base64.b64decode(doc["data"][name]).decode()
        return None

    def service(self, name: str) -> dict[str, Any] | None:
        return next((s for s in self.of_kind("Service") if s["metadata"]["name"] == name), None)

    def behind_service(self, service: dict[str, Any], port: int | str) -> list[tuple[Pod, int]]:
        """The pods a Service sends ``port`` (its number or name) to, with their target port."""
        (entry,) = [p for p in service["spec"]["ports"] if port in (p["port"], p.get("name"))]
        target = entry.get("targetPort", entry["port"])
        selector = service["spec"]["selector"]
        found = []
        for pod in self.all_pods():
            if all(pod.labels.get(k) == v for k, v in selector.items()):
                number = container_port(pod, target)
                assert number is not None, f"{self.overlay}: {pod} has no port {target!r}"
                found.append((pod, number))
        assert found, f"{self.overlay}: Service {service['metadata']['name']} selects no pod"
        return found

    def namespace_labels(self) -> dict[str, dict[str, str]]:
        return {
            doc["metadata"]["name"]: dict(doc["metadata"].get("labels") or {})
            for doc in self.of_kind("Namespace")
        }

    def policies(self) -> PolicySet:
        return PolicySet(self.of_kind("NetworkPolicy"), self.namespace_labels())


def pod_of(workload: dict[str, Any], default_namespace: str) -> Pod:
    template = workload["spec"]["template"]
    ports = tuple(
        ContainerPort(p["containerPort"], p.get("name"), p.get("protocol", "TCP"))
        for container in template["spec"]["containers"]
        for p in container.get("ports") or []
    )
    return Pod(
        f"{workload['kind']}/{workload['metadata']['name']}",
        workload["metadata"].get("namespace", default_namespace),
        dict(template.get("metadata", {}).get("labels") or {}),
        ports,
    )


def container_port(pod: Pod, port: int | str) -> int | None:
    if isinstance(port, int):
        return port
    return next((p.number for p in pod.ports if p.name == port), None)


@cache
def render(overlay: Path) -> Rendered:
    kubectl = require_executable("kubectl", "on this machine kind's image; renders the overlays")
    done = subprocess.run(
        [kubectl, "kustomize", str(overlay)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"{overlay.name}: {done.stderr}"
    return Rendered(overlay.name, [doc for doc in yaml.safe_load_all(done.stdout) if doc])


# --------------------------------------------------------------------------------------------
# The matrix.


def public_services() -> set[str]:
    """Services any overlay's Ingress objects publish (the ingress policy is in the base)."""
    names = set()
    for overlay in OVERLAYS:
        for ingress in render(overlay).of_kind("Ingress"):
            for rule in ingress["spec"].get("rules") or []:
                for path in rule.get("http", {}).get("paths") or []:
                    names.add(path["backend"]["service"]["name"])
    return names


def required_flows(cluster: Rendered) -> set[Flow]:
    required: set[Flow] = set()
    roles = [*ROLE_PORTS, MIGRATE]
    for role in roles:
        for source in cluster.pods_of(role):
            required |= {Flow(source, KUBE_DNS, 53, "UDP"), Flow(source, KUBE_DNS, 53, "TCP")}
            required |= peer_flows(cluster, role, source)
            required |= backend_flows(cluster, role, source)
    for name in public_services():
        service = cluster.service(name)
        assert service is not None, f"{cluster.overlay}: the Ingress names Service {name}, missing"
        for pod, port in cluster.behind_service(service, "http"):
            required.add(Flow(INGRESS_CONTROLLER, pod, port))
    for pod, port in metrics_ports(cluster):
        required.add(Flow(PROMETHEUS, pod, port))
    return required


def peer_flows(cluster: Rendered, role: str, source: Pod) -> set[Flow]:
    flows = set()
    for setting, peer in peer_url_settings(role).items():
        url = cluster.setting(f"ROOST_{setting.upper()}")
        assert url, f"{cluster.overlay}: {role} calls {peer} but ROOST_{setting.upper()} is unset"
        parts = urlsplit(url)
        service = cluster.service(parts.hostname or "")
        assert service is not None, f"{cluster.overlay}: {url} names no Service"
        port = parts.port or (443 if parts.scheme == "https" else 80)
        for pod, target in cluster.behind_service(service, port):
            assert pod.labels.get(COMPONENT) == peer, f"{url} reaches {pod}, not {peer}"
            flows.add(Flow(source, pod, target))
    return flows


def backend_flows(cluster: Rendered, role: str, source: Pod) -> set[Flow]:
    flows = {Flow(source, *endpoint) for b in backends_of(role) for endpoint in EXTERNAL[b]}
    for backend in backends_of(role) & BACKEND_URL_SETTINGS.keys():
        url = cluster.setting(BACKEND_URL_SETTINGS[backend])
        if url is None:
            continue  # not in git: outside the cluster
        parts = urlsplit(url)
        service = cluster.service(parts.hostname or "")
        if service is None:
            continue
        port = parts.port or DEFAULT_PORTS.get(parts.scheme, 443)
        flows |= {
            Flow(source, pod, target) for pod, target in cluster.behind_service(service, port)
        }
    return flows


def metrics_ports(cluster: Rendered) -> Iterator[tuple[Pod, int]]:
    for workload in cluster.workloads():
        annotations = workload["spec"]["template"].get("metadata", {}).get("annotations") or {}
        if annotations.get("prometheus.io/scrape") == "true":
            pod = pod_of(workload, cluster.default_namespace)
            if pod.labels.get("app.kubernetes.io/part-of") == "roost":
                yield pod, int(annotations["prometheus.io/port"])


def candidate_flows(cluster: Rendered) -> Iterator[Flow]:
    """Every flow from or to a Roost pod: to each port any pod declares, and to each external
    backend."""
    roost = set(cluster.roost_pods())
    pods = [*cluster.all_pods(), *ADDONS, *outsiders({pod.namespace for pod in roost})]
    for source in pods:
        for destination in pods:
            if source not in roost and destination not in roost:
                continue  # neither side is ours to police
            for declared in destination.ports:
                yield Flow(source, destination, declared.number, declared.protocol)
    externals = {endpoint for endpoints in EXTERNAL.values() for endpoint in endpoints}
    for source in roost:
        for address, number in externals:
            yield Flow(source, address, number)


def outsiders(namespaces: set[str]) -> list[Pod]:
    """Pods that must not pass for Roost's: an unlabelled neighbour in Roost's namespace, and one
    in another namespace wearing a caller's component label (a podSelector alone must not
    reach across namespaces)."""
    http = (ContainerPort(8080, "http"),)
    neighbours = [
        Pod("neighbour", namespace, {"app": "neighbour"}, http) for namespace in namespaces
    ]
    impostor = Pod(
        "impostor", "default", {COMPONENT: "frontend", "app.kubernetes.io/part-of": "x"}, http
    )
    return [*neighbours, impostor]


def describe(flows: Iterable[Flow]) -> str:
    return "\n  ".join(sorted(str(flow) for flow in flows))


# --------------------------------------------------------------------------------------------
# The checks.


@pytest.fixture(params=OVERLAYS, ids=lambda path: path.name)
def cluster(request: pytest.FixtureRequest) -> Rendered:
    return render(request.param)


def test_every_role_runs_in_every_overlay(cluster: Rendered) -> None:
    for role in [*ROLE_PORTS, MIGRATE]:
        assert cluster.pods_of(role), f"{cluster.overlay}: no pod runs {role}"
        assert role in role_sources(), f"no builder for {role}: the matrix cannot be derived"


def test_every_required_flow_is_allowed(cluster: Rendered) -> None:
    policies = cluster.policies()
    denied = [flow for flow in required_flows(cluster) if not policies.allows(flow)]
    assert not denied, f"{cluster.overlay}: required flows denied:\n  {describe(denied)}"


def test_every_other_flow_is_denied(cluster: Rendered) -> None:
    policies = cluster.policies()
    required = required_flows(cluster)
    allowed = {
        flow for flow in candidate_flows(cluster) if flow not in required and policies.allows(flow)
    }
    assert not allowed, (
        f"{cluster.overlay}: flows allowed that nothing needs:\n  {describe(allowed)}"
    )


def test_frontend_reaches_the_picture_service(cluster: Rendered) -> None:
    """The issue's bug: the /media proxy's calls were denied, every picture on the page broke."""
    policies = cluster.policies()
    for frontend in cluster.pods_of("frontend"):
        for images in cluster.pods_of("bird-images"):
            assert policies.allows(Flow(frontend, images, ROLE_PORTS["bird-images"]))

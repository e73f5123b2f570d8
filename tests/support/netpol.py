"""Kubernetes NetworkPolicy semantics, small enough to read: does a policy set allow a flow?

A flow is one connection: a source, a destination, a port and a protocol. It is allowed when the
source's egress policies let it out and the destination's ingress policies let it in
(https://kubernetes.io/docs/concepts/services-networking/network-policies/):

- A pod is isolated for a direction when a policy of its namespace selects it (``podSelector``)
  with that direction in ``policyTypes``; ``policyTypes`` left out means Ingress, plus Egress if
  the policy has ``egress`` rules. A pod not isolated for a direction allows all of it.
- An isolated pod allows what any rule of any policy selecting it allows. A rule's ``from`` /
  ``to`` left out or empty matches every peer; its ``ports`` left out or empty, every port.
- A peer with ``podSelector`` alone selects pods of the policy's namespace; with
  ``namespaceSelector`` alone, every pod of the matching namespaces; with both, the matching pods
  of the matching namespaces. Namespaces carry ``kubernetes.io/metadata.name`` automatically.
- ``ipBlock`` matches addresses outside the cluster's pods only (what the API documentation
  recommends; whether it also matches pod IPs is left to each implementation).
- A named port resolves against the container ports of the pod the traffic goes to (the
  selected pod for ingress, the destination for egress); an external address has none.
- Flows from or to an :class:`External` address are judged only on the pod side.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"


@dataclass(frozen=True)
class ContainerPort:
    number: int
    name: str | None = None
    protocol: str = "TCP"


@dataclass(frozen=True)
class Pod:
    name: str
    namespace: str
    labels: Mapping[str, str] = field(default_factory=dict, hash=False)
    ports: tuple[ContainerPort, ...] = ()

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class External:
    """An address outside the cluster's pods (RDS, S3, the internet)."""

    name: str
    address: str

    def __str__(self) -> str:
        return f"{self.name} ({self.address})"


Endpoint = Pod | External


@dataclass(frozen=True)
class Flow:
    source: Endpoint
    destination: Endpoint
    port: int
    protocol: str = "TCP"

    def __str__(self) -> str:
        return f"{self.source} -> {self.destination}:{self.port}/{self.protocol}"


class PolicySet:
    """The NetworkPolicies of a cluster and the labels of its namespaces."""

    def __init__(
        self,
        policies: Iterable[Mapping[str, Any]],
        namespace_labels: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        self.policies = [p for p in policies if p.get("kind", "NetworkPolicy") == "NetworkPolicy"]
        self._namespace_labels = dict(namespace_labels or {})

    def allows(self, flow: Flow) -> bool:
        return self.egress_allows(flow) and self.ingress_allows(flow)

    def ingress_allows(self, flow: Flow) -> bool:
        if not isinstance(flow.destination, Pod):
            return True
        return self._direction_allows(flow.destination, "Ingress", flow, flow.source)

    def egress_allows(self, flow: Flow) -> bool:
        if not isinstance(flow.source, Pod):
            return True
        return self._direction_allows(flow.source, "Egress", flow, flow.destination)

    def namespace_labels(self, namespace: str) -> dict[str, str]:
        labels = dict(self._namespace_labels.get(namespace, {}))
        labels[NAMESPACE_NAME_LABEL] = namespace
        return labels

    def _direction_allows(self, pod: Pod, direction: str, flow: Flow, peer: Endpoint) -> bool:
        selecting = [
            policy
            for policy in self.policies
            if _namespace_of(policy) == pod.namespace
            and selector_matches(policy["spec"].get("podSelector") or {}, pod.labels)
            and direction in policy_types(policy)
        ]
        if not selecting:
            return True
        rules_key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
        for policy in selecting:
            for rule in policy["spec"].get(rules_key) or []:
                peers = rule.get(peers_key) or []
                peer_ok = not peers or any(
                    self._peer_matches(_namespace_of(policy), candidate, peer)
                    for candidate in peers
                )
                if peer_ok and ports_match(rule.get("ports") or [], flow, flow.destination):
                    return True
        return False

    def _peer_matches(self, policy_namespace: str, peer: Mapping[str, Any], at: Endpoint) -> bool:
        if "ipBlock" in peer:
            return isinstance(at, External) and ip_block_contains(peer["ipBlock"], at.address)
        if not isinstance(at, Pod):
            return False
        namespace_selector = peer.get("namespaceSelector")
        if namespace_selector is None:
            if at.namespace != policy_namespace:
                return False
        elif not selector_matches(namespace_selector, self.namespace_labels(at.namespace)):
            return False
        pod_selector = peer.get("podSelector")
        return pod_selector is None or selector_matches(pod_selector, at.labels)


def policy_types(policy: Mapping[str, Any]) -> set[str]:
    spec = policy["spec"]
    declared = spec.get("policyTypes")
    if declared:
        return set(declared)
    return {"Ingress", "Egress"} if "egress" in spec else {"Ingress"}


def selector_matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """A LabelSelector: every matchLabels pair and every matchExpressions entry hold."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression["key"], expression["operator"]
        values = set(expression.get("values") or [])
        present = key in labels
        holds = {
            "In": present and labels.get(key) in values,
            "NotIn": not present or labels.get(key) not in values,
            "Exists": present,
            "DoesNotExist": not present,
        }.get(operator)
        if holds is None:
            raise ValueError(f"unknown selector operator {operator!r}")
        if not holds:
            return False
    return True


def ports_match(ports: Sequence[Mapping[str, Any]], flow: Flow, destination: Endpoint) -> bool:
    if not ports:
        return True
    return any(_port_matches(entry, flow, destination) for entry in ports)


def _port_matches(entry: Mapping[str, Any], flow: Flow, destination: Endpoint) -> bool:
    if entry.get("protocol", "TCP") != flow.protocol:
        return False
    port = entry.get("port")
    if port is None:
        return True
    if isinstance(port, str) and not port.isdigit():
        if not isinstance(destination, Pod):
            return False
        return any(
            p.name == port and p.protocol == flow.protocol and p.number == flow.port
            for p in destination.ports
        )
    first = int(port)
    return first <= flow.port <= int(entry.get("endPort", first))


def ip_block_contains(block: Mapping[str, Any], address: str) -> bool:
    ip = ipaddress.ip_address(address)
    network = ipaddress.ip_network(block["cidr"], strict=False)
    if ip.version != network.version or ip not in network:
        return False
    excepted = (ipaddress.ip_network(cidr, strict=False) for cidr in block.get("except") or [])
    return not any(ip.version == e.version and ip in e for e in excepted)


def _namespace_of(policy: Mapping[str, Any]) -> str:
    return str(policy["metadata"].get("namespace", "default"))

"""The NetworkPolicy evaluator (tests/support/netpol.py) on tiny hand-written policies."""

from __future__ import annotations

from typing import Any

import pytest
from tests.support.netpol import ContainerPort, External, Flow, Pod, PolicySet, selector_matches

WEB = Pod("web", "shop", {"app": "web"}, (ContainerPort(8080, "http"),))
API = Pod("api", "shop", {"app": "api", "tier": "back"}, (ContainerPort(9000, "http"),))
OTHER_NS_WEB = Pod("web", "elsewhere", {"app": "web"}, (ContainerPort(8080, "http"),))
DNS = Pod(
    "dns",
    "kube-system",
    {"k8s-app": "kube-dns"},
    (ContainerPort(53, "dns", "UDP"), ContainerPort(53, "dns-tcp", "TCP")),
)
DATABASE = External("database", "10.1.2.3")
INTERNET = External("internet", "52.1.2.3")


def policy(name: str, spec: dict[str, Any], namespace: str = "shop") -> dict[str, Any]:
    return {
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


DENY_ALL = policy("deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})
EGRESS_ANYWHERE = policy("out", {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{}]})


def only_ingress(*rules: dict[str, Any], selector: dict[str, Any] | None = None) -> PolicySet:
    return PolicySet(
        [
            DENY_ALL,
            EGRESS_ANYWHERE,
            policy(
                "in",
                {
                    "podSelector": selector or {"matchLabels": {"app": "api"}},
                    "ingress": list(rules),
                },
            ),
        ]
    )


def test_no_policy_allows_everything() -> None:
    assert PolicySet([]).allows(Flow(WEB, API, 9000))


def test_default_deny_denies_both_directions() -> None:
    policies = PolicySet([DENY_ALL])
    assert not policies.allows(Flow(WEB, API, 9000))
    assert not policies.egress_allows(Flow(WEB, DATABASE, 5432))
    assert policies.allows(Flow(OTHER_NS_WEB, DATABASE, 5432)), "another namespace's pod"


def test_pod_selector_alone_selects_pods_of_the_policy_namespace_only() -> None:
    policies = only_ingress({"from": [{"podSelector": {"matchLabels": {"app": "web"}}}]})
    assert policies.allows(Flow(WEB, API, 9000))
    assert not policies.allows(Flow(OTHER_NS_WEB, API, 9000))
    assert not policies.allows(Flow(API, API, 9000)), "label does not match"


def test_namespace_and_pod_selector_in_one_peer_both_hold() -> None:
    peer = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "elsewhere"}},
        "podSelector": {"matchLabels": {"app": "web"}},
    }
    policies = only_ingress({"from": [peer]})
    assert policies.allows(Flow(OTHER_NS_WEB, API, 9000))
    assert not policies.allows(Flow(WEB, API, 9000))


def test_namespace_and_pod_selector_as_two_peers_either_holds() -> None:
    peers = [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "elsewhere"}}},
        {"podSelector": {"matchLabels": {"app": "web"}}},
    ]
    policies = only_ingress({"from": peers})
    assert policies.allows(Flow(OTHER_NS_WEB, API, 9000))
    assert policies.allows(Flow(WEB, API, 9000))


def test_namespace_labels_beyond_the_name_are_used() -> None:
    peer = {"namespaceSelector": {"matchLabels": {"team": "shop"}}}
    rules = [policy("in", {"podSelector": {}, "ingress": [{"from": [peer]}]})]
    assert PolicySet(rules, {"elsewhere": {"team": "shop"}}).allows(Flow(OTHER_NS_WEB, API, 9000))
    assert not PolicySet(rules).allows(Flow(OTHER_NS_WEB, API, 9000))


def test_named_port_resolves_against_the_destination_container_ports() -> None:
    policies = only_ingress({"ports": [{"port": "http"}]})
    assert policies.allows(Flow(WEB, API, 9000))
    assert not policies.allows(Flow(WEB, API, 8080)), "http is 9000 on the api pod"


def test_named_egress_port_resolves_against_the_destination_pod() -> None:
    egress = policy(
        "out",
        {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"ports": [{"port": "http"}]}]},
    )
    policies = PolicySet([egress])
    assert policies.allows(Flow(WEB, API, 9000))
    assert not policies.allows(Flow(API, WEB, 9000))
    assert not policies.allows(Flow(WEB, DATABASE, 9000)), "an address has no named ports"


def test_numbered_port_protocol_and_range() -> None:
    policies = only_ingress({"ports": [{"port": 9000, "endPort": 9010, "protocol": "TCP"}]})
    assert policies.allows(Flow(WEB, API, 9005))
    assert not policies.allows(Flow(WEB, API, 9011))
    assert not policies.allows(Flow(WEB, API, 9000, "UDP"))
    dns = PolicySet(
        [
            DENY_ALL,
            policy(
                "dns", {"podSelector": {}, "egress": [{"ports": [{"port": 53, "protocol": "UDP"}]}]}
            ),
        ]
    )
    assert dns.egress_allows(Flow(WEB, DNS, 53, "UDP"))
    assert not dns.egress_allows(Flow(WEB, DNS, 53, "TCP"))


def test_ip_block_matches_addresses_outside_pods_minus_its_exceptions() -> None:
    block = {"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.9.0.0/16"]}}
    policies = PolicySet(
        [DENY_ALL, policy("out", {"podSelector": {}, "egress": [{"to": [block]}]})]
    )
    assert policies.allows(Flow(WEB, DATABASE, 5432))
    assert not policies.allows(Flow(WEB, External("excepted", "10.9.1.1"), 5432))
    assert not policies.allows(Flow(WEB, INTERNET, 443))
    assert not policies.egress_allows(Flow(WEB, API, 9000)), "ipBlock does not select pods"


def test_policy_types_left_out_follow_the_rules_present() -> None:
    ingress_only = policy("in", {"podSelector": {}, "ingress": []})
    assert not PolicySet([ingress_only]).allows(Flow(WEB, API, 9000))
    assert PolicySet([ingress_only]).egress_allows(Flow(WEB, INTERNET, 443))
    with_egress = policy("out", {"podSelector": {}, "egress": []})
    assert not PolicySet([with_egress]).egress_allows(Flow(WEB, INTERNET, 443))


def test_policy_of_another_namespace_does_not_apply() -> None:
    policies = PolicySet([policy("deny", DENY_ALL["spec"], namespace="elsewhere")])
    assert policies.allows(Flow(WEB, API, 9000))


def test_allowing_rules_add_up_across_policies() -> None:
    from_web = policy(
        "a",
        {
            "podSelector": {},
            "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "web"}}}]}],
        },
    )
    from_api = policy(
        "b",
        {
            "podSelector": {},
            "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "api"}}}]}],
        },
    )
    policies = PolicySet([DENY_ALL, EGRESS_ANYWHERE, from_web, from_api])
    assert policies.allows(Flow(WEB, API, 9000))
    assert policies.allows(Flow(API, WEB, 8080))


@pytest.mark.parametrize(
    ("expression", "matches"),
    [
        ({"key": "tier", "operator": "In", "values": ["back", "mid"]}, True),
        ({"key": "tier", "operator": "In", "values": ["front"]}, False),
        ({"key": "tier", "operator": "NotIn", "values": ["front"]}, True),
        ({"key": "zone", "operator": "NotIn", "values": ["a"]}, True),
        ({"key": "tier", "operator": "Exists"}, True),
        ({"key": "tier", "operator": "DoesNotExist"}, False),
    ],
)
def test_match_expressions(expression: dict[str, Any], matches: bool) -> None:
    assert selector_matches({"matchExpressions": [expression]}, API.labels) is matches

#!/usr/bin/env python3
"""Print the rule files in ``rules/`` as PrometheusRule objects for the Prometheus Operator.

The rule files stay the single source (compose loads them directly, promtool tests them); in
Kubernetes the CD pipeline applies them with:

    python deploy/observability/prometheus/prometheusrule.py --namespace monitoring \
        | kubectl apply -f -
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

RULES_DIR = Path(__file__).resolve().parent / "rules"


def prometheus_rules(
    rules_dir: Path, *, namespace: str, labels: dict[str, str]
) -> list[dict[str, Any]]:
    """One PrometheusRule per rule file, named ``roost-<file stem>``, groups unchanged."""
    objects = []
    for path in sorted(rules_dir.glob("*.yml")):
        groups = yaml.safe_load(path.read_text())["groups"]
        objects.append(
            {
                "apiVersion": "monitoring.coreos.com/v1",
                "kind": "PrometheusRule",
                "metadata": {
                    "name": f"roost-{path.stem}",
                    "namespace": namespace,
                    "labels": {"app.kubernetes.io/part-of": "roost", **labels},
                },
                "spec": {"groups": groups},
            }
        )
    return objects


class _BlockStyleDumper(yaml.SafeDumper):  # type: ignore[misc]
    """Multi-line PromQL stays readable as a ``|`` block instead of an escaped string."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> Any:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockStyleDumper.add_representer(str, _represent_str)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Rule files -> PrometheusRule objects (YAML)")
    parser.add_argument("--namespace", default="monitoring")
    parser.add_argument(
        "--release-label",
        default="kube-prometheus-stack",
        help="value of the `release` label the operator's ruleSelector matches",
    )
    parser.add_argument("--rules-dir", type=Path, default=RULES_DIR)
    options = parser.parse_args(argv)
    objects = prometheus_rules(
        options.rules_dir, namespace=options.namespace, labels={"release": options.release_label}
    )
    sys.stdout.write(yaml.dump_all(objects, Dumper=_BlockStyleDumper, sort_keys=False, width=100))
    return 0


if __name__ == "__main__":
    sys.exit(main())

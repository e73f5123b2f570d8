"""Shared helpers for the deploy/ checks: where things are, PromQL names, exported metrics.

Nothing here starts a process or touches the network; the metrics come from importing the roost
modules that define them and walking prometheus_client's registry.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]
from prometheus_client import REGISTRY
from prometheus_client.metrics import MetricWrapperBase

REPO_ROOT = Path(__file__).resolve().parents[2]
SRC = REPO_ROOT / "src"
DEPLOY = REPO_ROOT / "deploy"
OBSERVABILITY = DEPLOY / "observability"
RULES_DIR = OBSERVABILITY / "prometheus" / "rules"
RULE_TESTS_DIR = OBSERVABILITY / "prometheus" / "tests"
DASHBOARDS_DIR = OBSERVABILITY / "grafana" / "dashboards"
KUBERNETES = DEPLOY / "kubernetes"
COMPOSE_FILE = DEPLOY / "compose" / "docker-compose.yml"
PROMETHEUS_CONFIG = OBSERVABILITY / "prometheus" / "prometheus.yml"
RUNBOOKS_DIR = REPO_ROOT / "docs" / "runbooks"


# Series that Prometheus makes itself, and labels that scraping adds to every series.
PROMETHEUS_SERIES = frozenset(
    {"up", "scrape_duration_seconds", "scrape_samples_scraped", "ALERTS", "ALERTS_FOR_STATE"}
)
TARGET_LABELS = frozenset(
    {"job", "instance", "namespace", "pod", "service", "container", "endpoint", "environment"}
)

_METRIC_CONSTRUCTOR = re.compile(r"\b(Counter|Gauge|Histogram|Summary|Info|Enum)\(")


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def load_yaml_documents(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def kebab_case(name: str) -> str:
    """``RoostHighLatencyP95`` -> ``roost-high-latency-p95``."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", name).lower()


# --------------------------------------------------------------------------------------------
# PromQL: which metric names and label names an expression uses.

_STRINGS = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`')
_TOKENS = re.compile(
    r"""
      (?P<range>\[[^\]]*\])               # [5m], [$__rate_interval], [1h:5m]
    | (?P<number>\d[\w.]*)                # 0.95, 1e3, 5m, 1h30m, 0x1f
    | (?P<variable>\$\{?\w+\}?)           # Grafana variables outside strings
    | (?P<ident>[A-Za-z_:][A-Za-z0-9_:]*)
    | (?P<punct>[(){},])
    | (?P<other>[^\s\w])
    """,
    re.VERBOSE,
)
_GROUPING = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right"})
_KEYWORDS = frozenset({"and", "or", "unless", "bool", "offset", "atan2", "inf", "nan"})
_AGGREGATORS = frozenset(
    {
        "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
        "bottomk", "topk", "quantile", "limitk", "limit_ratio",
    }
)  # fmt: skip


@dataclass
class PromQLUsage:
    """The metric names an expression selects, with the labels it matches or groups on."""

    metrics: set[str] = field(default_factory=set)
    matchers: list[tuple[str, frozenset[str]]] = field(default_factory=list)
    grouping: set[str] = field(default_factory=set)


def promql_usage(expression: str) -> PromQLUsage:
    tokens = [
        (match.lastgroup or "", match.group())
        for match in _TOKENS.finditer(_STRINGS.sub('""', expression))
    ]
    usage = PromQLUsage()
    index = 0
    while index < len(tokens):
        kind, text = tokens[index]
        following = tokens[index + 1][1] if index + 1 < len(tokens) else ""
        if kind == "ident" and text.lower() in _GROUPING:
            if following == "(":
                labels, index = _read_list(tokens, index + 2, ")")
                usage.grouping.update(labels)
                continue
        elif (kind == "ident" and following == "(") or text.lower() in _KEYWORDS:
            pass  # a function call or an operator keyword
        elif kind == "ident" and text not in _AGGREGATORS:
            usage.metrics.add(text)
            if following == "{":
                labels, index = _read_list(tokens, index + 2, "}")
                usage.matchers.append((text, frozenset(labels)))
                continue
        elif text == "{":
            _, index = _read_list(tokens, index + 1, "}")  # a selector without a name
            continue
        index += 1
    return usage


def _read_list(tokens: list[tuple[str, str]], start: int, closing: str) -> tuple[set[str], int]:
    """Label names up to ``closing``; in a matcher list, the identifier before each operator."""
    names: set[str] = set()
    index = start
    while index < len(tokens) and tokens[index][1] != closing:
        kind, text = tokens[index]
        if kind == "ident" and (
            closing == ")" or (index + 1 < len(tokens) and tokens[index + 1][1] in "=!")
        ):
            names.add(text)
        index += 1
    return names, index + 1


# --------------------------------------------------------------------------------------------
# What the code exports.


@dataclass(frozen=True)
class ExportedMetrics:
    samples: frozenset[str]  # every sample name /metrics can show (http_requests_total, …)
    labels: dict[str, frozenset[str]]  # sample name -> label names, where known
    modules: tuple[str, ...]


def metric_modules(package_dir: Path = SRC / "roost") -> list[str]:
    """Dotted names of the roost modules that construct prometheus_client metrics."""
    modules = []
    for path in sorted(package_dir.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if "prometheus_client" in text and _METRIC_CONSTRUCTOR.search(text):
            relative = path.relative_to(SRC).with_suffix("")
            modules.append(".".join(relative.parts).removesuffix(".__init__"))
    return modules


def sample_names(family_name: str, family_type: str) -> set[str]:
    """The sample names a metric family exposes (counters gain _total, histograms _bucket…)."""
    suffixes = {
        "counter": ("_total", "_created"),
        "histogram": ("_bucket", "_sum", "_count", "_created"),
        "gaugehistogram": ("_bucket", "_gsum", "_gcount"),
        "summary": ("", "_sum", "_count", "_created"),
        "info": ("_info",),
    }.get(family_type, ("",))
    return {family_name + suffix for suffix in suffixes}


@cache
def exported_metrics() -> ExportedMetrics:
    modules = tuple(metric_modules())
    imported = [importlib.import_module(name) for name in modules]
    samples: set[str] = set()
    for family in REGISTRY.collect():
        samples |= sample_names(family.name, family.type)
    labels: dict[str, frozenset[str]] = {}
    for module in imported:
        for value in vars(module).values():
            if isinstance(value, MetricWrapperBase):
                # prometheus_client keeps these only as attributes; there is no public getter.
                name, kind = value._name, value._type or "unknown"
                label_names = frozenset(value._labelnames)
                for sample in sample_names(name, kind):
                    extra = {"le"} if sample.endswith("_bucket") else set()
                    labels[sample] = label_names | extra
    return ExportedMetrics(frozenset(samples), labels, modules)


# --------------------------------------------------------------------------------------------
# The artifacts that name metrics: rule files and dashboards.


@dataclass(frozen=True)
class Expression:
    where: str
    promql: str


def rule_files() -> list[Path]:
    return sorted(RULES_DIR.glob("*.yml"))


def dashboard_files() -> list[Path]:
    return sorted(DASHBOARDS_DIR.glob("*.json"))


def rules(path: Path) -> Iterator[dict[str, Any]]:
    for group in load_yaml(path)["groups"]:
        yield from group["rules"]


def alerts() -> list[dict[str, Any]]:
    return [rule for path in rule_files() for rule in rules(path) if "alert" in rule]


def recorded_names() -> set[str]:
    return {rule["record"] for path in rule_files() for rule in rules(path) if "record" in rule}


def rule_expressions(path: Path) -> list[Expression]:
    return [
        Expression(f"{path.name}: {rule.get('alert') or rule.get('record')}", rule["expr"])
        for rule in rules(path)
    ]


_LABEL_VALUES = re.compile(r"label_values\((?P<selector>.*),\s*(?P<label>\w+)\s*\)")


def dashboard_expressions(path: Path) -> list[Expression]:
    """Every Prometheus query of a dashboard: panel targets and template variable queries."""
    dashboard = json.loads(path.read_text())
    found: list[Expression] = []

    def visit(panels: list[dict[str, Any]]) -> None:
        for panel in panels:
            for target in panel.get("targets", []):
                datasource = target.get("datasource") or panel.get("datasource") or {}
                if datasource.get("type", "prometheus") == "prometheus" and target.get("expr"):
                    found.append(Expression(f"{path.name}: {panel['title']}", target["expr"]))
            visit(panel.get("panels", []))

    visit(dashboard["panels"])
    for variable in dashboard.get("templating", {}).get("list", []):
        query = variable.get("query")
        text = query.get("query") if isinstance(query, dict) else query
        if variable.get("type") == "query" and isinstance(text, str):
            match = _LABEL_VALUES.fullmatch(text.strip())
            promql = f"sum by ({match['label']}) ({match['selector']})" if match else text
            found.append(Expression(f"{path.name}: ${variable['name']}", promql))
    return found


# --- rendered manifests ---------------------------------------------------------------------


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

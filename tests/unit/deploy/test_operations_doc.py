"""docs/operations.md's incident table and the alert rules say the same thing: every alert it
names exists with the severity its priority row implies, every severity has a priority, and
Alertmanager sends each severity where the table says."""

from __future__ import annotations

import re

from tests.support.deploy_checks import OBSERVABILITY, REPO_ROOT, alerts, load_yaml

OPERATIONS = REPO_ROOT / "docs" / "operations.md"
# Which severities each priority row may list (docs/operations.md, "Incident severity").
PRIORITY_SEVERITIES = {"P1": {"critical"}, "P2": {"critical"}, "P3": {"warning"}, "P4": {"info"}}
SEVERITY_RECEIVER = {"critical": "pager", "warning": "chat", "info": "email"}


def severity_rows() -> dict[str, str]:
    text = OPERATIONS.read_text()
    section = text[text.index("## Incident severity") :]
    section = section[: section.index("\n## ", 3)] if "\n## " in section[3:] else section
    return {
        match.group(1): match.group(0) for match in re.finditer(r"(?m)^\| (P[1-4]) \|.*$", section)
    }


def test_table_has_one_row_per_priority() -> None:
    assert set(severity_rows()) == set(PRIORITY_SEVERITIES)


def test_alerts_named_in_the_table_exist_with_the_rows_severity() -> None:
    severities = {rule["alert"]: rule["labels"]["severity"] for rule in alerts()}
    named = 0
    for priority, row in severity_rows().items():
        for alert in re.findall(r"`(Roost[A-Za-z0-9]+)`", row):
            assert alert in severities, f"{priority} names {alert}, which no rule defines"
            assert severities[alert] in PRIORITY_SEVERITIES[priority], (priority, alert)
            named += 1
    assert named >= len(PRIORITY_SEVERITIES)


def test_every_alert_severity_has_a_priority_and_its_receiver() -> None:
    used = {rule["labels"]["severity"] for rule in alerts()}
    assert used <= set().union(*PRIORITY_SEVERITIES.values())
    routes = load_yaml(OBSERVABILITY / "alertmanager" / "alertmanager.yml")["route"]["routes"]
    for severity, receiver in SEVERITY_RECEIVER.items():
        assert any(
            route["receiver"] == receiver
            and any(severity in matcher for matcher in route["matchers"])
            for route in routes
        ), severity

"""``infra`` knows no domain: domains plug into it (the dead-letter failure hooks) through the
composition root, never the other way round."""

from __future__ import annotations

import ast
from pathlib import Path

import roost

DOMAINS = ("kv", "thumbnails", "birds", "optimizer", "console")
INFRA = Path(roost.__file__).parent / "infra"


def imported_modules(source: Path) -> set[str]:
    tree = ast.parse(source.read_text(), filename=str(source))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            names.add(node.module)
    return names


def test_no_infra_module_imports_a_domain() -> None:
    offenders = {
        f"{path.relative_to(INFRA)}: {module}"
        for path in INFRA.rglob("*.py")
        for module in imported_modules(path)
        if module.split(".")[:2] in (["roost", domain] for domain in DOMAINS)
        or module in ("roost.roles", "roost.worker", "roost.cli")
        or module.startswith("roost.commands")
    }
    assert not offenders, sorted(offenders)


def test_the_dead_letter_store_is_in_infra() -> None:
    # The guard above must look at real files: the store it protects is among them.
    assert "roost.infra.queue" in imported_modules(INFRA / "dead_letters.py")

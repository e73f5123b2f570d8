"""`make sbom` (scripts/sbom.py): a valid CycloneDX document of exactly what the image ships."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO_ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def sbom(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    output = tmp_path_factory.mktemp("sbom") / "sbom.cdx.json"
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "sbom.py"), str(output)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    text = output.read_text()
    errors = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
    assert errors is None, errors
    document: dict[str, Any] = json.loads(text)
    return document


def pinned(path: Path) -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==", 1)
            pins[canonicalize_name(name)] = version.strip()
    return pins


def test_sbom_is_cyclonedx_describing_roost(sbom: dict[str, Any]) -> None:
    assert sbom["bomFormat"] == "CycloneDX"
    assert sbom["specVersion"] == "1.6"
    assert sbom["metadata"]["component"]["name"] == "roost"


def test_sbom_lists_every_runtime_dependency_at_its_constrained_version(
    sbom: dict[str, Any],
) -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    constraints = pinned(REPO_ROOT / "constraints.txt")
    components = {canonicalize_name(c["name"]): c["version"] for c in sbom["components"]}
    for line in project["dependencies"]:
        name = canonicalize_name(Requirement(line).name)
        assert components.get(name) == constraints[name], name
    # Transitive dependencies are there too (starlette -> anyio, pydantic -> pydantic-core).
    assert {"anyio", "pydantic-core"} <= components.keys()
    for component in sbom["components"]:
        assert component["purl"].startswith(f"pkg:pypi/{component['name'].lower()}@")


def test_sbom_leaves_out_what_the_image_does_not_ship(sbom: dict[str, Any]) -> None:
    components = {canonicalize_name(c["name"]) for c in sbom["components"]}
    assert not components & {"pytest", "ruff", "mypy", "locust", "moto", "bandit"}

"""CycloneDX SBOM of what the roost image ships: roost's runtime dependencies, pinned.

    python scripts/sbom.py sbom.cdx.json        (what `make sbom` and the CD pipeline run)

The image installs `pip install -c constraints.txt .`, so its packages are the closure of
roost's `[project] dependencies` (with their extras and markers) at the versions of
constraints.txt. This script walks that closure through the installed distributions' metadata
(the .venv holds exactly those versions), writes it as a pinned requirements list, and lets
`cyclonedx-py requirements` (PyPI cyclonedx-bom) turn it into a validated CycloneDX JSON
document. The dev extras (pytest, ruff, ...) are not in the image and not in the SBOM.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO_ROOT = Path(__file__).resolve().parents[1]


def runtime_closure(root: str = "roost") -> dict[str, str]:
    """Canonical name -> installed version for every package `root` needs at run time."""
    pinned: dict[str, str] = {}
    pending: list[tuple[str, frozenset[str]]] = [(root, frozenset())]
    seen: set[tuple[str, frozenset[str]]] = set()
    while pending:
        name, extras = pending.pop()
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        try:
            dist = distribution(name)
        except PackageNotFoundError as error:
            # A requirement whose marker held but that is not installed: the image would miss
            # it too, so the SBOM must not pretend otherwise.
            message = f"{name} is required by roost but not installed (make install)"
            raise SystemExit(message) from error
        if name != root:
            pinned[canonicalize_name(name)] = dist.version
        for line in dist.requires or []:
            requirement = Requirement(line)
            if requirement.marker is not None and not any(
                # evaluate() starts from this interpreter's environment; we only add the extra.
                requirement.marker.evaluate({"extra": extra})
                for extra in (extras or {""})
            ):
                continue
            pending.append((requirement.name, frozenset(requirement.extras)))
    return pinned


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path, help="where to write the CycloneDX JSON")
    args = parser.parse_args(argv)
    pinned = runtime_closure()
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as requirements:
        requirements.write(
            "".join(f"{name}=={version}\n" for name, version in sorted(pinned.items()))
        )
    command = [
        sys.executable,
        "-m",
        "cyclonedx_py",
        "requirements",
        "--pyproject",
        str(REPO_ROOT / "pyproject.toml"),
        "--output-reproducible",
        "--validate",
        "-o",
        str(args.output),
        requirements.name,
    ]
    try:
        return subprocess.run(command, check=False).returncode
    finally:
        Path(requirements.name).unlink()


if __name__ == "__main__":
    sys.exit(main())

"""One version everywhere: the installed package's (hatch-vcs, from the git tag), which
`roost version` prints and `/health` reports; the image's wheel and its label get the same one
build arg (tests/image checks the built image itself)."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import version as installed_version
from pathlib import Path

from tests.support.fixture_types import ServeAsgi
from typer.testing import CliRunner

from roost.cli import app as cli
from roost.core.app import create_app
from roost.core.settings import load_settings

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO_ROOT / "deploy" / "docker" / "Dockerfile"


async def test_cli_and_health_report_the_installed_version(serve_asgi: ServeAsgi) -> None:
    printed = CliRunner().invoke(cli, ["version"])
    assert printed.exit_code == 0, printed.output
    async with serve_asgi(create_app(role="version-test", settings=load_settings())) as client:
        health = (await client.get("/health")).json()
    assert printed.output.strip() == health["version"] == installed_version("roost")


def test_version_comes_from_the_git_tag_with_a_fallback() -> None:
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    assert "version" not in pyproject["project"]
    assert pyproject["project"]["dynamic"] == ["version"]
    assert pyproject["tool"]["hatch"]["version"]["source"] == "vcs"
    # A copy without .git (a tarball) must still build.
    assert pyproject["tool"]["hatch"]["version"]["fallback-version"]
    assert any(r.startswith("hatch-vcs") for r in pyproject["build-system"]["requires"])


def test_image_wheel_and_label_read_one_version_arg() -> None:
    dockerfile = DOCKERFILE.read_text()
    # Declared in the stage that builds the wheel and in the one that labels the image, with
    # the same default, so a plain `docker build` agrees with itself too.
    defaults = re.findall(r"^ARG VERSION=(\S+)$", dockerfile, re.MULTILINE)
    assert len(defaults) == 2, defaults
    assert len(set(defaults)) == 1, defaults
    build = re.search(
        r'^RUN SETUPTOOLS_SCM_PRETEND_VERSION="\$VERSION" \\\n\s+\S*hatchling build',
        dockerfile,
        re.MULTILINE,
    )
    assert build, "the wheel is not built with the VERSION arg"
    assert 'org.opencontainers.image.version="${VERSION}"' in dockerfile

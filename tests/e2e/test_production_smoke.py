"""`roost smoke` against every role running as staging and production run it:
``ROOST_ENVIRONMENT=production`` with a generated JWT secret and API key, real Postgres, Redis
(broker too) and a worker. Without credentials the optimizer fails with one line saying it
requires auth and every other role passes; with an API key (from ``ROOST_SMOKE_API_KEY``, as
deploy.sh passes it) or a JWT every role passes, authenticated routes included.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from tests.e2e.processes import ROOST, Role, free_port_offset, running_roles

from roost.core.auth import issue_token
from roost.core.settings import Settings
from roost.roles import api_roles

pytestmark = pytest.mark.e2e

# Every role this build serves, and the worker (for thumbnails; it serves health only).
SMOKED_ROLES = tuple(api_roles())
ROLES = (*SMOKED_ROLES, "worker")
# Roles that answer nothing useful anonymously in production.
AUTH_REQUIRED = {"optimizer"}
# Roles with admin checks that run only with credentials.
ADMIN_CHECKS = {
    "thumbnails": "thumbnails admin: dead letters readable",
    "birds": "birds admin: credentials accepted (delete of no bird -> 404)",
}
AUTH_LINE = "requires auth: pass --api-key or --token (ROOST_SMOKE_API_KEY / ROOST_SMOKE_TOKEN)"
DEPLOY_SCRIPT = Path(__file__).resolve().parents[2] / "deploy" / "kubernetes" / "deploy.sh"
KUBECTL_STAND_IN = Path(__file__).with_name("kubectl_stand_in.py")
JWT_SECRET = secrets.token_urlsafe(48)
API_KEY = secrets.token_urlsafe(32)
# Production seeds no demo model: an operator registers the models it serves.
OPERATOR_MODEL = {
    "name": "smoke-e2e-mix",
    "channels": [
        {"name": "radio", "curve": {"type": "hill", "params": {"vmax": 9e4, "k": 3e4, "slope": 1}}},
        {"name": "search", "curve": {"type": "power", "params": {"a": 120.0, "b": 0.55}}},
    ],
}


@pytest.fixture(scope="module")
def roles(
    fresh_database_url: Callable[[str], str],
    redis_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, Role]]:
    with running_roles(
        "production_smoke",
        fresh_database_url,
        redis_url,
        tmp_path_factory,
        roles=ROLES,
        ROOST_ENVIRONMENT="production",
        ROOST_JWT_SECRET=JWT_SECRET,
        ROOST_API_KEYS=f"deploy-smoke:{API_KEY}:admin",
        ROOST_KV_NAMESPACE=f"prodsmoke{uuid.uuid4().hex[:10]}:",
    ) as running:
        registered = httpx.post(
            f"{running['optimizer'].url}/api/v1/models",
            json=OPERATOR_MODEL,
            headers={"X-API-Key": API_KEY},
            timeout=10,
        )
        assert registered.status_code == 201, registered.text
        yield running


def smoke(url: str, *arguments: str, **environment: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROOST_")}
    return subprocess.run(
        [*ROOST, "smoke", url, *arguments],
        capture_output=True,
        text=True,
        timeout=120,
        env=env | environment,
    )


def failed_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("FAIL")]


@pytest.mark.parametrize("role", SMOKED_ROLES)
def test_without_credentials_only_the_roles_that_require_auth_fail(
    roles: dict[str, Role], role: str
) -> None:
    done = smoke(roles[role].url)
    if role in AUTH_REQUIRED:
        assert done.returncode == 1, done.stderr
        assert failed_lines(done.stderr) == [f"FAIL {role} {AUTH_LINE}"], done.stderr
    else:
        assert done.returncode == 0, done.stderr
        assert failed_lines(done.stderr) == []
    if role in ADMIN_CHECKS:
        assert f"skip {ADMIN_CHECKS[role]}: needs credentials" in done.stderr


@pytest.mark.parametrize("role", SMOKED_ROLES)
def test_with_the_api_key_from_the_environment_every_role_passes(
    roles: dict[str, Role], role: str
) -> None:
    done = smoke(roles[role].url, ROOST_SMOKE_API_KEY=API_KEY)
    assert done.returncode == 0, done.stderr
    assert "(role: " + role + ", with credentials)" in done.stderr
    assert " 0 failed, 0 skipped" in done.stderr
    if role in ADMIN_CHECKS:
        assert f"ok   {ADMIN_CHECKS[role]}" in done.stderr


@pytest.mark.parametrize("role", sorted(AUTH_REQUIRED | set(ADMIN_CHECKS)))
def test_with_a_token_the_authenticated_routes_pass(roles: dict[str, Role], role: str) -> None:
    settings = Settings(jwt_secret=SecretStr(JWT_SECRET))
    token = issue_token(settings, "deploy-smoke", ["admin"], ttl_seconds=300)
    done = smoke(roles[role].url, "--token", token)
    assert done.returncode == 0, done.stderr
    assert " 0 failed, 0 skipped" in done.stderr


def test_a_wrong_api_key_fails_the_authenticated_checks(roles: dict[str, Role]) -> None:
    done = smoke(roles["birds"].url, "--api-key", secrets.token_urlsafe(32))
    assert done.returncode == 1
    (line,) = failed_lines(done.stderr)
    assert line.startswith(f"FAIL {ADMIN_CHECKS['birds']}: DELETE ")
    assert "-> 401" in line


def deploy_smoke(
    roles: dict[str, Role], tmp_path: Path, **environment: str
) -> subprocess.CompletedProcess[str]:
    """``deploy.sh smoke``, the step CD runs after a rollout, with kubectl's port-forward and
    Secret read played by tests/e2e/kubectl_stand_in.py against the roles running here."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    kubectl = bin_dir / "kubectl"
    kubectl.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{KUBECTL_STAND_IN}" "$@"\n')
    kubectl.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROOST_")}
    env["PATH"] = os.pathsep.join([str(bin_dir), str(Path(sys.executable).parent), env["PATH"]])
    env["STAND_IN_SERVICES"] = json.dumps(
        {f"roost-{name}": role.port for name, role in roles.items()}
    )
    env["SMOKE_LOCAL_PORT"] = str(free_port_offset(*range(len(roles))))
    return subprocess.run(
        ["bash", str(DEPLOY_SCRIPT), "smoke"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env | environment,
    )


def test_deploy_script_smokes_every_role_with_the_key_from_the_secret(
    roles: dict[str, Role], tmp_path: Path
) -> None:
    other_key = secrets.token_urlsafe(32)
    api_keys = f"reporting:{other_key}:optimize, deploy-smoke:{API_KEY}:admin"
    done = deploy_smoke(roles, tmp_path, STAND_IN_API_KEYS=api_keys)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "API key 'deploy-smoke' from secret roost-secrets" in done.stderr
    for role in SMOKED_ROLES:
        assert f"(role: {role}, with credentials)" in done.stderr
    assert API_KEY not in output, "the key is never printed"


def test_deploy_script_without_credentials_fails_on_the_roles_that_require_auth(
    roles: dict[str, Role], tmp_path: Path
) -> None:
    done = deploy_smoke(roles, tmp_path)
    assert done.returncode == 1, done.stderr
    assert "no smoke credentials" in done.stderr
    assert failed_lines(done.stderr) == [
        f"FAIL {role} {AUTH_LINE}" for role in sorted(AUTH_REQUIRED)
    ]

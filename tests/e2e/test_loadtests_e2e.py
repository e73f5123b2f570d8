"""`roost loadtest` for the thumbnails and optimizer roles, with the seed gates (p95 < 500 ms,
p99 < 1 s, errors < 1%), against real processes: thumbnails with its worker, the optimizer."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable, Iterator

import pytest
from tests.e2e.processes import ROOST, Role, migrate, role_environment
from tests.support.parallel import free_port

# timing: its latency and throughput gates run alone, after the parallel phase of make test.
pytestmark = [pytest.mark.e2e, pytest.mark.timing]


@pytest.fixture(scope="module")
def roles(
    tmp_path_factory: pytest.TempPathFactory,
    redis_url: str,
    fresh_database_url: Callable[[str], str],
) -> Iterator[dict[str, Role]]:
    tmp = tmp_path_factory.mktemp("loadtests")
    tag = uuid.uuid4().hex[:8]
    env = role_environment(
        ROOST_DATABASE_URL=fresh_database_url("roost_loadtests"),
        ROOST_REDIS_URL=redis_url,
        ROOST_BROKER_URL=redis_url,
        ROOST_BROKER_NAMESPACE=f"load{tag}",
        ROOST_THUMBNAILS_QUEUE=f"load_thumbnails_{tag}",
        ROOST_OPTIMIZER_QUEUE=f"load_optimizer_{tag}",
        ROOST_STORAGE_URL=(tmp / "objects").as_uri(),
        ROOST_DATA_DIR=str(tmp),
        ROOST_ACCESS_LOG="false",
        # One load generator is one client: the per-client limit would be the whole test.
        ROOST_OPTIMIZER_RATE_PER_SECOND="10000",
        ROOST_OPTIMIZER_RATE_BURST="10000",
    )
    migrate(env)
    started = {
        name: Role(name, free_port(), env, tmp / f"{name}.log")
        for name in ("thumbnails", "worker", "optimizer")
    }
    try:
        for role in started.values():
            role.spawn()
        for role in started.values():
            role.wait_until_ready()
        yield started
    finally:
        for role in started.values():
            role.stop()


@pytest.mark.parametrize(("scenario", "users"), [("thumbnails", 4), ("optimizer", 3)])
def test_loadtest_scenario_passes_the_seed_gates(
    roles: dict[str, Role], scenario: str, users: int
) -> None:
    run = subprocess.run(
        [
            *ROOST,
            "loadtest",
            scenario,
            roles[scenario].url,
            "--users",
            str(users),
            "--seconds",
            "10",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    print(f"\nloadtest {scenario}: {run.stdout.strip()}")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "all gates passed" in run.stdout

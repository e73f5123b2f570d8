"""Drill: the bird image service answers after 5 s, then not at all, then comes back.

The birds API keeps answering within its image budget with placeholders (p99 < 400 ms over
500 requests), its breaker opens, and closes again once the peer recovers. The frontend keeps
serving birds through the API, and its /media proxy fails fast instead of holding requests.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from tests.e2e.processes import BIRD_ROLES, Role, birds_environment, migrate, start_roles
from tests.faultproxy import FaultProxy
from tests.support.parallel import redis_db

# timing: its latency and throughput gates run alone, after the parallel phase of make test.
pytestmark = [pytest.mark.e2e, pytest.mark.timing]

REQUESTS_PER_FAULT = 500
P99_BUDGET_SECONDS = 0.400
BREAKER_OPEN = 2.0  # circuit_breaker_state: 0 closed, 1 half-open, 2 open


@pytest.fixture(scope="module")
def chain(
    fresh_database_url: Callable[[str], str],
    redis_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[FaultProxy, dict[str, Role]]]:
    tmp: Path = tmp_path_factory.mktemp("slow-peer")
    env, ports = birds_environment(
        fresh_database_url("drill_slow_peer"), redis_url, tmp, roles=BIRD_ROLES
    )
    with FaultProxy("127.0.0.1", ports["bird-images"]) as proxy:
        # The birds API and the frontend reach the image service only through the proxy.
        env.update(
            ROOST_BIRD_IMAGES_URL=f"http://127.0.0.1:{proxy.port}",
            ROOST_BIRD_IMAGE_BREAKER_RESET_SECONDS="1",
            ROOST_FRONTEND_PROXY_TIMEOUT_SECONDS="1",
            # No cached answers: every request asks the image service (or its breaker).
            ROOST_BIRD_IMAGE_CACHE_SECONDS="1",
            ROOST_REDIS_URL=redis_url.rsplit("/", 1)[0] + f"/{redis_db(14)}",
            ROOST_BROKER_NAMESPACE=f"slow{uuid.uuid4().hex[:8]}",
        )
        migrate(env)
        roles = start_roles(env, ports, tmp)
        try:
            yield proxy, roles
        finally:
            for role in reversed(roles.values()):
                role.stop()


def breaker_state(birds: Role) -> float:
    text = httpx.get(f"{birds.url}/metrics", timeout=5).text
    found = re.search(r'^circuit_breaker_state\{upstream="bird-images"\} (\S+)$', text, re.M)
    return float(found.group(1)) if found else 0.0


def timed_randoms(url: str, count: int) -> tuple[list[float], list[str]]:
    """``count`` random birds from 2 clients: each latency and each image_status."""

    def one(client: httpx.Client) -> tuple[float, str]:
        started = time.perf_counter()
        response = client.get(f"{url}/api/v1/birds/random")
        elapsed = time.perf_counter() - started
        assert response.status_code == 200, response.text
        return elapsed, response.json()["image_status"]

    with httpx.Client(timeout=10) as client, ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: one(client), range(count)))
    return [r[0] for r in results], [r[1] for r in results]


def p99(latencies: list[float]) -> float:
    ordered = sorted(latencies)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


@pytest.mark.parametrize("fault", ["slow", "blackhole"])
def test_birds_stay_fast_with_placeholders_while_the_image_service_is_slow_or_silent(
    chain: tuple[FaultProxy, dict[str, Role]], fault: str
) -> None:
    proxy, roles = chain
    birds, frontend = roles["birds"], roles["frontend"]
    if fault == "slow":
        proxy.slow(5.0)
    else:
        proxy.blackhole()
    try:
        latencies, statuses = timed_randoms(birds.url, REQUESTS_PER_FAULT)
        opened = breaker_state(birds)
        through_frontend, _ = timed_randoms(frontend.url, 50)
        media_url = f"{frontend.url}/media/birds/kea/600.jpg"
        with ThreadPoolExecutor(5) as pool:  # enough failures to open the proxy's breaker
            tripping = list(pool.map(lambda _: httpx.get(media_url, timeout=30), range(5)))
        started = time.perf_counter()
        media = httpx.get(media_url, timeout=30)
        media_seconds = time.perf_counter() - started
    finally:
        proxy.restore()

    print(
        f"\nslow peer drill ({fault}): {REQUESTS_PER_FAULT} birds, p99 "
        f"{p99(latencies) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms, placeholders "
        f"{statuses.count('unavailable')}; frontend p99 {p99(through_frontend) * 1000:.0f} ms; "
        f"/media {media.status_code} in {media_seconds * 1000:.0f} ms; breaker {opened:g}"
    )
    assert p99(latencies) < P99_BUDGET_SECONDS
    assert statuses.count("unavailable") >= REQUESTS_PER_FAULT * 0.9
    assert opened == BREAKER_OPEN
    assert p99(through_frontend) < P99_BUDGET_SECONDS
    assert {r.status_code for r in tripping} <= {503, 504}
    assert media.status_code == 503  # the breaker answers at once
    assert "request_id" in media.json()["error"]
    assert media_seconds < 0.2

    # The peer is back: both breakers close and pictures return without a restart.
    deadline = time.monotonic() + 20
    with httpx.Client(timeout=5) as client:
        while True:
            bird = client.get(f"{birds.url}/api/v1/birds/random").json()
            picture = client.get(f"{frontend.url}{bird['image']['url']}")
            if bird["image_status"] == "ok" and picture.status_code == 200:
                break
            assert time.monotonic() < deadline, f"never recovered: {bird}, {picture.status_code}"
            time.sleep(0.2)
    assert breaker_state(birds) == 0.0

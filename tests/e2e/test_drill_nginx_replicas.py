"""Drill: Debian's nginx, with the project's deploy/nginx config adapted to loopback ports, in
front of two replicas each of kv and birds. Under steady reads and writes one replica of each
is stopped gracefully (SIGTERM), brought back, then the other is SIGKILLed.

Zero idempotent requests fail (nginx's proxy_next_upstream moves them to the live replica),
every write the client saw acknowledged is readable afterwards, and on the way nginx's own
routing, the roles' security headers, 413 over the body limit and 429 from its rate-limit
zones are checked.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from tests.e2e.processes import Role, migrate, role_environment
from tests.support.nginx import HOSTS, Nginx, running_nginx
from tests.support.parallel import free_port, redis_db

pytestmark = pytest.mark.e2e

KV_HOST, BIRDS_HOST = HOSTS["roost_kv"], HOSTS["roost_birds"]
# The api zone allows 20 r/s per client with a burst of 40: the steady load stays under it.
REQUESTS_PER_SECOND = 12.0


@pytest.fixture
def platform(
    tmp_path: Path, redis_url: str, fresh_database_url: Callable[[str], str]
) -> Iterator[tuple[Nginx, dict[str, Role]]]:
    env = role_environment(
        ROOST_REDIS_URL=redis_url.rsplit("/", 1)[0] + f"/{redis_db(15)}",
        ROOST_DATABASE_URL=fresh_database_url("drill_nginx"),
        ROOST_DATA_DIR=str(tmp_path),
        ROOST_ACCESS_LOG="false",
        ROOST_TRUSTED_PROXIES="127.0.0.1/32",
    )
    migrate(env)
    roles = {
        name: Role(name.split("-")[0], free_port(), env, tmp_path / f"{name}.log")
        for name in ("kv-a", "kv-b", "birds-a", "birds-b")
    }
    upstreams = {
        "roost_kv": [roles["kv-a"].port, roles["kv-b"].port],
        "roost_birds": [roles["birds-a"].port, roles["birds-b"].port],
    }
    for role in roles.values():
        role.spawn()
    try:
        with running_nginx(tmp_path / "nginx", upstreams) as nginx:
            for role in roles.values():
                role.wait_until_ready()
            yield nginx, roles
    finally:
        for role in roles.values():
            role.stop()


def requests_served(role: Role) -> float:
    """Requests ``role`` answered, not counting probes and scrapes."""
    probes = ("/metrics", "/readyz", "/healthz", "/health")
    text = httpx.get(f"{role.url}/metrics", timeout=5).text
    return sum(
        float(found.group(2))
        for found in re.finditer(
            r'^http_requests_total\{[^}]*path="([^"]*)"[^}]*\} (\S+)$', text, re.M
        )
        if found.group(1) not in probes
    )


def wait_until_served(role: Role, timeout: float = 30) -> None:
    """Until requests other than /metrics reach ``role`` through nginx."""
    before = requests_served(role)
    deadline = time.monotonic() + timeout
    while requests_served(role) <= before:
        assert time.monotonic() < deadline, f"nginx never sent {role.name} traffic again"
        time.sleep(0.1)


@dataclass
class Load:
    gets: Counter[int] = field(default_factory=Counter)
    posts: Counter[int] = field(default_factory=Counter)
    failed_gets: list[str] = field(default_factory=list)
    # A response whose header nginx had already relayed when its replica was SIGKILLed: nginx
    # cannot retry it any more (HTTP has no way to take a started answer back); clients retry.
    cut_mid_response: list[str] = field(default_factory=list)
    acknowledged: dict[str, str] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)


class Pacer:
    """At most ``rate`` calls of :meth:`next` a second, however fast the answers come."""

    def __init__(self, rate: float) -> None:
        self.interval = 1 / rate
        self.due = time.monotonic()

    def next(self) -> None:
        self.due = max(self.due + self.interval, time.monotonic())
        time.sleep(max(0.0, self.due - time.monotonic()))  # pacing the load, not a wait


def steady_load(nginx: Nginx, load: Load, prefix: str) -> None:
    pacer = Pacer(REQUESTS_PER_SECOND)
    with nginx.client(KV_HOST) as kv, nginx.client(BIRDS_HOST) as birds:
        n = 0
        while not load.stop.is_set():
            n += 1
            key = f"{prefix}-{n}"
            pacer.next()
            try:
                written = kv.post(f"/write/{key}", params={"value": key})
                load.posts[written.status_code] += 1
                if written.status_code == 200:
                    load.acknowledged[key] = key
            except httpx.TransportError as error:
                load.posts[0] += 1  # a write may fail when its replica dies: not retried
                del error
            for client, path in ((kv, f"/read/{key}"), (birds, "/api/v1/birds/random")):
                pacer.next()
                try:
                    response = client.get(path)
                    status = response.status_code
                except httpx.RemoteProtocolError as error:
                    status, response = 0, None
                    load.cut_mid_response.append(f"{path}: {error!r}")
                except httpx.TransportError as error:
                    status, response = 0, None
                    load.failed_gets.append(f"{path}: {error!r}")
                load.gets[status] += 1
                unwritten = path.startswith("/read/") and key not in load.acknowledged
                if status != 200 and not (unwritten and status == 404) and response is not None:
                    load.failed_gets.append(f"{path}: {status} {response.text[:120]}")


def test_replicas_lost_behind_nginx_fail_no_idempotent_request(
    platform: tuple[Nginx, dict[str, Role]],
) -> None:
    nginx, roles = platform
    with nginx.client(KV_HOST) as kv:
        # Routing and what nginx adds or takes away, before the load.
        root = kv.get("/")
        assert root.status_code == 200
        assert root.headers["x-content-type-options"] == "nosniff"  # the role's own headers
        assert root.headers.get("server") == "nginx"  # server_tokens off: no version
        assert kv.get("/metrics").status_code == 404
        too_big = kv.post("/write/big", content=b"x" * (3 * 2**20))
        assert too_big.status_code == 413
    with httpx.Client(verify=False) as plain:  # noqa: S501 (self-signed, loopback)
        redirected = plain.get(f"http://127.0.0.1:{nginx.http}/x", headers={"Host": KV_HOST})
        assert redirected.status_code == 308
        with pytest.raises(httpx.RemoteProtocolError):  # 444: unknown hosts get nothing
            plain.get(f"https://127.0.0.1:{nginx.https}/", headers={"Host": "evil.example"})

    load = Load()
    worker = threading.Thread(target=steady_load, args=(nginx, load, uuid.uuid4().hex[:8]))
    worker.start()

    def wait_for_gets(more: int) -> None:
        target = sum(load.gets.values()) + more
        deadline = time.monotonic() + 60
        while sum(load.gets.values()) < target:
            assert time.monotonic() < deadline, load
            assert worker.is_alive(), load
            time.sleep(0.05)

    try:
        wait_for_gets(10)
        for name in ("kv-a", "birds-a"):
            roles[name].stop()  # SIGTERM: graceful drain
        wait_for_gets(30)
        for name in ("kv-a", "birds-a"):
            roles[name].start()
        # A rolling restart moves on once nginx sends the returned replica traffic again (it
        # skips a failed one for fail_timeout), not merely once the replica says it is ready.
        for name in ("kv-a", "birds-a"):
            wait_until_served(roles[name])
        for name in ("kv-b", "birds-b"):
            roles[name].kill()  # SIGKILL: connections die mid-request
        wait_for_gets(30)
        for name in ("kv-b", "birds-b"):
            roles[name].start()
        wait_for_gets(10)
    finally:
        load.stop.set()
        worker.join(30)

    # Read back from a replica directly: through nginx, this many reads would meet its 429s.
    with httpx.Client(base_url=roles["kv-a"].url, timeout=10) as direct:
        lost = [
            key
            for key, value in load.acknowledged.items()
            if direct.get(f"/read/{key}").json().get("value") != value
        ]
    with nginx.client(KV_HOST) as kv:
        # A burst well over 40 from one client: the api zone answers 429 for the rest.
        burst = Counter(kv.get("/").status_code for _ in range(80))
    print(
        f"\nnginx replicas drill: GETs {sum(load.gets.values())} {dict(load.gets)}, failed "
        f"{len(load.failed_gets)}, cut mid-response by a SIGKILL {len(load.cut_mid_response)}; "
        f"writes {sum(load.posts.values())} {dict(load.posts)}, "
        f"acknowledged {len(load.acknowledged)}, lost {len(lost)}; burst of 80 {dict(burst)}"
    )
    assert load.failed_gets == []
    # At most the one answer each SIGKILLed replica was in the middle of sending.
    assert len(load.cut_mid_response) <= 2, load.cut_mid_response
    assert lost == []
    assert burst[429] > 0
    assert set(burst) <= {200, 429}

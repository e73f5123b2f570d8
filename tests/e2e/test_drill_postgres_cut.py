"""Drill: Postgres cut for 10 s under load on thumbnails (+ worker), birds and the optimizer.

While it is gone, database-backed routes answer 503 envelopes within their timeout (never hang,
never 500) and every role's /readyz says 503. When it is back, everything recovers without a
restart, every upload that was answered 202 reaches a final state, the worker resumes, and no
image row exists that the client was not given (nothing duplicated, nothing accepted and lost).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from io import BytesIO
from pathlib import Path

import httpx
import pytest
from PIL import Image
from tests.conftest import REDIS_HOST, REDIS_PORT, require_service
from tests.e2e.processes import Role, migrate, role_environment, stored_image_ids
from tests.faultproxy import FaultProxy
from tests.support.parallel import free_port, redis_db

pytestmark = pytest.mark.e2e

CUT_SECONDS = 10.0
# connect timeout 2 s, statement timeout 5 s: a reply in an outage may take that, never more.
OUTAGE_REPLY_BUDGET_SECONDS = 7.0
FINAL = {"done", "rejected", "failed"}


def png(seed: int) -> bytes:
    buffer = BytesIO()
    Image.new("RGB", (64 + seed % 32, 48), (seed % 255, 80, 160)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def roles(
    tmp_path: Path, fresh_database_url: Callable[[str], str]
) -> Iterator[tuple[FaultProxy, dict[str, Role], str]]:
    require_service("Redis", REDIS_HOST, REDIS_PORT)
    database_url = fresh_database_url("drill_pg")
    target = database_url.rsplit("@", 1)[1].split("/", 1)[0]
    host, port = target.split(":")
    with FaultProxy(host, int(port)) as proxy:
        proxied = database_url.replace(f"@{target}/", f"@127.0.0.1:{proxy.port}/")
        env = role_environment(
            ROOST_DATABASE_URL=proxied,
            ROOST_REDIS_URL=f"redis://{REDIS_HOST}:{REDIS_PORT}/{redis_db(13)}",
            ROOST_BROKER_URL=f"redis://{REDIS_HOST}:{REDIS_PORT}/{redis_db(13)}",
            ROOST_STORAGE_URL=(tmp_path / "objects").as_uri(),
            ROOST_DATA_DIR=str(tmp_path),
            ROOST_ACCESS_LOG="false",
        )
        migrate(env)
        started = {
            name: Role(name, free_port(), env, tmp_path / f"{name}.log")
            for name in ("thumbnails", "worker", "birds", "optimizer")
        }
        try:
            for role in started.values():
                role.spawn()
            for role in started.values():
                role.wait_until_ready()
            yield proxy, started, database_url
        finally:
            for role in started.values():
                role.stop()


def test_postgres_cut_for_ten_seconds_under_load(
    roles: tuple[FaultProxy, dict[str, Role], str],
) -> None:
    proxy, running, database_url = roles
    thumbnails, worker, birds, optimizer = (
        running[n] for n in ("thumbnails", "worker", "birds", "optimizer")
    )
    pids = {name: role.process.pid for name, role in running.items() if role.process}
    statuses: Counter[tuple[str, str, int]] = Counter()
    accepted: dict[str, str] = {}  # image id -> status URL
    slowest: dict[str, float] = {}
    bad: list[str] = []
    phase = ["before"]
    stop = threading.Event()
    lock = threading.Lock()

    def record(now: str, what: str, response: httpx.Response, seconds: float) -> None:
        with lock:
            statuses[(now, what, response.status_code)] += 1
            slowest[now] = max(slowest.get(now, 0.0), seconds)
            if response.status_code >= 500 and response.status_code != 503:
                bad.append(f"{what} {response.status_code}: {response.text[:200]}")
            elif response.status_code >= 400 and "request_id" not in response.json().get(
                "error", {}
            ):
                bad.append(f"{what} {response.status_code} without the envelope")

    def load(worker_number: int) -> None:
        with httpx.Client(timeout=30) as client:
            n = 0
            while not stop.is_set():
                n += 1
                now = phase[0]
                calls: list[tuple[str, Callable[[], httpx.Response]]] = [
                    ("upload", partial(upload, client, worker_number * 1000 + n)),
                    ("birds", lambda: client.get(f"{birds.url}/api/v1/birds")),
                    ("models", lambda: client.get(f"{optimizer.url}/api/v1/models")),
                ]
                for what, call in calls:
                    started = time.monotonic()
                    response = call()
                    record(now, what, response, time.monotonic() - started)
                    if what == "upload" and response.status_code == 202:
                        body = response.json()
                        with lock:
                            accepted[body["id"]] = body["status_url"]

    def upload(client: httpx.Client, seed: int) -> httpx.Response:
        files = {"file": ("p.png", png(seed), "image/png")}
        return client.post(f"{thumbnails.url}/api/v1/images", files=files)

    def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
        deadline = time.monotonic() + seconds
        while not condition():
            assert time.monotonic() < deadline, f"no {what} within {seconds}s: {statuses}"
            time.sleep(0.05)

    def count(now: str, what: str, status: int) -> int:
        with lock:
            return statuses[(now, what, status)]

    def at_least(times: int, now: str, what: str, status: int) -> Callable[[], bool]:
        return lambda: count(now, what, status) >= times

    readiness: dict[str, int] = {}
    with ThreadPoolExecutor(3) as pool:
        futures = [pool.submit(load, n) for n in range(3)]
        wait_for(lambda: count("before", "upload", 202) >= 10, 60, "uploads before the cut")
        # A burst right before the cut, so the worker holds queued jobs when the database goes.
        with httpx.Client(timeout=30) as client:
            for seed in range(10):
                response = upload(client, 100_000 + seed)
                record("before", "upload", response, 0.0)
                assert response.status_code == 202, response.text
                accepted[response.json()["id"]] = response.json()["status_url"]
        proxy.cut()
        cut_at = time.monotonic()
        phase[0] = "outage"
        for what in ("upload", "birds", "models"):
            wait_for(at_least(2, "outage", what, 503), CUT_SECONDS, f"{what} 503")
        for name, role in running.items():
            readiness[name] = httpx.get(f"{role.url}/readyz", timeout=10).status_code
        wait_for(lambda: time.monotonic() - cut_at >= CUT_SECONDS, CUT_SECONDS + 1, "the cut")
        proxy.restore()
        phase[0] = "after"
        for what in ("upload", "birds", "models"):
            wait_for(
                at_least(3, "after", what, 200 if what != "upload" else 202),
                60,
                f"{what} recovery",
            )
        stop.set()
        for future in futures:
            future.result()

    assert readiness == dict.fromkeys(running, 503), readiness
    assert bad == [], bad[:5]
    assert slowest["outage"] < OUTAGE_REPLY_BUDGET_SECONDS, slowest
    for name, role in running.items():
        assert role.process is not None
        assert role.process.poll() is None, f"{name} died:\n{role.log_tail()}"
        assert role.process.pid == pids[name], f"{name} was restarted"

    # Every accepted upload reaches a final state (the worker waited and resumed).
    final: dict[str, str] = {}
    deadline = time.monotonic() + 90
    with httpx.Client(timeout=10) as client:
        while len(final) < len(accepted):
            assert time.monotonic() < deadline, (
                f"{len(accepted) - len(final)} accepted uploads never finished:\n"
                f"{worker.log_tail()}"
            )
            for image_id, url in accepted.items():
                if image_id not in final:
                    state = client.get(f"{thumbnails.url}{url}" if url.startswith("/") else url)
                    if state.status_code == 200 and state.json()["status"] in FINAL:
                        final[image_id] = state.json()["status"]
            time.sleep(0.2)

    # The database holds exactly the uploads the client was told were accepted.
    stored = stored_image_ids(database_url)
    assert sorted(stored) == sorted(accepted), "rows the client was not told about, or lost"
    outcomes = Counter(final.values())
    print(
        f"\npostgres cut drill ({CUT_SECONDS:g} s): requests {sum(statuses.values())}; "
        f"uploads accepted {len(accepted)} (before {count('before', 'upload', 202)}, "
        f"after {count('after', 'upload', 202)}), refused with 503 during the cut "
        f"{count('outage', 'upload', 503)}; final states {dict(outcomes)}; lost 0; "
        f"slowest reply in the outage {slowest['outage'] * 1000:.0f} ms"
    )
    assert outcomes == Counter({"done": len(accepted)}), outcomes

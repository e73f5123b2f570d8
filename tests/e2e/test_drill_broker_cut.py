"""Drill: the broker (Redis, then RabbitMQ) is cut while 50 images are uploaded.

Each upload either returns 202 and later reaches a final state, or returns 503 and is not
stored as accepted — never accepted and then lost. Both are counted.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable
from io import BytesIO
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from PIL import Image
from tests.e2e.processes import Role, migrate, role_environment, stored_image_ids
from tests.faultproxy import FaultProxy
from tests.support.parallel import free_port

pytestmark = pytest.mark.e2e

UPLOADS = 50
CUT_AFTER = 15  # accepted uploads before the broker goes
REFUSED_DURING_CUT = 10  # 503s seen before it comes back
FINAL = {"done", "rejected", "failed"}


def png(seed: int) -> bytes:
    buffer = BytesIO()
    Image.new("RGB", (40 + seed % 50, 30), (seed % 255, 120, 60)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.parametrize("broker", ["redis", "rabbitmq"])
def test_broker_cut_while_uploading_loses_nothing(
    broker: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    fresh_database_url: Callable[[str], str],
) -> None:
    broker_url: str = request.getfixturevalue(f"{broker}_url")
    target = urlsplit(broker_url)
    assert target.hostname is not None
    assert target.port is not None
    database_url = fresh_database_url("drill_broker")
    tag = uuid.uuid4().hex[:8]
    with FaultProxy(target.hostname, target.port) as proxy:
        proxied = broker_url.replace(f"{target.hostname}:{target.port}", f"127.0.0.1:{proxy.port}")
        env = role_environment(
            ROOST_DATABASE_URL=database_url,
            ROOST_BROKER_URL=proxied,
            # Queues of their own: other tests share this Redis and RabbitMQ.
            ROOST_BROKER_NAMESPACE=f"drill-{tag}",
            ROOST_THUMBNAILS_QUEUE=f"drill_thumbnails_{tag}",
            ROOST_OPTIMIZER_QUEUE=f"drill_optimizer_{tag}",
            ROOST_STORAGE_URL=(tmp_path / "objects").as_uri(),
            ROOST_DATA_DIR=str(tmp_path),
            ROOST_ACCESS_LOG="false",
        )
        migrate(env)
        api = Role("thumbnails", free_port(), env, tmp_path / "thumbnails.log")
        worker = Role("worker", free_port(), env, tmp_path / "worker.log")
        api.spawn()
        worker.spawn()
        try:
            api.wait_until_ready()
            worker.wait_until_ready()
            outcomes: Counter[int] = Counter()
            accepted: dict[str, str] = {}
            bad: list[str] = []
            cut = restored = False
            with httpx.Client(base_url=api.url, timeout=30) as client:
                for seed in range(UPLOADS):
                    if not cut and len(accepted) >= CUT_AFTER:
                        proxy.cut()
                        cut = True
                    if cut and not restored and outcomes[503] >= REFUSED_DURING_CUT:
                        proxy.restore()
                        restored = True
                    files = {"file": (f"{seed}.png", png(seed), "image/png")}
                    response = client.post("/api/v1/images", files=files)
                    outcomes[response.status_code] += 1
                    if response.status_code == 202:
                        accepted[response.json()["id"]] = response.json()["status_url"]
                    elif response.status_code != 503 or "request_id" not in response.json().get(
                        "error", {}
                    ):
                        bad.append(f"{response.status_code}: {response.text[:200]}")

                assert bad == [], bad
                assert cut
                assert restored, f"never refused {REFUSED_DURING_CUT} uploads: {outcomes}"
                final: dict[str, str] = {}
                deadline = time.monotonic() + 120
                while len(final) < len(accepted):
                    assert time.monotonic() < deadline, (
                        f"{len(accepted) - len(final)} accepted uploads never finished "
                        f"({outcomes}):\n{worker.log_tail()}"
                    )
                    for image_id, url in accepted.items():
                        if image_id not in final:
                            body = client.get(url).json()
                            if body.get("status") in FINAL:
                                final[image_id] = body["status"]
                    time.sleep(0.2)

            stored = stored_image_ids(database_url)
            print(
                f"\nbroker cut drill ({broker}): uploads {UPLOADS}, accepted {len(accepted)}, "
                f"refused with 503 {outcomes[503]}, final states {dict(Counter(final.values()))}, "
                f"stored but not accepted {len(set(stored) - set(accepted))}, "
                f"accepted and lost {len(set(accepted) - set(stored))}"
            )
            assert outcomes[202] + outcomes[503] == UPLOADS, outcomes
            assert sorted(stored) == sorted(accepted), "a refused upload was stored, or one lost"
            assert Counter(final.values()) == Counter({"done": len(accepted)})
            assert api.process is not None
            assert api.process.poll() is None, api.log_tail()
            assert worker.process is not None
            assert worker.process.poll() is None, worker.log_tail()
        finally:
            worker.stop()
            api.stop()

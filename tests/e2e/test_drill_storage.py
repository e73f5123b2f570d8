"""Drill: the file object store fills up, then turns read-only, then gets room again.

Uploads get a clear 503 envelope while storage cannot take them, nothing half-written remains
visible (no stray temporary file, no record without its complete object), what was stored stays
readable, and uploads work again once there is room — without a restart.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from io import BytesIO
from pathlib import Path

import httpx
import pytest
from PIL import Image
from tests.e2e.processes import Role, migrate, role_environment, stored_image_ids
from tests.prerequisites import missing
from tests.support.parallel import free_port

pytestmark = pytest.mark.e2e

STORE_BYTES = 2 * 2**20


def noise_png() -> bytes:
    """About 190 KB that no compression shrinks."""
    buffer = BytesIO()
    Image.frombytes("RGB", (256, 256), os.urandom(256 * 256 * 3)).save(buffer, "PNG")
    return buffer.getvalue()


def mount(*args: str) -> None:
    done = subprocess.run(["mount", *args], capture_output=True, text=True)
    if done.returncode != 0:
        missing(f"cannot mount a tmpfs for the storage drill: {done.stderr.strip()}")


@pytest.fixture
def small_store(tmp_path: Path) -> Iterator[Path]:
    store = tmp_path / "objects"
    store.mkdir()
    mount("-t", "tmpfs", "-o", f"size={STORE_BYTES}", "tmpfs", str(store))
    try:
        yield store
    finally:
        subprocess.run(["umount", "-l", str(store)], check=False)


def test_full_then_read_only_store_refuses_uploads_cleanly_and_recovers(
    small_store: Path,
    tmp_path: Path,
    redis_url: str,
    fresh_database_url: Callable[[str], str],
) -> None:
    database_url = fresh_database_url("drill_storage")
    env = role_environment(
        ROOST_DATABASE_URL=database_url,
        ROOST_BROKER_URL=redis_url,
        ROOST_BROKER_NAMESPACE=f"disk{uuid.uuid4().hex[:8]}",
        ROOST_STORAGE_URL=small_store.as_uri(),
        ROOST_DATA_DIR=str(tmp_path),
        ROOST_ACCESS_LOG="false",
    )
    migrate(env)
    api = Role("thumbnails", free_port(), env, tmp_path / "thumbnails.log")
    api.start()
    try:
        outcomes: Counter[int] = Counter()
        accepted: dict[str, int] = {}  # id -> bytes uploaded
        with httpx.Client(base_url=api.url, timeout=30) as client:

            def upload(seed: int) -> httpx.Response:
                data = noise_png()
                response = client.post(
                    "/api/v1/images", files={"file": (f"{seed}.png", data, "image/png")}
                )
                outcomes[response.status_code] += 1
                if response.status_code == 202:
                    accepted[response.json()["id"]] = len(data)
                else:
                    assert response.status_code == 503, response.text
                    assert response.json()["error"]["code"] == "dependency_unavailable"
                    assert "request_id" in response.json()["error"]
                return response

            # Fill it: 2 MiB takes about ten; the next ones are refused.
            for seed in range(20):
                if upload(seed).status_code == 503:
                    break
            assert outcomes[202] >= 3
            assert outcomes[503] == 1, f"the store never filled up: {outcomes}"

            # Read-only: refused too, and readiness says why; what was stored is still read.
            mount("-o", "remount,ro", str(small_store))
            refused_read_only = upload(1000)
            ready_read_only = client.get("/readyz")
            status_of_first = client.get(f"/api/v1/images/{next(iter(accepted))}")

            # Room again: uploads succeed without a restart.
            mount("-o", f"remount,rw,size={STORE_BYTES * 4}", str(small_store))
            recovered = upload(2000)
            ready_again = client.get("/readyz")

        assert refused_read_only.status_code == 503
        assert ready_read_only.status_code == 503
        assert status_of_first.status_code == 200
        assert recovered.status_code == 202, recovered.text
        assert ready_again.status_code == 200

        # Nothing half-written: no temporary file left, every record has its whole object.
        leftovers = [p.name for p in small_store.rglob("*") if p.name.startswith(".tmp-")]
        assert leftovers == []
        stored = stored_image_ids(database_url)
        assert sorted(stored) == sorted(accepted)
        objects = {p.name: p.stat().st_size for p in small_store.rglob("*") if p.is_file()}
        for image_id, size in accepted.items():
            assert objects.get(image_id) == size, f"{image_id}: {objects.get(image_id)} != {size}"
        assert len(objects) == len(accepted), "an object with no record"
        print(
            f"\nstorage drill: uploads {sum(outcomes.values())}, accepted {len(accepted)}, "
            f"refused 503 {outcomes[503]} (full, then read-only), stray temporary files 0, "
            f"records without their whole object 0"
        )
        assert api.process is not None
        assert api.process.poll() is None
    finally:
        api.stop()

"""Upload → queue → worker → storage, with real Postgres, Redis and RabbitMQ."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from io import BytesIO
from pathlib import Path
from typing import Any

import httpx
import pytest
from dramatiq.brokers.redis import RedisBroker
from dramatiq.common import dq_name
from PIL import Image
from prometheus_client import REGISTRY
from tests.conftest import forget_broker_state
from tests.integration.thumbnails.thumbnail_images import jpeg, png, svg, truncated_jpeg
from tests.support.roost_cli import run_cli

from roost.core.settings import Settings
from roost.infra import queue
from roost.infra.storage import open_store
from roost.thumbnails.jobs import PROCESS_IMAGE_ACTOR

pytestmark = pytest.mark.integration

Platform = Callable[..., Any]  # thumbnails/conftest.py: platform(settings) -> (api, worker)
MakeSettings = Callable[..., Settings]


@pytest.fixture(params=["redis", "rabbitmq"])
def broker_url(request: pytest.FixtureRequest, make_settings: MakeSettings) -> Iterator[str]:
    url: str = request.getfixturevalue(f"{request.param}_url")
    yield url
    settings = make_settings(broker_url=url)
    forget_broker_state(settings, [settings.thumbnails_queue])


def unacknowledged(broker: RedisBroker, queue_name: str) -> int:
    """Jobs of ``queue_name`` (and its retry queue) the broker still holds: waiting, being
    processed, or due for a retry. dramatiq's Redis broker keeps each message in the queue's
    ``.msgs`` hash until it is acknowledged."""
    prefix = f"{broker.namespace}:"
    names = (queue_name, dq_name(queue_name))
    return sum(int(broker.client.hlen(f"{prefix}{name}.msgs")) for name in names)


def sample(name: str, labels: dict[str, str] | None = None) -> float:
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


async def wait_for(
    api: httpx.AsyncClient, image_id: str, statuses: set[str], timeout: float = 20
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = (await api.get(f"/api/v1/images/{image_id}")).json()
        if body.get("status") in statuses:
            return body
        await asyncio.sleep(0.05)
    raise AssertionError(f"image {image_id} still {body.get('status')} after {timeout}s: {body}")


async def upload(api: httpx.AsyncClient, data: bytes, **params: str) -> httpx.Response:
    return await api.post(
        "/api/v1/images", files={"file": ("photo.jpg", data, "image/jpeg")}, params=params
    )


async def test_upload_is_processed_into_every_default_size(
    platform: Platform, make_settings: MakeSettings, broker_url: str
) -> None:
    async with platform(make_settings(broker_url=broker_url)) as (api, _):
        accepted = await upload(api, jpeg(2000, 1000))
        assert accepted.status_code == 202, accepted.text
        image_id = accepted.json()["id"]
        assert accepted.headers["location"] == f"/api/v1/images/{image_id}"
        done = await wait_for(api, image_id, {"done"})
        thumbnail = await api.get(done["thumbnails"]["300"]["url"])
    assert done["sizes"] == ["150", "300", "600"]
    assert {size: (t["width"], t["height"]) for size, t in done["thumbnails"].items()} == {
        "150": (150, 75),
        "300": (300, 150),
        "600": (600, 300),
    }
    assert (done["width"], done["height"], done["source_format"]) == (2000, 1000, "JPEG")
    assert done["attempts"] == 1
    assert done["timings"]["upload_to_ready_ms"] > 0
    assert thumbnail.status_code == 200
    assert thumbnail.headers["content-type"] == "image/jpeg"
    assert Image.open(BytesIO(thumbnail.content)).size == (300, 150)


async def test_requested_sizes_include_square_crops(
    platform: Platform, make_settings: MakeSettings
) -> None:
    async with platform(make_settings()) as (api, _):
        accepted = await upload(api, png(640, 480), sizes="150x150,600")
        done = await wait_for(api, accepted.json()["id"], {"done"})
        square = await api.get(done["thumbnails"]["150x150"]["url"])
    assert done["sizes"] == ["150x150", "600"]
    assert Image.open(BytesIO(square.content)).size == (150, 150)
    # No upscaling: a 640 px source stays 640 px wide for the 600 preset's longest side.
    assert (done["thumbnails"]["600"]["width"], done["thumbnails"]["600"]["height"]) == (600, 450)


async def test_bad_images_are_rejected_once_with_a_reason(
    platform: Platform, make_settings: MakeSettings, broker_url: str, admin_headers: dict[str, str]
) -> None:
    corrupt_before = sample("images_rejected_total", {"reason": "corrupt"})
    unsupported_before = sample("images_rejected_total", {"reason": "unsupported_format"})
    async with platform(make_settings(broker_url=broker_url)) as (api, _):
        truncated = (await upload(api, truncated_jpeg())).json()["id"]
        vector = (await upload(api, svg())).json()["id"]
        first = await wait_for(api, truncated, {"rejected", "done", "failed"})
        second = await wait_for(api, vector, {"rejected", "done", "failed"})
        letters = (await api.get("/api/v1/dead-letters", headers=admin_headers)).json()
    assert (first["status"], first["rejection_reason"], first["attempts"]) == (
        "rejected",
        "corrupt",
        1,
    )
    assert (second["status"], second["rejection_reason"]) == ("rejected", "unsupported_format")
    assert second["error"]
    assert sample("images_rejected_total", {"reason": "corrupt"}) == corrupt_before + 1
    assert sample("images_rejected_total", {"reason": "unsupported_format"}) == (
        unsupported_before + 1
    )
    assert {item["image_id"] for item in letters["items"]}.isdisjoint({truncated, vector})


async def test_duplicate_deliveries_store_and_count_once(
    platform: Platform, make_settings: MakeSettings, tmp_path: Path
) -> None:
    settings = make_settings()
    async with platform(settings, worker=False) as (api, _):
        image_id = (await upload(api, jpeg(900, 600, seed=3))).json()["id"]
    broker = queue.create_broker(settings)
    for _ in range(2):  # what a redelivery after a crash, or a second redrive, would make
        queue.send(broker, settings.thumbnails_queue, PROCESS_IMAGE_ACTOR, [image_id])
    before = {size: sample("images_processed_total", {"size": size}) for size in ("150", "600")}
    bytes_in_before = sample("image_bytes_in_total")

    async with platform(settings) as (api, _):
        done = await wait_for(api, image_id, {"done"})
        queue.send(broker, settings.thumbnails_queue, PROCESS_IMAGE_ACTOR, [image_id])
        assert isinstance(broker, RedisBroker)
        deadline = time.monotonic() + 10
        while unacknowledged(broker, settings.thumbnails_queue):  # every delivery finished
            assert time.monotonic() < deadline, "deliveries still unacknowledged"
            await asyncio.sleep(0.05)
        again = (await api.get(f"/api/v1/images/{image_id}")).json()
    broker.close()

    outputs = open_store((tmp_path / "objects" / "thumbnails").as_uri())
    stored = [o.key for o in outputs.list(f"uploads/{image_id}/")]
    assert len(stored) == 3  # one object per size, whatever the number of deliveries
    assert again["thumbnails"] == done["thumbnails"]
    assert again["finished_at"] == done["finished_at"]
    for size in ("150", "600"):
        assert sample("images_processed_total", {"size": size}) == before[size] + 1
    assert sample("image_bytes_in_total") == bytes_in_before + done["source_bytes"]


async def test_transient_failures_retry_then_dead_letter_and_redrive_completes(
    platform: Platform,
    make_settings: MakeSettings,
    broker_url: str,
    tmp_path: Path,
    admin_headers: dict[str, str],
) -> None:
    blocker = tmp_path / "thumbnail-store-down"
    blocker.write_bytes(b"a file where the thumbnails folder should be")
    settings = make_settings(
        broker_url=broker_url, thumbnails_output_url=(blocker / "thumbnails").as_uri()
    )
    async with platform(settings) as (api, worker):
        first = (await upload(api, jpeg(seed=5))).json()["id"]
        second = (await upload(api, jpeg(seed=6))).json()["id"]
        failed = await wait_for(api, first, {"failed", "done"})
        await wait_for(api, second, {"failed", "done"})
        letters = (await api.get("/api/v1/dead-letters", headers=admin_headers)).json()["items"]
        worker_metrics = (await worker.get("/metrics")).text
        not_ready = await worker.get("/readyz")

        blocker.unlink()  # storage is back
        mine = {item["image_id"]: item for item in letters}
        redriven = await api.post(
            f"/api/v1/dead-letters/{mine[first]['id']}/redrive", headers=admin_headers
        )
        twice = await api.post(
            f"/api/v1/dead-letters/{mine[first]['id']}/redrive", headers=admin_headers
        )
        cli = await asyncio.to_thread(run_cli, settings, "dlq", "redrive")
        first_done = await wait_for(api, first, {"done"})
        second_done = await wait_for(api, second, {"done"})
        pending = (await api.get("/api/v1/dead-letters", headers=admin_headers)).json()["items"]

    assert (failed["status"], failed["attempts"]) == ("failed", 4)  # 1 run + 3 retries
    assert "StorageUnavailable" in failed["error"]
    assert mine[first]["attempts"] == 4
    assert "StorageUnavailable" in mine[first]["error"]
    assert "dead_letter_depth" in worker_metrics
    assert not_ready.status_code == 503
    assert redriven.status_code == 202
    assert redriven.json()["image_id"] == first
    assert twice.status_code == 409
    assert twice.json()["error"]["code"] == "already_redriven"
    assert cli.returncode == 0, cli.stderr
    assert "1 redriven" in cli.stderr
    assert first_done["attempts"] == 5
    assert second_done["status"] == "done"
    assert {item["image_id"] for item in pending}.isdisjoint({first, second})


async def test_ingest_enqueues_unknown_source_objects_once(
    platform: Platform, make_settings: MakeSettings, tmp_path: Path
) -> None:
    settings = make_settings()
    sources = open_store((tmp_path / "objects" / "sources").as_uri())
    sources.put("incoming/2025/kea.jpg", jpeg(seed=11))
    sources.put("incoming/2025/logo.svg", svg())
    sources.put("elsewhere/skip.jpg", jpeg(seed=12))
    async with platform(settings) as (api, worker):
        first = await asyncio.to_thread(run_cli, settings, "thumbnails", "ingest", "incoming/")
        second = await asyncio.to_thread(run_cli, settings, "thumbnails", "ingest", "incoming/")
        bad = await asyncio.to_thread(run_cli, settings, "thumbnails", "ingest", "../etc")
        listed = (await api.get("/api/v1/images", params={"limit": 200})).json()["items"]
        mine = {i["source_key"]: i for i in listed if i["source_key"].startswith("incoming/")}
        photo = await wait_for(api, mine["incoming/2025/kea.jpg"]["id"], {"done"})
        logo = await wait_for(api, mine["incoming/2025/logo.svg"]["id"], {"rejected"})
        listing = (await worker.get("/metrics")).text
    assert first.returncode == 0, first.stderr
    assert "2 enqueued" in first.stderr
    assert "0 enqueued, 2 already known" in second.stderr
    assert bad.returncode != 0
    assert "may not start with" in bad.stderr
    assert sorted(mine) == ["incoming/2025/kea.jpg", "incoming/2025/logo.svg"]
    assert photo["origin"] == "ingest"
    assert logo["rejection_reason"] == "unsupported_format"
    assert "images_processed_total" in listing

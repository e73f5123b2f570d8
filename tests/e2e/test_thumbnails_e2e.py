"""Thumbnails as `roost up --roles thumbnails` runs them: real processes, embedded backends.

Uploads over HTTP reach ``done`` (a bad one ``rejected``); then the worker is killed with
SIGKILL while it holds jobs, the supervisor starts a new one, and nothing is lost: every image
is done and each thumbnail is stored exactly once. A worker over its memory ceiling leaves
gracefully, and loses nothing either.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from io import BytesIO
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image, ImageDraw
from prometheus_client.parser import text_string_to_metric_families
from tests.e2e.processes import ROOST, free_port_offset, start_roost_up, stop_roost_up, wait_ready

from roost.infra.storage.local import TEMPORARY_PREFIX

pytestmark = pytest.mark.e2e
DEFAULT_SIZES = ("150", "300", "600")


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """One `roost up` for the tests of this module, in the order they are written."""
    running = Platform.start(tmp_path_factory.mktemp("thumbnails-e2e"))
    try:
        running.wait_ready(running.api)
        running.wait_ready(running.worker)
        yield running
    finally:
        running.stop()
    assert running.exit_code == 0, running.log_tail()


class Platform:
    """A `roost up --roles thumbnails` process tree and its URLs."""

    def __init__(self, process: subprocess.Popen[bytes], data_dir: Path, log: Path, offset: int):
        self.process = process
        self.data_dir = data_dir
        self.log = log
        self.api = f"http://127.0.0.1:{8001 + offset}"
        self.worker = f"http://127.0.0.1:{9101 + offset}"
        self.exit_code: int | None = None

    @classmethod
    def start(cls, tmp_path: Path) -> Platform:
        offset = free_port_offset(8001, 9101)
        data_dir, log = tmp_path / "data", tmp_path / "up.log"
        return cls(start_roost_up(data_dir, offset, log, "thumbnails"), data_dir, log, offset)

    def wait_ready(self, url: str, timeout: float = 90) -> None:
        wait_ready(url, self.process, self.log, timeout, tail=self.log_tail)

    def worker_pid(self) -> int:
        """The `roost worker` process serving this platform (found by its health port)."""
        wanted = [b"worker", b"--port", self.worker.rsplit(":", 1)[1].encode()]
        for entry in Path("/proc").iterdir():
            try:
                cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:  # not a process, or it just exited
                continue
            if b"roost" in cmdline and all(part in cmdline for part in wanted):
                return int(entry.name)
        raise AssertionError(f"no worker process:\n{self.log_tail()}")

    def stop(self) -> None:
        self.exit_code = stop_roost_up(self.process)

    def log_tail(self) -> str:
        worker_log = self.data_dir / "logs" / "worker.log"
        worker = worker_log.read_text()[-2000:] if worker_log.exists() else ""
        return f"{self.log.read_text()[-2000:]}\n--- worker.log ---\n{worker}"


def _alive_worker(platform: Platform) -> int | None:
    try:
        return platform.worker_pid()
    except AssertionError:
        return None


def photo(width: int, height: int, image_format: str, seed: int) -> bytes:
    rng = random.Random(seed)
    image = Image.new("RGB", (width, height), tuple(rng.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        x, y = rng.randrange(width), rng.randrange(height)
        r = rng.randrange(8, max(9, width // 4))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=tuple(rng.randrange(256) for _ in range(3)))
    buffer = BytesIO()
    image.save(buffer, image_format, **({"quality": 88} if image_format == "JPEG" else {}))
    return buffer.getvalue()


def slow_png() -> bytes:
    """24 MP with no reduced decode (PNG): each job takes about a quarter of a second, so the
    worker is surely in the middle of some when it is killed."""
    base = Image.linear_gradient("L").resize((6000, 4000)).convert("RGB")
    buffer = BytesIO()
    base.save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


def upload_all(api: str, files: list[tuple[str, bytes]]) -> list[str]:
    def one(item: tuple[str, bytes]) -> str:
        name, data = item
        response = httpx.post(f"{api}/api/v1/images", files={"file": (name, data)}, timeout=30)
        assert response.status_code == 202, response.text
        return str(response.json()["id"])

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(one, files))


def statuses(api: str, ids: list[str]) -> dict[str, dict[str, Any]]:
    with httpx.Client(base_url=api, timeout=5) as client:
        return {image_id: client.get(f"/api/v1/images/{image_id}").json() for image_id in ids}


def wait_until(
    condition: Callable[[], bool], timeout: float, describe: Callable[[], object]
) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if condition():
            return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError(f"not done after {timeout}s: {describe()}")


def all_final(api: str, ids: list[str]) -> Callable[[], bool]:
    final = {"done", "rejected", "failed"}
    return lambda: all(body["status"] in final for body in statuses(api, ids).values())


def wait_for_metrics(url: str, wanted: str, timeout: float = 15) -> dict[str, float]:
    """The worker's samples by name and labels, once ``wanted`` is among them (the queue
    gauges are set by its periodic housekeeping)."""
    deadline = time.monotonic() + timeout
    while True:
        samples = {
            sample.name + _labels(sample.labels): sample.value
            for family in text_string_to_metric_families(httpx.get(f"{url}/metrics").text)
            for sample in family.samples
        }
        if wanted in samples or time.monotonic() > deadline:
            return samples
        time.sleep(0.5)


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{key}="{value}"' for key, value in sorted(labels.items())) + "}"


def thumbnail_files(data_dir: Path, image_id: str) -> list[str]:
    """Every stored object of one image, temporary files included, by name."""
    folder = data_dir / "objects" / "thumbnails" / "uploads" / image_id
    return sorted(path.name for path in folder.rglob("*") if path.is_file())


def committed(names: list[str]) -> list[str]:
    """What the store's listings show: a write cut by SIGKILL leaves its temporary file behind
    (the store writes a temporary file and renames it when whole), which listings skip."""
    return [name for name in names if not name.startswith(TEMPORARY_PREFIX)]


def test_uploads_are_thumbnailed_and_a_killed_worker_loses_nothing(platform: Platform) -> None:
    api = platform.api

    # --- 20 images of mixed formats and sizes, and one that is not an image ------------------
    batch = [
        (f"p{i}.{'jpg' if i % 2 else 'png'}", photo(*size, "JPEG" if i % 2 else "PNG", seed=i))
        for i, size in enumerate(
            [(1920, 1080), (800, 600), (640, 960), (3000, 2000), (120, 90)] * 4
        )
    ]
    started = time.monotonic()
    ids = upload_all(api, batch)
    [bad] = upload_all(api, [("cat.jpg", b"%PDF-1.7 definitely not a photo")])
    wait_until(all_final(api, [*ids, bad]), 30, lambda: statuses(api, [*ids, bad]))
    first_batch_seconds = time.monotonic() - started  # from the first upload
    first = statuses(api, ids)
    assert {body["status"] for body in first.values()} == {"done"}, first
    assert first_batch_seconds < 30
    rejected = statuses(api, [bad])[bad]
    assert (rejected["status"], rejected["rejection_reason"]) == ("rejected", "unsupported_format")
    assert rejected["error"]
    for image_id, body in first.items():
        assert sorted(body["thumbnails"]) == sorted(DEFAULT_SIZES)
        assert thumbnail_files(platform.data_dir, image_id) == ["150.jpg", "300.jpg", "600.jpg"]

    # --- kill -9 the worker while it holds jobs; the supervisor starts a new one -------------
    slow = [("big.png", slow_png())] * 12  # the same bytes, twelve uploads, twelve images
    doomed = platform.worker_pid()
    second_ids = upload_all(api, slow)
    wait_until(
        lambda: any(b["status"] == "processing" for b in statuses(api, second_ids).values()),
        20,
        lambda: statuses(api, second_ids),
    )
    os.kill(doomed, signal.SIGKILL)
    killed_at = time.monotonic()
    at_kill = statuses(api, second_ids)
    wait_until(
        lambda: _alive_worker(platform) not in (None, doomed),
        20,
        lambda: "the worker was not restarted",
    )
    platform.wait_ready(platform.worker)
    wait_until(all_final(api, second_ids), 45, lambda: statuses(api, second_ids))
    recovered_seconds = time.monotonic() - killed_at
    second = statuses(api, second_ids)

    assert {body["status"] for body in second.values()} == {"done"}, second
    # Some job was running when the worker died and ran again to completion.
    held = [i for i, body in at_kill.items() if body["status"] != "done"]
    assert held, at_kill
    assert any(second[i]["attempts"] >= 2 for i in held), {i: second[i] for i in held}
    stray = 0
    for image_id in second_ids:
        names = thumbnail_files(platform.data_dir, image_id)
        assert committed(names) == ["150.jpg", "300.jpg", "600.jpg"]
        stray += len(names) - len(committed(names))
    # At most the one write each job in progress was making when the worker was killed.
    in_progress = [i for i, body in at_kill.items() if body["status"] == "processing"]
    assert stray <= len(in_progress), (stray, in_progress)
    listed = httpx.get(f"{api}/api/v1/images", params={"status": "done", "limit": 200}).json()
    assert len(listed["items"]) == len(ids) + len(second_ids)
    assert "restarting" in platform.log.read_text()

    # --- one thumbnail over HTTP: type, caching headers, conditional GET --------------------
    entry = second[second_ids[0]]["thumbnails"]["300"]
    thumbnail = httpx.get(f"{api}{entry['url']}")
    assert thumbnail.status_code == 200
    assert thumbnail.headers["content-type"] == "image/jpeg"
    assert Image.open(BytesIO(thumbnail.content)).size == (300, 200)
    etag = thumbnail.headers["etag"]
    assert etag.startswith('"')
    assert thumbnail.headers["cache-control"] == "public, max-age=86400"
    again = httpx.get(f"{api}{entry['url']}", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""

    # --- the new worker's health endpoints --------------------------------------------------
    assert httpx.get(f"{platform.worker}/healthz").status_code == 200
    ready = httpx.get(f"{platform.worker}/readyz")
    assert ready.status_code == 200, ready.text
    # It made at least the thumbnails the killed worker was holding, and counted them.
    samples = wait_for_metrics(platform.worker, 'queue_depth{queue="thumbnails"}')
    assert samples['images_processed_total{size="300"}'] >= len(held)
    assert samples["image_upload_to_ready_seconds_count"] >= len(held)
    assert samples["image_processing_seconds_count"] >= len(held)
    assert samples["image_bytes_in_total"] >= len(held) * len(slow[0][1])
    assert samples["image_bytes_out_total"] > 0
    assert samples['queue_depth{queue="thumbnails"}'] == 0
    assert samples["dead_letter_depth"] == 0
    print(
        f"\nfirst batch: 20 images + 1 bad final in {first_batch_seconds:.1f}s; "
        f"after kill -9: {len(second_ids)} images done in {recovered_seconds:.1f}s"
    )


def test_a_worker_over_its_memory_ceiling_drains_and_loses_nothing(
    platform: Platform, tmp_path: Path
) -> None:
    # A second worker, started as an operator would next to `roost up` (it finds the backends
    # through the data dir), whose ceiling any job trips. The platform's own worker is paused
    # so that this one takes the jobs.
    port = free_port_offset(8001, 9101) + 9101
    log = tmp_path / "small-worker.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROOST_")}
    env.update(ROOST_DATA_DIR=str(platform.data_dir), ROOST_WORKER_MAX_MEMORY_MB="64")
    env["PYTHONUNBUFFERED"] = "1"  # its last lines are read below
    with log.open("ab") as out:
        small = subprocess.Popen(
            [*ROOST, "worker", "--host", "127.0.0.1", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    paused = platform.worker_pid()
    try:
        platform.wait_ready(f"http://127.0.0.1:{port}")
        os.kill(paused, signal.SIGSTOP)
        ids = upload_all(
            platform.api, [(f"m{i}.jpg", photo(1600, 1200, "JPEG", i)) for i in range(4)]
        )
        exit_code = small.wait(30)
    finally:
        os.kill(paused, signal.SIGCONT)
        if small.poll() is None:
            small.kill()
            small.wait()
    wait_until(all_final(platform.api, ids), 30, lambda: statuses(platform.api, ids))

    output = log.read_text()
    # Graceful: uvicorn drains, then re-raises the SIGTERM the ceiling sent, as the exit status.
    assert exit_code == -signal.SIGTERM, output[-3000:]
    assert "worker_memory_ceiling" in output
    assert "image_done" in output
    assert "worker_stopped" in output
    assert {body["status"] for body in statuses(platform.api, ids).values()} == {"done"}
    for image_id in ids:
        assert thumbnail_files(platform.data_dir, image_id) == ["150.jpg", "300.jpg", "600.jpg"]

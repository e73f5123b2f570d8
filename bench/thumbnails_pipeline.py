"""The full thumbnails pipeline, measured as it runs in production, on throwaway backends.

A fresh embedded PostgreSQL and Redis (under a temporary folder: the bench never touches other
data), file storage, one ``roost serve thumbnails`` process and N ``roost worker`` processes,
all with their default settings. Sources go in over HTTP as multipart uploads; an image counts
once its record says ``done``.

- throughput: bursts of uploads per source size (5 by default), counted in images per
  CPU-second, like the in-process imaging rate (sources per CPU-second of one process) it is
  compared with. That rate is measured again right before and after each burst and averaged,
  and the median ratio over the bursts is reported: on a shared machine the CPU-second itself
  gets slower or faster by tens of percent from one minute to the next.
  Gated on 12 MP: images per CPU-second of the worker processes (what N scales), >= 0.80x
  imaging.
  Printed: images per CPU-second of every pipeline process (API, workers, PostgreSQL, Redis;
  the bench's own HTTP client is the user, not the pipeline).
- latency: uploads at a steady rate (default 5/s, 12 MP), upload→ready from the database's
  timestamps (record created → done, what ``image_upload_to_ready_seconds`` observes) and as a
  client sees it (POST sent → done).
- memory: each worker's peak resident size (VmHWM) after all of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import asyncpg
import httpx

from roost.infra import migrate
from roost.infra.embedded import EmbeddedPostgres, EmbeddedRedis, free_port

TARGET_PER_CORE_SHARE = 0.80  # of the imaging module's per-core rate
# The issue states its numbers and targets for 12 MP sources; 1080p is printed, not gated (its
# fixed per-job costs weigh 2.5x as much against a 26 ms imaging step).
PER_CORE_TARGET_SOURCES = frozenset({"12MP"})
TARGET_PEAK_RSS_MB = 200.0
TARGET_P95_READY_SECONDS = 1.0
READY_TIMEOUT_SECONDS = 60
UPLOAD_CONCURRENCY = 4


@dataclass(frozen=True)
class PipelinePlan:
    workers: int
    burst: dict[str, int]  # source name -> images in each of its throughput bursts
    bursts: int  # per source; the median ratio is reported
    steady_rate: float  # uploads per second
    steady_seconds: float
    steady_source: str


@dataclass
class Stack:
    """The running pipeline: its URLs, processes and where their logs are."""

    api: str
    database_url: str
    roots: list[int]  # every pipeline process tree starts at one of these pids
    workers: list[subprocess.Popen[bytes]]
    logs: Path


def plan_for(*, quick: bool, workers: int | None) -> PipelinePlan:
    count = workers or max(1, min(os.cpu_count() or 1, 4))
    if quick:
        return PipelinePlan(count, {"1080p": 12, "12MP": 6}, 1, 5.0, 3.0, "12MP")
    return PipelinePlan(count, {"1080p": 150, "12MP": 60}, 5, 5.0, 30.0, "12MP")


def run_pipeline_bench(
    sources: dict[str, bytes], imaging_rate: Callable[[bytes], float], plan: PipelinePlan
) -> dict[str, object]:
    """Measure the pipeline; returns ``name: value`` lines and the targets it ``missed``.
    ``imaging_rate(data)`` measures the imaging module alone, in sources per CPU-second."""
    results: dict[str, object] = {}
    missed: list[str] = []
    with running_stack(plan.workers) as stack:
        asyncio.run(_warm_up(stack, sources))
        for name, count in plan.burst.items():
            rounds = [
                _measured_burst(stack, sources[name], count, imaging_rate)
                for _ in range(plan.bursts)
            ]
            burst, imaging = rounds[0]
            workers_share = statistics.median(b.per_worker_cpu_second / i for b, i in rounds)
            pipeline_share = statistics.median(b.per_cpu_second / i for b, i in rounds)
            results[f"{name} throughput"] = (
                f"{count} images in {burst.wall_seconds:.1f}s = {count / burst.wall_seconds:.1f}"
                f"/s with {plan.workers} worker(s) on {os.cpu_count()} core(s)"
            )
            gated = name in PER_CORE_TARGET_SOURCES
            each = ", ".join(f"{b.per_worker_cpu_second / i:.2f}" for b, i in rounds)
            results[f"{name} per core, workers / imaging module"] = (
                f"{workers_share:.2f}, median of {len(rounds)} bursts ({each}; first: "
                f"{burst.per_worker_cpu_second:.1f} vs {imaging:.1f} images per CPU-s; "
                + (f"target >= {TARGET_PER_CORE_SHARE})" if gated else "not gated)")
            )
            results[f"{name} per core, whole pipeline / imaging module"] = (
                f"{pipeline_share:.2f} (API + workers + PostgreSQL + Redis CPU; not gated)"
            )
            if gated and workers_share < TARGET_PER_CORE_SHARE:
                missed.append(
                    f"{name}: workers / imaging per core {workers_share:.2f} "
                    f"< {TARGET_PER_CORE_SHARE}"
                )
        steady = asyncio.run(
            _steady(stack, sources[plan.steady_source], plan.steady_rate, plan.steady_seconds)
        )
        p50, p95 = _percentiles(steady.server)
        c50, c95 = _percentiles(steady.client)
        results[f"upload→ready at {plan.steady_rate:g}/s ({plan.steady_source})"] = (
            f"p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms over {len(steady.server)} images "
            f"(client-seen POST→done: p50 {c50 * 1000:.0f} ms, p95 {c95 * 1000:.0f} ms; "
            f"target p95 < {TARGET_P95_READY_SECONDS * 1000:.0f} ms)"
        )
        if p95 >= TARGET_P95_READY_SECONDS:
            missed.append(f"upload→ready p95 {p95 * 1000:.0f} ms >= 1000 ms")
        peaks = [peak_rss_mb(worker.pid) for worker in stack.workers]
        results["worker peak RSS (VmHWM)"] = (
            ", ".join(f"{peak:.0f} MB" for peak in peaks)
            + f" (target < {TARGET_PEAK_RSS_MB:.0f} MB with 12 MP sources)"
        )
        if max(peaks) >= TARGET_PEAK_RSS_MB:
            missed.append(f"worker peak RSS {max(peaks):.0f} MB >= {TARGET_PEAK_RSS_MB:.0f} MB")
    results["missed"] = missed
    return results


@contextlib.contextmanager
def running_stack(workers: int, settings: dict[str, str] | None = None) -> Iterator[Stack]:
    """Backends, migrations, the API and ``workers`` worker processes; all gone afterwards.
    ``settings`` are extra ``ROOST_*`` variables for every process."""
    root = Path(tempfile.mkdtemp(prefix="roost-bench-"))
    postgres = EmbeddedPostgres(root / "postgres")
    redis = EmbeddedRedis(root / "redis", port=free_port())
    processes: list[subprocess.Popen[bytes]] = []
    try:
        postgres.start()
        redis.start()
        migrate.upgrade(postgres.url)
        env = {k: v for k, v in os.environ.items() if not k.startswith("ROOST_")}
        env.update(
            ROOST_DATABASE_URL=postgres.url,
            ROOST_REDIS_URL=redis.url,
            ROOST_BROKER_URL=redis.url,
            ROOST_STORAGE_URL=(root / "objects").as_uri(),
            ROOST_DATA_DIR=str(root),
        )
        env.update(settings or {})
        logs = root / "logs"
        logs.mkdir()
        api_port = free_port()
        processes.append(_spawn("api", ["serve", "thumbnails", "--port", str(api_port)], env, logs))
        health_ports = [free_port() for _ in range(workers)]
        worker_processes = [
            _spawn(
                f"worker-{index}", ["worker", "--host", "127.0.0.1", "--port", str(port)], env, logs
            )
            for index, port in enumerate(health_ports)
        ]
        processes += worker_processes
        api = f"http://127.0.0.1:{api_port}"
        for url in (api, *(f"http://127.0.0.1:{port}" for port in health_ports)):
            _wait_ready(url, processes, logs)
        assert redis.process is not None
        roots = [p.pid for p in processes] + [redis.process.pid, _postmaster_pid(root)]
        yield Stack(api, postgres.url, roots, worker_processes, logs)
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
        redis.stop()
        postgres.stop()
        shutil.rmtree(root, ignore_errors=True)


def cpu_seconds(roots: Sequence[int]) -> float:
    """User + system CPU of the given processes and all their live descendants."""
    tick = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    used: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()  # the name may hold spaces and parentheses
        parents[int(entry.name)] = int(fields[1])
        used[int(entry.name)] = int(fields[11]) + int(fields[12])
    wanted = set(roots)
    grew = True
    while grew:
        children = {pid for pid, parent in parents.items() if parent in wanted} - wanted
        grew = bool(children)
        wanted |= children
    return sum(used.get(pid, 0) for pid in wanted) / tick


def peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for {pid}")


@dataclass(frozen=True)
class Burst:
    wall_seconds: float
    per_cpu_second: float
    per_worker_cpu_second: float


async def _burst(stack: Stack, data: bytes, count: int) -> Burst:
    """Upload ``count`` images as fast as the API takes them; wait until every one is done."""
    worker_pids = [worker.pid for worker in stack.workers]
    cpu_start, worker_cpu_start = cpu_seconds(stack.roots), cpu_seconds(worker_pids)
    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=stack.api, timeout=60) as client:
        gate = asyncio.Semaphore(UPLOAD_CONCURRENCY)

        async def one() -> str:
            async with gate:
                return await _upload(client, data)

        ids = await asyncio.gather(*(one() for _ in range(count)))
    await _wait_done(stack.database_url, ids)
    wall = time.perf_counter() - started
    cpu = cpu_seconds(stack.roots) - cpu_start
    worker_cpu = cpu_seconds(worker_pids) - worker_cpu_start
    return Burst(wall, count / cpu, count / worker_cpu)


def _measured_burst(
    stack: Stack, data: bytes, count: int, imaging_rate: Callable[[bytes], float]
) -> tuple[Burst, float]:
    """A burst and the imaging module's rate around it (the mean of right before and right
    after): the CPU-second of a shared VM drifts by tens of percent from minute to minute."""
    before = imaging_rate(data)
    burst = asyncio.run(_burst(stack, data, count))
    return burst, (before + imaging_rate(data)) / 2


@dataclass(frozen=True)
class Steady:
    server: list[float]  # record created -> done
    client: list[float]  # POST sent -> done


async def _steady(stack: Stack, data: bytes, rate: float, seconds: float) -> Steady:
    """Uploads at a fixed rate (open loop: a slow answer does not delay the next upload)."""
    sent_at: dict[str, float] = {}
    async with httpx.AsyncClient(base_url=stack.api, timeout=60) as client:

        async def one(delay: float) -> None:
            await asyncio.sleep(delay)
            wall = time.time()
            sent_at[await _upload(client, data)] = wall

        count = max(1, round(rate * seconds))
        await asyncio.gather(*(one(index / rate) for index in range(count)))
    rows = await _wait_done(stack.database_url, list(sent_at))
    server = [(done - created).total_seconds() for _, created, done in rows]
    client_seen = [done.timestamp() - sent_at[str(image_id)] for image_id, _, done in rows]
    return Steady(server, client_seen)


async def _warm_up(stack: Stack, sources: dict[str, bytes]) -> None:
    """A few images first: imports, connection pools and caches warm in every process."""
    async with httpx.AsyncClient(base_url=stack.api, timeout=60) as client:
        ids = [await _upload(client, data) for data in sources.values() for _ in range(3)]
    await _wait_done(stack.database_url, ids)


async def _upload(client: httpx.AsyncClient, data: bytes) -> str:
    response = await client.post("/api/v1/images", files={"file": ("photo.jpg", data)})
    if response.status_code != 202:
        raise RuntimeError(f"upload refused: {response.status_code} {response.text[:300]}")
    return str(response.json()["id"])


async def _wait_done(
    database_url: str, ids: Sequence[str], timeout: float = 120
) -> list[tuple[uuid.UUID, datetime, datetime]]:
    """Poll the database (not the API, whose CPU is being measured) until all are final; an
    image that never gets there is a lost job, and fails the bench."""
    wanted = [uuid.UUID(image_id) for image_id in ids]
    connection = await asyncpg.connect(database_url)
    try:
        deadline = time.monotonic() + timeout
        while True:
            rows = await connection.fetch(
                "SELECT id, status, created_at, finished_at FROM thumbnail_images "
                "WHERE id = ANY($1::uuid[]) AND status IN ('done', 'rejected', 'failed')",
                wanted,
            )
            if len(rows) == len(wanted):
                break
            if time.monotonic() > deadline:
                final = {row["id"] for row in rows}
                stuck = [image_id for image_id in wanted if image_id not in final]
                raise RuntimeError(
                    f"{len(stuck)} images not final after {timeout}s, e.g. {stuck[0]}"
                )
            await asyncio.sleep(0.02)
    finally:
        await connection.close()
    failed = [row["id"] for row in rows if row["status"] != "done"]
    if failed:
        raise RuntimeError(f"{len(failed)} images not done, e.g. {failed[0]}")
    return [(row["id"], row["created_at"], row["finished_at"]) for row in rows]


def _spawn(name: str, args: list[str], env: dict[str, str], logs: Path) -> subprocess.Popen[bytes]:
    with (logs / f"{name}.log").open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "roost", *args],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _wait_ready(url: str, processes: Sequence[subprocess.Popen[bytes]], logs: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        for process in processes:
            if process.poll() is not None:
                tails = "\n".join(p.read_text()[-1500:] for p in logs.iterdir())
                raise RuntimeError(f"a pipeline process exited:\n{tails}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{url} not ready after {READY_TIMEOUT_SECONDS}s")


def _postmaster_pid(root: Path) -> int:
    # pgserver keeps the data directory under the folder it was given.
    for pid_file in (root / "postgres").rglob("postmaster.pid"):
        return int(pid_file.read_text().split()[0])
    raise RuntimeError("embedded PostgreSQL has no postmaster.pid")


def _percentiles(values: list[float]) -> tuple[float, float]:
    if len(values) < 2:
        return (values[0], values[0]) if values else (float("nan"), float("nan"))
    cuts = statistics.quantiles(values, n=20, method="inclusive")
    return statistics.median(values), cuts[18]

"""kv over HTTP against its own baselines, all measured in this run.

Three servers under identical uvicorn settings (uvloop, httptools, no server access log):
a bare ASGI app, plain FastAPI with no middleware, and the kv role with the whole core
(request pipeline, metrics, JSON access log, maintenance gate) on a real Redis. Each is driven
by wrk (or a Python client when wrk is missing) at 64 connections, for GET /read and
POST /write, with 1 and 2 workers.

    python -m bench.kv_http [--duration 10] [--quick] [--no-gate]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from roost.infra.embedded import EmbeddedRedis, free_port, wait_for_port

CONNECTIONS = 64
ORIGINAL_THREE_POD_RPS = 1247  # what the original deployment reported for 3 pods
TARGET_GET_VS_FASTAPI = 0.80
TARGET_P99_MS = 30.0


@dataclass(frozen=True)
class Result:
    app: str
    workers: int
    operation: str
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


def server_command(app: str, port: int, workers: int) -> list[str]:
    if app == "kv":
        command = [sys.executable, "-m", "roost", "serve", "kv", "--port", str(port)]
        return [*command, "--workers", str(workers)]
    target = {"bare": "bench.apps:bare", "fastapi": "bench.apps:fastapi_hello"}[app]
    command = [sys.executable, "-m", "uvicorn", target, "--port", str(port)]
    command += ["--workers", str(workers), "--loop", "uvloop", "--http", "httptools"]
    command += ["--no-access-log", "--log-level", "warning"]
    return [*command, "--factory"] if app == "fastapi" else command


def start_server(
    app: str, workers: int, redis_url: str, log_dir: Path
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = dict(os.environ, ROOST_REDIS_URL=redis_url, ROOST_DATA_DIR=str(log_dir))
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log = (log_dir / f"{app}-{workers}.log").open("wb")
    process = subprocess.Popen(
        server_command(app, port, workers),
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=Path(__file__).resolve().parents[1],
    )
    try:
        wait_for_port("127.0.0.1", port, 30)
    except TimeoutError:
        stop_server(process)
        raise RuntimeError(
            f"{app} did not start:\n{log.name}\n" + Path(log.name).read_text()[-2000:]
        ) from None
    base = f"http://127.0.0.1:{port}"
    httpx.post(f"{base}/write/bench", params={"value": "v"}, timeout=5)
    return process, base


def stop_server(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()


def run_wrk(url: str, method: str, duration: int) -> tuple[float, float, float, int]:
    script = None
    command = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{duration}s", "--latency"]
    if method == "POST":
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
            handle.write('wrk.method = "POST"\n')
            script = handle.name
        command += ["-s", script]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    if script:
        os.unlink(script)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    percentiles = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", output, re.MULTILINE))
    errors_match = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    errors = int(errors_match.group(1)) if errors_match else 0
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    return rps, _to_ms(percentiles["50"]), _to_ms(percentiles["99"]), errors


def _to_ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run_python_client(url: str, method: str, duration: int) -> tuple[float, float, float, int]:
    """Fallback load generator: 64 concurrent keep-alive connections from one process."""

    async def drive() -> tuple[list[float], int]:
        latencies: list[float] = []
        errors = 0
        deadline = time.perf_counter() + duration
        limits = httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS)
        async with httpx.AsyncClient(limits=limits, timeout=10) as client:

            async def worker() -> None:
                nonlocal errors
                while time.perf_counter() < deadline:
                    started = time.perf_counter()
                    response = await client.request(method, url)
                    latencies.append(time.perf_counter() - started)
                    errors += response.status_code >= 400

            await asyncio.gather(*(worker() for _ in range(CONNECTIONS)))
        return latencies, errors

    latencies, errors = asyncio.run(drive())
    quantiles = statistics.quantiles(latencies, n=100)
    return len(latencies) / duration, quantiles[49] * 1000, quantiles[98] * 1000, errors


def measure(app: str, workers: int, redis_url: str, duration: int, log_dir: Path) -> list[Result]:
    process, base = start_server(app, workers, redis_url, log_dir)
    load = run_wrk if shutil.which("wrk") else run_python_client
    results = []
    try:
        for operation, method, path in (
            ("GET /read", "GET", "/read/bench"),
            ("POST /write", "POST", "/write/bench?value=v"),
        ):
            load(base + path, method, 1)  # warm-up: imports, pools, JIT-free but caches warm
            rps, p50, p99, errors = load(base + path, method, duration)
            results.append(Result(app, workers, operation, rps, p50, p99, errors))
    finally:
        stop_server(process)
    return results


def report(results: list[Result]) -> list[str]:
    by_key = {(r.app, r.workers, r.operation): r for r in results}
    print(
        f"\n{'app':8} {'workers':>7} {'operation':12} {'req/s':>9} {'p50 ms':>8} "
        f"{'p99 ms':>8} {'errors':>6}"
    )
    for r in results:
        print(
            f"{r.app:8} {r.workers:>7} {r.operation:12} {r.rps:>9.0f} {r.p50_ms:>8.2f} "
            f"{r.p99_ms:>8.2f} {r.errors:>6}"
        )
    print()
    missed = []
    for workers in sorted({r.workers for r in results}):
        for operation in ("GET /read", "POST /write"):
            kv = by_key.get(("kv", workers, operation))
            hello = by_key.get(("fastapi", workers, operation))
            bare = by_key.get(("bare", workers, operation))
            if not (kv and hello and bare):
                continue
            vs_hello, vs_bare = kv.rps / hello.rps, kv.rps / bare.rps
            print(
                f"{workers} worker(s) {operation:12} kv/FastAPI-hello = {vs_hello:.2f}   "
                f"kv/bare-ASGI = {vs_bare:.2f}"
            )
            if workers == 1 and operation == "GET /read" and vs_hello < TARGET_GET_VS_FASTAPI:
                missed.append(f"kv GET is {vs_hello:.0%} of FastAPI hello (target >= 80%)")
            if kv.p99_ms > TARGET_P99_MS:
                missed.append(
                    f"kv {operation} p99 {kv.p99_ms:.1f} ms with {workers} worker(s) (target < 30)"
                )
            if kv.errors:
                missed.append(f"kv {operation} had {kv.errors} errors")
            if workers == 2 and kv.rps < 2 * ORIGINAL_THREE_POD_RPS:
                missed.append(
                    f"kv {operation} {kv.rps:.0f} req/s with 2 workers "
                    f"(target >= {2 * ORIGINAL_THREE_POD_RPS})"
                )
    return missed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    parser.add_argument("--quick", action="store_true", help="2 s runs, 1 worker only")
    parser.add_argument("--no-gate", action="store_true", help="report, but exit 0 on misses")
    args = parser.parse_args(argv)
    duration = 2 if args.quick else args.duration
    worker_counts = (1,) if args.quick else (1, 2)

    with tempfile.TemporaryDirectory(prefix="roost-bench-") as tmp:
        redis = EmbeddedRedis(Path(tmp) / "redis", port=free_port())
        redis.start()
        try:
            results = [
                result
                for workers in worker_counts
                for app in ("bare", "fastapi", "kv")
                for result in measure(app, workers, redis.url, duration, Path(tmp))
            ]
        finally:
            redis.stop()
    missed = report(results)
    for line in missed:
        print(f"MISSED: {line}")
    return 1 if missed and not args.no_gate else 0


if __name__ == "__main__":
    sys.exit(main())

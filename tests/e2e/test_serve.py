"""`roost serve` as a real process: graceful SIGTERM, multi-worker metrics, tracing export."""

from __future__ import annotations

import gzip
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from tests.support.parallel import free_port

from roost.infra.embedded import wait_for_port

pytestmark = pytest.mark.e2e


def serve(
    role: str, redis_url: str, tmp_path: Path, *extra: str, **env: str
) -> tuple[subprocess.Popen[bytes], str, Path]:
    port = free_port()
    log = tmp_path / f"serve-{port}.log"
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("ROOST_", "PROMETHEUS"))
    }
    environment.update(ROOST_REDIS_URL=redis_url, ROOST_DATA_DIR=str(tmp_path), **env)
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "roost", "serve", role, "--port", str(port), *extra],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=environment,
        )
    wait_for_port("127.0.0.1", port, 30)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while httpx.get(f"{url}/readyz").status_code != 200:
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)
    return process, url, log


def test_sigterm_lets_in_flight_requests_finish(redis_url: str, tmp_path: Path) -> None:
    process, url, log = serve("kv", redis_url, tmp_path, ROOST_DEBUG="true")
    result: dict[str, object] = {}

    def slow_request() -> None:
        response = httpx.get(f"{url}/debug/sleep", params={"seconds": 1.5}, timeout=10)
        result["status"] = response.status_code
        result["body"] = response.json()

    def in_progress() -> float:
        text = httpx.get(f"{url}/metrics").text
        found = re.search(r'^http_requests_in_progress\{method="GET"\} (\S+)$', text, re.M)
        return float(found.group(1)) if found else 0.0

    baseline = in_progress()
    worker = threading.Thread(target=slow_request)
    worker.start()
    deadline = time.monotonic() + 10
    while in_progress() <= baseline:  # the slow request is being handled
        assert time.monotonic() < deadline, "the slow request never started"
        time.sleep(0.02)
    process.send_signal(signal.SIGTERM)
    worker.join(10)
    # uvicorn re-raises the signal after a clean shutdown so supervisors see why it stopped.
    assert process.wait(20) in (0, -signal.SIGTERM), log.read_text()
    assert result == {"status": 200, "body": {"slept": 1.5}}
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    assert any(line.get("event") == "stopping" for line in lines)
    access = [line for line in lines if line.get("event") == "request"]
    assert access
    assert access[-1]["route"] == "/debug/sleep"
    assert {"timestamp", "level", "request_id", "method", "path", "status", "duration_ms"} <= set(
        access[-1]
    )


def test_debug_routes_do_not_exist_without_debug(redis_url: str, tmp_path: Path) -> None:
    process, url, _ = serve("kv", redis_url, tmp_path)
    try:
        assert httpx.get(f"{url}/debug/sleep").status_code == 404
        assert httpx.get(f"{url}/debug/config").status_code == 404
    finally:
        process.terminate()
        process.wait(20)


def test_metrics_add_up_across_worker_processes(redis_url: str, tmp_path: Path) -> None:
    process, url, _ = serve("kv", redis_url, tmp_path, "--workers", "2")
    try:
        with httpx.Client() as client:
            for i in range(40):
                # New connections spread requests over both workers.
                httpx.post(f"{url}/write/mp{i}", params={"value": "x"})
            text = client.get(f"{url}/metrics").text
        samples = {
            line.split(" ")[0]: float(line.split(" ")[1])
            for line in text.splitlines()
            if line.startswith("http_requests_total{")
        }
        key = 'http_requests_total{method="POST",path="/write/{key}",status="200"}'
        assert samples.get(key) == 40, text[:2000]
        assert "active_connections" in text
    finally:
        process.terminate()
        process.wait(20)


class _OTLPCollector(BaseHTTPRequestHandler):
    received: list[bytes] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        if self.headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        _OTLPCollector.received.append(body)
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_traces_are_exported_over_otlp_and_logged_with_trace_ids(
    redis_url: str, tmp_path: Path
) -> None:
    collector = ThreadingHTTPServer(("127.0.0.1", 0), _OTLPCollector)
    threading.Thread(target=collector.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{collector.server_address[1]}"
    process, url, log = serve("kv", redis_url, tmp_path, ROOST_OTLP_ENDPOINT=endpoint)
    try:
        response = httpx.get(f"{url}/read/traced-missing")
        assert response.status_code == 404
    finally:
        process.terminate()  # shutdown flushes the batch span processor
        process.wait(20)
        collector.shutdown()
    exported = b"".join(_OTLPCollector.received)
    assert b"/read/{key}" in exported or b"GET /read" in exported, exported[:500]
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    access = [line for line in lines if line.get("event") == "request"]
    assert access
    assert len(access[-1].get("trace_id", "")) == 32


@pytest.mark.timing  # its p95 gate runs alone, after the parallel phase of make test
def test_locust_load_run_passes_its_gates_against_kv(redis_url: str, tmp_path: Path) -> None:
    process, url, _ = serve("kv", redis_url, tmp_path)
    try:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "loadtests.run",
                "kv",
                url,
                "--users",
                "10",
                "--seconds",
                "4",
                "--p95-ms",
                "500",
                "--max-error-rate",
                "0.01",
                "--json",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=Path(__file__).resolve().parents[2],
        )
    finally:
        process.terminate()
        process.wait(20)
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert result.returncode == 0, result.stdout + result.stderr
    assert summary["requests"] > 100
    assert summary["missed"] == []

"""Soak: every role under `roost up`, mixed traffic for a while, each process watched.

    python -m loadtests.soak --seconds 600            # `make soak`: ten minutes
    python -m loadtests.soak --seconds 60 --warmup 20  # the short run in `make test`

Every ``--interval`` seconds it samples each role's process (and the worker's): resident
memory, open file descriptors, and its connection pools as the kernel sees them (established
TCP connections to the Postgres and to the Redis port). It passes when, after the warm-up,
resident memory grew less than 10%, descriptors and pools stayed flat, and no request failed.
It writes ``soak-report.json`` and ``soak-chart.png`` to ``--out``.

Plain threads and httpx (not Locust: its gevent patching must stay out of this process, which
also runs the sampler).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from io import BytesIO
from pathlib import Path
from typing import TypedDict
from urllib.parse import urlsplit

import httpx
from PIL import Image, ImageDraw

RSS_GROWTH_LIMIT = 0.10
FD_TOLERANCE = 10  # a few sockets and files come and go with the traffic
POOL_TOLERANCE = 4
BASE_PORTS = {"kv": 8000, "thumbnails": 8001, "optimizer": 8002, "bird-images": 4200,
              "birds": 4201, "frontend": 3000, "worker": 9101}  # fmt: skip


@dataclass
class Sample:
    at: float
    rss_bytes: int
    fds: int
    postgres_connections: int
    redis_connections: int


@dataclass
class Traffic:
    sent: int = 0
    unexpected: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, what: str, response: httpx.Response | None, ok: tuple[int, ...]) -> None:
        with self.lock:
            self.sent += 1
            if response is None:
                self.unexpected[f"{what}: no answer"] += 1
            elif response.status_code not in ok:
                self.unexpected[f"{what}: {response.status_code}"] += 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--warmup", type=float, default=60)
    parser.add_argument("--interval", type=float, default=10)
    parser.add_argument("--out", type=Path, default=Path("test-artifacts"))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    with tempfile.TemporaryDirectory(prefix="roost-soak-") as scratch:
        data_dir = Path(scratch) / "data"
        offset = free_offset()
        urls = {role: f"http://127.0.0.1:{port + offset}" for role, port in BASE_PORTS.items()}
        up = start_platform(data_dir, offset, Path(scratch) / "up.log")
        try:
            wait_ready(urls, up, Path(scratch) / "up.log")
            backends = backend_ports(data_dir)
            pids = role_pids(up.pid)
            traffic = Traffic()
            stop = threading.Event()
            threads = [
                threading.Thread(target=loop, args=(step, urls, traffic, stop), daemon=True)
                for step in (kv_step, birds_step, images_step, thumbnails_step, optimizer_step)
            ]
            for thread in threads:
                thread.start()
            samples: dict[str, list[Sample]] = {role: [] for role in pids}
            started = time.monotonic()
            while time.monotonic() - started < args.seconds:
                now = time.monotonic() - started
                unix_pg = postgres_unix_clients()
                for role, pid in pids.items():
                    samples[role].append(sample(pid, now, backends, unix_pg))
                time.sleep(min(args.interval, max(0.0, args.seconds - now)))
            stop.set()
            for thread in threads:
                thread.join(30)
            unix_pg = postgres_unix_clients()
            for role, pid in pids.items():
                samples[role].append(sample(pid, time.monotonic() - started, backends, unix_pg))
        finally:
            up.send_signal(signal.SIGINT)
            try:
                up.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(up.pid, signal.SIGKILL)

    verdicts = {role: judge(series, args.warmup) for role, series in samples.items()}
    report = {
        "seconds": args.seconds,
        "warmup_seconds": args.warmup,
        "requests": traffic.sent,
        "unexpected": dict(traffic.unexpected),
        "roles": {
            role: {"verdict": verdicts[role], "samples": [asdict(s) for s in series]}
            for role, series in samples.items()
        },
    }
    (args.out / "soak-report.json").write_text(json.dumps(report, indent=2))
    draw_chart(samples, args.warmup, args.out / "soak-chart.png")
    failures = [f"{role}: {problem}" for role, v in verdicts.items() for problem in v["problems"]]
    failures += [f"unexpected answers: {dict(traffic.unexpected)}"] if traffic.unexpected else []
    print(f"soak: {traffic.sent} requests over {args.seconds:g} s, {len(samples)} processes")
    for role, verdict in verdicts.items():
        print(f"  {role:12} {verdict['summary']}")
    for failure in failures:
        print(f"SOAK FAILED: {failure}")
    print("soak passed" if not failures else f"{len(failures)} problem(s)")
    return 1 if failures else 0


# --- the platform -------------------------------------------------------------------------


def free_offset() -> int:
    for _ in range(50):
        offset = random.randint(20000, 40000)
        if all(port_free(port + offset) for port in BASE_PORTS.values()) and port_free(
            8080 + offset
        ):
            return offset
    raise RuntimeError("no free port offset")


def port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def start_platform(data_dir: Path, offset: int, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ROOST_", "PROMETHEUS"))}
    env["ROOST_ACCESS_LOG"] = "false"
    command = [sys.executable, "-m", "roost", "up", "--data-dir", str(data_dir)]
    with log.open("ab") as out:
        return subprocess.Popen(
            [*command, "--port-offset", str(offset)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )


def wait_ready(urls: dict[str, str], up: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 180
    pending = set(urls)
    while pending:
        if up.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"roost up did not get ready ({pending}):\n{log.read_text()[-3000:]}")
        for role in list(pending):
            try:
                if httpx.get(f"{urls[role]}/readyz", timeout=2).status_code == 200:
                    pending.discard(role)
            except httpx.HTTPError:
                pass
        time.sleep(0.5)


def backend_ports(data_dir: Path) -> dict[str, int]:
    """The TCP ports of Postgres and Redis; 0 for Postgres on a unix socket (embedded)."""
    runtime = json.loads((data_dir / "runtime.json").read_text())
    database = urlsplit(runtime["database_url"])
    return {
        "postgres": 0 if "host=/" in database.query else database.port or 5432,
        "redis": urlsplit(runtime["redis_url"]).port or 6379,
    }


def postgres_unix_clients() -> Counter[int]:
    """Per client pid, its connections to a Postgres unix socket (``ss`` knows the peers)."""
    listing = subprocess.run(["ss", "-xpn"], capture_output=True, text=True, check=False).stdout
    server_peers: set[str] = set()
    clients: dict[str, int] = {}
    for line in listing.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 8 or fields[1] != "ESTAB":
            continue
        local, local_inode, peer_inode = fields[4], fields[5], fields[7]
        if ".s.PGSQL." in local:
            server_peers.add(peer_inode)
        else:
            owner = re.search(r"pid=(\d+)", line)
            if owner:
                clients[local_inode] = int(owner.group(1))
    return Counter(pid for inode, pid in clients.items() if inode in server_peers)


def role_pids(supervisor: int) -> dict[str, int]:
    """The ``roost serve <role>`` and ``roost worker`` children of ``roost up``."""
    found: dict[str, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
            argv = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        parent = re.search(r"^PPid:\s+(\d+)", status, re.M)
        if parent is None or int(parent.group(1)) != supervisor:
            continue
        if "serve" in argv:
            found[argv[argv.index("serve") + 1]] = int(entry.name)
        elif "worker" in argv:
            found["worker"] = int(entry.name)
    return found


# --- sampling -------------------------------------------------------------------------------


def sample(pid: int, at: float, backends: dict[str, int], unix_pg: Counter[int]) -> Sample:
    status = Path(f"/proc/{pid}/status").read_text()
    rss = int(re.search(r"^VmRSS:\s+(\d+) kB", status, re.M).group(1)) * 1024  # type: ignore[union-attr]
    inodes = set()
    fds = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        fds += 1
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    connections = Counter[int]()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "01" and fields[9] in inodes:  # ESTABLISHED, this process's socket
                connections[int(fields[2].rsplit(":", 1)[1], 16)] += 1
    return Sample(
        at=round(at, 1),
        rss_bytes=rss,
        fds=fds,
        postgres_connections=(
            connections[backends["postgres"]] if backends["postgres"] else unix_pg[pid]
        ),
        redis_connections=connections[backends["redis"]],
    )


class Verdict(TypedDict):
    """One process's soak verdict: what grew, what went wrong, and a one-line summary."""

    rss_growth: float
    problems: list[str]
    summary: str


def judge(series: list[Sample], warmup: float) -> Verdict:
    after = [s for s in series if s.at >= warmup] or series[-1:]
    base, tail = after[0], after[-2:] if len(after) > 1 else after
    growth = (max(s.rss_bytes for s in tail) - base.rss_bytes) / base.rss_bytes
    problems: list[str] = []
    if growth >= RSS_GROWTH_LIMIT:
        problems.append(f"resident memory grew {growth:.1%} after the warm-up")
    if max(s.fds for s in after) - base.fds > FD_TOLERANCE:
        problems.append(f"descriptors {base.fds} -> {max(s.fds for s in after)}")
    for pool in ("postgres_connections", "redis_connections"):
        first, most = getattr(base, pool), max(getattr(s, pool) for s in after)
        if most - first > POOL_TOLERANCE:
            problems.append(f"{pool} {first} -> {most}")
    summary = (
        f"rss {base.rss_bytes / 2**20:.0f} -> {tail[-1].rss_bytes / 2**20:.0f} MiB "
        f"({growth:+.1%}), fds {base.fds}..{max(s.fds for s in after)}, pg "
        f"{base.postgres_connections}..{max(s.postgres_connections for s in after)}, redis "
        f"{base.redis_connections}..{max(s.redis_connections for s in after)}"
    )
    return {"rss_growth": growth, "problems": problems, "summary": summary}


def draw_chart(samples: dict[str, list[Sample]], warmup: float, path: Path) -> None:
    """Resident memory of each process over time, the warm-up shaded."""
    width, height, margin, legend = 1040, 420, 60, 140
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    end = max((s.at for series in samples.values() for s in series), default=1.0) or 1.0
    top = max((s.rss_bytes for series in samples.values() for s in series), default=1) * 1.1

    def x(at: float) -> float:
        return margin + (width - 2 * margin - legend) * at / end

    def y(value: float) -> float:
        return height - margin - (height - 2 * margin) * value / top

    draw.rectangle([x(0), margin, x(min(warmup, end)), height - margin], fill="#f3f4f6")
    draw.line([margin, height - margin, x(end), height - margin], fill="#111827")
    draw.line([margin, margin, margin, height - margin], fill="#111827")
    draw.text((margin, 15), "Resident memory per process (MiB) over the soak (s)", fill="#111827")
    draw.text((4, margin - 6), f"{top / 2**20:.0f}", fill="#6b7280")
    draw.text((x(end) - 10, height - margin + 8), f"{end:.0f}", fill="#6b7280")
    palette = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#4b5563",
               "#ca8a04"]  # fmt: skip
    for index, (role, series) in enumerate(sorted(samples.items())):
        colour = palette[index % len(palette)]
        points = [(x(s.at), y(s.rss_bytes)) for s in series]
        if len(points) > 1:
            draw.line(points, fill=colour, width=2)
        draw.text((x(end) + 20, margin + 16 * index), role, fill=colour)
    buffer = BytesIO()
    image.save(buffer, "PNG")
    path.write_bytes(buffer.getvalue())


# --- traffic --------------------------------------------------------------------------------

Step = Callable[[httpx.Client, dict[str, str], Traffic, int], None]


def loop(step: Step, urls: dict[str, str], traffic: Traffic, stop: threading.Event) -> None:
    with httpx.Client(timeout=10) as client:
        n = 0
        while not stop.is_set():
            n += 1
            try:
                step(client, urls, traffic, n)
            except httpx.HTTPError as error:
                traffic.record(f"{step.__name__} {type(error).__name__}", None, ())
            stop.wait(0.05)


def kv_step(client: httpx.Client, urls: dict[str, str], traffic: Traffic, n: int) -> None:
    key = f"soak-{n % 500}"  # a bounded key space: the store does not grow with time
    written = client.post(f"{urls['kv']}/write/{key}", params={"value": str(n)})
    traffic.record("kv write", written, (200,))
    traffic.record("kv read", client.get(f"{urls['kv']}/read/{key}"), (200,))


def birds_step(client: httpx.Client, urls: dict[str, str], traffic: Traffic, n: int) -> None:
    response = client.get(f"{urls['frontend']}/api/v1/birds/random")
    traffic.record("birds random", response, (200,))
    if response.status_code == 200 and response.json()["image"]["url"].startswith("/"):
        picture = client.get(urls["frontend"] + response.json()["image"]["url"])
        traffic.record("birds picture", picture, (200,))


def images_step(client: httpx.Client, urls: dict[str, str], traffic: Traffic, n: int) -> None:
    name = random.choice(["kea", "galah", "tui", f"unknown-bird-{n % 50}"])
    traffic.record("bird image", client.get(f"{urls['bird-images']}/api/v1/images/{name}"), (200,))


def thumbnails_step(client: httpx.Client, urls: dict[str, str], traffic: Traffic, n: int) -> None:
    buffer = BytesIO()
    Image.linear_gradient("L").resize((320, 240)).rotate(n % 360).save(buffer, "PNG")
    files = {"file": ("soak.png", buffer.getvalue(), "image/png")}
    uploaded = client.post(f"{urls['thumbnails']}/api/v1/images", files=files)
    traffic.record("upload", uploaded, (202,))
    if uploaded.status_code == 202:
        status = client.get(f"{urls['thumbnails']}{uploaded.json()['status_url']}")
        traffic.record("upload status", status, (200,))
    time.sleep(0.5)  # pacing: a couple of uploads a second, the disk does not fill up


def optimizer_step(client: httpx.Client, urls: dict[str, str], traffic: Traffic, n: int) -> None:
    body = {"budget": {"tv": 1e5, "digital": 2e5}, "constraints": {"total": 3e5 + n % 7 * 1e4}}
    traffic.record(
        "optimize", client.post(f"{urls['optimizer']}/api/v1/optimize", json=body), (200,)
    )
    time.sleep(1.1)  # pacing: under the role's per-client limit of one a second


if __name__ == "__main__":
    sys.exit(main())

"""What keeps pytest-xdist workers apart on the machine's shared Redis and loopback ports.

``make test`` runs the suite on two xdist workers (``-n 2``). Both talk to the same Redis server
and bind ports on the same loopback, so each worker gets its own share of both:

- :func:`redis_db`: a worker's copy of a Redis database index. Suites flush their database
  (``flushed_redis``) or flip flags in it (maintenance mode), which must not reach the other
  worker's tests. Worker 0 (and a run without xdist) keeps the indexes as written; worker 1 gets
  each index less 8. The suite uses 9 (``redis_url``) and 12-15 (drills and suites that want a
  database of their own), so worker 1 uses 1 and 4-7; Redis has 16 by default (0-15).
- :func:`free_port` and :func:`free_port_offset`: ports from a window of the worker's own,
  below the kernel's ephemeral range (32768 and up), so neither the other worker's check-then-use
  nor an outgoing connection's source port can take a port between the check and the bind.
"""

from __future__ import annotations

import os
import random
import socket

# Database indexes the suite uses on the shared Redis, before the per-worker shift.
SUITE_REDIS_DATABASES = (9, 12, 13, 14, 15)
REDIS_DATABASE_SHIFT = 8  # worker 1's copy of database N is N - 8
MAX_WORKERS = 2  # two shifted copies of SUITE_REDIS_DATABASES fit in Redis's 16 databases

# The loopback ports tests may take: above the well-known services this machine runs (Postgres
# 5432, RabbitMQ 5672, Redis 6379) and below the ephemeral range. RabbitMQ's own 15672 and
# 25672 fall inside; the bind check before every answer skips them.
PORT_WINDOW = (10000, 32000)
# The first ports of each worker's share are for single servers (free_port); the rest is for
# whole platforms moved by an offset (free_port_offset), whose ports span up to 3000..9101.
SINGLE_PORTS_PER_WORKER = 2000


def worker_index() -> int:
    """This xdist worker's number (``gw1`` is 1); 0 when the run has no workers."""
    name = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return int(name.removeprefix("gw"))


def worker_count() -> int:
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if count > MAX_WORKERS:
        raise RuntimeError(
            f"{count} xdist workers: the shared Redis has room for {MAX_WORKERS} workers' "
            f"databases (see tests/support/parallel.py); run with -n {MAX_WORKERS} or fewer"
        )
    return count


def redis_db(database: int) -> int:
    """This worker's copy of Redis database ``database`` (one of SUITE_REDIS_DATABASES)."""
    assert database in SUITE_REDIS_DATABASES, f"db {database}: add it to SUITE_REDIS_DATABASES"
    worker_count()  # refuses more workers than there are databases for
    return database - REDIS_DATABASE_SHIFT * worker_index()


def worker_port_window() -> tuple[int, int]:
    """The ``[low, high)`` loopback ports this worker takes its ports from."""
    low, high = PORT_WINDOW
    share = (high - low) // worker_count()
    start = low + share * worker_index()
    return start, start + share


_handed_out: set[int] = set()


def free_port() -> int:
    """A loopback port free right now, from this worker's window, not handed out before in this
    process (two calls before either port is bound must not get the same one)."""
    low, _ = worker_port_window()
    candidates = [
        port for port in range(low, low + SINGLE_PORTS_PER_WORKER) if port not in _handed_out
    ]
    random.shuffle(candidates)
    for port in candidates:
        if is_free(port):
            _handed_out.add(port)
            return port
    raise RuntimeError(f"no free port left in {low}..{low + SINGLE_PORTS_PER_WORKER}")


def free_port_offset(*ports: int) -> int:
    """A `roost up --port-offset` under which every one of ``ports`` is free on loopback and
    inside this worker's window. Pass every port the platform will bind."""
    low, high = worker_port_window()
    low += SINGLE_PORTS_PER_WORKER
    smallest, largest = min(ports), max(ports)
    if largest - smallest >= high - low:
        raise ValueError(f"ports {smallest}..{largest} do not fit in {low}..{high}")
    for _ in range(100):
        offset = random.randint(low - smallest, high - 1 - largest)
        if all(is_free(port + offset) for port in ports):
            return offset
    raise RuntimeError(f"no offset found with {ports} all free in {low}..{high}")


def is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True

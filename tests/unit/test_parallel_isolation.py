"""tests/support/parallel.py: two xdist workers never share a Redis database or a port window."""

from __future__ import annotations

import pytest
from tests.support import parallel


def as_worker(monkeypatch: pytest.MonkeyPatch, index: int, count: int) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER", f"gw{index}")
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", str(count))


def test_a_serial_run_keeps_the_databases_as_written(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    monkeypatch.delenv("PYTEST_XDIST_WORKER_COUNT", raising=False)
    assert [parallel.redis_db(db) for db in parallel.SUITE_REDIS_DATABASES] == [9, 12, 13, 14, 15]


def test_two_workers_use_disjoint_redis_databases(monkeypatch: pytest.MonkeyPatch) -> None:
    used = []
    for index in (0, 1):
        as_worker(monkeypatch, index, 2)
        used.append({parallel.redis_db(db) for db in parallel.SUITE_REDIS_DATABASES})
    assert used[0].isdisjoint(used[1])
    assert all(0 < db < 16 for db in used[0] | used[1])  # Redis's default 16; 0 is left alone


def test_more_workers_than_database_copies_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    as_worker(monkeypatch, 2, 3)
    with pytest.raises(RuntimeError, match="-n 2"):
        parallel.redis_db(9)


def test_each_worker_takes_ports_from_its_own_window(monkeypatch: pytest.MonkeyPatch) -> None:
    windows = []
    for index in (0, 1):
        as_worker(monkeypatch, index, 2)
        low, high = parallel.worker_port_window()
        windows.append(range(low, high))
        port = parallel.free_port()
        assert port in windows[-1]
        # Every port roost up binds lands in the window, under any offset it is given.
        role_ports = (3000, 4200, 8000, 8080, 9101)
        offset = parallel.free_port_offset(*role_ports)
        assert all(p + offset in windows[-1] for p in role_ports)
        assert port < min(role_ports) + offset  # single ports and platforms never meet
    assert not set(windows[0]) & set(windows[1])
    assert max(windows[1]) < 32768  # below the kernel's ephemeral ports


def test_free_port_never_hands_out_the_same_port_twice() -> None:
    ports = [parallel.free_port() for _ in range(200)]
    assert len(set(ports)) == len(ports)

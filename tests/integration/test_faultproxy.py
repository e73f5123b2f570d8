"""The test proxy does what the drills rely on, checked against the machine's real Redis."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from tests.conftest import REDIS_HOST, REDIS_PORT, require_service
from tests.faultproxy import FaultProxy

pytestmark = pytest.mark.integration


@pytest.fixture
def proxy() -> Iterator[FaultProxy]:
    require_service("Redis", REDIS_HOST, REDIS_PORT)
    with FaultProxy(REDIS_HOST, REDIS_PORT) as running:
        yield running


def client(proxy: FaultProxy) -> redis.Redis:
    # No retries: each call shows what the link did, not what a retry papered over.
    return redis.Redis(
        host="127.0.0.1",
        port=proxy.port,
        socket_timeout=0.5,
        socket_connect_timeout=0.5,
        retry=Retry(NoBackoff(), 0),
    )


def test_a_clean_pipe_passes_commands_both_ways(proxy: FaultProxy) -> None:
    assert client(proxy).ping() is True
    assert proxy.connections_accepted == 1


def test_slow_delays_every_round_trip(proxy: FaultProxy) -> None:
    fast = client(proxy)
    fast.ping()
    proxy.slow(0.2)
    started = time.monotonic()
    assert fast.ping() is True
    assert time.monotonic() - started >= 0.4  # the request and the reply each waited


def test_blackhole_accepts_and_never_answers(proxy: FaultProxy) -> None:
    proxy.blackhole()
    with pytest.raises(redis.TimeoutError):
        client(proxy).ping()
    proxy.restore()
    assert client(proxy).ping() is True


def test_cut_resets_open_connections_and_refuses_new_ones(proxy: FaultProxy) -> None:
    open_client = client(proxy)
    open_client.ping()
    proxy.cut()
    with pytest.raises(redis.ConnectionError):
        open_client.ping()
    with (
        pytest.raises(ConnectionRefusedError),
        socket.create_connection(("127.0.0.1", proxy.port), timeout=0.5),
    ):
        pass
    proxy.restore()
    assert client(proxy).ping() is True  # the same port again


def test_lose_replies_lets_the_server_act_and_drops_its_answer(proxy: FaultProxy) -> None:
    key = f"faultproxy-lost-reply-{time.monotonic_ns()}"
    direct = redis.Redis(host=REDIS_HOST, port=REDIS_PORT)
    proxied = client(proxy)
    proxied.ping()
    proxy.lose_replies()
    with pytest.raises(redis.TimeoutError):
        proxied.set(key, "written")
    try:
        assert direct.get(key) == b"written"  # the request arrived; only the reply was lost
    finally:
        direct.delete(key)
    proxy.restore()
    assert client(proxy).ping() is True

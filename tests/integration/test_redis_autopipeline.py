"""AutoPipeline against a real Redis: replies in order, error replies isolated, outages mapped."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from tests.support.parallel import free_port, redis_db

from roost.core.errors import DependencyUnavailable
from roost.core.settings import load_settings
from roost.infra.embedded import EmbeddedRedis
from roost.infra.redis import AutoPipeline, create_redis, timed

pytestmark = pytest.mark.integration


async def test_concurrent_commands_each_get_their_own_reply(flushed_redis: str) -> None:
    client = create_redis(load_settings(redis_url=flushed_redis))
    pipeline = AutoPipeline(client)
    try:
        await asyncio.gather(*(pipeline.execute("SET", f"k{i}", f"v{i}") for i in range(500)))
        replies = await asyncio.gather(*(pipeline.execute("GET", f"k{i}") for i in range(500)))
        assert replies == [f"v{i}".encode() for i in range(500)]
        # redis-py's reply callbacks still apply (HGETALL -> dict, EXISTS -> int).
        await pipeline.execute("HSET", "h", "a", "1")
        assert await pipeline.execute("HGETALL", "h") == {b"a": b"1"}
        assert await pipeline.execute("EXISTS", "h", "missing") == 1
        big = b"x" * 300_000  # a reply larger than one socket read
        await pipeline.execute("SET", "big", big)
        assert await pipeline.execute("GET", "big") == big
    finally:
        await pipeline.aclose()
        await client.aclose()


async def test_an_error_reply_fails_only_its_own_command(flushed_redis: str) -> None:
    client = create_redis(load_settings(redis_url=flushed_redis))
    pipeline = AutoPipeline(client)
    try:
        await pipeline.execute("SET", "string", "s")
        results = await asyncio.gather(
            pipeline.execute("GET", "string"),
            pipeline.execute("HGET", "string", "field"),  # WRONGTYPE
            pipeline.execute("GET", "string"),
            return_exceptions=True,
        )
        assert results[0] == b"s"
        assert isinstance(results[1], ResponseError)
        assert "WRONGTYPE" in str(results[1])
        assert results[2] == b"s"
        assert await pipeline.execute("PING") is True  # the stream stayed aligned
    finally:
        await pipeline.aclose()
        await client.aclose()


async def test_an_outage_fails_fast_and_the_next_batch_reconnects(tmp_path: Path) -> None:
    redis = EmbeddedRedis(tmp_path / "redis", port=free_port())
    redis.start()
    client = create_redis(load_settings(redis_url=redis.url))
    pipeline = AutoPipeline(client)
    try:
        await pipeline.execute("SET", "k", "before")
        redis.stop()
        started = time.perf_counter()
        with pytest.raises(DependencyUnavailable):
            await timed("get", pipeline.execute("GET", "k"))
        with pytest.raises((RedisConnectionError, OSError)):
            await pipeline.execute("GET", "k")
        assert time.perf_counter() - started < 3
        redis.start()
        assert await pipeline.execute("GET", "k") == b"before"
    finally:
        await pipeline.aclose()
        await client.aclose()
        redis.stop()


async def test_a_stalled_server_turns_into_a_timeout_not_a_hang(tmp_path: Path) -> None:
    redis = EmbeddedRedis(tmp_path / "redis", port=free_port())
    redis.start()
    client = create_redis(load_settings(redis_url=redis.url, redis_socket_timeout=0.3))
    pipeline = AutoPipeline(client)
    try:
        assert await pipeline.execute("PING") is True
        assert redis.process is not None
        redis.process.send_signal(signal.SIGSTOP)  # alive, connected, silent
        try:
            started = time.perf_counter()
            with pytest.raises(DependencyUnavailable):
                await timed("get", pipeline.execute("GET", "k"))
            assert time.perf_counter() - started < 0.9
        finally:
            redis.process.send_signal(signal.SIGCONT)
        assert await pipeline.execute("PING") is True
    finally:
        await pipeline.aclose()
        await client.aclose()
        redis.stop()


def test_a_reset_connection_under_uvloop_is_a_503_not_a_crash(redis_url: str) -> None:
    """uvloop (what `roost serve` runs on) raises RuntimeError on a write to a transport the
    peer reset; the pipeline must report it as an outage like any other connection failure."""
    import uvloop
    from tests.conftest import REDIS_HOST, REDIS_PORT
    from tests.faultproxy import FaultProxy

    async def scenario(proxy: FaultProxy) -> None:
        client = create_redis(
            load_settings(redis_url=f"redis://127.0.0.1:{proxy.port}/{redis_db(9)}")
        )
        pipeline = AutoPipeline(client)
        try:
            assert await pipeline.execute("PING") is True
            proxy.cut()
            writer = pipeline._connection._writer
            deadline = time.monotonic() + 5
            while not writer.is_closing():  # the loop reads the RST and closes the transport
                assert time.monotonic() < deadline, "the reset never reached the transport"
                await asyncio.sleep(0.01)
            with pytest.raises(DependencyUnavailable):
                await timed("get", pipeline.execute("GET", "k"))
            proxy.restore()
            assert await pipeline.execute("PING") is True
        finally:
            await pipeline.aclose()
            await client.aclose()

    with FaultProxy(REDIS_HOST, REDIS_PORT) as proxy:
        uvloop.run(scenario(proxy))

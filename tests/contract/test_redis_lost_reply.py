"""A Redis reply lost in transit must not lose the job it carried.

dramatiq's Redis broker fetches with one script that moves message ids from the queue into the
worker's set of unacknowledged messages and returns their bodies. When the link fails after the
script ran but before its reply arrived (a broker outage, a failover, a cut cable), the worker
never sees those messages, and they sit in its set for as long as it keeps heartbeating, which
a live worker does for ever. The broker drill found one upload in forty lost that way.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import dramatiq
import pytest
from dramatiq.brokers.redis import RedisBroker
from tests.conftest import forget_broker_state
from tests.faultproxy import FaultProxy

from roost.core.settings import Settings, load_settings
from roost.infra import queue

pytestmark = pytest.mark.integration


def wait_until(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"condition not met after {timeout}s"
        time.sleep(0.05)


@pytest.fixture
def direct(redis_url: str, unique: str) -> Iterator[Settings]:
    settings = load_settings(
        broker_url=redis_url,
        broker_namespace=f"lost{unique}",
        thumbnails_queue=f"lost-{unique}",
        broker_heartbeat_timeout_seconds=1,
        broker_maintenance_interval_seconds=0.2,
    )
    yield settings
    forget_broker_state(settings, [settings.thumbnails_queue])


def test_a_job_whose_fetch_reply_was_lost_is_delivered_again(direct: Settings) -> None:
    assert direct.broker_url is not None
    target = urlsplit(direct.broker_url)
    assert target.hostname is not None
    assert target.port is not None
    ran: list[int] = []
    lock = threading.Lock()

    def store_result(value: int) -> None:
        with lock:
            ran.append(value)

    with FaultProxy(target.hostname, target.port) as proxy:
        proxied = direct.model_copy(
            update={
                "broker_url": direct.broker_url.replace(
                    f"{target.hostname}:{target.port}", f"127.0.0.1:{proxy.port}"
                )
            }
        )
        worker_broker = queue.create_broker(proxied)
        assert isinstance(worker_broker, RedisBroker)
        dramatiq.Actor(
            store_result,
            broker=worker_broker,
            actor_name="store_result",
            queue_name=direct.thumbnails_queue,
            priority=0,
            options={},
        )
        # Connections made (and greeted) while replies still arrive: under lose_replies a new
        # connection never gets through its handshake, so the worker's consumers (the queue's
        # and its delay queue's) must find these in the pool.
        pool = worker_broker.client.connection_pool
        greeted = [pool.get_connection() for _ in range(4)]
        for connection in greeted:
            pool.release(connection)
        sender = queue.create_broker(direct)
        queue.send(sender, direct.thumbnails_queue, "store_result", [42])
        proxy.lose_replies()
        worker_broker.emit_after("process_boot")
        worker = dramatiq.Worker(
            worker_broker, queues={direct.thumbnails_queue}, worker_threads=1, worker_timeout=100
        )
        worker.start()
        try:
            # The worker's first fetch takes the job from the queue; its reply is dropped.
            wait_until(
                lambda: queue.queue_depth(sender, direct.thumbnails_queue).ready == 0, timeout=10
            )
            assert ran == []
            proxy.restore()
            # The worker notices the lost reply when its read times out (5 s), then the job
            # comes back after one heartbeat timeout (1 s here).
            wait_until(lambda: ran == [42], timeout=30)
        finally:
            worker.stop()
            worker_broker.close()
            sender.close()

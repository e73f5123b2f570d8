"""Queue semantics, the same on every broker: real Redis, real RabbitMQ, SQS on moto.

Jobs run in a real dramatiq worker (threads in this process) bound to the broker that
``roost.infra.queue.create_broker`` builds from a URL, with Roost's middleware.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import dramatiq
import pytest
from tests.conftest import forget_broker_state

from roost.core.settings import Settings, load_settings
from roost.infra import queue
from roost.infra.queue import DeadLetter

pytestmark = pytest.mark.integration

MIN_BACKOFF_MS = 100


@pytest.fixture(params=["redis", "rabbitmq", "sqs"])
def settings(request: pytest.FixtureRequest, unique: str) -> Iterator[Settings]:
    kind = request.param
    if kind == "redis":
        url = request.getfixturevalue("redis_url")
    elif kind == "rabbitmq":
        url = request.getfixturevalue("rabbitmq_url")
    else:
        url = "sqs://" + request.getfixturevalue("moto_endpoint").removeprefix("http://")
    built = load_settings(
        broker_url=url,
        broker_namespace=f"c{unique}",
        thumbnails_queue=f"contract-{unique}",
        job_max_retries=3,
        job_min_backoff_ms=MIN_BACKOFF_MS,
        job_max_backoff_ms=5_000,
        job_time_limit_seconds=0.5,
        broker_heartbeat_timeout_seconds=1,
        broker_maintenance_interval_seconds=0.2,
        broker_visibility_timeout_seconds=2,
    )
    yield built
    forget_broker_state(built, [built.thumbnails_queue])


class Recorder:
    """Collects what a test actor and the dead-letter callbacks saw, thread-safely."""

    def __init__(self) -> None:
        self.calls: list[tuple[float, Any]] = []
        self.dead: list[DeadLetter] = []
        self.lock = threading.Lock()

    def call(self, value: Any) -> None:
        with self.lock:
            self.calls.append((time.monotonic(), value))

    def record_dead(self, letters: Sequence[DeadLetter]) -> None:
        with self.lock:
            self.dead.extend(letters)


def wait_until(condition: Callable[[], bool], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError(f"condition not met after {timeout}s")


def running_worker(broker: dramatiq.Broker, settings: Settings) -> dramatiq.Worker:
    broker.emit_after("process_boot")
    worker = dramatiq.Worker(
        broker,
        queues={settings.thumbnails_queue},
        worker_threads=2,
        # SQS long-polls by default (20 s); a test worker must stop promptly.
        worker_timeout=min(queue.consumer_timeout_ms(broker), 1000),
    )
    worker.start()
    return worker


def make_actor(
    broker: dramatiq.Broker, settings: Settings, fn: Callable[..., Any], **options: Any
) -> dramatiq.Actor[Any, Any]:
    return dramatiq.Actor(
        fn,
        broker=broker,
        actor_name=fn.__name__,
        queue_name=settings.thumbnails_queue,
        priority=0,
        options=options,
    )


class Acknowledgements(dramatiq.Middleware):
    """The ids of the messages the worker acknowledged to the broker, thread-safely."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.lock = threading.Lock()

    def after_ack(self, broker: dramatiq.Broker, message: dramatiq.MessageProxy) -> None:
        with self.lock:
            self.ids.append(message.message_id)


def test_each_job_runs_once_and_is_acknowledged(settings: Settings) -> None:
    recorder = Recorder()
    acknowledged = Acknowledgements()
    broker = queue.create_broker(settings, extra_middleware=[acknowledged])

    def store_result(value: int) -> None:
        recorder.call(value)

    make_actor(broker, settings, store_result)
    sent = {
        queue.send(broker, settings.thumbnails_queue, "store_result", [value]).message_id
        for value in range(5)
    }
    worker = running_worker(broker, settings)
    try:
        # Once acknowledged a job cannot come back; one never acknowledged keeps this waiting.
        wait_until(lambda: len(recorder.calls) == 5 and set(acknowledged.ids) == sent)
    finally:
        worker.stop()
        broker.close()
    assert sorted(value for _, value in recorder.calls) == [0, 1, 2, 3, 4]
    assert sorted(acknowledged.ids) == sorted(sent)  # each once
    depth = queue.queue_depth(queue.create_broker(settings), settings.thumbnails_queue)
    assert (depth.ready, depth.delayed, depth.dead) == (0, 0, 0)


def test_a_failing_job_is_retried_three_times_with_growing_backoff_then_dead_lettered(
    settings: Settings,
) -> None:
    recorder = Recorder()
    broker = queue.create_broker(
        settings, extra_middleware=[queue.DeadLetters(recorder.record_dead)]
    )

    def flaky_upstream(value: str) -> None:
        recorder.call(value)
        raise ConnectionError("storage is down")

    make_actor(broker, settings, flaky_upstream)
    sent = queue.send(broker, settings.thumbnails_queue, "flaky_upstream", ["x"])
    worker = running_worker(broker, settings)
    try:
        wait_until(lambda: len(recorder.dead) == 1)
    finally:
        worker.stop()
        broker.close()

    assert len(recorder.calls) == 4  # the first run and three retries, no more
    [dead] = recorder.dead
    assert dead.message.message_id == sent.message_id
    assert dead.message.args == ("x",)
    assert dead.attempts == 4  # the first run and three retries
    assert dead.error == "ConnectionError: storage is down"
    assert "ConnectionError" in (dead.traceback or "")
    if not (settings.broker_url or "").startswith("sqs"):  # SQS delays are whole seconds
        times = [at for at, _ in recorder.calls]
        gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
        for attempt, gap in enumerate(gaps):
            assert gap >= 0.9 * MIN_BACKOFF_MS / 1000 * 2**attempt, gaps


def test_dead_letters_stay_in_the_broker_until_drained(settings: Settings) -> None:
    recorder = Recorder()

    def database_down(_: Sequence[DeadLetter]) -> None:
        raise ConnectionError("postgres is down")

    broker = queue.create_broker(settings, extra_middleware=[queue.DeadLetters(database_down)])

    def always_fails() -> None:
        recorder.call(None)
        raise RuntimeError("bug")

    make_actor(broker, settings, always_fails, max_retries=0)
    sent = queue.send(broker, settings.thumbnails_queue, "always_fails")
    worker = running_worker(broker, settings)
    try:
        wait_until(lambda: len(recorder.calls) == 1)
        wait_until(lambda: queue.queue_depth(broker, settings.thumbnails_queue).dead == 1)
    finally:
        worker.stop()

    drained = queue.drain_dead_letters(broker, settings.thumbnails_queue, recorder.record_dead)
    assert drained == 1
    assert [d.message.message_id for d in recorder.dead] == [sent.message_id]
    assert queue.drain_dead_letters(broker, settings.thumbnails_queue, recorder.record_dead) == 0
    wait_until(lambda: queue.queue_depth(broker, settings.thumbnails_queue).dead == 0)
    broker.close()


def test_a_drain_whose_handler_fails_keeps_the_dead_letters(settings: Settings) -> None:
    broker = queue.create_broker(settings)
    make_actor(broker, settings, _explode, max_retries=0)
    queue.send(broker, settings.thumbnails_queue, "_explode")
    worker = running_worker(broker, settings)
    try:
        wait_until(lambda: queue.queue_depth(broker, settings.thumbnails_queue).dead == 1)
    finally:
        worker.stop()

    def failing(_: Sequence[DeadLetter]) -> None:
        raise ConnectionError("postgres is down")

    with pytest.raises(ConnectionError):
        queue.drain_dead_letters(broker, settings.thumbnails_queue, failing)
    recorder = Recorder()
    drained = queue.drain_dead_letters(broker, settings.thumbnails_queue, recorder.record_dead)
    assert drained == 1
    assert len(recorder.dead) == 1
    broker.close()


def test_a_job_held_by_a_worker_that_died_is_delivered_again(settings: Settings) -> None:
    sending = queue.create_broker(settings)
    queue.send(sending, settings.thumbnails_queue, "store_result", [42])

    # A first "worker" takes the job and dies before acknowledging it.
    doomed = queue.create_broker(settings)
    doomed.declare_queue(settings.thumbnails_queue)
    consumer = doomed.consume(settings.thumbnails_queue, prefetch=1, timeout=1000)
    deadline = time.monotonic() + 10
    taken = None
    while taken is None and time.monotonic() < deadline:
        taken = next(consumer)
    assert taken is not None
    assert taken.args == (42,)
    if (settings.broker_url or "").startswith("amqp"):
        consumer.close()  # its connection drops, as when the process is killed
    # Redis: it simply stops heartbeating. SQS: the visibility timeout runs out.

    recorder = Recorder()
    survivor = queue.create_broker(settings)

    def store_result(value: int) -> None:
        recorder.call(value)

    make_actor(survivor, settings, store_result)
    worker = running_worker(survivor, settings)
    try:
        wait_until(lambda: len(recorder.calls) == 1, timeout=20)
    finally:
        worker.stop()
        survivor.close()
        sending.close()
    assert recorder.calls[0][1] == 42


def test_a_job_over_its_time_limit_is_interrupted(settings: Settings) -> None:
    recorder = Recorder()
    broker = queue.create_broker(
        settings, extra_middleware=[queue.DeadLetters(recorder.record_dead)]
    )

    def endless() -> None:
        while True:  # pure Python: the time limit's interrupt lands between bytecodes
            time.sleep(0.01)

    make_actor(broker, settings, endless, max_retries=0)
    queue.send(broker, settings.thumbnails_queue, "endless")
    worker = running_worker(broker, settings)
    try:
        wait_until(lambda: len(recorder.dead) == 1, timeout=10)
    finally:
        worker.stop()
        broker.close()
    assert (recorder.dead[0].error or "").startswith("TimeLimitExceeded")


def _explode() -> None:
    raise RuntimeError("bug")

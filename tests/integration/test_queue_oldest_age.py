"""How long the oldest ready job has waited, read from the real brokers (Redis, RabbitMQ) and
from SQS's CloudWatch metric (moto), the way the worker's housekeeping exports it as
``queue_oldest_job_age_seconds``: looking must neither take the job nor move it."""

from __future__ import annotations

from collections.abc import Iterator

import dramatiq
import pytest
from tests.conftest import forget_broker_state
from tests.contract.test_queue_contract import wait_until

from roost.core.settings import Settings, load_settings
from roost.infra import queue

pytestmark = pytest.mark.integration


@pytest.fixture(params=["redis", "rabbitmq"])
def settings(request: pytest.FixtureRequest, unique: str) -> Iterator[Settings]:
    url = request.getfixturevalue(f"{request.param}_url")
    built = load_settings(
        broker_url=url, broker_namespace=f"age{unique}", thumbnails_queue=f"age-{unique}"
    )
    yield built
    forget_broker_state(built, [built.thumbnails_queue])


def test_empty_queue_has_no_waiting_age(settings: Settings) -> None:
    broker = queue.create_broker(settings)
    broker.declare_queue(settings.thumbnails_queue)
    try:
        assert queue.oldest_ready_age(broker, settings.thumbnails_queue) == 0.0
    finally:
        broker.close()


def test_age_is_that_of_the_first_job_sent_and_looking_leaves_every_job_in_place(
    settings: Settings,
) -> None:
    name = settings.thumbnails_queue
    broker = queue.create_broker(settings)
    try:
        first = queue.send(broker, name, "make_thumbnails", ["first"])
        second = queue.send(broker, name, "make_thumbnails", ["second"])
        wait_until(lambda: queue.queue_depth(broker, name).ready == 2)
        later = first.message_timestamp / 1000 + 400  # as if the job had waited 400 s

        for _ in range(3):  # the same answer each time: the look put the job back
            age = queue.oldest_ready_age(broker, name, now=later)
            # (RabbitMQ requeues a little after the nack; the second job, sent within
            # milliseconds, may answer meanwhile)
            assert age == pytest.approx(400, abs=0.5)
        wait_until(lambda: queue.queue_depth(broker, name).ready == 2)

        taken: list[str] = []
        dramatiq.Actor(
            lambda label: taken.append(label),
            broker=broker, actor_name="make_thumbnails", queue_name=name, priority=0, options={},
        )  # fmt: skip
        broker.emit_after("process_boot")
        worker = dramatiq.Worker(broker, queues={name}, worker_threads=1)
        worker.start()
        try:
            wait_until(lambda: len(taken) == 2)
        finally:
            worker.stop()
        assert sorted(taken) == ["first", "second"]
        assert second.message_timestamp >= first.message_timestamp
        assert queue.oldest_ready_age(broker, name) == 0.0
    finally:
        broker.close()


def test_sqs_age_is_cloudwatchs_approximate_age_of_oldest_message(
    moto_endpoint: str, unique: str
) -> None:
    """SQS has no peek that leaves the receive count alone, so the age comes from CloudWatch;
    here moto's CloudWatch holds the point AWS would publish for the queue."""
    import datetime

    import boto3

    settings = load_settings(
        broker_url="sqs://" + moto_endpoint.removeprefix("http://"),
        broker_namespace=f"age{unique}",
        thumbnails_queue=f"age-{unique}",
    )
    broker = queue.create_broker(settings)
    name = settings.thumbnails_queue
    queue.send(broker, name, "make_thumbnails", ["first"])
    assert queue.oldest_ready_age(broker, name) == 0.0  # nothing published yet
    queue_name = broker.queues[name].url.rsplit("/", 1)[-1]
    boto3.client("cloudwatch", endpoint_url=moto_endpoint).put_metric_data(
        Namespace="AWS/SQS",
        MetricData=[
            {
                "MetricName": "ApproximateAgeOfOldestMessage",
                "Dimensions": [{"Name": "QueueName", "Value": queue_name}],
                "Value": 412.0,
                "Timestamp": datetime.datetime.now(datetime.UTC),
            }
        ],
    )
    assert queue.oldest_ready_age(broker, name) == 412.0
    assert queue.queue_depth(broker, name).ready == 1, "looking received nothing"
    broker.close()

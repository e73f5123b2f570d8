"""The SQS side of :mod:`roost.infra.queue` (``sqs://`` broker URLs, dramatiq-sqs): the broker,
queue depths, the age of the oldest job (from CloudWatch) and the dead-letter drain.

Imported only when an SQS broker is in use: dramatiq-sqs is an AWS deployment's dependency.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

import dramatiq
from dramatiq.middleware import Middleware

from roost.core.settings import Settings
from roost.infra.queue import DeadLetter, DeadLetterHandler, QueueDepth


def create_sqs_broker(
    url: str, settings: Settings, middleware: list[Middleware]
) -> dramatiq.Broker:
    try:
        from dramatiq_sqs import SQSBroker
    except ImportError as exc:  # an optional extra: only AWS deployments need it
        raise ValueError("sqs:// brokers need the dramatiq-sqs package") from exc
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    options: dict[str, Any] = {}
    if parts.netloc:
        # sqs://host:port talks to an SQS-compatible endpoint (moto, ElasticMQ); sqs:// to AWS.
        options["endpoint_url"] = f"{query.get('scheme', 'http')}://{parts.netloc}"
    if "region" in query:
        options["region_name"] = query["region"]
    broker: dramatiq.Broker = SQSBroker(
        namespace=settings.broker_namespace,
        middleware=middleware,
        dead_letter=True,
        dead_letter_retention=min(settings.dead_letter_ttl_days * 86_400, 14 * 86_400),
        visibility_timeout=settings.broker_visibility_timeout_seconds,
        **options,
    )
    return broker


def sqs_oldest_age(broker: Any, queue_name: str, now: float) -> float:
    import boto3

    broker._ensure_queue(queue_name)
    sqs = broker.sqs.meta.client
    endpoint = sqs.meta.endpoint_url
    # Same endpoint only off AWS (moto, LocalStack); on AWS each service has its own.
    cloudwatch = boto3.client(
        "cloudwatch",
        region_name=sqs.meta.region_name,
        endpoint_url=None if endpoint.endswith(".amazonaws.com") else endpoint,
    )
    answer = cloudwatch.get_metric_statistics(
        Namespace="AWS/SQS",
        MetricName="ApproximateAgeOfOldestMessage",
        Dimensions=[
            {"Name": "QueueName", "Value": broker.queues[queue_name].url.rsplit("/", 1)[-1]}
        ],
        # SQS publishes once a minute, minutes late: the last ten minutes, the newest point wins.
        # The end lies past now so the period still open is included.
        StartTime=now - 600,
        EndTime=now + 60,
        Period=60,
        Statistics=["Maximum"],
    )
    points = sorted(answer.get("Datapoints", []), key=lambda point: point["Timestamp"])
    return float(points[-1]["Maximum"]) if points else 0.0


def _dead_letter_queue(broker: Any, queue_name: str) -> Any:
    if queue_name not in broker.get_declared_queues():
        broker.declare_queue(queue_name)
    broker._ensure_queue(queue_name)
    return broker.dead_letter_queues[queue_name]


def sqs_depth(broker: Any, queue_name: str) -> QueueDepth:
    if queue_name not in broker.get_declared_queues():
        broker.declare_queue(queue_name)
    broker._ensure_queue(queue_name)
    queue = broker.queues[queue_name]
    dead_queue = broker.dead_letter_queues[queue_name]
    queue.load()
    dead_queue.load()
    return QueueDepth(
        int(queue.attributes["ApproximateNumberOfMessages"]),
        int(queue.attributes["ApproximateNumberOfMessagesDelayed"]),
        int(dead_queue.attributes["ApproximateNumberOfMessages"]),
    )


def drain_sqs(broker: Any, queue_name: str, handler: DeadLetterHandler, limit: int) -> int:
    from base64 import b64decode

    dead_queue = _dead_letter_queue(broker, queue_name)
    received: list[Any] = []
    while len(received) < limit:
        batch = dead_queue.receive_messages(
            MaxNumberOfMessages=min(10, limit - len(received)),
            WaitTimeSeconds=0,
            VisibilityTimeout=60,
        )
        if not batch:
            break
        received.extend(batch)
    if not received:
        return 0
    try:
        handler([DeadLetter(dramatiq.Message.decode(b64decode(m.body))) for m in received])
    except BaseException:
        for message in received:  # visible again at once, as a RabbitMQ nack would do
            message.change_visibility(VisibilityTimeout=0)
        raise
    for message in received:
        message.delete()
    return len(received)

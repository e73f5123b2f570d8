"""The job broker (dramatiq), chosen by ``ROOST_BROKER_URL``: Redis, RabbitMQ or SQS.

Every broker gets the same middleware: a per-job time limit, retries with exponential backoff
for any exception an actor lets escape (``job_max_retries`` times), then the broker's own
dead-letter queue. A job is acknowledged only after its actor returns, so a worker killed
mid-job loses nothing: RabbitMQ redelivers when the connection drops, SQS when the visibility
timeout runs out, and Redis when the dead worker's heartbeat is older than
``broker_heartbeat_timeout_seconds`` (checked by every consumer each maintenance interval).
A Redis call that fails mid-flight may have taken jobs whose reply never arrived: the worker
then carries on under a new identity, so the old one's jobs come back the same way
(:meth:`roost.infra.redis_broker.RoostRedisBroker.renew_identity`).

Broker dead-letter queues keep the message as first enqueued, without its error. So that an
operator sees why a job died, :class:`DeadLetters` hands every dead-lettered message, with its
last error, to a callback the moment it is dead-lettered, and :func:`drain_dead_letters` moves
whatever is in the broker's dead-letter queue to the same callback (catching up after the
callback failed, e.g. while the database was down) before deleting it from the broker. The
callback the worker uses is :func:`roost.infra.dead_letters.recorder`: one Postgres store for
every queue's dead letters.

Blocking, like dramatiq itself: from async code call these through a thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import dramatiq
import redis
import structlog
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.redis import RedisBroker
from dramatiq.common import dq_name, xq_name
from dramatiq.middleware import CurrentMessage, Middleware, Retries, TimeLimit

from roost.core.errors import DependencyUnavailable
from roost.core.settings import Settings
from roost.infra.redis_broker import RoostRedisBroker

log = structlog.get_logger("roost.queue")
T = TypeVar("T")
# Waits between attempts while a dependency is down: short first, then every 2 s.
OUTAGE_PAUSES_SECONDS = (0.25, 0.5, 1.0, 2.0)

BrokerKind = str  # "redis" | "rabbitmq" | "sqs"


def wait_out_outages(
    job: Callable[[], T],
    budget_seconds: float,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """Run ``job``; while it fails with :class:`DependencyUnavailable`, wait and run it again,
    for at most ``budget_seconds``, then let the error reach the retry machinery.

    A database or storage outage says nothing about the job: spending its few retries (and
    dead-lettering it) during a 10 s failover would turn an outage into lost work. Jobs are
    idempotent (delivery is at least once), so running one again from the start is safe. The
    budget stays below the job time limit, which still ends a job that hangs.
    """
    deadline = clock() + budget_seconds
    attempt = 0
    while True:
        try:
            return job()
        except DependencyUnavailable as outage:
            pause = OUTAGE_PAUSES_SECONDS[min(attempt, len(OUTAGE_PAUSES_SECONDS) - 1)]
            if clock() + pause > deadline:
                raise
            attempt += 1
            log.warning(
                "job_waiting_out_outage",
                dependency=(outage.details or {}).get("dependency"),
                attempt=attempt,
                pause_seconds=pause,
            )
            sleep(pause)


SQS_MAX_DELAY_MS = 900_000


@dataclass(frozen=True)
class DeadLetter:
    """A job that will not be retried any more, as the broker's dead-letter queue holds it."""

    message: dramatiq.Message[Any]
    error: str | None = None
    traceback: str | None = None
    attempts: int = 0  # runs that failed, the first one included
    dead_at: float = field(default_factory=time.time)


DeadLetterHandler = Callable[[Sequence[DeadLetter]], None]


@dataclass(frozen=True)
class QueueDepth:
    ready: int
    delayed: int
    dead: int


def broker_kind(url: str) -> BrokerKind:
    scheme = urlsplit(url).scheme
    if scheme in ("redis", "rediss", "unix"):
        return "redis"
    if scheme in ("amqp", "amqps"):
        return "rabbitmq"
    if scheme == "sqs":
        return "sqs"
    raise ValueError(f"{url}: broker URLs are redis://, amqp:// or sqs://")


def create_broker(
    settings: Settings, url: str | None = None, *, extra_middleware: Iterable[Middleware] = ()
) -> dramatiq.Broker:
    """A broker for ``url`` (default ``ROOST_BROKER_URL``) with Roost's middleware.

    Not made the global dramatiq broker: actors are bound to it explicitly.
    """
    target = url or settings.broker_url
    if target is None:
        raise ValueError("ROOST_BROKER_URL is not set (roost up fills it in for embedded runs)")
    kind = broker_kind(target)
    max_backoff = max(settings.job_max_backoff_ms, settings.job_min_backoff_ms)
    if kind == "sqs":  # SQS refuses delays over 15 minutes: a longer retry fails to enqueue
        max_backoff = min(max_backoff, SQS_MAX_DELAY_MS)
    middleware: list[Middleware] = [
        TimeLimit(time_limit=int(settings.job_time_limit_seconds * 1000), interval=250),
        CurrentMessage(),
        Retries(
            max_retries=settings.job_max_retries,
            min_backoff=min(settings.job_min_backoff_ms, max_backoff),
            max_backoff=max_backoff,
        ),
        *extra_middleware,
    ]
    dead_message_ttl_ms = settings.dead_letter_ttl_days * 86_400_000
    if kind == "redis":
        client = redis.Redis.from_url(
            target,
            socket_timeout=5,
            socket_connect_timeout=2,
            socket_keepalive=True,
            health_check_interval=15,
        )
        return RoostRedisBroker(
            client=client,
            middleware=middleware,
            namespace=settings.broker_namespace,
            heartbeat_timeout=int(settings.broker_heartbeat_timeout_seconds * 1000),
            dead_message_ttl=dead_message_ttl_ms,
            maintenance_interval=settings.broker_maintenance_interval_seconds,
            delay_poll_ms=settings.job_min_backoff_ms,
        )
    if kind == "rabbitmq":
        return RabbitmqBroker(
            url=_with_default_query(
                target,
                {
                    "socket_timeout": "5",
                    "connection_attempts": "2",
                    "retry_delay": "0.5",
                    "blocked_connection_timeout": "10",
                    "heartbeat": "30",
                },
            ),
            middleware=middleware,
            # Publisher confirms: an upload is answered 202 only once RabbitMQ has the job.
            confirm_delivery=True,
        )
    from roost.infra import sqs_broker

    return sqs_broker.create_sqs_broker(target, settings, middleware)


class DeadLetters(Middleware):
    """Calls ``handler`` with each message the moment a worker dead-letters it.

    The broker has the message already: a handler that fails (database down) loses nothing,
    :func:`drain_dead_letters` delivers the message again later, without the error text.
    """

    def __init__(self, handler: DeadLetterHandler) -> None:
        self.handler = handler

    def after_nack(self, broker: dramatiq.Broker, message: dramatiq.MessageProxy) -> None:
        stored: dramatiq.Message[Any] = dramatiq.Message(
            queue_name=message.queue_name,
            actor_name=message.actor_name,
            args=message.args,
            kwargs=message.kwargs,
            options=message.options,
            message_id=message.message_id,
            message_timestamp=message.message_timestamp,
        )
        trace = stored.options.get("traceback")
        exception = message._exception
        error = _describe(exception) if exception is not None else _last_line(trace)
        dead = DeadLetter(
            message=stored,
            error=error,
            traceback=trace if isinstance(trace, str) else None,
            attempts=int(stored.options.get("retries", 0)),
        )
        try:
            self.handler([dead])
        except Exception as exc:
            log.warning(
                "dead_letter_not_recorded",
                message_id=stored.message_id,
                error=f"{type(exc).__name__}: {exc}"[:300],
            )


def send(
    broker: dramatiq.Broker,
    queue_name: str,
    actor_name: str,
    args: Sequence[Any] = (),
    kwargs: dict[str, Any] | None = None,
) -> dramatiq.Message[Any]:
    """Enqueue a job by actor name: the sending process needs no actor code."""
    if queue_name not in broker.get_declared_queues():
        broker.declare_queue(queue_name)
    message: dramatiq.Message[Any] = dramatiq.Message(
        queue_name=queue_name,
        actor_name=actor_name,
        args=tuple(args),
        kwargs=kwargs or {},
        options={},
    )
    enqueued: dramatiq.Message[Any] = broker.enqueue(message)
    return enqueued


def consumer_timeout_ms(broker: dramatiq.Broker) -> int:
    """How long an idle consumer waits between polls: short for Redis (a job waits at most
    that long to be picked up), a long poll for SQS (each poll is a billed request)."""
    if isinstance(broker, RedisBroker):
        return 100
    if isinstance(broker, RabbitmqBroker):
        return 1000  # pushed by the server; this only bounds how late a shutdown is noticed
    return 20_000


def ping(broker: dramatiq.Broker) -> None:
    """Raise unless the broker answers (a fresh connection for RabbitMQ)."""
    if isinstance(broker, RedisBroker):
        broker.client.ping()
    elif isinstance(broker, RabbitmqBroker):
        import pika

        parameters = broker.parameters
        connection = pika.BlockingConnection(
            parameters[0] if isinstance(parameters, list) else parameters
        )
        connection.close()
    else:
        sqs: Any = getattr(broker, "sqs")  # noqa: B009 - dramatiq_sqs is untyped
        sqs.meta.client.list_queues(MaxResults=1)


def queue_depth(broker: dramatiq.Broker, queue_name: str) -> QueueDepth:
    """Jobs waiting (ready), waiting for a retry or an eta (delayed), and dead-lettered."""
    if isinstance(broker, RedisBroker):
        prefix = f"{broker.namespace}:"
        pipe = broker.client.pipeline(transaction=False)
        pipe.llen(prefix + queue_name)
        pipe.llen(prefix + dq_name(queue_name))
        pipe.zcard(prefix + xq_name(queue_name))
        ready, delayed, dead = pipe.execute()
        return QueueDepth(int(ready), int(delayed), int(dead))
    if isinstance(broker, RabbitmqBroker):
        ready, delayed, dead = broker.get_queue_message_counts(queue_name)
        return QueueDepth(int(ready), int(delayed), int(dead))
    from roost.infra import sqs_broker

    return sqs_broker.sqs_depth(broker, queue_name)


def oldest_ready_age(
    broker: dramatiq.Broker, queue_name: str, *, now: float | None = None
) -> float:
    """Seconds the oldest ready job of ``queue_name`` has waited for a worker (since it was
    enqueued, or since its retry became due); 0 when none waits.

    Redis: the head of the queue's list, read without popping. RabbitMQ: the next message,
    fetched unacknowledged and handed straight back (``basic_get`` + ``nack(requeue)``), so it
    keeps its place. SQS: CloudWatch's ``ApproximateAgeOfOldestMessage`` — receiving a message
    to look at it would count towards the redrive policy's ``maxReceiveCount``."""
    current = time.time() if now is None else now
    if isinstance(broker, RedisBroker):
        key = f"{broker.namespace}:{queue_name}"
        head = broker.client.lindex(key, 0)
        payload = broker.client.hget(key + ".msgs", head) if head is not None else None
        if not isinstance(payload, bytes):  # empty, or taken by a worker meanwhile
            return 0.0
        return _waited(dramatiq.Message.decode(payload), current)
    if isinstance(broker, RabbitmqBroker):
        # Declaring (idempotent) first: a basic_get on a queue nobody declared yet closes the
        # channel; and an empty queue needs no look at all.
        if broker.get_queue_message_counts(queue_name)[0] == 0:
            return 0.0
        channel = broker.channel
        method, _, body = channel.basic_get(queue=queue_name, auto_ack=False)
        if method is None:
            return 0.0
        channel.basic_nack(method.delivery_tag, requeue=True)
        return _waited(dramatiq.Message.decode(body), current)
    from roost.infra import sqs_broker

    return sqs_broker.sqs_oldest_age(broker, queue_name, current)


def _waited(message: dramatiq.Message[Any], now: float) -> float:
    ready_since_ms = message.options.get("eta", message.message_timestamp)
    return max(0.0, now - float(ready_since_ms) / 1000)


def drain_dead_letters(
    broker: dramatiq.Broker, queue_name: str, handler: DeadLetterHandler, *, limit: int = 100
) -> int:
    """Hand up to ``limit`` messages of the broker's dead-letter queue to ``handler``, then
    delete them from the broker; a handler that raises leaves them where they are."""
    if isinstance(broker, RedisBroker):
        return _drain_redis(broker, queue_name, handler, limit)
    if isinstance(broker, RabbitmqBroker):
        return _drain_rabbitmq(broker, queue_name, handler, limit)
    from roost.infra import sqs_broker

    return sqs_broker.drain_sqs(broker, queue_name, handler, limit)


def _drain_redis(
    broker: RedisBroker, queue_name: str, handler: DeadLetterHandler, limit: int
) -> int:
    dead_queue = f"{broker.namespace}:{xq_name(queue_name)}"
    entries: list[tuple[bytes, float]] = broker.client.zrange(  # type: ignore[assignment]
        dead_queue, 0, limit - 1, withscores=True
    )
    if not entries:
        return 0
    ids = [redis_id for redis_id, _ in entries]
    payloads = broker.client.hmget(dead_queue + ".msgs", ids)
    dead = [
        DeadLetter(dramatiq.Message.decode(payload), dead_at=score / 1000)
        for (_, score), payload in zip(entries, payloads, strict=True)
        if payload is not None
    ]
    if dead:
        handler(dead)
    pipe = broker.client.pipeline(transaction=True)
    pipe.zrem(dead_queue, *ids)
    pipe.hdel(dead_queue + ".msgs", *ids)
    pipe.execute()
    return len(dead)


def _drain_rabbitmq(
    broker: RabbitmqBroker, queue_name: str, handler: DeadLetterHandler, limit: int
) -> int:
    if queue_name not in broker.get_declared_queues():
        broker.declare_queue(queue_name, ensure=True)
    channel = broker.channel
    tags: list[int] = []
    dead: list[DeadLetter] = []
    try:
        for _ in range(limit):
            method, _properties, body = channel.basic_get(xq_name(queue_name), auto_ack=False)
            if method is None:
                break
            tags.append(method.delivery_tag)
            dead.append(DeadLetter(dramatiq.Message.decode(body)))
        if dead:
            handler(dead)
    except BaseException:
        for tag in tags:
            channel.basic_nack(tag, requeue=True)
        raise
    if tags:
        channel.basic_ack(tags[-1], multiple=True)
    return len(dead)


def _with_default_query(url: str, defaults: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    return urlunsplit(parts._replace(query=urlencode({**defaults, **query})))


def _describe(exception: BaseException) -> str:
    return f"{type(exception).__name__}: {exception}"[:1000]


def _last_line(trace: object) -> str | None:
    if not isinstance(trace, str) or not trace.strip():
        return None
    return trace.strip().splitlines()[-1][:1000]

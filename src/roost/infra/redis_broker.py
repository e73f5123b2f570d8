"""dramatiq's Redis broker as Roost runs it: queue maintenance on a clock instead of by chance,
slow polling of delay queues, and a new worker identity after a Redis call fails mid-flight.
Built by :func:`roost.infra.queue.create_broker` for ``redis://`` broker URLs."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import dramatiq
import redis
import structlog
from dramatiq.broker import Consumer
from dramatiq.brokers.redis import RedisBroker, _RedisConsumer
from dramatiq.common import dq_name, q_name
from dramatiq.errors import ConnectionClosed

log = structlog.get_logger("roost.queue")


class RoostRedisBroker(RedisBroker):
    """dramatiq's Redis broker with deterministic queue maintenance.

    dramatiq runs maintenance (requeueing the unacknowledged jobs of workers whose heartbeat
    stopped) on a random 0.1% of commands, which after a worker is killed can take minutes.
    Here each thread (a consumer serves one queue from one thread) runs it at most once per
    ``maintenance_interval`` seconds, so recovery takes about heartbeat timeout + interval.
    Overrides a private hook of dramatiq 2.2 (pinned in pyproject.toml).
    """

    def __init__(
        self, *, maintenance_interval: float, delay_poll_ms: int = 0, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)  # type: ignore[no-untyped-call]
        self.maintenance_interval = maintenance_interval
        self.delay_poll_ms = delay_poll_ms
        self._last_maintenance = threading.local()

    @property
    def consumer_class(self) -> type[Consumer]:
        return _IdentityRenewingConsumer

    def renew_identity(self) -> None:
        """Carry on under a new worker id after a Redis call failed mid-flight.

        A fetch moves message ids into this worker's set of unacknowledged messages and returns
        them in its reply; if the reply is lost, nobody knows those messages are taken, and a
        live worker keeps its id's heartbeat fresh, so maintenance never gives them back. Under
        a new id the old one's heartbeat stops: one heartbeat timeout later maintenance requeues
        everything it held. Jobs it was still running are acknowledged under the new id (a
        no-op) and run once more: delivery is at least once, and every job is idempotent.
        """
        previous, self.broker_id = self.broker_id, str(uuid.uuid4())
        log.warning("broker_identity_renewed", previous=previous, current=self.broker_id)

    def consume(self, queue_name: str, prefetch: int = 1, timeout: int = 5000) -> Consumer:
        # A delay queue holds retries waiting out a backoff of at least job_min_backoff_ms:
        # polling it as often as a work queue only burns CPU (every idle poll is a Redis round
        # trip and a thread wake-up, ~0.8 ms of CPU on a small VM), and a retry is then late
        # by at most one such interval.
        if queue_name == dq_name(q_name(queue_name)):
            timeout = max(timeout, self.delay_poll_ms)
        consumer: Consumer = super().consume(queue_name, prefetch, timeout)
        return consumer

    def _should_do_maintenance(self, command: str) -> int:
        if command in ("ack", "nack"):
            return 0
        now = time.monotonic()
        last: float = getattr(self._last_maintenance, "at", 0.0)
        if now - last < self.maintenance_interval:
            return 0
        self._last_maintenance.at = now
        return 1


class _IdentityRenewingConsumer(_RedisConsumer):
    """dramatiq's Redis consumer that renews its broker's identity when a call fails, since
    the failed call may have taken messages this worker will never see (see
    :meth:`RoostRedisBroker.renew_identity`)."""

    broker: RoostRedisBroker

    def __next__(self) -> dramatiq.MessageProxy | None:
        try:
            message: dramatiq.MessageProxy | None = super().__next__()  # type: ignore[no-untyped-call]
        except (ConnectionClosed, redis.RedisError):
            self.broker.renew_identity()
            raise
        return message

    def ack(self, message: dramatiq.MessageProxy) -> None:
        try:
            super().ack(message)  # type: ignore[no-untyped-call]
        except (ConnectionClosed, redis.RedisError):
            self.broker.renew_identity()
            raise

    def nack(self, message: dramatiq.MessageProxy) -> None:
        try:
            super().nack(message)  # type: ignore[no-untyped-call]
        except (ConnectionClosed, redis.RedisError):
            self.broker.renew_identity()
            raise

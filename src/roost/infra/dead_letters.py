"""The one dead-letter store for every queue: a Postgres table, a recorder, a redrive.

A job that exhausts its retries lands in its broker's dead-letter queue (see
:mod:`roost.infra.queue`); the worker hands it here the moment it dies (with its last error) and
again when it drains the broker's dead-letter queues (without). Each entry names its queue and
actor, so one list shows every queue's dead jobs and a redrive sends each back where it came from.

Infra knows no domain: a domain registers a :class:`FailureHook` for its actor through the
composition root (``roles.py``). The hook runs in the same transaction as the entry it concerns,
so a job's record (an image, an optimization result) says ``failed`` exactly when the job is
dead-lettered, and goes back to ``queued`` exactly when it is redriven.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import structlog
from sqlalchemy import DateTime, Index, Integer, Select, String, Text, func, select, text, update
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from roost.core.errors import DomainError
from roost.infra.db import Base, unit_of_work
from roost.infra.queue import DeadLetter, DeadLetterHandler

log = structlog.get_logger("roost.dead_letters")

Sessions = async_sessionmaker[AsyncSession]
# queue name, actor name, args, kwargs -> the enqueued message's id
SendJob = Callable[[str, str, Sequence[Any], dict[str, Any]], Awaitable[str]]
RunCoroutine = Callable[[Coroutine[Any, Any, Any]], Any]
State = Literal["pending", "redriven", "all"]
STATES: tuple[State, ...] = ("pending", "redriven", "all")
# What a drained entry (the broker keeps no error) says when its job's record is marked failed.
NO_ERROR_KNOWN = "the job was dead-lettered"


class DeadLetterRecord(Base):
    """A job some broker dead-lettered, kept until an operator redrives it (and after)."""

    __tablename__ = "queue_dead_letters"
    __table_args__ = (
        Index("ix_queue_dead_letters_pending", "redriven_at", text("dead_at DESC")),
        Index("ix_queue_dead_letters_actor", "actor_name", text("dead_at DESC")),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    message_id: Mapped[str] = mapped_column(String(64), unique=True)
    queue_name: Mapped[str] = mapped_column(String(128))
    actor_name: Mapped[str] = mapped_column(String(128))
    args: Mapped[list[Any]] = mapped_column(JSONB)
    kwargs: Mapped[dict[str, Any]] = mapped_column(JSONB)
    error: Mapped[str | None] = mapped_column(Text)
    traceback: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"), default=0)
    dead_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    recorded_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    redriven_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    redrive_message_id: Mapped[str | None] = mapped_column(String(64))


class DeadLetterError(DomainError):
    code = "dead_letter_error"


class DeadLetterNotFound(DeadLetterError):
    code = "dead_letter_not_found"
    http_status = 404


class AlreadyRedriven(DeadLetterError):
    code = "already_redriven"
    http_status = 409


# Called with the session of the transaction that records (or redrives) ``record``.
RecordHook = Callable[[AsyncSession, DeadLetterRecord], Awaitable[None]]


@dataclass(frozen=True)
class FailureHook:
    """What a domain does to its own record when one of its jobs dies, and when it is redriven."""

    dead_lettered: RecordHook
    redriven: RecordHook


# actor name -> its domain's hook; actors without one are stored and redriven all the same.
FailureHooks = Mapping[str, FailureHook]


def recorder(sessions: Sessions, hooks: FailureHooks, run: RunCoroutine) -> DeadLetterHandler:
    """A handler for :class:`roost.infra.queue.DeadLetters` and ``drain_dead_letters``: records
    dead letters from a worker or housekeeping thread through ``run`` (the worker's loop)."""

    def record(letters: Sequence[DeadLetter]) -> None:
        run(record_dead_letters(sessions, hooks, letters))

    return record


async def record_dead_letters(
    sessions: Sessions, hooks: FailureHooks, letters: Iterable[DeadLetter]
) -> int:
    """Keep each dead-lettered job once (by message id) and call its actor's hook.

    The same job comes twice, the moment it dies (with its error) and when the broker's
    dead-letter queue is drained (without), in either order: the second only fills in a
    missing error (and hands it to the hook, so the domain's record shows it too).
    """
    recorded = 0
    async with unit_of_work(sessions) as session:
        for dead in letters:
            message = dead.message
            values: dict[str, Any] = {
                "id": uuid.uuid4(),
                "message_id": message.message_id,
                "queue_name": message.queue_name,
                "actor_name": message.actor_name,
                "args": list(message.args),
                "kwargs": dict(message.kwargs),
                "error": dead.error,
                "traceback": (dead.traceback or "")[-8000:] or None,
                "attempts": dead.attempts,
                "dead_at": datetime.fromtimestamp(dead.dead_at, UTC),
            }
            inserted = await session.scalar(
                insert(DeadLetterRecord)
                .values(**values)
                .on_conflict_do_nothing(index_elements=["message_id"])
                .returning(DeadLetterRecord.id)
            )
            hook = hooks.get(message.actor_name)
            if inserted is None:
                # Known already: the drain can beat the worker's own report, which brings the
                # error; the domain's record then gets the error too.
                filled = dead.error is not None and await _fill_in_error(session, dead, values)
                if filled and hook is not None:
                    await hook.dead_lettered(session, DeadLetterRecord(**values))
                continue
            recorded += 1
            log.warning(
                "job_dead_lettered",
                message_id=message.message_id,
                queue=message.queue_name,
                actor=message.actor_name,
                error=dead.error,
            )
            if hook is not None:
                await hook.dead_lettered(session, DeadLetterRecord(**values))
    return recorded


def selection(state: State, actor: str | None = None) -> Select[DeadLetterRecord]:
    """Entries in ``state`` (of one actor, or of all); the caller orders and pages."""
    statement = select(DeadLetterRecord)
    if state == "pending":
        statement = statement.where(DeadLetterRecord.redriven_at.is_(None))
    elif state == "redriven":
        statement = statement.where(DeadLetterRecord.redriven_at.is_not(None))
    if actor is not None:
        statement = statement.where(DeadLetterRecord.actor_name == actor)
    return statement


async def redrive(
    sessions: Sessions, hooks: FailureHooks, send: SendJob, dead_letter_id: uuid.UUID
) -> DeadLetterRecord:
    """Enqueue a dead-lettered job again (a new message, retries from zero) and let its actor's
    hook put its record back. Redriving twice is refused: the first redrive's job is on its way."""
    async with unit_of_work(sessions) as session:
        record = await session.get(DeadLetterRecord, dead_letter_id, with_for_update=True)
        if record is None:
            raise DeadLetterNotFound(f"no dead letter {dead_letter_id}")
        if record.redriven_at is not None:
            raise AlreadyRedriven(
                f"dead letter {dead_letter_id} was redriven at {record.redriven_at.isoformat()}"
            )
        await _redrive_locked(session, hooks, send, record)
    return record


async def redrive_all(
    sessions: Sessions,
    hooks: FailureHooks,
    send: SendJob,
    *,
    actor: str | None = None,
    limit: int = 1000,
) -> list[DeadLetterRecord]:
    """Redrive every pending dead letter (of one actor, or of all; up to ``limit``, oldest
    first)."""
    async with unit_of_work(sessions) as session:
        statement = (
            selection("pending", actor)
            .order_by(DeadLetterRecord.dead_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        records = list((await session.scalars(statement)).all())
        for record in records:
            await _redrive_locked(session, hooks, send, record)
    return records


async def count_pending(sessions: Sessions) -> int:
    async with unit_of_work(sessions) as session:
        statement = select(func.count()).where(DeadLetterRecord.redriven_at.is_(None))
        return int((await session.scalar(statement)) or 0)


async def _fill_in_error(session: AsyncSession, dead: DeadLetter, values: dict[str, Any]) -> bool:
    """Add the error to an entry recorded without one (and not redriven since); True if it
    did."""
    filled = await session.scalar(
        update(DeadLetterRecord)
        .where(
            DeadLetterRecord.message_id == values["message_id"],
            DeadLetterRecord.error.is_(None),
            DeadLetterRecord.redriven_at.is_(None),
        )
        .values(error=dead.error, traceback=values["traceback"], attempts=dead.attempts)
        .returning(DeadLetterRecord.id)
    )
    return filled is not None


async def _redrive_locked(
    session: AsyncSession, hooks: FailureHooks, send: SendJob, record: DeadLetterRecord
) -> None:
    # The hook first: its update locks the domain's row until the commit, so a worker that
    # claims the new job before the commit waits for it and sees the record ``queued``.
    hook = hooks.get(record.actor_name)
    if hook is not None:
        await hook.redriven(session, record)
    # Enqueued before the commit: a commit that fails leaves the letter pending, and a second
    # redrive then makes a duplicate job, which processing absorbs (jobs are idempotent).
    record.redrive_message_id = await send(
        record.queue_name, record.actor_name, record.args, record.kwargs
    )
    record.redriven_at = datetime.now(UTC)

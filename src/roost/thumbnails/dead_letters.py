"""What a dead-lettered image job does to its image: the thumbnails failure hook.

The store itself is the queue's (:mod:`roost.infra.dead_letters`); the composition root
registers :data:`FAILURE_HOOK` for :data:`~roost.thumbnails.jobs.PROCESS_IMAGE_ACTOR`: a dead
job's image is ``failed`` with the job's last error; a redrive puts it back to ``queued``.
"""

from __future__ import annotations

import uuid

from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import AsyncSession

from roost.infra import dead_letters
from roost.thumbnails.jobs import PROCESS_IMAGE_ACTOR
from roost.thumbnails.models import FINAL_STATUSES, ImageRecord


def image_id_of(letter: dead_letters.DeadLetterRecord) -> uuid.UUID | None:
    """The image a dead-lettered job was processing; None for other actors' jobs."""
    if letter.actor_name != PROCESS_IMAGE_ACTOR or not letter.args:
        return None
    try:
        return uuid.UUID(str(letter.args[0]))
    except ValueError:
        return None


async def _image_dead_lettered(
    session: AsyncSession, letter: dead_letters.DeadLetterRecord
) -> None:
    image_id = image_id_of(letter)
    if image_id is None:
        return
    await session.execute(
        update(ImageRecord)
        .where(ImageRecord.id == image_id, ImageRecord.status.not_in(FINAL_STATUSES))
        .values(
            status="failed",
            error=letter.error or dead_letters.NO_ERROR_KNOWN,
            updated_at=func.now(),
        )
    )


async def _image_redriven(session: AsyncSession, letter: dead_letters.DeadLetterRecord) -> None:
    image_id = image_id_of(letter)
    if image_id is None:
        return
    await session.execute(
        update(ImageRecord)
        .where(ImageRecord.id == image_id, ImageRecord.status == "failed")
        .values(status="queued", error=None, updated_at=func.now())
    )


FAILURE_HOOK = dead_letters.FailureHook(
    dead_lettered=_image_dead_lettered, redriven=_image_redriven
)

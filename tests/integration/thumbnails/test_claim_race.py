"""A job can reach a worker while its upload's transaction commits (the job is enqueued inside
that transaction). The claim must never mistake that moment for "already final" and drop the
job: the bench once left an image ``queued`` for good that way."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import asyncpg
import pytest
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.util import await_only

from roost.core.settings import Settings
from roost.infra import db
from roost.thumbnails import jobs
from roost.thumbnails.errors import SourceNotCommitted

pytestmark = pytest.mark.integration


async def test_a_record_committed_between_the_claims_two_statements_is_claimed_not_skipped(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    assert settings.database_url is not None
    image_id = uuid.uuid4()
    uploader = await asyncpg.connect(
        make_url(settings.database_url)
        .set(drivername="postgresql")
        .render_as_string(hide_password=False)
    )
    upload = uploader.transaction()
    await upload.start()
    await uploader.execute(
        "INSERT INTO thumbnail_images (id, source_key, origin, status, sizes) "
        "VALUES ($1, $2, 'upload', 'queued', '[\"150\"]')",
        image_id,
        f"uploads/{image_id}",
    )
    engine = db.create_engine(settings)
    sessions = db.session_factory(engine)
    committed: list[bool] = []

    def commit_the_upload_right_after_the_claim_update(
        _connection: Any, _cursor: Any, statement: str, *_: Any
    ) -> None:
        if statement.lstrip().startswith("UPDATE thumbnail_images") and not committed:
            committed.append(True)
            await_only(upload.commit())

    event.listen(
        engine.sync_engine, "after_cursor_execute", commit_the_upload_right_after_the_claim_update
    )
    try:
        # The update saw no record, the next statement sees it queued: try again, not skip.
        with pytest.raises(SourceNotCommitted):
            await jobs.claim_job(sessions, image_id)
        job = await jobs.claim_job(sessions, image_id)
    finally:
        event.remove(
            engine.sync_engine,
            "after_cursor_execute",
            commit_the_upload_right_after_the_claim_update,
        )
        await engine.dispose()
        await uploader.close()

    assert job is not None
    assert (job.source_key, job.attempts) == (f"uploads/{image_id}", 1)

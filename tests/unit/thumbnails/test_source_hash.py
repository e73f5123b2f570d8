"""Which content hash a job's thumbnails are keyed by."""

from __future__ import annotations

import hashlib
import uuid

from roost.thumbnails.jobs import Job
from roost.thumbnails.tasks import source_hash

DATA = b"\xff\xd8 some jpeg bytes"


def job(content_hash: str | None, source_bytes: int | None) -> Job:
    return Job(uuid.uuid4(), "uploads/x", ("150",), 1, content_hash, source_bytes)


def test_an_upload_keeps_the_hash_recorded_when_it_was_stored() -> None:
    assert source_hash(job("recorded", len(DATA)), DATA) == "recorded"


def test_an_ingested_object_is_hashed_as_read() -> None:
    assert source_hash(job(None, len(DATA)), DATA) == hashlib.sha256(DATA).hexdigest()


def test_an_object_whose_size_changed_since_upload_is_hashed_anew() -> None:
    assert source_hash(job("recorded", len(DATA) + 1), DATA) == hashlib.sha256(DATA).hexdigest()

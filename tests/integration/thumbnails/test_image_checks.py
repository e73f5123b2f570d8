"""The database's CHECK constraints on image records accept exactly the statuses and origins
the code uses (the migration and the models' tuples must not drift apart)."""

from __future__ import annotations

import uuid

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from roost.thumbnails.models import ORIGINS, STATUSES

pytestmark = pytest.mark.integration

INSERT = (
    "INSERT INTO thumbnail_images (id, source_key, origin, status, sizes) "
    "VALUES ($1, $2, $3, $4, '[\"150\"]')"
)


async def connect(database_url: str) -> asyncpg.Connection:
    plain = make_url(database_url).set(drivername="postgresql")
    return await asyncpg.connect(plain.render_as_string(hide_password=False))


@pytest.mark.parametrize("status", STATUSES)
async def test_every_status_the_code_uses_is_accepted(
    thumbnails_database: str, status: str
) -> None:
    connection = await connect(thumbnails_database)
    try:
        async with connection.transaction():
            image_id = uuid.uuid4()
            await connection.execute(INSERT, image_id, f"check/{image_id}", ORIGINS[0], status)
            await connection.execute("DELETE FROM thumbnail_images WHERE id = $1", image_id)
    finally:
        await connection.close()


@pytest.mark.parametrize("origin", ORIGINS)
async def test_every_origin_the_code_uses_is_accepted(
    thumbnails_database: str, origin: str
) -> None:
    connection = await connect(thumbnails_database)
    try:
        async with connection.transaction():
            image_id = uuid.uuid4()
            await connection.execute(INSERT, image_id, f"check/{image_id}", origin, STATUSES[0])
            await connection.execute("DELETE FROM thumbnail_images WHERE id = $1", image_id)
    finally:
        await connection.close()


@pytest.mark.parametrize(("origin", "status"), [("upload", "lost"), ("email", "queued")])
async def test_values_the_code_does_not_use_are_refused(
    thumbnails_database: str, origin: str, status: str
) -> None:
    connection = await connect(thumbnails_database)
    try:
        image_id = uuid.uuid4()
        with pytest.raises(asyncpg.CheckViolationError):
            await connection.execute(INSERT, image_id, f"check/{image_id}", origin, status)
    finally:
        await connection.close()

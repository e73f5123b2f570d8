"""``roost migrate`` on a database from before the shared dead-letter store: every row of
``thumbnail_dead_letters`` (optimizer jobs included) moves to ``queue_dead_letters``, the old
table goes, and a downgrade brings them back."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from typing import Any

import asyncpg
import pytest
from alembic import command

from roost.infra import migrate

pytestmark = pytest.mark.integration

IMAGE_ID = str(uuid.uuid4())
RESULT_ID = str(uuid.uuid4())
OLD_ROWS = [
    ("thumbnails.process_image", "thumbs", [IMAGE_ID], "StorageUnavailable: down", None),
    ("optimizer.run_optimization", "optimizer", [RESULT_ID], None, "2026-12-01T10:00:00+00:00"),
]


async def query(url: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(url)
    try:
        return list(await connection.fetch(sql, *args))
    finally:
        await connection.close()


async def insert_old_rows(url: str) -> None:
    for actor, queue_name, args, error, redriven_at in OLD_ROWS:
        await query(
            url,
            "INSERT INTO thumbnail_dead_letters (id, message_id, queue_name, actor_name, args, "
            "kwargs, image_id, error, attempts, dead_at, redriven_at) VALUES ($1, $2, $3, $4, "
            "$5::jsonb, '{}'::jsonb, $6, $7, 4, now(), $8::text::timestamptz)",
            uuid.uuid4(),
            str(uuid.uuid4()),
            queue_name,
            actor,
            json.dumps(args),
            uuid.UUID(IMAGE_ID) if actor.startswith("thumbnails") else None,
            error,
            redriven_at,
        )


async def tables(url: str) -> set[str]:
    rows = await query(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    return {row["tablename"] for row in rows}


def test_migrate_moves_old_dead_letters_into_the_shared_table_and_back(
    fresh_database_url: Callable[[str], str],
) -> None:
    url = fresh_database_url("roost_dlq_migration")
    migrate.upgrade(url, "0401_thumbnails")  # the thumbnails branch as the old release left it
    asyncio.run(insert_old_rows(url))

    migrate.upgrade(url)  # what `roost migrate` runs
    moved = asyncio.run(
        query(
            url,
            "SELECT actor_name, queue_name, args, error, attempts, redriven_at "
            "FROM queue_dead_letters ORDER BY actor_name DESC",
        )
    )
    after_upgrade = asyncio.run(tables(url))

    command.downgrade(migrate.alembic_config(url), "0401_thumbnails")
    restored = asyncio.run(
        query(url, "SELECT actor_name, image_id FROM thumbnail_dead_letters ORDER BY actor_name")
    )

    assert "thumbnail_dead_letters" not in after_upgrade
    assert "queue_dead_letters" in after_upgrade
    assert [(row["actor_name"], row["queue_name"]) for row in moved] == [
        ("thumbnails.process_image", "thumbs"),
        ("optimizer.run_optimization", "optimizer"),
    ]
    assert json.loads(moved[0]["args"]) == [IMAGE_ID]
    assert json.loads(moved[1]["args"]) == [RESULT_ID]
    assert moved[0]["error"] == "StorageUnavailable: down"
    assert moved[0]["attempts"] == 4
    assert moved[0]["redriven_at"] is None
    assert moved[1]["redriven_at"] is not None
    assert [(row["actor_name"], row["image_id"]) for row in restored] == [
        ("optimizer.run_optimization", None),
        ("thumbnails.process_image", uuid.UUID(IMAGE_ID)),
    ]

"""The disaster-recovery sequence of docs/operations.md, end to end on the machine's Postgres and
Redis with backups in S3 (moto in server mode): fill every store through the roles, back up,
lose everything, run the documented restore commands, and find every key, bird, model, image
record and object as it was."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from redis import Redis
from tests.integration.thumbnails.thumbnail_images import jpeg
from tests.support.parallel import redis_db

from roost.core.settings import load_settings
from roost.infra.backup import libpq_url, postgres_binary
from roost.infra.redis import MAINTENANCE_KEY
from roost.infra.storage import open_store

pytestmark = pytest.mark.integration

# A Redis database no other suite uses: the sequence wipes it whole, as a lost server would be.
DR_REDIS_DB = redis_db(14)


def psql(url: str, sql: str) -> str:
    result = subprocess.run(
        [postgres_binary("psql"), "-At", "-v", "ON_ERROR_STOP=1", f"--dbname={libpq_url(url)}",
         "-c", sql],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return result.stdout.strip()


def roost(*args: str, env: dict[str, str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "roost", *args], capture_output=True, text=True, env=env, timeout=180
    )
    assert done.returncode == 0, f"roost {' '.join(args)}: {done.stdout}{done.stderr}"


ROWS_DIGEST = "SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM "


def table_contents(url: str) -> dict[str, tuple[int, str]]:
    """Every table's row count and a digest of all its rows."""
    tables = psql(
        url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
    ).split()
    return {
        table: (
            int(psql(url, f'SELECT count(*) FROM "{table}"')),
            psql(url, f'{ROWS_DIGEST}"{table}" t'),
        )
        for table in tables
    }


def redis_contents(client: Redis) -> dict[bytes, bytes]:
    return {
        key: client.dump(key)  # type: ignore[misc]
        for key in client.scan_iter(count=1000)
        if key != MAINTENANCE_KEY.encode()
    }


def object_contents(storage_url: str) -> dict[str, str]:
    store = open_store(storage_url)
    return {info.key: hashlib.sha256(store.get(info.key)).hexdigest() for info in store.list()}


async def test_documented_restore_sequence_brings_back_every_key_bird_model_image_and_object(
    tmp_path: Path,
    fresh_database_url: Callable[[str], str],
    moto_endpoint: str,
    serve_asgi: Any,
    unique: str,
) -> None:
    from roost.roles import build_kv, build_thumbnails

    database_url = fresh_database_url("roost_dr")
    redis_url = f"redis://127.0.0.1:6379/{DR_REDIS_DB}"
    storage_url = (tmp_path / "objects").as_uri()
    bucket = f"roost-dr-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=moto_endpoint).create_bucket(Bucket=bucket)
    backups_url = f"s3://{bucket}/nightly"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROOST_")}
    env.update(
        ROOST_DATABASE_URL=database_url,
        ROOST_REDIS_URL=redis_url,
        ROOST_STORAGE_URL=storage_url,
        ROOST_S3_ENDPOINT_URL=moto_endpoint,
        ROOST_DATA_DIR=str(tmp_path),
    )
    redis = Redis.from_url(redis_url)
    redis.flushdb()

    # Production as it was: migrated and seeded (birds, the demo model), a kv key, an upload.
    roost("migrate", env=env)
    settings = load_settings(
        database_url=database_url,
        redis_url=redis_url,
        broker_url=redis_url,
        broker_namespace=f"dr{unique}",
        storage_url=storage_url,
        log_level="WARNING",
    )
    async with serve_asgi(build_kv(settings)) as kv:
        written = await kv.post("/write/dr-key", params={"value": "survives"})
        assert written.status_code == 200, written.text
    async with serve_asgi(build_thumbnails(settings)) as thumbnails:
        uploaded = await thumbnails.post(
            "/api/v1/images", files={"file": ("robin.jpg", jpeg(320, 240, 7), "image/jpeg")}
        )
        assert uploaded.status_code == 202, uploaded.text
    image_id = uploaded.json()["id"]

    tables, keys, objects = (
        table_contents(database_url), redis_contents(redis), object_contents(storage_url)
    )  # fmt: skip
    assert tables["birds"][0] > 0
    assert tables["optimizer_models"][0] > 0
    assert tables["thumbnail_images"][0] == 1
    assert any(b"dr-key" in key for key in keys)
    assert objects

    roost("backup", "--to", backups_url, "--keep", "7", env=env)

    # The disaster: the database, Redis and the object store are gone.
    psql(database_url, "DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    redis.flushdb()
    shutil.rmtree(tmp_path / "objects")

    # docs/operations.md, "Disaster recovery", steps 3-6.
    roost("maintenance", "on", env=env)
    roost("restore", backups_url, "--yes", env=env)
    roost("migrate", env=env)
    roost("maintenance", "off", env=env)

    assert table_contents(database_url) == tables
    assert redis_contents(redis) == keys
    assert object_contents(storage_url) == objects
    async with serve_asgi(build_kv(settings)) as kv:
        read = await kv.get("/read/dr-key")
    assert read.json()["value"] == "survives"
    async with serve_asgi(build_thumbnails(settings)) as thumbnails:
        record = await thumbnails.get(f"/api/v1/images/{image_id}")
    assert record.status_code == 200, record.text
    redis.flushdb()
    redis.close()

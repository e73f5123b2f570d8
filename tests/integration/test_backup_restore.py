"""roost backup / roost restore round trip on embedded Postgres and Redis of the test's own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from redis import Redis
from tests.support.parallel import free_port

from roost.infra.backup import MANIFEST_SUFFIX, list_backups, postgres_binary
from roost.infra.embedded import EmbeddedPostgres, EmbeddedRedis
from roost.infra.storage import open_store

pytestmark = pytest.mark.integration


def psql(url: str, sql: str) -> str:
    result = subprocess.run(
        [postgres_binary("psql"), "-At", "-v", "ON_ERROR_STOP=1", f"--dbname={url}", "-c", sql],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return result.stdout.strip()


def roost(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "roost", *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_backup_then_restore_brings_everything_back(tmp_path: Path) -> None:
    postgres = EmbeddedPostgres(tmp_path / "pg")
    redis = EmbeddedRedis(tmp_path / "redis", port=free_port())
    objects = tmp_path / "objects"
    (objects / "source").mkdir(parents=True)
    (objects / "source" / "a.jpg").write_bytes(b"\xff\xd8 image bytes")
    postgres.start()
    redis.start()
    try:
        psql(postgres.url, "CREATE TABLE birds (id int primary key, name text)")
        psql(postgres.url, "INSERT INTO birds VALUES (1, 'robin'), (2, 'wren')")
        client = Redis.from_url(redis.url)
        client.hset("kv:greeting", mapping={"v": '"hello"', "ver": 7})
        client.set("temp", "x", ex=3600)

        env = {k: v for k, v in os.environ.items() if not k.startswith("ROOST_")}
        env.update(
            ROOST_DATABASE_URL=postgres.url,
            ROOST_REDIS_URL=redis.url,
            ROOST_STORAGE_URL=objects.as_uri(),
            ROOST_DATA_DIR=str(tmp_path),
        )
        made = roost("backup", "--output", str(tmp_path / "backups"), env=env)
        assert made.returncode == 0, made.stderr
        archive = next((tmp_path / "backups").glob("roost-backup-*.tar.gz"))

        psql(postgres.url, "DROP TABLE birds")
        client.flushall()
        (objects / "source" / "a.jpg").unlink()

        refused = roost("restore", str(archive), env=env)
        assert refused.returncode != 0  # no --yes, no terminal: nothing is replaced
        restored = roost("restore", str(archive), "--yes", env=env)
        assert restored.returncode == 0, restored.stderr

        assert psql(postgres.url, "SELECT name FROM birds ORDER BY id") == "robin\nwren"
        assert client.hgetall("kv:greeting") == {b"v": b'"hello"', b"ver": b"7"}
        assert 0 < client.ttl("temp") <= 3600
        assert (objects / "source" / "a.jpg").read_bytes() == b"\xff\xd8 image bytes"
        client.close()
    finally:
        redis.stop()
        postgres.stop()


def test_restore_refuses_archives_with_path_traversal(tmp_path: Path) -> None:
    import io
    import tarfile

    from roost.infra.backup import restore_backup

    archive = tmp_path / "evil.tar.gz"
    with tarfile.open(archive, "w:gz") as bundle:
        data = b"pwned"
        info = tarfile.TarInfo("../escaped.txt")
        info.size = len(data)
        bundle.addfile(info, io.BytesIO(data))
    with pytest.raises(tarfile.TarError):
        restore_backup(archive, database_url=None, redis_url=None, storage_url=None)
    assert not (tmp_path.parent / "escaped.txt").exists()


# --------------------------------------------------------------------------------------------
# Backups in an object store (moto in server mode standing in for S3): manifest, --keep, and a
# restore that checks before it touches anything.


def s3_env(tmp_path: Path, endpoint: str, storage_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROOST_")}
    env.update(
        ROOST_STORAGE_URL=storage_url,
        ROOST_S3_ENDPOINT_URL=endpoint,
        ROOST_DATA_DIR=str(tmp_path),  # no `roost up` there: no database or Redis to back up
    )
    return env


def said(result: subprocess.CompletedProcess[str]) -> str:
    """What the command printed, with the terminal's line wrapping undone."""
    return " ".join((result.stdout + result.stderr).split())


def new_bucket(endpoint: str) -> str:
    import uuid

    import boto3

    name = f"roost-test-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=name)
    return name


def test_backup_to_s3_writes_archive_and_checksum_manifest_and_keeps_the_newest(
    tmp_path: Path, moto_endpoint: str
) -> None:
    import hashlib

    objects_url = f"s3://{new_bucket(moto_endpoint)}/media"
    backups_url = f"s3://{new_bucket(moto_endpoint)}/nightly"
    objects = open_store(objects_url, s3_endpoint_url=moto_endpoint)
    objects.put("sources/a.jpg", b"\xff\xd8 first")
    objects.put("thumbs/a-150.webp", b"RIFF thumb")
    env = s3_env(tmp_path, moto_endpoint, objects_url)

    for _ in range(3):
        made = roost("backup", "--to", backups_url, "--keep", "2", env=env)
        assert made.returncode == 0, made.stdout + made.stderr

    store = open_store(backups_url, s3_endpoint_url=moto_endpoint)
    kept = list_backups(store)
    assert len(kept) == 2
    assert sorted(info.key for info in store.list()) == sorted(
        f"{name}{suffix}" for name in kept for suffix in (".tar.gz", MANIFEST_SUFFIX)
    )
    manifest = json.loads(store.get(kept[-1] + MANIFEST_SUFFIX))
    archive = store.get(kept[-1] + ".tar.gz")
    assert manifest["sha256"] == hashlib.sha256(archive).hexdigest()
    assert manifest["size"] == len(archive)
    assert manifest["contents"]["files"]["objects/sources/a.jpg"] == {
        "sha256": hashlib.sha256(b"\xff\xd8 first").hexdigest(),
        "size": len(b"\xff\xd8 first"),
    }

    objects.delete("sources/a.jpg")
    objects.put("thumbs/a-150.webp", b"overwritten")
    restored = roost("restore", backups_url, "--yes", env=env)
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert objects.get("sources/a.jpg") == b"\xff\xd8 first"
    assert objects.get("thumbs/a-150.webp") == b"RIFF thumb"


def test_restore_refuses_a_tampered_or_incomplete_backup_and_touches_nothing(
    tmp_path: Path, moto_endpoint: str
) -> None:
    objects_url = f"s3://{new_bucket(moto_endpoint)}/media"
    backups_url = f"s3://{new_bucket(moto_endpoint)}/nightly"
    objects = open_store(objects_url, s3_endpoint_url=moto_endpoint)
    objects.put("sources/a.jpg", b"original")
    env = s3_env(tmp_path, moto_endpoint, objects_url)
    made = roost("backup", "--to", backups_url, env=env)
    assert made.returncode == 0, made.stdout + made.stderr
    store = open_store(backups_url, s3_endpoint_url=moto_endpoint)
    (name,) = list_backups(store)
    objects.put("sources/a.jpg", b"changed since")

    archive = bytearray(store.get(name + ".tar.gz"))
    archive[len(archive) // 2] ^= 0xFF
    store.put(name + ".tar.gz", bytes(archive))
    tampered = roost("restore", f"{backups_url}/{name}.tar.gz", "--yes", env=env)
    assert tampered.returncode != 0
    assert "checksum mismatch" in said(tampered)
    assert objects.get("sources/a.jpg") == b"changed since"

    store.delete(name + MANIFEST_SUFFIX)
    incomplete = roost("restore", f"{backups_url}/{name}.tar.gz", "--yes", env=env)
    assert incomplete.returncode != 0
    assert "incomplete" in said(incomplete)
    empty = roost("restore", backups_url, "--yes", env=env)
    assert empty.returncode != 0
    assert "no complete backup" in said(empty)
    assert objects.get("sources/a.jpg") == b"changed since"

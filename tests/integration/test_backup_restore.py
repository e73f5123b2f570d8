"""roost backup / roost restore round trip on embedded Postgres and Redis of the test's own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from redis import Redis

from roost.infra.backup import postgres_binary
from roost.infra.embedded import EmbeddedPostgres, EmbeddedRedis, free_port

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

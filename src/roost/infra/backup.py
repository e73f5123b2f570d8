"""Backup and restore of everything Roost stores, into one ``.tar.gz``.

- Postgres: ``pg_dump --format=custom`` (restored with ``pg_restore --clean``). The binaries
  come from the pgserver wheel (PostgreSQL 16), which can dump servers up to 16, so the same
  command works for the embedded server and an external one.
- Redis: every key as ``DUMP`` + ``PTTL`` in JSON lines (restored with ``RESTORE … REPLACE``),
  read with SCAN so a large keyspace never blocks the server.
- Objects: the folder behind a ``file://`` storage URL. S3 is not copied: use bucket
  versioning and replication there (docs/operations.md).

A ``manifest.json`` records what is inside and when it was taken.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

from redis import Redis

Progress = Callable[[str], None]


@dataclass
class BackupReport:
    archive: Path
    postgres: bool = False
    redis_keys: int = 0
    object_files: int = 0
    notes: list[str] = field(default_factory=list)


def postgres_binary(name: str) -> str:
    import pgserver

    path = Path(pgserver.__file__).parent / "pginstall" / "bin" / name
    if path.is_file():
        return str(path)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} not found (pgserver wheel or PATH)")
    return found


def libpq_url(url: str) -> str:
    """SQLAlchemy-style URLs (``postgresql+asyncpg://``) → what libpq tools accept."""
    scheme, _, rest = url.partition("://")
    return f"postgresql://{rest}" if scheme.startswith("postgres") else url


def _object_dir(storage_url: str | None) -> Path | None:
    if storage_url and storage_url.startswith("file://"):
        return Path(unquote(urlparse(storage_url).path))
    return None


def create_backup(
    *,
    destination: Path,
    database_url: str | None,
    redis_url: str | None,
    storage_url: str | None,
    progress: Progress = lambda _: None,
) -> BackupReport:
    destination.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    report = BackupReport(archive=destination / f"roost-backup-{stamp}.tar.gz")
    with tempfile.TemporaryDirectory(prefix="roost-backup-") as tmp:
        work = Path(tmp)
        if database_url:
            progress("dumping Postgres")
            subprocess.run(
                [postgres_binary("pg_dump"), "--format=custom", "--no-owner", "--no-acl",
                 f"--file={work / 'postgres.dump'}", f"--dbname={libpq_url(database_url)}"],
                check=True, capture_output=True,
            )  # fmt: skip
            report.postgres = True
        if redis_url:
            progress("dumping Redis")
            report.redis_keys = _dump_redis(redis_url, work / "redis.jsonl")
        objects = _object_dir(storage_url)
        if objects is not None and objects.is_dir():
            progress("copying objects")
            shutil.copytree(objects, work / "objects")
            report.object_files = sum(1 for p in (work / "objects").rglob("*") if p.is_file())
        elif storage_url and storage_url.startswith("s3://"):
            report.notes.append("S3 objects are not copied: rely on bucket versioning")
        manifest = {
            "created_at": stamp,
            "postgres": report.postgres,
            "redis_keys": report.redis_keys,
            "object_files": report.object_files,
            "notes": report.notes,
        }
        (work / "manifest.json").write_text(json.dumps(manifest, indent=2))
        progress("writing archive")
        with tarfile.open(report.archive, "w:gz") as archive:
            for item in sorted(work.iterdir()):
                archive.add(item, arcname=item.name)
    return report


def _dump_redis(redis_url: str, path: Path) -> int:
    client = Redis.from_url(redis_url, socket_timeout=10)
    count = 0
    try:
        with path.open("w") as out:
            for key in client.scan_iter(count=1000):
                payload = client.dump(key)
                if payload is None:  # expired between SCAN and DUMP
                    continue
                ttl = int(client.pttl(key))  # type: ignore[arg-type]
                record = {
                    "key": base64.b64encode(key).decode(),
                    "ttl_ms": max(ttl, 0),
                    "value": base64.b64encode(payload).decode(),  # type: ignore[arg-type]
                }
                out.write(json.dumps(record) + "\n")
                count += 1
    finally:
        client.close()
    return count


def restore_backup(
    archive: Path,
    *,
    database_url: str | None,
    redis_url: str | None,
    storage_url: str | None,
    progress: Progress = lambda _: None,
) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="roost-restore-") as tmp:
        work = Path(tmp)
        with tarfile.open(archive, "r:gz") as bundle:
            bundle.extractall(work, filter="data")  # "data" refuses links and absolute paths
        manifest: dict[str, object] = json.loads((work / "manifest.json").read_text())
        if database_url and (work / "postgres.dump").is_file():
            progress("restoring Postgres")
            subprocess.run(
                [postgres_binary("pg_restore"), "--clean", "--if-exists", "--no-owner",
                 "--no-acl", "--single-transaction", f"--dbname={libpq_url(database_url)}",
                 str(work / "postgres.dump")],
                check=True, capture_output=True,
            )  # fmt: skip
        if redis_url and (work / "redis.jsonl").is_file():
            progress("restoring Redis")
            _restore_redis(redis_url, work / "redis.jsonl")
        objects = _object_dir(storage_url)
        if objects is not None and (work / "objects").is_dir():
            progress("restoring objects")
            shutil.copytree(work / "objects", objects, dirs_exist_ok=True)
    return manifest


def _restore_redis(redis_url: str, path: Path) -> None:
    client = Redis.from_url(redis_url, socket_timeout=10)
    try:
        pipe = client.pipeline(transaction=False)
        with path.open() as lines:
            for number, line in enumerate(lines, 1):
                record = json.loads(line)
                pipe.restore(
                    base64.b64decode(record["key"]),
                    int(record["ttl_ms"]),
                    base64.b64decode(record["value"]),
                    replace=True,
                )
                if number % 500 == 0:
                    pipe.execute()
        pipe.execute()
    finally:
        client.close()

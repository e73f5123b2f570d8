"""Backup and restore of everything Roost stores, as one ``.tar.gz`` plus a manifest of
checksums, kept in any object store (``file://`` folder or ``s3://bucket/prefix``).

Inside the archive:

- ``postgres.dump``: ``pg_dump --format=custom`` (restored with ``pg_restore --clean``). The
  binaries come from the pgserver wheel (PostgreSQL 16), which can dump servers up to 16, so
  the same command works for the embedded server and an external one.
- ``redis.jsonl``: every key as ``DUMP`` + ``PTTL`` (restored with ``RESTORE … REPLACE``), read
  with SCAN so a large keyspace never blocks the server.
- ``objects/<key>``: every object of ``ROOST_STORAGE_URL``, read through the same storage port
  the roles use, so a ``file://`` folder and an S3 bucket are backed up alike.
- ``manifest.json``: what is inside, when it was taken, and the SHA-256 of every other member.

Next to the archive, ``<name>.manifest.json`` holds the archive's own size and SHA-256 (and the
inner manifest). It is written last, so a backup without one is incomplete and never restored.
A restore downloads, checks the archive against it and every member against the inner manifest,
and only then touches a database, Redis or the object store.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from redis import Redis

from roost.infra.storage import ObjectStore, open_store
from roost.infra.storage.s3 import S3Store

Progress = Callable[[str], None]

FORMAT_VERSION = 1
ARCHIVE_SUFFIX = ".tar.gz"
MANIFEST_SUFFIX = ".manifest.json"
INNER_MANIFEST = "manifest.json"
# Microseconds in the name: two backups in one second must not overwrite each other.
BACKUP_NAME = re.compile(r"roost-backup-\d{8}T\d{6}\.\d{6}Z")
_CHUNK = 1024 * 1024


class BackupError(Exception):
    """A backup cannot be found, read or trusted; nothing was restored."""


@dataclass
class BackupReport:
    name: str
    location: str  # the store URL the archive and its manifest were written to
    postgres: bool = False
    redis_keys: int = 0
    object_files: int = 0
    archive_bytes: int = 0
    pruned: list[str] = field(default_factory=list)
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


def create_backup(
    *,
    target_url: str,
    database_url: str | None,
    redis_url: str | None,
    storage_url: str | None,
    s3_endpoint_url: str | None = None,
    keep: int | None = None,
    progress: Progress = lambda _: None,
) -> BackupReport:
    """Dump everything, write archive then manifest to ``target_url``; then, with ``keep``,
    delete all but the newest ``keep`` backups there."""
    target = open_store(target_url, s3_endpoint_url=s3_endpoint_url)
    name = "roost-backup-" + datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    report = BackupReport(name=name, location=target.url)
    with tempfile.TemporaryDirectory(prefix="roost-backup-") as tmp:
        work = Path(tmp) / "contents"
        work.mkdir()
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
        if storage_url:
            progress("copying objects")
            source = open_store(storage_url, s3_endpoint_url=s3_endpoint_url)
            report.object_files = _copy_objects_out(source, work / "objects")
        contents = {
            "format": FORMAT_VERSION,
            "created_at": name.removeprefix("roost-backup-"),
            "postgres": report.postgres,
            "redis_keys": report.redis_keys,
            "object_files": report.object_files,
            "files": {path: _file_digest(work / path) for path in _members(work)},
        }
        (work / INNER_MANIFEST).write_text(json.dumps(contents, indent=2))
        progress("writing archive")
        archive = Path(tmp) / f"{name}{ARCHIVE_SUFFIX}"
        with tarfile.open(archive, "w:gz") as bundle:
            for item in sorted(work.iterdir()):
                bundle.add(item, arcname=item.name)
        digest = _file_digest(archive)
        report.archive_bytes = digest["size"]
        manifest = {"archive": archive.name, **digest, "contents": contents}
        progress(f"uploading to {target.url}")
        _upload(target, archive.name, archive)
        target.put(name + MANIFEST_SUFFIX, json.dumps(manifest, indent=2).encode(),
                   content_type="application/json")  # fmt: skip
    if keep is not None:
        progress(f"keeping the newest {keep}")
        report.pruned = prune_backups(target, keep)
    return report


def list_backups(store: ObjectStore) -> list[str]:
    """Complete backups (archive and manifest both there) in ``store``, oldest first."""
    archives, manifests = set(), set()
    for info in store.list("roost-backup-"):
        if info.key.endswith(ARCHIVE_SUFFIX):
            archives.add(info.key.removesuffix(ARCHIVE_SUFFIX))
        elif info.key.endswith(MANIFEST_SUFFIX):
            manifests.add(info.key.removesuffix(MANIFEST_SUFFIX))
    return sorted(name for name in archives & manifests if BACKUP_NAME.fullmatch(name))


def prune_backups(store: ObjectStore, keep: int) -> list[str]:
    """Delete every backup but the newest ``keep`` complete ones, and any incomplete upload
    older than them; return the names deleted."""
    if keep < 1:
        raise ValueError("keep at least one backup")
    complete = list_backups(store)
    if len(complete) <= keep:
        return []
    oldest_kept = complete[-keep]
    doomed = sorted(
        {
            key.removesuffix(ARCHIVE_SUFFIX).removesuffix(MANIFEST_SUFFIX)
            for key in (info.key for info in store.list("roost-backup-"))
        }
    )
    doomed = [name for name in doomed if BACKUP_NAME.fullmatch(name) and name < oldest_kept]
    for name in doomed:
        # Manifest first: a half-deleted backup is then merely incomplete, never restorable.
        store.delete(name + MANIFEST_SUFFIX)
        store.delete(name + ARCHIVE_SUFFIX)
    return doomed


def restore_backup(
    source: str | Path,
    *,
    database_url: str | None,
    redis_url: str | None,
    storage_url: str | None,
    s3_endpoint_url: str | None = None,
    progress: Progress = lambda _: None,
) -> dict[str, Any]:
    """Restore from ``source``: a local ``.tar.gz``, a store URL (its newest complete backup)
    or a store URL ending in one archive's name. Raises :class:`BackupError` before touching
    anything when the backup is missing or does not match its checksums."""
    with tempfile.TemporaryDirectory(prefix="roost-restore-") as tmp:
        work = Path(tmp)
        archive = _fetch_verified(str(source), work, s3_endpoint_url, progress)
        contents = work / "contents"
        with tarfile.open(archive, "r:gz") as bundle:
            bundle.extractall(contents, filter="data")  # "data" refuses links and absolute paths
        manifest = _verified_contents(contents)
        if database_url and (contents / "postgres.dump").is_file():
            progress("restoring Postgres")
            subprocess.run(
                [postgres_binary("pg_restore"), "--clean", "--if-exists", "--no-owner",
                 "--no-acl", "--single-transaction", f"--dbname={libpq_url(database_url)}",
                 str(contents / "postgres.dump")],
                check=True, capture_output=True,
            )  # fmt: skip
        if redis_url and (contents / "redis.jsonl").is_file():
            progress("restoring Redis")
            _restore_redis(redis_url, contents / "redis.jsonl")
        if storage_url and (contents / "objects").is_dir():
            progress("restoring objects")
            store = open_store(storage_url, s3_endpoint_url=s3_endpoint_url)
            _copy_objects_in(contents / "objects", store)
    return manifest


# --------------------------------------------------------------------------------------------
# Fetching and checking.


def _fetch_verified(
    source: str, work: Path, s3_endpoint_url: str | None, progress: Progress
) -> Path:
    """The archive, downloaded into ``work`` and checked against its manifest if it has one
    (a backup in a store always has; a bare local file may not)."""
    if "://" not in source:
        archive = Path(source)
        if not archive.is_file():
            raise BackupError(f"{source}: no such backup archive")
        sibling = archive.with_name(archive.name.removesuffix(ARCHIVE_SUFFIX) + MANIFEST_SUFFIX)
        if sibling.is_file():
            _check_archive(archive, _parse_manifest(sibling.read_bytes(), sibling.name))
        return archive
    store_url, name = _split_backup_url(source)
    store = open_store(store_url, s3_endpoint_url=s3_endpoint_url)
    if name is None:
        found = list_backups(store)
        if not found:
            raise BackupError(f"{store.url}: no complete backup there")
        name = found[-1]
    progress(f"downloading {name} from {store.url}")
    if store.head(name + MANIFEST_SUFFIX) is None:
        raise BackupError(f"{store.url}/{name}: no manifest, the backup is incomplete")
    manifest = _parse_manifest(store.get(name + MANIFEST_SUFFIX), name + MANIFEST_SUFFIX)
    archive = work / f"{name}{ARCHIVE_SUFFIX}"
    _download(store, archive.name, archive)
    _check_archive(archive, manifest)
    return archive


def _split_backup_url(url: str) -> tuple[str, str | None]:
    head, _, last = url.rstrip("/").rpartition("/")
    for suffix in (ARCHIVE_SUFFIX, MANIFEST_SUFFIX):
        name = last.removesuffix(suffix)
        if name != last and BACKUP_NAME.fullmatch(name):
            return head, name
    return url, None


def _parse_manifest(raw: bytes, where: str) -> dict[str, Any]:
    try:
        manifest = json.loads(raw)
        if not isinstance(manifest, dict):
            raise TypeError("not an object")
        int(manifest["size"])
        str(manifest["sha256"])
    except (ValueError, TypeError, KeyError) as error:
        raise BackupError(f"{where}: not a backup manifest ({error})") from None
    return manifest


def _check_archive(archive: Path, manifest: dict[str, Any]) -> None:
    found = _file_digest(archive)
    if found["size"] != int(manifest["size"]) or found["sha256"] != manifest["sha256"]:
        raise BackupError(
            f"{archive.name}: checksum mismatch (manifest {manifest['sha256']}, "
            f"{manifest['size']} bytes; archive {found['sha256']}, {found['size']} bytes)"
        )


def _verified_contents(contents: Path) -> dict[str, Any]:
    """The inner manifest, once every member matches it and nothing else is there."""
    try:
        manifest: dict[str, Any] = json.loads((contents / INNER_MANIFEST).read_text())
        expected: dict[str, dict[str, Any]] = manifest["files"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise BackupError(f"the archive has no readable {INNER_MANIFEST} ({error})") from None
    present = set(_members(contents))
    if present != set(expected):
        unexpected, absent = sorted(present - set(expected)), sorted(set(expected) - present)
        raise BackupError(f"archive members differ from its manifest: extra {unexpected}, "
                          f"missing {absent}")  # fmt: skip
    for path, digest in expected.items():
        if _file_digest(contents / path) != digest:
            raise BackupError(f"{path}: checksum mismatch inside the archive")
    return manifest


def _members(root: Path) -> Iterator[str]:
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if path.is_file() and relative != INNER_MANIFEST:
            yield relative


def _file_digest(path: Path) -> dict[str, Any]:
    sha = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            sha.update(chunk)
            size += len(chunk)
    return {"sha256": sha.hexdigest(), "size": size}


# --------------------------------------------------------------------------------------------
# Moving bytes.


def _upload(store: ObjectStore, key: str, path: Path) -> None:
    if isinstance(store, S3Store):
        # Multipart and streamed from disk: an archive never has to fit in memory.
        full_key = f"{store.prefix}/{key}" if store.prefix else key
        store.client.upload_file(str(path), store.bucket, full_key)
    else:
        store.put(key, path.read_bytes(), content_type="application/gzip")


def _download(store: ObjectStore, key: str, path: Path) -> None:
    if store.head(key) is None:
        raise BackupError(f"{store.url}/{key}: no such archive")
    if isinstance(store, S3Store):
        full_key = f"{store.prefix}/{key}" if store.prefix else key
        store.client.download_file(store.bucket, full_key, str(path))
    else:
        path.write_bytes(store.get(key))


def _copy_objects_out(store: ObjectStore, folder: Path) -> int:
    count = 0
    for info in store.list():
        path = folder / info.key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(store.get(info.key))
        count += 1
    return count


def _copy_objects_in(folder: Path, store: ObjectStore) -> None:
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            store.put(path.relative_to(folder).as_posix(), path.read_bytes())


def _dump_redis(redis_url: str, path: Path) -> int:
    client = Redis.from_url(redis_url, socket_timeout=10)
    count = 0
    try:
        with path.open("w") as out:
            for key in client.scan_iter(count=1000):
                payload = client.dump(key)
                if payload is None:  # expired between SCAN and DUMP
                    continue
                ttl = int(client.pttl(key))
                record = {
                    "key": base64.b64encode(key).decode(),
                    "ttl_ms": max(ttl, 0),
                    "value": base64.b64encode(payload).decode(),
                }
                out.write(json.dumps(record) + "\n")
                count += 1
    finally:
        client.close()
    return count


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

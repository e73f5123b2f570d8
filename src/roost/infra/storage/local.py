"""Objects as files under one root folder (``file:///path``): the embedded default.

A write goes to a temporary file in the object's folder, is flushed to disk, then renamed over
the key's path: rename within one file system is atomic, so readers never see half an object
and a crash leaves at most a stray ``.tmp-*`` file, which listings skip.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from roost.infra.storage.base import ObjectInfo, ObjectNotFound, ObjectStore, StorageUnavailable
from roost.infra.storage.keys import InvalidObjectKey, validate_key, validate_prefix

TEMPORARY_PREFIX = ".tmp-"


class FileStore(ObjectStore):
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.url = self.root.as_uri()

    def put(
        self, key: str, data: bytes, *, content_type: str = "application/octet-stream"
    ) -> ObjectInfo:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            descriptor, temporary = tempfile.mkstemp(prefix=TEMPORARY_PREFIX, dir=path.parent)
            try:
                with os.fdopen(descriptor, "wb") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(temporary, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)
                raise
        except OSError as exc:
            raise StorageUnavailable(f"cannot write {key!r}: {exc.strerror or exc}") from exc
        return ObjectInfo(key, len(data))

    def get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ObjectNotFound(key) from None
        except OSError as exc:
            raise StorageUnavailable(f"cannot read {key!r}: {exc.strerror or exc}") from exc

    def head(self, key: str) -> ObjectInfo | None:
        path = self._path(key)
        try:
            stat = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            raise StorageUnavailable(f"cannot stat {key!r}: {exc.strerror or exc}") from exc
        return ObjectInfo(key, stat.st_size) if path.is_file() else None

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            path.unlink(missing_ok=True)
        except (IsADirectoryError, NotADirectoryError):
            return
        except OSError as exc:
            raise StorageUnavailable(f"cannot delete {key!r}: {exc.strerror or exc}") from exc

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        validate_prefix(prefix)
        # Walk only the deepest folder the prefix names in full.
        folder = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        start = self.root / folder if folder else self.root
        if not start.is_dir():
            return
        found: list[ObjectInfo] = []
        for directory, subdirectories, files in os.walk(start):
            subdirectories[:] = [d for d in subdirectories if not d.startswith(".")]
            relative = Path(directory).relative_to(self.root).as_posix()
            for name in files:
                if name.startswith("."):
                    continue
                key = name if relative == "." else f"{relative}/{name}"
                if key.startswith(prefix):
                    with contextlib.suppress(FileNotFoundError):  # deleted meanwhile
                        found.append(ObjectInfo(key, (Path(directory) / name).stat().st_size))
        yield from sorted(found, key=lambda info: info.key.encode())

    def ping(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            if not os.access(self.root, os.W_OK | os.X_OK):
                raise StorageUnavailable(f"{self.root} is not writable")
        except OSError as exc:
            raise StorageUnavailable(f"{self.root}: {exc.strerror or exc}") from exc

    def _path(self, key: str) -> Path:
        path = self.root / validate_key(key)
        # Keys cannot climb out by themselves; a symlink inside the root still could.
        if not path.resolve().is_relative_to(self.root):
            raise InvalidObjectKey(f"{key!r} resolves outside the store")
        return path

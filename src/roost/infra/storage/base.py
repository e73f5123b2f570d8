"""The object store port: what the domains need from a bucket, whatever backs it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass


class StorageError(Exception):
    code = "storage_error"


class ObjectNotFound(StorageError):
    code = "object_not_found"

    def __init__(self, key: str) -> None:
        super().__init__(f"no object {key!r}")
        self.key = key


class StorageUnavailable(StorageError):
    """The store cannot be reached or refused the operation for now: worth retrying."""

    code = "storage_unavailable"


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int


class ObjectStore(ABC):
    """Bytes under validated keys. Writes are atomic: a reader sees the old object or the new
    one, never a part. Blocking: call from a thread (``asyncio.to_thread``) in async code."""

    url: str

    @abstractmethod
    def put(
        self, key: str, data: bytes, *, content_type: str = "application/octet-stream"
    ) -> ObjectInfo: ...

    @abstractmethod
    def get(self, key: str) -> bytes:
        """The object's bytes; :class:`ObjectNotFound` if there is none."""

    @abstractmethod
    def head(self, key: str) -> ObjectInfo | None: ...

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove the object; no error if it does not exist."""

    @abstractmethod
    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Every object whose key starts with ``prefix``, in key order."""

    @abstractmethod
    def ping(self) -> None:
        """Raise :class:`StorageUnavailable` unless the store answers and can be used."""

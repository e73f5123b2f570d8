"""Object storage behind one interface: a local folder or an S3 bucket, chosen by URL.

``open_store("file:///var/lib/roost/objects")`` or ``open_store("s3://bucket/prefix")``; every
key is validated (:func:`validate_key`) before a backend touches it.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from roost.infra.storage.base import (
    ObjectInfo,
    ObjectNotFound,
    ObjectStore,
    StorageError,
    StorageUnavailable,
)
from roost.infra.storage.keys import InvalidObjectKey, join_key, validate_key, validate_prefix

__all__ = [
    "InvalidObjectKey",
    "ObjectInfo",
    "ObjectNotFound",
    "ObjectStore",
    "StorageError",
    "StorageUnavailable",
    "child_url",
    "join_key",
    "open_store",
    "validate_key",
    "validate_prefix",
]


def open_store(url: str, *, s3_endpoint_url: str | None = None) -> ObjectStore:
    """The store a ``file://`` or ``s3://`` URL names."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise ValueError(f"{url}: a file:// URL names a local path (file:///path)")
        path = unquote(parts.path)
        if not path.startswith("/"):
            raise ValueError(f"{url}: a file:// URL needs an absolute path")
        from roost.infra.storage.local import FileStore

        return FileStore(Path(path))
    if parts.scheme == "s3":
        if not parts.netloc:
            raise ValueError(f"{url}: an s3:// URL needs a bucket (s3://bucket/prefix)")
        prefix = unquote(parts.path).strip("/")
        if prefix:
            validate_key(prefix)
        from roost.infra.storage.s3 import S3Store, create_s3_client

        return S3Store(parts.netloc, prefix, client=create_s3_client(s3_endpoint_url))
    raise ValueError(f"{url}: storage URLs are file:// or s3://")


def child_url(url: str, name: str) -> str:
    """The URL of a sub-prefix: ``child_url("s3://b/p", "sources") == "s3://b/p/sources"``."""
    validate_key(name)
    return f"{url.rstrip('/')}/{name}"

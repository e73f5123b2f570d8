"""One contract, every object-store backend: a local folder and S3 (moto in server mode)."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from roost.infra.storage import (
    InvalidObjectKey,
    ObjectInfo,
    ObjectNotFound,
    ObjectStore,
    StorageUnavailable,
    child_url,
    open_store,
)
from roost.infra.storage.s3 import create_s3_client

BAD_KEYS = [
    "",
    "/etc/passwd",
    "../escape",
    "a/../../escape",
    "a/./b",
    "a//b",
    "a/",
    ".hidden",
    "a/\x00b",
    "tab\tkey",
    "back\\slash",
    "k" * 1025,
]


@pytest.fixture(params=["file", "s3"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "file":
        yield (tmp_path / "objects").as_uri()
        return
    endpoint = request.getfixturevalue("moto_endpoint")
    bucket = f"contract-{uuid.uuid4().hex[:12]}"
    create_s3_client(endpoint).create_bucket(Bucket=bucket)
    yield f"s3://{bucket}/roost"


@pytest.fixture
def store(store_url: str, request: pytest.FixtureRequest) -> ObjectStore:
    endpoint = request.getfixturevalue("moto_endpoint") if store_url.startswith("s3") else None
    return open_store(store_url, s3_endpoint_url=endpoint)


def test_put_then_get_returns_the_same_bytes(store: ObjectStore) -> None:
    data = os.urandom(70_000)
    info = store.put("uploads/a.jpg", data, content_type="image/jpeg")
    assert info == ObjectInfo("uploads/a.jpg", len(data))
    assert store.get("uploads/a.jpg") == data
    assert store.head("uploads/a.jpg") == ObjectInfo("uploads/a.jpg", len(data))


def test_put_replaces_an_object_whole(store: ObjectStore) -> None:
    store.put("doc", b"first version, longer")
    store.put("doc", b"second")
    assert store.get("doc") == b"second"


def test_missing_objects(store: ObjectStore) -> None:
    with pytest.raises(ObjectNotFound):
        store.get("nothing/here")
    assert store.head("nothing/here") is None
    store.delete("nothing/here")  # deleting what is not there is not an error


def test_delete_removes_the_object(store: ObjectStore) -> None:
    store.put("gone/soon", b"x")
    store.delete("gone/soon")
    assert store.head("gone/soon") is None
    assert list(store.list("gone/")) == []


def test_list_returns_keys_under_a_prefix_in_key_order(store: ObjectStore) -> None:
    for key in ("b/2", "a/1", "a/10/x", "a/2", "ab/1", "c"):
        store.put(key, key.encode())
    assert [o.key for o in store.list("a/")] == ["a/1", "a/10/x", "a/2"]
    assert [o.key for o in store.list("a")] == ["a/1", "a/10/x", "a/2", "ab/1"]
    assert [o.key for o in store.list("a/1")] == ["a/1", "a/10/x"]
    assert [o.key for o in store.list()] == ["a/1", "a/10/x", "a/2", "ab/1", "b/2", "c"]
    assert [o.size for o in store.list("b/")] == [3]


def test_unicode_keys_round_trip(store: ObjectStore) -> None:
    store.put("vögel/kiwi 🐦.jpg", b"bird")
    assert store.get("vögel/kiwi 🐦.jpg") == b"bird"
    assert [o.key for o in store.list("vögel/")] == ["vögel/kiwi 🐦.jpg"]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_every_operation_rejects_unsafe_keys(store: ObjectStore, key: str) -> None:
    for operation in (
        lambda: store.put(key, b"x"),
        lambda: store.get(key),
        lambda: store.head(key),
        lambda: store.delete(key),
    ):
        with pytest.raises(InvalidObjectKey):
            operation()


@pytest.mark.parametrize("prefix", ["../", "/abs", "a//", "a/../b"])
def test_listing_rejects_unsafe_prefixes(store: ObjectStore, prefix: str) -> None:
    with pytest.raises(InvalidObjectKey):
        list(store.list(prefix))


def test_sibling_prefixes_do_not_see_each_other(
    store_url: str, request: pytest.FixtureRequest
) -> None:
    endpoint = request.getfixturevalue("moto_endpoint") if store_url.startswith("s3") else None
    sources = open_store(child_url(store_url, "sources"), s3_endpoint_url=endpoint)
    thumbnails = open_store(child_url(store_url, "thumbnails"), s3_endpoint_url=endpoint)
    sources.put("img/1", b"source")
    thumbnails.put("img/1", b"thumbnail")
    assert sources.get("img/1") == b"source"
    assert thumbnails.get("img/1") == b"thumbnail"
    assert [o.key for o in sources.list()] == ["img/1"]


def test_concurrent_writers_leave_one_whole_version(store: ObjectStore) -> None:
    versions = [bytes([n]) * 200_000 for n in range(8)]
    threads = [threading.Thread(target=store.put, args=("race", v)) for v in versions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.get("race") in versions
    assert [o.key for o in store.list()] == ["race"]


def test_ping_passes_on_a_usable_store(store: ObjectStore) -> None:
    store.ping()


def test_unreachable_stores_are_unavailable_not_crashing(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_bytes(b"not a folder")
    broken_file_store = open_store((blocker / "objects").as_uri())
    endpoint = request.getfixturevalue("moto_endpoint")
    missing_bucket = open_store(
        f"s3://no-such-bucket-{uuid.uuid4().hex[:8]}", s3_endpoint_url=endpoint
    )
    for store in (broken_file_store, missing_bucket):
        with pytest.raises(StorageUnavailable):
            store.ping()
        with pytest.raises(StorageUnavailable):
            store.put("k", b"x")


def test_file_store_writes_atomically_without_leftovers(tmp_path: Path) -> None:
    store = open_store((tmp_path / "objects").as_uri())
    store.put("a/b/c.bin", b"1" * 10_000)
    store.put("a/b/c.bin", b"2" * 10_000)
    files = sorted(p.name for p in (tmp_path / "objects" / "a" / "b").iterdir())
    assert files == ["c.bin"]


def test_file_store_ignores_stray_temporary_files(tmp_path: Path) -> None:
    store = open_store((tmp_path / "objects").as_uri())
    store.put("a/real", b"x")
    (tmp_path / "objects" / "a" / ".tmp-crashed-write").write_bytes(b"partial")
    assert [o.key for o in store.list()] == ["a/real"]


def test_file_store_refuses_a_symlink_out_of_its_root(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "objects"
    root.mkdir()
    (root / "link").symlink_to(outside, target_is_directory=True)
    store = open_store(root.as_uri())
    with pytest.raises(InvalidObjectKey):
        store.put("link/escaped", b"x")
    assert list(outside.iterdir()) == []


@pytest.mark.parametrize(
    "url",
    ["http://bucket/x", "file://host/path", "file:relative", "s3:///no-bucket", "s3://b/../x"],
)
def test_open_store_refuses_bad_urls(url: str) -> None:
    with pytest.raises((ValueError, InvalidObjectKey)):
        open_store(url)

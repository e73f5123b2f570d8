"""Objects in an S3 bucket under an optional key prefix (``s3://bucket/prefix``).

Works with AWS and any S3-compatible endpoint (MinIO, moto) through ``ROOST_S3_ENDPOINT_URL``.
Credentials come from boto3's usual chain (environment, web identity / IRSA, instance role).
An S3 PUT replaces an object atomically, so writes need no temporary key.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from roost.infra.storage.base import ObjectInfo, ObjectNotFound, ObjectStore, StorageUnavailable
from roost.infra.storage.keys import validate_key, validate_prefix

_NOT_FOUND_CODES = frozenset({"404", "NoSuchKey", "NotFound"})


def create_s3_client(endpoint_url: str | None = None) -> Any:
    config = Config(
        connect_timeout=2,
        read_timeout=10,
        retries={"max_attempts": 3, "mode": "standard"},
        max_pool_connections=32,
    )
    return boto3.client("s3", endpoint_url=endpoint_url, config=config)


class S3Store(ObjectStore):
    def __init__(self, bucket: str, prefix: str = "", *, client: Any) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.client = client
        self.url = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"

    def put(
        self, key: str, data: bytes, *, content_type: str = "application/octet-stream"
    ) -> ObjectInfo:
        full_key = self._full_key(key)
        self._call(
            "put",
            key,
            self.client.put_object,
            Bucket=self.bucket,
            Key=full_key,
            Body=data,
            ContentType=content_type,
        )
        return ObjectInfo(key, len(data))

    def get(self, key: str) -> bytes:
        response = self._call(
            "get", key, self.client.get_object, Bucket=self.bucket, Key=self._full_key(key)
        )
        try:
            body: bytes = response["Body"].read()
        except BotoCoreError as exc:
            raise StorageUnavailable(f"reading {key!r} from {self.url}: {exc}") from exc
        return body

    def head(self, key: str) -> ObjectInfo | None:
        try:
            response = self._call(
                "head", key, self.client.head_object, Bucket=self.bucket, Key=self._full_key(key)
            )
        except ObjectNotFound:
            return None
        return ObjectInfo(key, int(response["ContentLength"]))

    def delete(self, key: str) -> None:
        self._call(
            "delete", key, self.client.delete_object, Bucket=self.bucket, Key=self._full_key(key)
        )

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        validate_prefix(prefix)
        base = f"{self.prefix}/" if self.prefix else ""
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=base + prefix):
                for item in page.get("Contents", ()):
                    yield ObjectInfo(item["Key"][len(base) :], int(item["Size"]))
        except (BotoCoreError, ClientError) as exc:
            raise StorageUnavailable(f"listing {self.url}: {exc}") from exc

    def ping(self) -> None:
        self._call("ping", "", self.client.head_bucket, Bucket=self.bucket)

    def _full_key(self, key: str) -> str:
        validate_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _call(self, operation: str, key: str, method: Any, **kwargs: Any) -> Any:
        try:
            return method(**kwargs)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in _NOT_FOUND_CODES and operation in ("get", "head"):
                raise ObjectNotFound(key) from None
            raise StorageUnavailable(f"{operation} {key!r} on {self.url}: {code or exc}") from exc
        except BotoCoreError as exc:
            raise StorageUnavailable(f"{operation} {key!r} on {self.url}: {exc}") from exc

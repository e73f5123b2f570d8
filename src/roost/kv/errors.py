"""What can go wrong with a key-value request: each error's code and the HTTP status the core
answers it with (one handler, :mod:`roost.core.errors`)."""

from __future__ import annotations

from typing import Any

from roost.core.errors import DomainError


class KVError(DomainError):
    code = "kv_error"


class InvalidKey(KVError):
    code = "invalid_key"


class KeyTooLarge(InvalidKey):
    code = "key_too_large"


class ValueTooLarge(KVError):
    code = "value_too_large"
    http_status = 413


class InvalidTTL(KVError):
    code = "invalid_ttl"
    http_status = 422


class KeyNotFound(KVError):
    code = "key_not_found"
    http_status = 404


class VersionConflict(KVError):
    """The key is not at the version the write expected (a ``version`` in the body)."""

    code = "version_conflict"
    http_status = 409

    def __init__(self, message: str, current_version: int | None) -> None:
        super().__init__(message)
        self.current_version = current_version

    def details(self) -> Any:
        return {"current_version": self.current_version}


class PreconditionFailed(VersionConflict):
    """The same conflict, when the expectation came as an HTTP precondition (``If-Match``,
    ``If-None-Match``): RFC 9110 answers that with 412, and the code stays the same."""

    http_status = 412

    @classmethod
    def of(cls, conflict: VersionConflict) -> PreconditionFailed:
        return cls(conflict.message, conflict.current_version)

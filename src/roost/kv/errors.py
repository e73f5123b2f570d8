"""What can go wrong with a key-value request, independent of HTTP."""

from __future__ import annotations

from roost.core.errors import DomainError


class KVError(DomainError):
    code = "kv_error"


class InvalidKey(KVError):
    code = "invalid_key"


class KeyTooLarge(InvalidKey):
    code = "key_too_large"


class ValueTooLarge(KVError):
    code = "value_too_large"


class InvalidTTL(KVError):
    code = "invalid_ttl"


class InvalidCursor(KVError):
    code = "invalid_cursor"


class KeyNotFound(KVError):
    code = "key_not_found"


class VersionConflict(KVError):
    code = "version_conflict"

    def __init__(self, message: str, current_version: int | None) -> None:
        super().__init__(message)
        self.current_version = current_version

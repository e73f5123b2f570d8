"""What can go wrong in the bird catalog: each error's code and the HTTP status the core answers
it with (one handler, :mod:`roost.core.errors`). A bad list cursor is the core's
:class:`~roost.core.cursors.InvalidCursor`."""

from __future__ import annotations

from roost.core.errors import DomainError


class BirdsError(DomainError):
    """Base of every catalog error; ``code`` is stable and machine-readable."""

    code = "birds_error"


class BirdNotFound(BirdsError):
    code = "bird_not_found"
    http_status = 404


class CatalogEmpty(BirdsError):
    code = "catalog_empty"
    http_status = 404


class InvalidBirdId(BirdsError):
    code = "invalid_bird_id"


class InvalidSlug(BirdsError):
    code = "invalid_slug"
    http_status = 422


class DuplicateSlug(BirdsError):
    code = "duplicate_slug"
    http_status = 409


class InvalidPhotoUpload(BirdsError):
    """The photo upload's multipart body is malformed, has no file or an empty one."""

    code = "invalid_upload"


class PhotoTooLarge(BirdsError):
    code = "payload_too_large"
    http_status = 413


class PhotoRejected(BirdsError):
    """The thumbnails pipeline refused the photo; answered with the status it answered (a
    client error of ours) or 502 (it failed)."""

    code = "photo_rejected"

    def __init__(self, message: str, *, http_status: int) -> None:
        super().__init__(message)
        self.http_status = http_status

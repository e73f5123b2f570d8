"""What can go wrong in the bird catalog, independent of HTTP (``api.py`` maps the codes)."""

from __future__ import annotations

from roost.core.errors import DomainError


class BirdsError(DomainError):
    """Base of every catalog error; ``code`` is stable and machine-readable."""

    code = "birds_error"
    status = 400


class BirdNotFound(BirdsError):
    code = "bird_not_found"
    status = 404


class CatalogEmpty(BirdsError):
    code = "catalog_empty"
    status = 404


class InvalidBirdId(BirdsError):
    code = "invalid_bird_id"


class InvalidCursor(BirdsError):
    code = "invalid_cursor"


class InvalidSlug(BirdsError):
    code = "invalid_slug"
    status = 422


class DuplicateSlug(BirdsError):
    code = "duplicate_slug"
    status = 409


class PhotoRejected(BirdsError):
    """The thumbnails pipeline refused the photo; ``status`` is the status it answered."""

    code = "photo_rejected"

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status

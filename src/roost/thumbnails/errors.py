"""What can go wrong with a thumbnails request or job: each error's code and the HTTP status the
core answers it with (one handler, :mod:`roost.core.errors`).

:class:`~roost.thumbnails.imaging.ImageRejected` (a bad image) is imaging's own and is never an
HTTP error: the upload was accepted, the image is recorded as ``rejected`` with its reason.
A bad list cursor is the core's :class:`~roost.core.cursors.InvalidCursor`.
"""

from __future__ import annotations

from typing import Any

from roost.core.errors import DomainError


class ThumbnailsError(DomainError):
    code = "thumbnails_error"


class InvalidUpload(ThumbnailsError):
    code = "invalid_upload"


class EmptyUpload(InvalidUpload):
    code = "empty_file"


class UploadTooLarge(InvalidUpload):
    code = "file_too_large"
    http_status = 413


class InvalidSizes(ThumbnailsError):
    code = "invalid_sizes"
    http_status = 422


class InvalidImageId(ThumbnailsError):
    code = "invalid_image_id"


class InvalidDeadLetterId(ThumbnailsError):
    code = "invalid_dead_letter_id"


class ImageNotFound(ThumbnailsError):
    code = "image_not_found"
    http_status = 404


class ThumbnailNotFound(ThumbnailsError):
    code = "thumbnail_not_found"
    http_status = 404


class ThumbnailNotReady(ThumbnailsError):
    """The image has the size but is not ``done``; ``image_status`` says what it is."""

    code = "thumbnail_not_ready"
    http_status = 409

    def __init__(self, message: str, image_status: str) -> None:
        super().__init__(message)
        self.image_status = image_status

    def details(self) -> Any:
        return {"status": self.image_status}


class InvalidPrefix(ThumbnailsError):
    code = "invalid_prefix"


class SourceNotCommitted(ThumbnailsError):
    """A job arrived before its image record was visible: retried, never a verdict (a worker
    error, never answered over HTTP)."""

    code = "image_not_visible_yet"

"""What can go wrong with a thumbnails request or job, independent of HTTP.

:class:`~roost.thumbnails.imaging.ImageRejected` (a bad image) is imaging's own and is never an
HTTP error: the upload was accepted, the image is recorded as ``rejected`` with its reason.
"""

from __future__ import annotations

from roost.core.errors import DomainError


class ThumbnailsError(DomainError):
    code = "thumbnails_error"


class InvalidUpload(ThumbnailsError):
    code = "invalid_upload"


class EmptyUpload(InvalidUpload):
    code = "empty_file"


class UploadTooLarge(InvalidUpload):
    code = "file_too_large"


class InvalidSizes(ThumbnailsError):
    code = "invalid_sizes"


class InvalidImageId(ThumbnailsError):
    code = "invalid_image_id"


class InvalidCursor(ThumbnailsError):
    code = "invalid_cursor"


class ImageNotFound(ThumbnailsError):
    code = "image_not_found"


class ThumbnailNotFound(ThumbnailsError):
    code = "thumbnail_not_found"


class ThumbnailNotReady(ThumbnailsError):
    code = "thumbnail_not_ready"

    def __init__(self, message: str, status: str) -> None:
        super().__init__(message)
        self.status = status


class InvalidPrefix(ThumbnailsError):
    code = "invalid_prefix"


class SourceNotCommitted(ThumbnailsError):
    """A job arrived before its image record was visible: retried, never a verdict."""

    code = "image_not_visible_yet"

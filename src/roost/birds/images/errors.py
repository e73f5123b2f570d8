"""What can go wrong with a bird image request: each error's code and the HTTP status the core
answers it with (one handler, :mod:`roost.core.errors`). An unreachable store or thumbnails
role is the core's :class:`~roost.core.errors.DependencyUnavailable` (503)."""

from __future__ import annotations

from roost.core.errors import DomainError


class BirdImagesError(DomainError):
    code = "bird_images_error"


class InvalidBirdName(BirdImagesError):
    """The name is empty, too long, or has characters no bird name has."""

    code = "invalid_bird_name"


class InvalidPhotoId(BirdImagesError):
    """A ``photo_id`` that is not a UUID (the only ids the thumbnails pipeline hands out)."""

    code = "invalid_photo_id"


class ImageNotFound(BirdImagesError):
    """No such media file (an unknown name, a file we do not serve)."""

    code = "image_not_found"
    http_status = 404

    def __init__(self, message: str = "no such image") -> None:
        super().__init__(message)


class PhotoNotFound(ImageNotFound):
    """The thumbnails pipeline has no such image, or not (yet) in our size."""

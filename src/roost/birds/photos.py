"""Admin photo uploads, handed to the thumbnails role over HTTP (domains never import each
other): the pipeline stores, validates and resizes; we keep the image id it answers with."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import structlog

from roost.birds.errors import PhotoRejected
from roost.core.context import current_request_id
from roost.core.errors import DependencyUnavailable

log = structlog.get_logger("roost.birds.photos")

UPLOAD_PATH = "/api/v1/images"


@dataclass(frozen=True, slots=True)
class Photo:
    filename: str
    content: bytes
    content_type: str


class PhotoUploader:
    def __init__(self, base_url: str, *, timeout_seconds: float) -> None:
        self._client = httpx.AsyncClient(base_url=base_url, timeout=timeout_seconds)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def upload(self, photo: Photo) -> str:
        """The thumbnails pipeline's id for ``photo``; 503 when it cannot be reached.

        Not retried: an upload is not idempotent, and the admin can simply send it again.
        """
        headers = {"X-Request-ID": rid} if (rid := current_request_id()) else {}
        try:
            response = await self._client.post(
                UPLOAD_PATH,
                files={"file": (photo.filename, photo.content, photo.content_type)},
                headers=headers,
            )
        except httpx.HTTPError as error:
            log.warning("photo_upload_failed", error=type(error).__name__)
            raise DependencyUnavailable("thumbnails") from error
        if response.status_code >= 500:
            log.warning("photo_upload_failed", status=response.status_code)
            raise DependencyUnavailable("thumbnails")
        if response.status_code != 202:
            raise PhotoRejected(_reason(response), http_status=_client_status(response.status_code))
        image_id = _image_id(response)
        if image_id is None:
            log.warning("photo_upload_bad_answer", status=response.status_code)
            raise DependencyUnavailable("thumbnails")
        return image_id


def _reason(response: httpx.Response) -> str:
    try:
        message = response.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        message = None
    if isinstance(message, str) and message:
        return f"the thumbnails pipeline refused the photo: {message[:300]}"
    return f"the thumbnails pipeline refused the photo ({response.status_code})"


def _client_status(status: int) -> int:
    # Its 400/413/415/422 are about the photo and mean the same to our caller; any other
    # refusal (401, 404, ...) is our wiring, not the admin's input.
    return status if status in (400, 413, 415, 422) else 502


def _image_id(response: httpx.Response) -> str | None:
    try:
        image_id = response.json()["id"]
    except (ValueError, KeyError, TypeError):
        return None
    if isinstance(image_id, str) and 0 < len(image_id) <= 64:
        return image_id
    return None

"""Photos an admin uploaded for a bird, as the thumbnails role made them.

The birds API keeps the thumbnails pipeline's image id of a bird's photo (``photo_id``) and
names it when it asks for the bird's picture. This module asks the thumbnails API, over HTTP
(domains never import each other), whether that image is done, and fetches the one thumbnail
size the page shows:

- ``GET {thumbnails}/api/v1/images/{id}``: the status, within a short budget (the birds API
  waits for this service only ``bird_image_budget_ms`` in all);
- ``GET {thumbnails}/api/v1/images/{id}/thumbnails/600``: the bytes, served on as
  ``/media/photos/{id}/600``.

Both calls share one circuit breaker (``upstream="thumbnails"``): while the thumbnails role is
down, birds with a photo fail fast to their illustration.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from enum import Enum

import httpx
import structlog

from roost.birds.images.errors import InvalidPhotoId, PhotoNotFound
from roost.core.errors import DependencyUnavailable
from roost.core.upstream import (
    CircuitBreaker,
    LivenessProbe,
    UpstreamClient,
    UpstreamUnavailable,
)

log = structlog.get_logger("roost.birds.images")

UPSTREAM_NAME = "thumbnails"
# The largest default size of the pipeline: what a full-screen picture can get.
PHOTO_SIZE = "600"
SERVED_TYPES = frozenset({"image/jpeg", "image/webp", "image/png"})
# A thumbnail, not an archive original; also under the frontend proxy's cap.
MAX_PHOTO_BYTES = 8 * 1024 * 1024
FETCH_BUDGET_SECONDS = 3.0
_ETAG = re.compile(r'(W/)?"[\x21\x23-\x7e]{1,128}"')


class PhotoState(Enum):
    READY = "ready"  # done, with the size we show
    PENDING = "pending"  # queued, processing, failed (may be redriven): ask again later
    UNAVAILABLE = "unavailable"  # the thumbnails role did not answer usefully
    NONE = "none"  # unknown id, rejected, or done without our size: it will stay that way

    @property
    def final(self) -> bool:
        """Whether an answer built on this state may be cached."""
        return self in (PhotoState.READY, PhotoState.NONE)


@dataclass(frozen=True, slots=True)
class FetchedPhoto:
    """A thumbnail's bytes (``data`` empty for a 304) with its validator."""

    status: int
    data: bytes
    content_type: str
    etag: str | None


def parse_photo_id(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise InvalidPhotoId("photo_id must be a UUID") from None


def photo_url(photo_id: uuid.UUID) -> str:
    return f"/media/photos/{photo_id}/{PHOTO_SIZE}"


class UploadedPhotos:
    def __init__(self, base_url: str, *, budget_seconds: float) -> None:
        breaker = CircuitBreaker(UPSTREAM_NAME, failure_threshold=5, reset_seconds=30.0)
        self._status = UpstreamClient(
            UPSTREAM_NAME, base_url, budget_seconds=budget_seconds, breaker=breaker
        )
        self._files = UpstreamClient(
            UPSTREAM_NAME, base_url, budget_seconds=FETCH_BUDGET_SECONDS, retries=1, breaker=breaker
        )
        self.ping = LivenessProbe(base_url)

    async def aclose(self) -> None:
        await self._status.aclose()
        await self._files.aclose()
        await self.ping.aclose()

    async def state(self, photo_id: uuid.UUID) -> PhotoState:
        """Whether the pipeline has the photo ready to show; never raises."""
        try:
            response = await self._status.get(f"/api/v1/images/{photo_id}")
        except UpstreamUnavailable as error:
            log.info("bird_photo_status_unavailable", photo_id=str(photo_id), reason=error.reason)
            return PhotoState.UNAVAILABLE
        if response.status_code == 404:
            return PhotoState.NONE
        if response.status_code != 200:
            log.warning("bird_photo_status_refused", status=response.status_code)
            return PhotoState.UNAVAILABLE
        return _state_of(response)

    async def fetch(self, photo_id: uuid.UUID, if_none_match: str | None) -> FetchedPhoto:
        """The thumbnail we show; raises :class:`PhotoNotFound`, or :class:`DependencyUnavailable`
        when the thumbnails role cannot be reached or answered something we cannot serve."""
        headers = {"If-None-Match": if_none_match} if if_none_match else {}
        path = f"/api/v1/images/{photo_id}/thumbnails/{PHOTO_SIZE}"
        try:
            response = await self._files.get(path, headers=headers)
        except UpstreamUnavailable as error:
            log.warning("bird_photo_fetch_unavailable", photo_id=str(photo_id), reason=error.reason)
            raise DependencyUnavailable(UPSTREAM_NAME) from None
        # 409: not done yet; a page only gets this URL once it is, so a stale link at worst.
        if response.status_code in (404, 409):
            raise PhotoNotFound
        etag = response.headers.get("etag")
        etag = etag if etag is not None and _ETAG.fullmatch(etag) else None
        if response.status_code == 304:
            return FetchedPhoto(304, b"", "", etag)
        content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if (
            response.status_code != 200
            or content_type not in SERVED_TYPES
            or not 0 < len(response.content) <= MAX_PHOTO_BYTES
        ):
            log.warning(
                "bird_photo_fetch_refused",
                photo_id=str(photo_id),
                status=response.status_code,
                content_type=content_type,
                size=len(response.content),
            )
            raise DependencyUnavailable(UPSTREAM_NAME)
        return FetchedPhoto(200, response.content, content_type, etag)


def _state_of(response: httpx.Response) -> PhotoState:
    try:
        body = response.json()
        status, thumbnails = body["status"], body["thumbnails"]
    except (ValueError, KeyError, TypeError):
        log.warning("bird_photo_status_malformed")
        return PhotoState.UNAVAILABLE
    if status == "done":
        ready = isinstance(thumbnails, dict) and PHOTO_SIZE in thumbnails
        return PhotoState.READY if ready else PhotoState.NONE
    if status == "rejected":
        return PhotoState.NONE
    return PhotoState.PENDING

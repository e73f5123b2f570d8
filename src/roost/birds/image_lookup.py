"""Each bird's picture, asked of the bird image service within a time budget.

The image is garnish: when the service is slow, down, answers something we cannot use, or its
circuit breaker is open, the bird goes out anyway with a placeholder drawn by this API
(``/api/v1/birds/{slug}/placeholder.svg``) and ``available=False``. Nothing here raises.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

import structlog
from pydantic import ValidationError

from roost.birds.metrics import BIRD_IMAGE_LOOKUPS
from roost.birds.schemas import ImageAnswer
from roost.core.upstream import LivenessProbe, UpstreamClient, UpstreamUnavailable

log = structlog.get_logger("roost.birds.images")

UPSTREAM_NAME = "bird-images"
UNAVAILABLE = "unavailable"
PLACEHOLDER_ATTRIBUTION = "Placeholder drawn by Roost"


@dataclass(frozen=True, slots=True)
class BirdImage:
    url: str
    source: str
    attribution: str | None
    available: bool

    def as_dict(self) -> dict[str, str | None]:
        return {"url": self.url, "source": self.source, "attribution": self.attribution}


def placeholder_url(slug: str) -> str:
    return f"/api/v1/birds/{quote(slug, safe='')}/placeholder.svg"


def placeholder_image(slug: str) -> BirdImage:
    return BirdImage(placeholder_url(slug), "placeholder", PLACEHOLDER_ATTRIBUTION, False)


def usable_url(url: str) -> bool:
    """Only URLs a browser will load as an image: http(s), a same-origin path, or data:image."""
    lowered = url.lower()
    if lowered.startswith(("https://", "http://", "data:image/")):
        return True
    return url.startswith("/") and not url.startswith("//")


class ImageLookup:
    def __init__(self, client: UpstreamClient, base_url: str) -> None:
        self._client = client
        self.base_url = base_url
        self.ping = LivenessProbe(base_url)

    @property
    def client(self) -> UpstreamClient:
        return self._client

    async def aclose(self) -> None:
        await self._client.aclose()
        await self.ping.aclose()

    async def image_for(self, slug: str, photo_id: str | None = None) -> BirdImage:
        """``slug``'s picture; ``photo_id`` is the bird's uploaded photo in the thumbnails
        pipeline, which the image service shows once it is done."""
        image = await self._ask(slug, photo_id)
        BIRD_IMAGE_LOOKUPS.labels(image.source if image.available else UNAVAILABLE).inc()
        return image

    async def _ask(self, slug: str, photo_id: str | None) -> BirdImage:
        params = {"photo_id": photo_id} if photo_id else None
        try:
            response = await self._client.get(
                f"/api/v1/images/{quote(slug, safe='')}", params=params
            )
        except UpstreamUnavailable as error:
            log.info("bird_image_unavailable", bird=slug, reason=error.reason)
            return placeholder_image(slug)
        if response.status_code != 200:
            log.warning("bird_image_refused", bird=slug, status=response.status_code)
            return placeholder_image(slug)
        try:
            answer = ImageAnswer.model_validate_json(response.content)
        except ValidationError:
            log.warning("bird_image_malformed", bird=slug)
            return placeholder_image(slug)
        if not usable_url(answer.url):
            log.warning("bird_image_bad_url", bird=slug)
            return placeholder_image(slug)
        return BirdImage(answer.url, answer.source, answer.attribution, True)

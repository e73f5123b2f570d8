"""The picture bytes this service serves itself under ``/media``: the illustrations bundled
with the package, photos from the object store, and placeholders drawn on request.

Files are looked up by slug in a dict loaded at startup, never by joining a client's path onto
a folder, so no request can reach a file outside the assets.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from roost.birds.images.names import MAX_NAME_CHARS, SLUG, display_name
from roost.birds.placeholder import placeholder_svg

ASSETS_DIR = Path(__file__).resolve().parent.parent / "assets"
JPEG = "image/jpeg"
SVG = "image/svg+xml"
JPEG_MAGIC = b"\xff\xd8\xff"
# A versioned URL (``?v=<etag>``) never changes meaning, so browsers may keep it for good.
IMMUTABLE = "public, max-age=31536000, immutable"
PLACEHOLDER_WIDTH, PLACEHOLDER_HEIGHT = 1200, 800


@dataclass(frozen=True, slots=True)
class MediaFile:
    data: bytes
    content_type: str
    etag: str  # quoted, as sent in the ETag header

    @property
    def version(self) -> str:
        return self.etag.strip('"')


def media_file(data: bytes, content_type: str) -> MediaFile:
    return MediaFile(data, content_type, f'"{hashlib.sha256(data).hexdigest()[:20]}"')


class BundledPhotos:
    """The generated illustrations in ``roost/birds/assets``, one ``<slug>.jpg`` per species."""

    def __init__(self, files: dict[str, MediaFile]) -> None:
        self._files = files

    @classmethod
    def load(cls, directory: Path = ASSETS_DIR) -> BundledPhotos:
        files = {}
        for path in sorted(directory.glob("*.jpg")):
            data = path.read_bytes()
            if SLUG.fullmatch(path.stem) and data.startswith(JPEG_MAGIC):
                files[path.stem] = media_file(data, JPEG)
        return cls(files)

    def get(self, slug: str) -> MediaFile | None:
        return self._files.get(slug)

    def url(self, slug: str) -> str | None:
        found = self._files.get(slug)
        return None if found is None else f"/media/{slug}.jpg?v={found.version}"

    def __len__(self) -> int:
        return len(self._files)


def placeholder_url(slug: str) -> str:
    return f"/media/placeholder/{slug}.svg"


def stored_photo_url(slug: str) -> str:
    return f"/media/photos/{slug}.jpg"


@lru_cache(maxsize=1024)
def placeholder_file(slug: str) -> MediaFile:
    """The placeholder of ``slug`` (a valid slug): its catalog name, or the slug as words."""
    svg = placeholder_svg(display_name(slug), PLACEHOLDER_WIDTH, PLACEHOLDER_HEIGHT)
    return media_file(svg.encode(), SVG)


def slug_of_file(filename: str, suffix: str) -> str | None:
    """``"kea.jpg"`` -> ``"kea"`` for ``suffix=".jpg"``; None for anything that is not a slug."""
    if not filename.endswith(suffix):
        return None
    slug = filename.removesuffix(suffix)
    return slug if len(slug) <= MAX_NAME_CHARS and SLUG.fullmatch(slug) else None

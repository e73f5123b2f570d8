"""The page's static files, read once at startup and served from memory.

``index.html`` names its script, stylesheet and icon with a version (``/app.js?v=<hash>``), so
those may be cached for good while the page itself is revalidated on every visit: a deploy is
picked up at the next page load, and never half of it.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from pathlib import Path

STATIC_DIR = Path(__file__).resolve().parent / "static"
INDEX = "index.html"
# The files the page is made of; each must exist (the role refuses to start otherwise).
PAGE_FILES = (INDEX, "app.js", "app.css", "favicon.svg")
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
REVALIDATE = "no-cache"
IMMUTABLE = "public, max-age=31536000, immutable"
_MIN_GZIP_SAVING = 256  # bytes; below this the header overhead is not worth it


@dataclass(frozen=True, slots=True)
class StaticFile:
    name: str
    data: bytes
    gzipped: bytes | None
    content_type: str
    etag: str

    @property
    def version(self) -> str:
        return self.etag.strip('"')


def load_static_files(directory: Path = STATIC_DIR) -> dict[str, StaticFile]:
    """Every servable file of ``directory`` by name, ``index.html`` pointing at versioned URLs."""
    files = {
        path.name: _static_file(path.name, path.read_bytes())
        for path in sorted(directory.iterdir())
        if path.is_file() and path.suffix in CONTENT_TYPES
    }
    missing = [name for name in PAGE_FILES if name not in files]
    if missing:
        raise FileNotFoundError(f"{directory} lacks {', '.join(missing)}")
    html = files[INDEX].data
    for name, asset in files.items():
        if name != INDEX:
            html = html.replace(f'"/{name}"'.encode(), f'"/{name}?v={asset.version}"'.encode())
    files[INDEX] = _static_file(INDEX, html)
    return files


def cache_control(file: StaticFile, version: str | None) -> str:
    if file.name != INDEX and version == file.version:
        return IMMUTABLE
    return REVALIDATE


def _static_file(name: str, data: bytes) -> StaticFile:
    compressed = gzip.compress(data, compresslevel=9, mtime=0)
    gzipped = compressed if len(data) - len(compressed) >= _MIN_GZIP_SAVING else None
    etag = f'"{hashlib.sha256(data).hexdigest()[:20]}"'
    return StaticFile(name, data, gzipped, CONTENT_TYPES[Path(name).suffix], etag)

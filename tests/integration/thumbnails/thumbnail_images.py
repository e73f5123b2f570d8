"""Small images made in memory for the pipeline tests (no binary files in the repository)."""

from __future__ import annotations

import random
from io import BytesIO

from PIL import Image, ImageDraw


def jpeg(width: int = 800, height: int = 600, seed: int = 1, quality: int = 85) -> bytes:
    rng = random.Random(seed)
    image = Image.new("RGB", (width, height), tuple(rng.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        x, y = rng.randrange(width), rng.randrange(height)
        radius = rng.randrange(10, max(11, width // 4))
        draw.ellipse(
            (x - radius, y - radius, x + radius, y + radius),
            fill=tuple(rng.randrange(256) for _ in range(3)),
        )
    buffer = BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def png(width: int = 640, height: int = 480) -> bytes:
    buffer = BytesIO()
    Image.linear_gradient("L").resize((width, height)).convert("RGB").save(buffer, "PNG")
    return buffer.getvalue()


def truncated_jpeg() -> bytes:
    whole = jpeg(1200, 900, seed=9)
    return whole[: len(whole) // 2]


def svg() -> bytes:
    return b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect/></svg>'

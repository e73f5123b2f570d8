"""The picture shown when a bird has no image: its name on a soft gradient, under a silhouette.

Pure: builds an SVG document as a string. The name comes from the catalog but is treated as
untrusted text — it is stripped of characters XML cannot carry, shortened and escaped, so the
result is always a well-formed, bounded document.
"""

from __future__ import annotations

import colorsys
import html
import re
import zlib

MIN_SIDE = 16
MAX_SIDE = 4096
MAX_NAME_CHARS = 48
FALLBACK_NAME = "Unknown bird"

# A perched songbird facing right, drawn in a 100 x 100 box.
_SILHOUETTE_PATH = (
    "M8 58 L30 50 C33 38 44 30 58 31 C61 22 71 18 79 23 C83 25 85 28 86 31 L96 34 L86 37 "
    "C85 46 80 55 70 60 C63 64 54 66 46 65 L47 74 L51 78 L44 78 L42 65 C37 64 33 62 30 60 "
    "L8 58 Z M34 78 L94 78 L94 81.5 L34 81.5 Z"
)

# Characters outside XML 1.0's Char production (C0 controls bar tab/LF/CR, surrogates,
# U+FFFE/U+FFFF) make a document ill-formed however they are escaped, so they are removed.
_NOT_XML_CHAR = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_WHITESPACE = re.compile(r"\s+")


class PlaceholderSizeError(ValueError):
    """The requested placeholder dimensions are not whole numbers within the allowed range."""

    code = "invalid_placeholder_size"


def placeholder_svg(name: str, width: int = 1200, height: int = 800) -> str:
    """Return an SVG document of ``width`` x ``height`` showing ``name`` and a bird silhouette.

    Raises :class:`PlaceholderSizeError` when a side is not an int in [MIN_SIDE, MAX_SIDE].
    """
    _check_side("width", width)
    _check_side("height", height)
    label = display_name(name)
    top, bottom = _gradient_colours(label)

    shortest = min(width, height)
    icon_size = shortest * 0.34
    icon_x = (width - icon_size) / 2
    icon_y = height * 0.46 - icon_size
    # A rough average glyph width of 0.58 em keeps the name inside 86% of the width.
    font_size = min(shortest * 0.075, width * 0.86 / (0.58 * max(len(label), 1)))
    text_y = height * 0.46 + font_size * 1.9

    text = html.escape(label, quote=True)
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{text}">'
        f"<title>{text}</title>"
        "<defs>"
        '<linearGradient id="sky" x1="0" y1="0" x2="0.35" y2="1">'
        f'<stop offset="0" stop-color="{top}"/>'
        f'<stop offset="1" stop-color="{bottom}"/>'
        "</linearGradient>"
        "</defs>"
        f'<rect width="{width}" height="{height}" fill="url(#sky)"/>'
        f'<g transform="translate({icon_x:.1f} {icon_y:.1f}) scale({icon_size / 100:.4f})" '
        'fill="#ffffff" fill-opacity="0.78">'
        f'<path d="{_SILHOUETTE_PATH}"/>'
        "</g>"
        f'<text x="{width / 2:.1f}" y="{text_y:.1f}" text-anchor="middle" '
        f'font-size="{font_size:.1f}" font-weight="600" fill="#ffffff" '
        "font-family=\"system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif\">"
        f"{text}</text>"
        "</svg>"
    )


def display_name(name: str) -> str:
    """``name`` made safe to show: XML-legal characters only, one line, at most MAX_NAME_CHARS."""
    cleaned = _WHITESPACE.sub(" ", _NOT_XML_CHAR.sub("", name)).strip()
    if not cleaned:
        return FALLBACK_NAME
    if len(cleaned) > MAX_NAME_CHARS:
        return cleaned[: MAX_NAME_CHARS - 1].rstrip() + "\u2026"
    return cleaned


def _check_side(label: str, value: int) -> None:
    # bool is an int subclass; True as a width is a caller bug, not a 1-pixel image.
    if isinstance(value, bool) or not isinstance(value, int):
        raise PlaceholderSizeError(f"{label} must be an integer, got {type(value).__name__}")
    if not MIN_SIDE <= value <= MAX_SIDE:
        raise PlaceholderSizeError(
            f"{label} must be between {MIN_SIDE} and {MAX_SIDE}, got {value}"
        )


def _gradient_colours(label: str) -> tuple[str, str]:
    # The same bird always gets the same soft colours; different birds get different ones.
    hue = zlib.crc32(label.encode("utf-8")) % 360
    return _hsl_hex(hue, 0.45, 0.62), _hsl_hex((hue + 40) % 360, 0.40, 0.38)


def _hsl_hex(hue: float, saturation: float, lightness: float) -> str:
    red, green, blue = colorsys.hls_to_rgb(hue / 360, lightness, saturation)
    return "#" + "".join(f"{round(c * 255):02x}" for c in (red, green, blue))

"""Test images made in memory with Pillow, so the repository holds no binary files.

Each builder returns encoded bytes, the way an upload arrives. Colours are chosen far apart so a
test can tell them apart after JPEG compression and resampling.
"""

from __future__ import annotations

import math
import struct
import zlib
from io import BytesIO
from typing import Any

from PIL import ExifTags, Image, ImageDraw

RED = (255, 0, 0)
GREEN = (0, 255, 0)
BLUE = (0, 0, 255)
YELLOW = (255, 255, 0)
WHITE = (255, 255, 255)
QUADRANT_COLOURS = {
    "top_left": RED,
    "top_right": GREEN,
    "bottom_left": BLUE,
    "bottom_right": YELLOW,
}


def encode(image: Image.Image, image_format: str, **params: Any) -> bytes:
    buffer = BytesIO()
    image.save(buffer, image_format, **params)
    return buffer.getvalue()


def quadrants(width: int, height: int, mode: str = "RGB") -> Image.Image:
    """Four solid quadrants, so any rotation or flip is visible from the corners."""
    image = Image.new(mode, (width, height))
    draw = ImageDraw.Draw(image)
    half_w, half_h = width // 2, height // 2
    draw.rectangle((0, 0, half_w - 1, half_h - 1), fill=QUADRANT_COLOURS["top_left"])
    draw.rectangle((half_w, 0, width - 1, half_h - 1), fill=QUADRANT_COLOURS["top_right"])
    draw.rectangle((0, half_h, half_w - 1, height - 1), fill=QUADRANT_COLOURS["bottom_left"])
    draw.rectangle((half_w, half_h, width - 1, height - 1), fill=QUADRANT_COLOURS["bottom_right"])
    return image


def corner_colours(image: Image.Image, inset: float = 0.2) -> dict[str, tuple[int, ...]]:
    """The colour a little inside each corner, away from JPEG ringing at the edges."""
    rgb = image.convert("RGB")
    left, top = int(rgb.width * inset), int(rgb.height * inset)
    right, bottom = rgb.width - 1 - left, rgb.height - 1 - top
    return {
        "top_left": rgb.getpixel((left, top)),  # type: ignore[dict-item]
        "top_right": rgb.getpixel((right, top)),  # type: ignore[dict-item]
        "bottom_left": rgb.getpixel((left, bottom)),  # type: ignore[dict-item]
        "bottom_right": rgb.getpixel((right, bottom)),  # type: ignore[dict-item]
    }


def close_to(actual: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 40) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


def stripes(width: int, height: int, period: int) -> Image.Image:
    """Fine vertical sine stripes in red, slow horizontal ones in green, a ramp in blue."""

    def sine(length: int, wavelength: int) -> list[int]:
        return [
            round(127.5 + 127.5 * math.sin(2 * math.pi * i / wavelength)) for i in range(length)
        ]

    row, column = Image.new("L", (width, 1)), Image.new("L", (1, height))
    row.putdata(sine(width, period))
    column.putdata(sine(height, period * 4))
    ramp = Image.linear_gradient("L").resize((width, height))
    return Image.merge("RGB", [row.resize((width, height)), column.resize((width, height)), ramp])


def exif_block(orientation: int | None = None, *, with_gps: bool = False) -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Roost Test Camera"
    exif[ExifTags.Base.Model] = "Fixture 1"
    if orientation is not None:
        exif[ExifTags.Base.Orientation] = orientation
    if with_gps:
        exif[ExifTags.Base.GPSInfo] = {
            ExifTags.GPS.GPSLatitudeRef: "N",
            ExifTags.GPS.GPSLatitude: (48.0, 51.0, 29.0),
            ExifTags.GPS.GPSLongitudeRef: "E",
            ExifTags.GPS.GPSLongitude: (2.0, 17.0, 40.0),
        }
    return exif


def oriented_jpeg(width: int, height: int, orientation: int) -> bytes:
    """Quadrants stored ``width`` x ``height`` with an EXIF orientation tag."""
    return encode(quadrants(width, height), "JPEG", quality=95, exif=exif_block(orientation))


XMP_PACKET = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
    b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
    b'xmlns:dc="http://purl.org/dc/elements/1.1/" dc:creator="Secret Photographer"/>'
    b"</rdf:RDF></x:xmpmeta>"
)


def jpeg_with_all_metadata(width: int = 640, height: int = 480) -> bytes:
    """EXIF with GPS, XMP, a JPEG comment and an ICC profile: everything outputs must drop."""
    return encode(
        quadrants(width, height),
        "JPEG",
        quality=90,
        exif=exif_block(1, with_gps=True),
        xmp=XMP_PACKET,
        comment=b"shot at home, 12 Secret Street",
        icc_profile=rgb_profile(swap_red_green=False),
    )


def cmyk_jpeg(width: int, height: int, cmyk: tuple[int, int, int, int]) -> bytes:
    # Pillow writes CMYK JPEGs the Adobe way (APP14 marker, inverted samples), like Photoshop.
    return encode(Image.new("CMYK", (width, height), cmyk), "JPEG", quality=95)


def sixteen_bit_grey_png(width: int, height: int, left: int, right: int) -> bytes:
    """Left half at 16-bit level ``left``, right half at ``right``."""
    image = Image.new("I;16", (width, height), left)
    image.paste(right, (width // 2, 0, width, height))
    return encode(image, "PNG")


def half_transparent_png(width: int, height: int) -> bytes:
    """Opaque red left half, fully transparent right half."""
    image = Image.new("RGBA", (width, height), (*RED, 255))
    image.paste((0, 0, 0, 0), (width // 2, 0, width, height))
    return encode(image, "PNG")


def palette_png_with_transparency(width: int, height: int) -> bytes:
    """Like :func:`half_transparent_png`, with a palette whose second entry is transparent."""
    image = Image.new("P", (width, height), 0)
    image.putpalette([*RED, *BLUE])
    image.paste(1, (width // 2, 0, width, height))
    return encode(image, "PNG", transparency=1)


def animated_gif(width: int, height: int, colours: list[tuple[int, int, int]]) -> bytes:
    frames = [Image.new("RGB", (width, height), colour) for colour in colours]
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


def animated_webp(width: int, height: int, colours: list[tuple[int, int, int]]) -> bytes:
    frames = [Image.new("RGB", (width, height), colour) for colour in colours]
    return encode(frames[0], "WEBP", save_all=True, append_images=frames[1:], lossless=True)


def png_claiming_size(width: int, height: int) -> bytes:
    """A valid PNG signature and IHDR for ``width`` x ``height`` RGB, then a few bytes of pixel
    data: decoding it would fail as truncated, so only a header check can reject it as a bomb."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


# sRGB colorants adapted to D50, as in the sRGB IEC61966-2.1 profile.
_SRGB_COLORANTS = {
    "r": (0.4360747, 0.2225045, 0.0139322),
    "g": (0.3850649, 0.7168786, 0.0971045),
    "b": (0.1430804, 0.0606169, 0.7141733),
}
_D50 = (0.9642, 1.0, 0.8249)


def rgb_profile(*, swap_red_green: bool) -> bytes:
    """A minimal ICC v2 RGB matrix/TRC display profile (gamma 2.2).

    With ``swap_red_green`` its red primary is sRGB's green and vice versa: a pixel stored as
    pure red *means* green, so a colour-managed decoder must turn it green. Without the swap it
    is an sRGB look-alike.
    """
    red, green = ("g", "r") if swap_red_green else ("r", "g")
    tags: list[tuple[bytes, bytes]] = [
        (b"desc", _text_description("Roost test RGB")),
        (b"cprt", b"text" + b"\0" * 4 + b"No copyright, test data\0"),
        (b"wtpt", _xyz(_D50)),
        (b"rXYZ", _xyz(_SRGB_COLORANTS[red])),
        (b"gXYZ", _xyz(_SRGB_COLORANTS[green])),
        (b"bXYZ", _xyz(_SRGB_COLORANTS["b"])),
        (b"rTRC", _gamma_curve(2.2)),
        (b"gTRC", _gamma_curve(2.2)),
        (b"bTRC", _gamma_curve(2.2)),
    ]
    table_size = 4 + 12 * len(tags)
    offset = 128 + table_size
    table, body = struct.pack(">I", len(tags)), b""
    for signature, data in tags:
        padded = data + b"\0" * (-len(data) % 4)
        table += struct.pack(">4sII", signature, offset + len(body), len(data))
        body += padded
    size = 128 + table_size + len(body)
    header = (
        struct.pack(">I4sI4s4s4s", size, b"lcms", 0x02100000, b"mntr", b"RGB ", b"XYZ ")
        + b"\0" * 12  # creation date
        + b"acsp"
        + b"\0" * 24  # platform, flags, manufacturer, model, attributes
        + struct.pack(">I", 0)  # perceptual intent
        + _s15(_D50)
        + b"\0" * 48  # creator, profile id, reserved
    )
    assert len(header) == 128
    return header + table + body


def _s15(values: tuple[float, ...]) -> bytes:
    return b"".join(struct.pack(">i", round(value * 65536)) for value in values)


def _xyz(values: tuple[float, float, float]) -> bytes:
    return b"XYZ " + b"\0" * 4 + _s15(values)


def _gamma_curve(gamma: float) -> bytes:
    return b"curv" + b"\0" * 4 + struct.pack(">IH", 1, round(gamma * 256))


def _text_description(text: str) -> bytes:
    ascii_text = text.encode("ascii") + b"\0"
    return (
        b"desc"
        + b"\0" * 4
        + struct.pack(">I", len(ascii_text))
        + ascii_text
        + struct.pack(">II", 0, 0)  # no Unicode description
        + struct.pack(">HB", 0, 0)  # no ScriptCode description
        + b"\0" * 67
    )

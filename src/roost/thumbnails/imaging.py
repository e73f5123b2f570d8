"""Untrusted image bytes in, thumbnail bytes out: pure Pillow, no file or network I/O.

Safety is checked before any pixel is decoded, from the bytes and the header alone: the upload
must not be empty or over the byte limit, its magic bytes must name an allowed format (the file
name and the declared content type are never trusted), and the pixel count its header claims
must be under the limit, so a decompression bomb costs a header parse and nothing more.

Speed comes from decoding once. A JPEG is decoded straight at the smallest DCT scale (1/8, 1/4,
1/2) that is still at least as large as the biggest thumbnail asked for; every size is then
resized from the one above it, largest first.

Every thumbnail is upright (EXIF orientation applied), in sRGB (an embedded ICC profile is
converted, then dropped), 8-bit RGB or RGBA, never larger than its source, and carries no
metadata at all: no EXIF, GPS, XMP, comment or profile. Animated images give their first frame.

:class:`ImageRejected` means the bytes will never make a thumbnail, whatever the retry. Any other
exception is a bug or an exhausted machine, not a verdict on the image.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from io import BytesIO
from typing import Final, Literal, get_args

from PIL import ExifTags, Image, ImageCms, ImageFile, features

RejectionReason = Literal[
    "empty", "file_too_large", "unsupported_format", "too_many_pixels", "corrupt"
]
OutputFormat = Literal["JPEG", "WEBP", "PNG"]

REJECTION_REASONS: Final[frozenset[str]] = frozenset(get_args(RejectionReason))
SUPPORTED_FORMATS: Final[frozenset[str]] = frozenset({"JPEG", "PNG", "WEBP", "GIF"})
CONTENT_TYPES: Final[dict[str, str]] = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "GIF": "image/gif",
}
HAVE_LITTLECMS: Final[bool] = bool(features.check_module("littlecms2"))


class ImageRejected(Exception):
    """The image can never be thumbnailed: a permanent failure, not to be retried.

    ``reason`` is one of :data:`REJECTION_REASONS`, stable and machine-readable:

    - ``empty``: no bytes at all;
    - ``file_too_large``: more bytes than :attr:`ImagingLimits.max_bytes`;
    - ``unsupported_format``: the magic bytes name no allowed format (SVG, PDF, TIFF, text...);
    - ``too_many_pixels``: the header claims more pixels than allowed (decompression bomb);
    - ``corrupt``: the header or the pixel data cannot be read, or the file is truncated.
    """

    code = "image_rejected"

    def __init__(self, reason: RejectionReason, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason: RejectionReason = reason
        self.message = message

    def __reduce__(self) -> tuple[type[ImageRejected], tuple[RejectionReason, str]]:
        # Survives pickling (process pools, result backends) despite the two-argument __init__.
        return type(self), (self.reason, self.message)


@dataclass(frozen=True)
class ImagingLimits:
    max_bytes: int = 25 * 1024 * 1024
    max_pixels: int = 50_000_000
    allowed_formats: frozenset[str] = SUPPORTED_FORMATS

    def __post_init__(self) -> None:
        if self.max_bytes < 1 or self.max_pixels < 1:
            raise ValueError("max_bytes and max_pixels must be positive")
        if unknown := self.allowed_formats - SUPPORTED_FORMATS:
            raise ValueError(
                f"cannot recognise {sorted(unknown)}: only {sorted(SUPPORTED_FORMATS)}"
            )


@dataclass(frozen=True)
class ThumbnailSpec:
    """A thumbnail to make: longest side ``max_side``, or a centred square of that side."""

    name: str
    max_side: int
    square: bool = False

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("a thumbnail spec needs a name")
        if self.max_side < 1:
            raise ValueError(f"max_side must be positive, got {self.max_side}")


@dataclass(frozen=True)
class SourceInfo:
    """What the header says; ``width`` and ``height`` are as stored, before EXIF orientation."""

    format: str
    width: int
    height: int
    frames: int
    mode: str


@dataclass(frozen=True)
class Thumbnail:
    spec_name: str
    width: int
    height: int
    format: str
    content_type: str
    data: bytes = field(repr=False)


DEFAULT_LIMITS: Final = ImagingLimits()
DEFAULT_SPECS: Final[tuple[ThumbnailSpec, ...]] = (
    ThumbnailSpec("150", 150),
    ThumbnailSpec("300", 300),
    ThumbnailSpec("600", 600),
)


def sniff_format(data: bytes) -> str:
    """The format named by the magic bytes; anything outside :data:`SUPPORTED_FORMATS` is
    rejected with reason ``unsupported_format``."""
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return "WEBP"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "GIF"
    raise ImageRejected("unsupported_format", "not a JPEG, PNG, WebP or GIF image")


def inspect(data: bytes, limits: ImagingLimits = DEFAULT_LIMITS) -> SourceInfo:
    """Run every safety check on the header alone and describe the image, decoding nothing."""
    image_format, image = _open_checked(data, limits)
    with image:
        return SourceInfo(
            format=image_format,
            width=image.width,
            height=image.height,
            frames=_frame_count(image),
            mode=image.mode,
        )


def make_thumbnails(
    data: bytes,
    specs: Sequence[ThumbnailSpec] = DEFAULT_SPECS,
    limits: ImagingLimits = DEFAULT_LIMITS,
    *,
    output_format: OutputFormat = "JPEG",
    quality: int = 82,
) -> list[Thumbnail]:
    """Make one thumbnail per spec, in the order of ``specs``, from a single decode.

    Raises :class:`ImageRejected` for bytes that can never make a thumbnail.
    """
    _check_request(specs, output_format, quality)
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        # A global Pillow switch: with it on, a truncated upload decodes "successfully" with a
        # grey bottom half and would be stored as a good thumbnail. Refuse loudly instead.
        raise RuntimeError("PIL.ImageFile.LOAD_TRUNCATED_IMAGES must stay False")

    image_format, image = _open_checked(data, limits)
    with image:
        stored_size = image.size
        steps = sorted(specs, key=lambda spec: _scale(spec, stored_size), reverse=True)
        # The largest size is known before the orientation (read after decoding, see
        # _read_orientation): sizes depend on the longest and shortest sides only.
        box = _decode(image, image_format, _frame_size(steps[0], stored_size))
        orientation = _read_orientation(image)
        upright_size = _turned(stored_size, orientation)
        first_size = _frame_size(steps[0], upright_size)
        frame = _first_frame(
            image, box, _turned(first_size, orientation), orientation, output_format
        )
        made: dict[str, Thumbnail] = {}
        for spec in steps:
            size = _frame_size(spec, upright_size)
            if frame.size != size:
                frame = frame.resize(size, Image.Resampling.LANCZOS)
            output = _center_square(frame) if spec.square else frame
            made[spec.name] = _encode(spec.name, output, output_format, quality)
    return [made[spec.name] for spec in specs]


# Errors Pillow raises on malformed input, while parsing headers or decoding pixels.
_DECODE_ERRORS: Final = (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError)
_EXIF_ERRORS: Final = (*_DECODE_ERRORS, KeyError, TypeError)

_TRANSPOSE_FOR_ORIENTATION: Final = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_SWAPS_AXES: Final = frozenset({5, 6, 7, 8})
_RESIZABLE_MODES: Final = frozenset({"RGB", "RGBA", "L", "LA", "CMYK"})
_SIXTEEN_BIT_MODES: Final = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I"})
_FIRST_RESIZE_REDUCING_GAP: Final = 3.0  # Pillow: indistinguishable from a plain LANCZOS resize


def _check_request(specs: Sequence[ThumbnailSpec], output_format: str, quality: int) -> None:
    if not specs:
        raise ValueError("ask for at least one thumbnail")
    if len({spec.name for spec in specs}) != len(specs):
        raise ValueError("thumbnail spec names must be unique")
    if output_format not in get_args(OutputFormat):
        raise ValueError(f"output_format must be one of {get_args(OutputFormat)}")
    if not 1 <= quality <= 100:
        raise ValueError(f"quality must be within 1..100, got {quality}")


def _open_checked(data: bytes, limits: ImagingLimits) -> tuple[str, ImageFile.ImageFile]:
    if not data:
        raise ImageRejected("empty", "the image is empty")
    if len(data) > limits.max_bytes:
        raise ImageRejected(
            "file_too_large", f"{len(data)} bytes is over the limit of {limits.max_bytes}"
        )
    image_format = sniff_format(data)
    if image_format not in limits.allowed_formats:
        raise ImageRejected("unsupported_format", f"{image_format} images are not accepted")
    try:
        # Lazy: reads the header only. Restricting the plugins to the sniffed format keeps every
        # other Pillow parser away from untrusted bytes.
        image = Image.open(BytesIO(data), formats=[image_format])
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Pillow's own bomb guard (its warning too, when warnings are errors) fires inside open()
        # for sizes far beyond ours; it is the same verdict.
        raise ImageRejected("too_many_pixels", str(exc)) from exc
    except _DECODE_ERRORS as exc:
        raise ImageRejected("corrupt", f"unreadable {image_format} header") from exc

    width, height = image.size
    if width < 1 or height < 1:
        image.close()
        raise ImageRejected("corrupt", f"{image_format} header claims a {width}x{height} image")
    if width * height > limits.max_pixels:
        image.close()
        raise ImageRejected(
            "too_many_pixels",
            f"{width}x{height} is {width * height} pixels, over the limit of {limits.max_pixels}",
        )
    return image_format, image


def _frame_count(image: ImageFile.ImageFile) -> int:
    try:
        # GIF counts frames by walking block headers (no decoding); others read a header field.
        return int(getattr(image, "n_frames", 1))
    except _DECODE_ERRORS:
        # Only the first frame is ever used, so a broken later frame does not spoil the image.
        return 1


def _scale(spec: ThumbnailSpec, source_size: tuple[int, int]) -> float:
    # A square crop spans the shortest side, a plain thumbnail the longest.
    return spec.max_side / (min(source_size) if spec.square else max(source_size))


def _frame_size(spec: ThumbnailSpec, source_size: tuple[int, int]) -> tuple[int, int]:
    """The uncropped size a spec is cut from: never larger than the source; otherwise the side
    the spec is about gets exactly ``max_side`` and the other side whichever of its floor and
    ceiling keeps the aspect ratio closest (Pillow's ``thumbnail()`` rule, so sizes match)."""
    width, height = source_size
    if _scale(spec, source_size) >= 1.0:
        return source_size
    side = spec.max_side
    aspect = width / height
    if (width >= height) != spec.square:
        return side, _closest(side / aspect, lambda n: abs(aspect - side / n))
    return _closest(side * aspect, lambda n: abs(aspect - n / side)), side


def _closest(exact: float, aspect_error: Callable[[int], float]) -> int:
    candidates = sorted({max(1, math.floor(exact)), max(1, math.ceil(exact))})
    return min(candidates, key=aspect_error)


def _turned(size: tuple[int, int], orientation: int) -> tuple[int, int]:
    """``size`` as displayed under ``orientation``, or back as stored: swapping is its own
    inverse."""
    return (size[1], size[0]) if orientation in _SWAPS_AXES else size


def _decode(
    image: ImageFile.ImageFile, image_format: str, needed_size: tuple[int, int]
) -> tuple[float, float, float, float]:
    """Decode the pixels (JPEG at a reduced DCT scale when that still covers ``needed_size``)
    and return the box of the decoded image that maps to the whole source."""
    box = (0.0, 0.0, float(image.width), float(image.height))
    if image_format == "JPEG" and needed_size != image.size:
        drafted = image.draft(None, needed_size)
        if drafted is not None:
            box = drafted[1]
    try:
        image.load()
    except Image.DecompressionBombError as exc:
        raise ImageRejected("too_many_pixels", str(exc)) from exc
    except _DECODE_ERRORS as exc:
        raise ImageRejected("corrupt", f"{image_format} data is truncated or corrupt") from exc
    return box


def _read_orientation(image: Image.Image) -> int:
    # Read after decoding: a PNG may keep its eXIf chunk after the pixel data. A malformed EXIF
    # block costs the orientation, not the image.
    try:
        orientation = image.getexif().get(ExifTags.Base.Orientation, 1)
        return int(orientation) if orientation in _TRANSPOSE_FOR_ORIENTATION else 1
    except _EXIF_ERRORS:
        return 1


def _first_frame(
    decoded: Image.Image,
    box: tuple[float, float, float, float],
    size_as_stored: tuple[int, int],
    orientation: int,
    output_format: str,
) -> Image.Image:
    """The largest full-frame thumbnail, ready to encode or to shrink further: upright, sRGB,
    8-bit RGB(A), flattened on white for JPEG, without metadata."""
    icc_profile = decoded.info.get("icc_profile")
    frame = _to_resizable_mode(decoded)
    if frame.size != size_as_stored or box != (0.0, 0.0, *frame.size):
        # Resizing before the colour conversion and the rotation makes both work on the small
        # image instead of the decoded one.
        frame = frame.resize(
            size_as_stored,
            Image.Resampling.LANCZOS,
            box=box,
            reducing_gap=_FIRST_RESIZE_REDUCING_GAP,
        )
    frame = _to_srgb(frame, icc_profile if isinstance(icc_profile, bytes) else None)
    if orientation in _TRANSPOSE_FOR_ORIENTATION:
        frame = frame.transpose(_TRANSPOSE_FOR_ORIENTATION[orientation])
    if output_format == "JPEG" and frame.mode == "RGBA":
        frame = _flatten_on_white(frame)
    # Every later image copies .info, and encoders fall back to it for comments and profiles:
    # emptying it here is what strips the metadata from every output.
    frame.info = {}
    return frame


def _to_resizable_mode(image: Image.Image) -> Image.Image:
    """Modes that LANCZOS can resize faithfully; palette and 1-bit images would fall back to
    nearest neighbour, 16-bit grey would clip instead of scale."""
    if image.mode in _RESIZABLE_MODES and "transparency" not in image.info:
        return image
    if image.mode in _SIXTEEN_BIT_MODES:
        return image.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    return image.convert("RGBA" if image.has_transparency_data else "RGB")


def _to_srgb(image: Image.Image, icc_profile: bytes | None) -> Image.Image:
    target_mode = "RGBA" if image.mode in ("RGBA", "LA") else "RGB"
    if icc_profile and HAVE_LITTLECMS:
        transform = _srgb_transform(icc_profile, image.mode, target_mode)
        if transform is not None:
            return transform.apply(image)
    # No profile, or one LittleCMS cannot use: the pixels are still fine, take them as sRGB.
    return image if image.mode == target_mode else image.convert(target_mode)


@lru_cache(maxsize=16)
def _srgb_transform(
    icc_profile: bytes, input_mode: str, output_mode: str
) -> ImageCms.ImageCmsTransform | None:
    # Memoised because building a transform (CMYK ones especially) costs more than applying it
    # to a thumbnail, and uploads from one camera or editor share the same profile bytes.
    try:
        source = ImageCms.ImageCmsProfile(BytesIO(icc_profile))
        return ImageCms.buildTransform(
            source, _srgb_profile(), input_mode, output_mode, ImageCms.Intent.PERCEPTUAL
        )
    except (ImageCms.PyCMSError, OSError, TypeError, ValueError):
        return None


@lru_cache(maxsize=1)
def _srgb_profile() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def _flatten_on_white(image: Image.Image) -> Image.Image:
    flattened = Image.new("RGB", image.size, (255, 255, 255))
    flattened.paste(image, mask=image)
    return flattened


def _center_square(frame: Image.Image) -> Image.Image:
    side = min(frame.size)
    left, top = (frame.width - side) // 2, (frame.height - side) // 2
    return frame.crop((left, top, left + side, top + side))


def _encode(spec_name: str, image: Image.Image, output_format: str, quality: int) -> Thumbnail:
    buffer = BytesIO()
    if output_format == "JPEG":
        image.save(buffer, "JPEG", quality=quality, optimize=True, progressive=True)
    elif output_format == "WEBP":
        image.save(buffer, "WEBP", quality=quality, method=4)
    else:
        image.save(buffer, "PNG", compress_level=6)
    return Thumbnail(
        spec_name=spec_name,
        width=image.width,
        height=image.height,
        format=output_format,
        content_type=CONTENT_TYPES[output_format],
        data=buffer.getvalue(),
    )

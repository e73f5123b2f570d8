"""Thumbnails from untrusted bytes: safety checks, correctness of every output, no metadata."""

from __future__ import annotations

import pickle
from io import BytesIO

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageChops, ImageFile, ImageOps, ImageStat
from tests.unit.thumbnails import image_fixtures as fx

from roost.thumbnails import imaging
from roost.thumbnails.imaging import (
    DEFAULT_SPECS,
    REJECTION_REASONS,
    ImageRejected,
    ImagingLimits,
    Thumbnail,
    ThumbnailSpec,
    inspect,
    make_thumbnails,
    sniff_format,
)

ONE_SIZE = [ThumbnailSpec("100", 100)]


def decoded(thumbnail: Thumbnail) -> Image.Image:
    image = Image.open(BytesIO(thumbnail.data))
    image.load()
    return image


def only(thumbnails: list[Thumbnail]) -> Image.Image:
    assert len(thumbnails) == 1
    return decoded(thumbnails[0])


def pillow_thumbnail_size(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    """The reference: what Pillow's own thumbnail() picks."""
    image = Image.new("1", size)
    image.thumbnail((max_side, max_side))
    return image.size


def same_corners(image: Image.Image, reference: Image.Image) -> bool:
    actual, expected = fx.corner_colours(image), fx.corner_colours(reference)
    return all(fx.close_to(actual[corner], expected[corner]) for corner in expected)


def rejection(data: bytes, limits: ImagingLimits = imaging.DEFAULT_LIMITS) -> str:
    """The reason both entry points give; they must agree."""
    with pytest.raises(ImageRejected) as from_inspect:
        inspect(data, limits)
    with pytest.raises(ImageRejected) as from_make:
        make_thumbnails(data, ONE_SIZE, limits)
    assert from_inspect.value.reason == from_make.value.reason
    assert from_inspect.value.reason in REJECTION_REASONS
    return from_inspect.value.reason


# --- orientation ------------------------------------------------------------------------------


def test_orientation_6_swaps_sides_and_turns_top_left_to_top_right() -> None:
    # Stored landscape with red top-left; orientation 6 means "rotate 90° clockwise to display".
    data = fx.oriented_jpeg(400, 200, orientation=6)

    image = only(make_thumbnails(data, ONE_SIZE))

    assert image.size == (50, 100)
    corners = fx.corner_colours(image)
    assert fx.close_to(corners["top_right"], fx.RED)
    assert fx.close_to(corners["top_left"], fx.BLUE)
    assert fx.close_to(corners["bottom_right"], fx.GREEN)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_matches_pillow_exif_transpose(orientation: int) -> None:
    # 1600x800 asked for 150 decodes at 1/8 DCT scale: orientation must survive the draft.
    data = fx.oriented_jpeg(1600, 800, orientation)
    reference = ImageOps.exif_transpose(Image.open(BytesIO(data)))
    expected_size = (150, 75) if reference.width > reference.height else (75, 150)

    image = only(make_thumbnails(data, [ThumbnailSpec("150", 150)]))

    assert image.size == expected_size
    assert same_corners(image, reference)


@pytest.mark.parametrize("source_format", ["PNG", "WEBP"])
def test_exif_orientation_is_applied_to_png_and_webp_too(source_format: str) -> None:
    data = fx.encode(fx.quadrants(400, 200), source_format, exif=fx.exif_block(6), quality=95)

    image = only(make_thumbnails(data, ONE_SIZE))

    assert image.size == (50, 100)
    assert fx.close_to(fx.corner_colours(image)["top_right"], fx.RED)


def test_square_crop_of_rotated_photo_is_taken_from_the_upright_image() -> None:
    # Upright, the image is 200 wide and 400 tall: the centred square spans all four quadrants.
    data = fx.oriented_jpeg(400, 200, orientation=8)

    image = only(make_thumbnails(data, [ThumbnailSpec("100sq", 100, square=True)]))

    assert image.size == (100, 100)
    reference = ImageOps.exif_transpose(Image.open(BytesIO(data))).crop((0, 100, 200, 300))
    assert same_corners(image, reference)


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data:UserWarning")  # Pillow's, expected
def test_malformed_exif_costs_the_orientation_not_the_image() -> None:
    data = fx.encode(fx.quadrants(400, 200), "JPEG", exif=b"Exif\x00\x00MM\x00*garbage")

    image = only(make_thumbnails(data, ONE_SIZE))

    assert image.size == (100, 50)


# --- colour modes and profiles ----------------------------------------------------------------


def test_cmyk_jpeg_with_adobe_inverted_samples_comes_out_rgb_in_the_right_colour() -> None:
    data = fx.cmyk_jpeg(300, 200, (255, 0, 0, 0))  # pure cyan
    assert inspect(data).mode == "CMYK"

    image = only(make_thumbnails(data, ONE_SIZE))

    assert image.mode == "RGB"
    assert fx.close_to(image.getpixel((50, 25)), (0, 255, 255))  # type: ignore[arg-type]


def test_sixteen_bit_grey_png_is_scaled_to_eight_bits_not_clipped() -> None:
    data = fx.sixteen_bit_grey_png(400, 200, left=0x8000, right=0xFFFF)
    assert inspect(data).mode.startswith("I")

    image = only(make_thumbnails(data, ONE_SIZE, output_format="PNG"))

    assert image.mode == "RGB"
    assert fx.close_to(image.getpixel((10, 25)), (128, 128, 128), tolerance=2)  # type: ignore[arg-type]
    assert fx.close_to(image.getpixel((90, 25)), (255, 255, 255), tolerance=2)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("mode", "colour"),
    [("L", 200), ("LA", (200, 255)), ("1", 1), ("P", 0), ("RGB", (10, 200, 30))],
)
def test_every_source_mode_gives_an_eight_bit_rgb_thumbnail(
    mode: str, colour: int | tuple[int, ...]
) -> None:
    source = Image.new(mode, (300, 200), colour)
    if mode == "P":
        source.putpalette([10, 200, 30])
    data = fx.encode(source, "PNG")
    expected = source.convert("RGB").getpixel((0, 0))

    image = only(make_thumbnails(data, ONE_SIZE, output_format="PNG"))

    assert image.mode in ("RGB", "RGBA")
    assert fx.close_to(image.convert("RGB").getpixel((50, 30)), expected, tolerance=1)  # type: ignore[arg-type]


@pytest.mark.parametrize("source_format", ["JPEG", "PNG"])
def test_embedded_icc_profile_is_converted_to_srgb_then_dropped(source_format: str) -> None:
    # In this profile, the stored value "pure red" means sRGB green.
    profile = fx.rgb_profile(swap_red_green=True)
    data = fx.encode(Image.new("RGB", (300, 200), fx.RED), source_format, icc_profile=profile)

    image = only(make_thumbnails(data, ONE_SIZE))

    assert fx.close_to(image.getpixel((50, 30)), fx.GREEN, tolerance=12)  # type: ignore[arg-type]
    assert "icc_profile" not in image.info


def test_icc_conversion_keeps_the_alpha_channel() -> None:
    profile = fx.rgb_profile(swap_red_green=True)
    data = fx.encode(Image.new("RGBA", (300, 200), (*fx.RED, 128)), "PNG", icc_profile=profile)

    image = only(make_thumbnails(data, ONE_SIZE, output_format="PNG"))

    assert fx.close_to(image.getpixel((50, 30)), (*fx.GREEN, 128), tolerance=3)  # type: ignore[arg-type]


def test_unusable_icc_profile_leaves_the_colours_as_decoded() -> None:
    data = fx.encode(Image.new("RGB", (300, 200), fx.RED), "PNG", icc_profile=b"not a profile")

    image = only(make_thumbnails(data, ONE_SIZE))

    assert fx.close_to(image.getpixel((50, 30)), fx.RED, tolerance=12)  # type: ignore[arg-type]
    assert "icc_profile" not in image.info


def test_without_littlecms_profiles_are_ignored_instead_of_failing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(imaging, "HAVE_LITTLECMS", False)
    profile = fx.rgb_profile(swap_red_green=True)
    data = fx.encode(Image.new("RGB", (300, 200), fx.RED), "PNG", icc_profile=profile)

    image = only(make_thumbnails(data, ONE_SIZE))

    assert fx.close_to(image.getpixel((50, 30)), fx.RED, tolerance=12)  # type: ignore[arg-type]


# --- transparency and animation ---------------------------------------------------------------


@pytest.mark.parametrize("output_format", ["PNG", "WEBP"])
def test_transparency_is_kept_in_png_and_webp_outputs(output_format: imaging.OutputFormat) -> None:
    data = fx.half_transparent_png(400, 200)

    image = only(make_thumbnails(data, ONE_SIZE, output_format=output_format))

    assert image.mode == "RGBA"
    assert image.getpixel((10, 25))[3] == 255  # type: ignore[index]
    assert image.getpixel((90, 25))[3] == 0  # type: ignore[index]


@pytest.mark.parametrize(
    "data",
    [fx.half_transparent_png(400, 200), fx.palette_png_with_transparency(400, 200)],
    ids=["rgba", "palette"],
)
def test_transparent_areas_become_white_in_jpeg_output(data: bytes) -> None:
    image = only(make_thumbnails(data, ONE_SIZE, output_format="JPEG"))

    assert image.mode == "RGB"
    assert fx.close_to(image.getpixel((10, 25)), fx.RED)  # type: ignore[arg-type]
    assert fx.close_to(image.getpixel((90, 25)), fx.WHITE, tolerance=6)  # type: ignore[arg-type]


@pytest.mark.parametrize("build", [fx.animated_gif, fx.animated_webp], ids=["gif", "webp"])
def test_animated_image_gives_its_first_frame(build: object) -> None:
    assert callable(build)
    data = build(300, 200, [fx.RED, fx.GREEN, fx.BLUE])
    assert inspect(data).frames == 3

    image = only(make_thumbnails(data, ONE_SIZE, output_format="PNG"))

    assert image.format == "PNG"
    assert image.size == (100, 67)
    assert fx.close_to(image.convert("RGB").getpixel((50, 30)), fx.RED, tolerance=6)  # type: ignore[arg-type]


# --- sizes --------------------------------------------------------------------------------------


def test_default_specs_keep_the_aspect_ratio_at_every_size() -> None:
    data = fx.encode(fx.quadrants(1600, 1200), "JPEG", quality=90)

    thumbnails = make_thumbnails(data)

    assert [t.spec_name for t in thumbnails] == [spec.name for spec in DEFAULT_SPECS]
    assert [(t.width, t.height) for t in thumbnails] == [(150, 113), (300, 225), (600, 450)]
    assert [decoded(t).size for t in thumbnails] == [(t.width, t.height) for t in thumbnails]


def test_small_image_is_never_upscaled() -> None:
    data = fx.encode(fx.quadrants(100, 80), "PNG")
    specs = [ThumbnailSpec("600", 600), ThumbnailSpec("150sq", 150, square=True)]

    plain, square = make_thumbnails(data, specs)

    assert (plain.width, plain.height) == (100, 80)
    assert (square.width, square.height) == (80, 80)


def test_square_crop_keeps_the_centre_of_the_image() -> None:
    source = Image.new("RGB", (600, 200), fx.BLUE)
    source.paste(fx.GREEN, (200, 0, 400, 200))
    data = fx.encode(source, "PNG")

    image = only(make_thumbnails(data, [ThumbnailSpec("150sq", 150, square=True)]))

    assert image.size == (150, 150)
    corners = fx.corner_colours(image, inset=0.05)
    assert all(fx.close_to(colour, fx.GREEN) for colour in corners.values())


def test_outputs_follow_the_order_of_the_specs_whatever_their_sizes() -> None:
    data = fx.encode(fx.quadrants(800, 600), "JPEG")
    specs = [
        ThumbnailSpec("small", 50),
        ThumbnailSpec("big-square", 400, square=True),
        ThumbnailSpec("medium", 200),
    ]

    thumbnails = make_thumbnails(data, specs)

    assert [(t.spec_name, t.width, t.height) for t in thumbnails] == [
        ("small", 50, 38),
        ("big-square", 400, 400),
        ("medium", 200, 150),
    ]


@settings(max_examples=40, deadline=None)
@given(
    width=st.integers(1, 700),
    height=st.integers(1, 700),
    max_side=st.integers(1, 400),
    square=st.booleans(),
)
def test_size_rules_hold_for_any_source_and_spec(
    width: int, height: int, max_side: int, square: bool
) -> None:
    data = fx.encode(Image.new("RGB", (width, height), fx.GREEN), "PNG")

    image = only(make_thumbnails(data, [ThumbnailSpec("t", max_side, square=square)]))

    if square:
        side = min(max_side, width, height)
        assert image.size == (side, side)
    else:
        assert image.size == pillow_thumbnail_size((width, height), max_side)
        assert max(image.size) == min(max_side, max(width, height))


def test_reduced_jpeg_decode_matches_a_full_decode_resize() -> None:
    # Guards the draft + cascade shortcut: stripes 12 px apart are still 3 px apart at 600 px
    # wide and must be kept, and are finer than a pixel at 150 px and must blur to grey. A DCT
    # scale too coarse, a box or nearest-neighbour filter each miss by 8 to 70 levels here.
    source = fx.stripes(2400, 1600, period=12)
    data = fx.encode(source, "JPEG", quality=92)
    specs = [ThumbnailSpec("600", 600), ThumbnailSpec("150", 150)]

    thumbnails = make_thumbnails(data, specs, output_format="PNG")

    full = Image.open(BytesIO(data)).convert("RGB")
    for image in map(decoded, thumbnails):
        reference = full.resize(image.size, Image.Resampling.LANCZOS)
        mean_error = ImageStat.Stat(ImageChops.difference(image, reference)).mean
        assert max(mean_error) < 5.0


# --- encoding and metadata ----------------------------------------------------------------------


def test_jpeg_output_is_progressive_and_typed() -> None:
    thumbnail = make_thumbnails(fx.encode(fx.quadrants(400, 300), "PNG"), ONE_SIZE)[0]

    image = decoded(thumbnail)

    assert (thumbnail.format, thumbnail.content_type) == ("JPEG", "image/jpeg")
    assert image.format == "JPEG"
    assert image.info.get("progressive")


@pytest.mark.parametrize(
    ("output_format", "content_type"),
    [("WEBP", "image/webp"), ("PNG", "image/png")],
)
def test_other_output_formats_are_what_they_claim(
    output_format: imaging.OutputFormat, content_type: str
) -> None:
    data = fx.encode(fx.quadrants(400, 300), "JPEG")

    thumbnail = make_thumbnails(data, ONE_SIZE, output_format=output_format)[0]

    assert (thumbnail.format, thumbnail.content_type) == (output_format, content_type)
    assert decoded(thumbnail).format == output_format


@pytest.mark.parametrize("output_format", ["JPEG", "WEBP", "PNG"])
def test_all_metadata_is_stripped_from_outputs(output_format: imaging.OutputFormat) -> None:
    data = fx.jpeg_with_all_metadata()
    source = Image.open(BytesIO(data))
    assert {"exif", "xmp", "comment", "icc_profile"} <= set(source.info)

    for thumbnail in make_thumbnails(data, output_format=output_format):
        image = decoded(thumbnail)
        assert not {"exif", "xmp", "comment", "icc_profile"} & set(image.info)
        assert len(image.getexif()) == 0
        for secret in (b"Exif", b"Roost Test Camera", b"Secret", b"12 Secret Street", b"lcms"):
            assert secret not in thumbnail.data


# --- rejections -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (fx.encode(Image.new("RGB", (8, 8)), "JPEG"), "JPEG"),
        (fx.encode(Image.new("RGB", (8, 8)), "PNG"), "PNG"),
        (fx.encode(Image.new("RGB", (8, 8)), "WEBP"), "WEBP"),
        (fx.encode(Image.new("RGB", (8, 8)), "GIF"), "GIF"),
    ],
)
def test_format_is_recognised_from_magic_bytes(data: bytes, expected: str) -> None:
    assert sniff_format(data) == expected


def test_png_uploaded_as_photo_jpg_is_processed_as_the_png_it_is() -> None:
    # The API never sees a file name here: whatever the upload was called, the bytes decide.
    data = fx.encode(fx.quadrants(400, 200), "PNG")

    assert inspect(data).format == "PNG"
    assert only(make_thumbnails(data, ONE_SIZE)).size == (100, 50)


@pytest.mark.parametrize(
    "data",
    [
        b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>',
        b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n",
        fx.encode(Image.new("RGB", (8, 8)), "TIFF"),
        fx.encode(Image.new("RGB", (8, 8)), "BMP"),
        b"<html><body>hello</body></html>",
        b"just some text",
        b"\xff\xd8",  # too short to be a JPEG
        b"RIFF\x00\x00\x00\x00WAVEfmt ",
    ],
    ids=["svg", "svg-script", "pdf", "tiff", "bmp", "html", "text", "stub", "wav"],
)
def test_anything_but_the_four_formats_is_rejected_as_unsupported(data: bytes) -> None:
    assert rejection(data) == "unsupported_format"


def test_format_outside_the_allowlist_is_rejected() -> None:
    data = fx.encode(fx.quadrants(40, 40), "PNG")

    assert (
        rejection(data, ImagingLimits(allowed_formats=frozenset({"JPEG"}))) == "unsupported_format"
    )


def test_empty_upload_is_rejected() -> None:
    assert rejection(b"") == "empty"


def test_file_over_the_byte_limit_is_rejected_and_one_at_the_limit_is_not() -> None:
    data = fx.encode(fx.quadrants(64, 64), "PNG")

    assert rejection(data, ImagingLimits(max_bytes=len(data) - 1)) == "file_too_large"
    assert inspect(data, ImagingLimits(max_bytes=len(data))).width == 64


def test_bomb_claiming_30000_by_30000_is_rejected_from_its_header() -> None:
    data = fx.png_claiming_size(30000, 30000)
    assert len(data) < 200

    assert rejection(data) == "too_many_pixels"


def test_pillow_bomb_guard_is_reported_as_too_many_pixels_even_under_a_lax_limit() -> None:
    data = fx.png_claiming_size(30000, 30000)

    assert rejection(data, ImagingLimits(max_pixels=10**12)) == "too_many_pixels"


@pytest.mark.filterwarnings("error::PIL.Image.DecompressionBombWarning")
def test_pillow_bomb_warning_raised_as_error_is_reported_as_too_many_pixels() -> None:
    data = fx.png_claiming_size(10000, 10000)  # between Pillow's warning and error thresholds

    assert rejection(data, ImagingLimits(max_pixels=10**12)) == "too_many_pixels"


def test_pixel_limit_is_checked_before_decoding() -> None:
    # The same bytes: decoding them reports "corrupt" (the pixel data is missing), so getting
    # "too_many_pixels" proves the verdict came from the header alone.
    data = fx.png_claiming_size(9000, 9000)

    assert rejection(data, ImagingLimits(max_pixels=80_000_000)) == "too_many_pixels"
    with pytest.raises(ImageRejected) as decoded_anyway:
        make_thumbnails(data, ONE_SIZE, ImagingLimits(max_pixels=81_000_000))
    assert decoded_anyway.value.reason == "corrupt"


@pytest.mark.parametrize(
    ("data", "specs"),
    [
        (fx.encode(fx.quadrants(400, 300), "JPEG"), ONE_SIZE),
        (fx.encode(fx.quadrants(1600, 1200), "JPEG"), [ThumbnailSpec("150", 150)]),  # drafted
        (fx.encode(fx.quadrants(400, 300), "PNG"), ONE_SIZE),
        (fx.encode(fx.quadrants(400, 300), "WEBP"), ONE_SIZE),
        (fx.animated_gif(400, 300, [fx.RED, fx.BLUE]), ONE_SIZE),
    ],
    ids=["jpeg", "jpeg-drafted", "png", "webp", "gif"],
)
def test_truncated_image_is_rejected_as_corrupt_when_decoded(
    data: bytes, specs: list[ThumbnailSpec]
) -> None:
    truncated = data[: len(data) // 2]

    with pytest.raises(ImageRejected) as rejected:
        make_thumbnails(truncated, specs)

    assert rejected.value.reason == "corrupt"


def test_truncated_header_is_rejected_as_corrupt_without_decoding() -> None:
    png = fx.encode(fx.quadrants(40, 40), "PNG")

    assert rejection(png[:20]) == "corrupt"


@pytest.mark.parametrize("size", [(0, 10), (10, 0)])
def test_header_claiming_an_empty_image_is_rejected_as_corrupt(size: tuple[int, int]) -> None:
    assert rejection(fx.png_claiming_size(*size)) == "corrupt"


def test_truncated_images_cannot_slip_through_a_global_pillow_switch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    data = fx.encode(fx.quadrants(400, 300), "JPEG")

    with pytest.raises(RuntimeError, match="LOAD_TRUNCATED_IMAGES"):
        make_thumbnails(data[: len(data) // 2], ONE_SIZE)


def test_rejection_survives_pickling_with_its_reason() -> None:
    original = ImageRejected("too_many_pixels", "30000x30000 is too many")

    restored = pickle.loads(pickle.dumps(original))  # noqa: S301 - our own object

    assert (restored.reason, restored.message, restored.code) == (
        "too_many_pixels",
        "30000x30000 is too many",
        "image_rejected",
    )


# --- inspect and request validation -------------------------------------------------------------


def test_inspect_reports_the_header() -> None:
    data = fx.oriented_jpeg(400, 200, orientation=6)

    info = inspect(data)

    assert (info.format, info.width, info.height, info.frames, info.mode) == (
        "JPEG",
        400,
        200,
        1,
        "RGB",
    )


@pytest.mark.parametrize(
    ("specs", "kwargs"),
    [
        ([], {}),
        ([ThumbnailSpec("a", 10), ThumbnailSpec("a", 20)], {}),
        (ONE_SIZE, {"quality": 0}),
        (ONE_SIZE, {"quality": 101}),
        (ONE_SIZE, {"output_format": "GIF"}),
    ],
    ids=["no-specs", "duplicate-names", "quality-0", "quality-101", "gif-output"],
)
def test_invalid_requests_are_programming_errors_not_rejections(
    specs: list[ThumbnailSpec], kwargs: dict[str, object]
) -> None:
    data = fx.encode(fx.quadrants(40, 40), "PNG")

    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        make_thumbnails(data, specs, **kwargs)  # type: ignore[arg-type]


def test_invalid_specs_and_limits_are_refused_at_construction() -> None:
    with pytest.raises(ValueError, match="max_side"):
        ThumbnailSpec("zero", 0)
    with pytest.raises(ValueError, match="name"):
        ThumbnailSpec("", 10)
    with pytest.raises(ValueError, match="TIFF"):
        ImagingLimits(allowed_formats=frozenset({"JPEG", "TIFF"}))

"""Draw one illustration per catalog species into src/roost/birds/assets/<slug>.jpg.

The pictures are made here, never downloaded: a stylised bird in the species' colours, perched
on a branch (or a rock) in front of a soft, out-of-focus landscape. The drawing is deterministic
— the same catalog, looks and Pillow version give byte-identical files — so the assets can be
regenerated and reviewed like code.

    .venv/bin/python scripts/generate_bird_art.py            # write every asset
    .venv/bin/python scripts/generate_bird_art.py --only kea # write some
    .venv/bin/python scripts/generate_bird_art.py --check    # exit 1 if an asset is stale
"""

from __future__ import annotations

import argparse
import io
import math
import random
import sys
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageOps

from roost.birds.catalog_data import BIRD_SEEDS

WIDTH, HEIGHT = 1200, 800
SUPERSAMPLE = 2  # Pillow draws without anti-aliasing; drawing at 2x and shrinking smooths edges.
JPEG_QUALITY = 80
MAX_ASSET_BYTES = 80 * 1024
# Right of centre and high, leaving the lower left for the page's text. The page's portrait
# layout (object-position: 68% in app.css) centres its crop on this point.
BIRD_CENTRE = (0.62, 0.37)
ASSETS_DIR = Path(__file__).resolve().parents[1] / "src" / "roost" / "birds" / "assets"

Point = tuple[float, float]
RGB = tuple[int, int, int]
Mask = Image.Image


# --------------------------------------------------------------------------------------------
# What each picture looks like
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scene:
    """The landscape behind the bird."""

    sky: tuple[str, str, str]  # top, middle, horizon
    hills: tuple[str, str]  # far, near
    foliage: tuple[str, str]  # leaf, leaf underside
    bark: str = "#6b4a32"
    ridge: str = "hills"  # hills | mountains | sea
    extra: str = ""  # snow | blossom | berries | ""


# fmt: off
SCENES: dict[str, Scene] = {
    "meadow": Scene(
        ("#7fb8e6", "#bcdcef", "#f4ead0"), ("#a9c99a", "#7fae6f"), ("#5f9a45", "#3f7a33"),
    ),
    "winter": Scene(
        ("#8fa9c6", "#c9d7e4", "#eef1f4"), ("#dde6ee", "#c3d2de"), ("#4f6f4a", "#34503a"),
        bark="#5a4334", extra="snow",
    ),
    "forest": Scene(
        ("#9cc9b0", "#cfe4c6", "#eef3d8"), ("#7fa886", "#52805a"), ("#4e8a3c", "#2f6a2c"),
    ),
    "tropical": Scene(
        ("#4fb4c4", "#9fd8c8", "#e9f4c4"), ("#4d9c68", "#2f7a4c"), ("#2f8a3e", "#1d6a2e"),
        bark="#5b4330",
    ),
    "dusk": Scene(
        ("#5d6fb0", "#e7a3a0", "#fbd9a6"), ("#b08aa6", "#80688f"), ("#5a7a3f", "#3f5e2f"),
        bark="#4f3a2e",
    ),
    "savanna": Scene(
        ("#e9b878", "#f5d7a2", "#fcefd2"), ("#cfae7a", "#b28a57"), ("#7b9a3e", "#5b7a2e"),
        bark="#5e4634",
    ),
    "coast": Scene(
        ("#7fc0ea", "#bfe0f2", "#eef7fb"), ("#5b9cc4", "#3f7fa8"), ("#6f9a4a", "#4f7a3a"),
        ridge="sea",
    ),
    "alpine": Scene(
        ("#6ea6db", "#b7d3ee", "#e8f0f7"), ("#a9b8c8", "#7d90a4"), ("#4f7a44", "#355a30"),
        bark="#584436", ridge="mountains",
    ),
    "blossom": Scene(
        ("#e8b9cc", "#f6d9e2", "#fbf0ee"), ("#d6b2c6", "#b994ad"), ("#f2a7c0", "#d97a9e"),
        bark="#5c4338", extra="blossom",
    ),
    "autumn": Scene(
        ("#e6ab6c", "#f3cf98", "#f9ead0"), ("#d19a5f", "#a9713f"), ("#d9782e", "#b4551f"),
        bark="#5a4030", extra="berries",
    ),
    "outback": Scene(
        ("#6fb4e3", "#b9dbea", "#f5dcb0"), ("#d08a5a", "#aa6440"), ("#7d9a5a", "#5c7a42"),
        bark="#6a5544",
    ),
}
# fmt: on


@dataclass(frozen=True)
class Look:
    """The colours and shapes that make a species recognisable. Unset parts are not drawn."""

    scene: str
    body: str
    belly: str
    wing: str
    tail: str
    beak: str
    head: str | None = None  # defaults to body
    breast: str | None = None
    belly_stripe: str | None = None
    breast_band: str | None = None
    necklace: str | None = None
    cap: str | None = None
    cap_depth: float = 0.0  # 0 = crown only, 1 = down to the eye
    cheek: str | None = None
    face: str | None = None
    face_reach: float = 1.0
    mask: str | None = None
    bib: str | None = None
    throat_tuft: str | None = None
    crest: str = ""  # point | fan | disc | tuft | ""
    crest_colour: str | None = None  # defaults to head
    crest_tip: str | None = None
    wing_coverts: str | None = None
    wing_tip: str | None = None
    wing_bar: str | None = None
    wing_stripes: str | None = None
    wing_panel: str | None = None
    wing_spots: str | None = None
    wing_lining: str | None = None
    wing_length: float = 1.0
    tail_kind: str = "fan"  # fan | pointed | forked | streamers
    tail_length: float = 1.2
    tail_angle: float = 215.0  # screen degrees, counter-clockwise from "right"
    streamer_width: float = 0.1
    tail_tip: str | None = None
    tail_bars: str | None = None
    beak_kind: str = "thin"  # cone | thin | short | dagger | heavy | decurved | hook | toucan ...
    beak_lower: str | None = None
    beak_size: float = 1.0
    eye: str = "#17130f"
    eye_ring: str | None = None
    eye_ring_width: float = 0.07
    legs: str = "#6f5e55"
    perch: str = "branch"  # branch | rock
    plump: float = 1.0  # body depth factor
    head_size: float = 1.0


# fmt: off
LOOKS: dict[str, Look] = {
    "northern-cardinal": Look(
        scene="winter", body="#c4142c", belly="#d52433", wing="#a30f25", tail="#9a0e22",
        beak="#ef6a3a", beak_kind="cone", head="#cf1b2d", face="#161313", crest="point",
        legs="#9a7466",
    ),
    "blue-jay": Look(
        scene="autumn", body="#4a7fc1", belly="#eef0f2", wing="#2f66b5", tail="#3367b0",
        beak="#1d1d1f", beak_kind="thin", beak_size=1.15, head="#5a8fd0", crest="point",
        cheek="#f2f4f6", necklace="#18181b", wing_bar="#f6f7f8", wing_tip="#1f4f9a",
        tail_tip="#f4f5f6", tail_bars="#1b2a4a", legs="#3c3c44",
    ),
    "american-robin": Look(
        scene="blossom", body="#5f5852", belly="#f1ece4", breast="#d2622b", wing="#534b45",
        tail="#36312e", beak="#f0b23a", beak_kind="thin", head="#2d2927", eye_ring="#f4f1ea",
        plump=1.05,
    ),
    "american-goldfinch": Look(
        scene="meadow", body="#f6cf14", belly="#f9e04e", wing="#17171a", tail="#1b1b1e",
        beak="#f2a777", beak_kind="cone", cap="#141416", wing_bar="#f7f7f2", wing_tip="#101012",
        head="#f8d41c", legs="#b98f7e",
    ),
    "painted-bunting": Look(
        scene="dusk", body="#7cc240", belly="#e2342c", breast="#e2342c", wing="#4f9a33",
        tail="#7a4a6f", beak="#80858c", beak_kind="cone", head="#3462d2", eye_ring="#e2342c",
        bib="#e2342c",
    ),
    "eastern-bluebird": Look(
        scene="meadow", body="#3a70c8", belly="#f3f1ec", breast="#c9662d", wing="#2c5fbb",
        tail="#2c5ab4", beak="#26262a", beak_kind="thin", head="#3f76cf", bib="#c9662d",
        wing_tip="#24488f",
    ),
    "cedar-waxwing": Look(
        scene="autumn", body="#b8936a", belly="#eadb9c", breast="#c8a57c", wing="#84807e",
        tail="#6f6c6c", beak="#232325", beak_kind="short", head="#c49c6e", crest="point",
        mask="#121214", wing_spots="#d3302a", tail_tip="#f4cf2f", wing_tip="#4f4d50",
    ),
    "european-robin": Look(
        scene="winter", body="#8a7955", belly="#f3efe7", breast="#e9762d", wing="#7d6c4b",
        tail="#76664a", beak="#2a2622", beak_kind="thin", face="#e9762d", face_reach=1.3, plump=1.1,
        legs="#8b6f5d",
    ),
    "eurasian-blue-tit": Look(
        scene="blossom", body="#a5b95d", belly="#f4d43c", wing="#3b87d6", tail="#3a7ecf",
        beak="#1f1f22", beak_kind="short", head="#f8f8f4", cap="#2f7fd3", mask="#1b2a4a",
        bib="#1b2a4a", wing_bar="#f8f8f4", necklace="#1b2a4a", legs="#5d6a82",
    ),
    "great-tit": Look(
        scene="forest", body="#8fa646", belly="#f0d33a", wing="#6e8aa0", tail="#5f7485",
        beak="#151517", beak_kind="short", head="#141416", cheek="#f8f8f4", belly_stripe="#141416",
        wing_bar="#f3f3ee", necklace="#141416", legs="#5d6a82",
    ),
    "eurasian-bullfinch": Look(
        scene="winter", body="#8f949b", belly="#e3625b", breast="#e3625b", wing="#1c1c1f",
        tail="#151517", beak="#18181a", beak_kind="cone", head="#e3625b", cap="#141416",
        cap_depth=0.55, wing_bar="#e9e9e6", plump=1.12, legs="#6e5a55",
    ),
    "common-kingfisher": Look(
        scene="forest", body="#19a7cc", belly="#e8712d", wing="#1b7fb6", tail="#1b6fa6",
        beak="#1a1a1c", beak_kind="dagger", head="#1f86c0", cheek="#e8712d", bib="#f6f1e4",
        tail_length=0.7, wing_spots="#4fd0ea", legs="#e0453a", head_size=1.1,
    ),
    "eurasian-hoopoe": Look(
        scene="savanna", body="#d9a06c", belly="#e8c4a0", wing="#1c1b1b", tail="#1c1b1b",
        beak="#3a3330", beak_kind="decurved", beak_size=1.2, head="#dda370", crest="fan",
        crest_colour="#d9924f", crest_tip="#1c1b1b", wing_stripes="#f2eee4", tail_bars="#f2eee4",
        legs="#4a4240",
    ),
    "atlantic-puffin": Look(
        scene="coast", body="#1a1a1d", belly="#f6f6f2", wing="#151517", tail="#151517",
        beak="#e8532b", beak_kind="puffin", head="#1a1a1d", cheek="#e9ebea", eye_ring="#e8532b",
        tail_length=0.5, legs="#f07a2a", perch="rock", plump=1.1,
    ),
    "scarlet-macaw": Look(
        scene="tropical", body="#d6191f", belly="#c9161c", wing="#1f5fb4", tail="#c41a1f",
        beak="#efe6da", beak_lower="#1c1c1e", beak_kind="hook", beak_size=1.2, head="#da1c22",
        cheek="#f5eee8", wing_coverts="#f5c21a", wing_tip="#1f4fa8", tail_kind="pointed",
        tail_length=2.6, tail_angle=235, tail_tip="#2b6ac0", legs="#5a5a5e",
    ),
    "hyacinth-macaw": Look(
        scene="tropical", body="#2647aa", belly="#2e52b6", wing="#21409e", tail="#1f3c98",
        beak="#1c1c20", beak_lower="#1c1c20", beak_kind="hook", beak_size=1.35, head="#2a4cb0",
        eye_ring="#f3cf3a", eye_ring_width=0.12, bib="#f3cf3a", tail_kind="pointed",
        tail_length=2.6, tail_angle=235, legs="#3c3c44",
    ),
    "keel-billed-toucan": Look(
        scene="tropical", body="#141416", belly="#141416", wing="#121214", tail="#121214",
        beak="#7cc242", beak_kind="toucan", head="#141416", cheek="#f4d21e", bib="#f4d21e",
        breast="#f4d21e", eye_ring="#9fd46b", eye_ring_width=0.16, tail_length=1.3, legs="#4d6fa8",
    ),
    "resplendent-quetzal": Look(
        scene="forest", body="#1f9d57", belly="#c8162b", wing="#177a45", tail="#1d9352",
        beak="#f2c230", beak_kind="short", head="#22a55e", crest="tuft", tail_kind="streamers",
        tail_length=3.4, tail_angle=250, streamer_width=0.26, wing_coverts="#2ab566",
        legs="#5b5a4f",
    ),
    "andean-cock-of-the-rock": Look(
        scene="tropical", body="#f05a1a", belly="#f26a22", wing="#151517", tail="#151517",
        beak="#f2c034", beak_kind="short", head="#f4661c", crest="disc", wing_coverts="#9aa0a4",
        eye="#f0dca0", plump=1.1, legs="#c89a3a",
    ),
    "rainbow-lorikeet": Look(
        scene="outback", body="#2e9e3e", belly="#2a3f9e", breast="#f15a22", wing="#2a9a3b",
        tail="#2f9b3e", beak="#e8382b", beak_kind="hook", head="#2b4cc2", necklace="#9ad22f",
        tail_kind="pointed", tail_length=1.6, eye="#d8482a", legs="#5a5a5e",
    ),
    "laughing-kookaburra": Look(
        scene="outback", body="#6b4f35", belly="#f1e9d8", wing="#6a513a", tail="#9b5a33",
        beak="#2b2622", beak_lower="#e9dcc0", beak_kind="heavy", head="#efe6d3", cap="#8a6a48",
        mask="#5a4330", wing_coverts="#6a9fc4", tail_bars="#3a2a1e", plump=1.1, head_size=1.15,
        legs="#7a6a5a",
    ),
    "superb-fairywren": Look(
        scene="meadow", body="#1c2c4c", belly="#dcd8d0", wing="#6b5a4a", tail="#27508f",
        beak="#151517", beak_kind="short", head="#16203a", cap="#45aef0", cheek="#45aef0",
        mask="#101424", bib="#101830", tail_length=1.7, tail_angle=145, legs="#5a4a42",
    ),
    "galah": Look(
        scene="outback", body="#9ea2a9", belly="#e2607f", breast="#e2607f", wing="#aaaeb4",
        tail="#8d9198", beak="#efe3d3", beak_kind="hook", head="#e4748f", cap="#f6cad5",
        cap_depth=0.2, crest="tuft", crest_colour="#f6cad5", eye_ring="#e5c7c9", eye_ring_width=0.1,
        wing_tip="#7f848b", legs="#7a7a80",
    ),
    "kea": Look(
        scene="alpine", body="#6e7b3a", belly="#6a7a3c", wing="#5f6d33", tail="#4f5d2b",
        beak="#3a3a3c", beak_kind="hook", beak_size=1.3, head="#7b8646", wing_lining="#e8622a",
        wing_tip="#3d6a5a", tail_tip="#c9732a", legs="#5a5a5e",
    ),
    "tui": Look(
        scene="forest", body="#1f3434", belly="#2b3a33", wing="#1d2f35", tail="#1a2426",
        beak="#121214", beak_kind="decurved", head="#1c2828", throat_tuft="#f7f7f5",
        wing_coverts="#2f5f7f", legs="#2a2a2e",
    ),
    "lilac-breasted-roller": Look(
        scene="savanna", body="#a07d55", belly="#3bb7c6", breast="#b57fb9", wing="#2a9fd0",
        tail="#2a8fc0", beak="#1c1c1e", beak_kind="heavy", beak_size=0.8, head="#a2bd74",
        cheek="#b57fb9", bib="#b57fb9", wing_coverts="#3cc0d8", wing_tip="#1f3c8f",
        tail_kind="streamers", tail_length=1.5, legs="#8a8a70",
    ),
    "superb-starling": Look(
        scene="savanna", body="#1f8596", belly="#d8642a", breast="#2b74b0", wing="#1f7f94",
        tail="#236f86", beak="#141416", beak_kind="thin", head="#18181c", breast_band="#f4f4f2",
        eye="#f2e6b8", wing_spots="#0f3f4a", legs="#2a2a2e",
    ),
    "southern-carmine-bee-eater": Look(
        scene="dusk", body="#d8345f", belly="#e2577a", wing="#c02d52", tail="#c42f57",
        beak="#141416", beak_kind="decurved", beak_size=1.25, head="#d8345f", cap="#3f93b8",
        mask="#121214", wing_tip="#8a1f3c", tail_kind="streamers", tail_length=2.0, tail_angle=230,
        legs="#3a3034",
    ),
    "grey-parrot": Look(
        scene="tropical", body="#8d9197", belly="#a1a5ab", wing="#7b8087", tail="#d42a2a",
        beak="#1a1a1c", beak_kind="hook", beak_size=1.1, head="#9ca0a6", cheek="#eeeeea",
        wing_tip="#4d5258", tail_length=0.8, eye="#f0e6b4", legs="#5a5a60",
    ),
    "asian-fairy-bluebird": Look(
        scene="tropical", body="#2b64da", belly="#121214", wing="#141416", tail="#131315",
        beak="#141416", beak_kind="thin", head="#121214", cap="#3070e4", cap_depth=0.25,
        wing_coverts="#2b64da", eye="#d42020", legs="#2a2a2e",
    ),
    "oriental-magpie-robin": Look(
        scene="blossom", body="#141416", belly="#f5f5f2", wing="#151517", tail="#141416",
        beak="#141416", beak_kind="thin", head="#141416", wing_panel="#f5f5f2", tail_length=1.5,
        tail_angle=140, legs="#3a3a40",
    ),
    "red-billed-blue-magpie": Look(
        scene="alpine", body="#4a78b8", belly="#e6e9ee", wing="#3f6eb0", tail="#4f7fc0",
        beak="#e0302a", beak_kind="thin", beak_size=1.2, head="#121214", cap="#cfd8e3",
        cap_depth=0.0, bib="#121214", tail_kind="pointed", tail_length=3.2, tail_angle=238,
        tail_tip="#f4f5f7", tail_bars="#1c1c20", legs="#e0502a", eye="#e0b020",
    ),
    "barn-swallow": Look(
        scene="meadow", body="#1f3a78", belly="#f2dcc4", wing="#19306a", tail="#1b3168",
        beak="#141416", beak_kind="short", head="#1f3a78", bib="#b7472a", necklace="#1f3a78",
        wing_length=1.35, tail_kind="forked", tail_length=1.9, tail_angle=200, legs="#2a2a2e",
    ),
}
# fmt: on


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=ASSETS_DIR, help="directory for the JPEGs")
    parser.add_argument("--only", nargs="*", default=None, help="slugs to draw (default: all)")
    parser.add_argument(
        "--check", action="store_true", help="compare with existing files instead of writing"
    )
    args = parser.parse_args(argv)

    slugs = [seed.slug for seed in BIRD_SEEDS]
    missing = sorted(set(slugs) - LOOKS.keys())
    if missing:
        print(f"no look defined for: {', '.join(missing)}", file=sys.stderr)
        return 2
    if args.only:
        unknown = sorted(set(args.only) - set(slugs))
        if unknown:
            print(f"not in the catalog: {', '.join(unknown)}", file=sys.stderr)
            return 2
        slugs = [slug for slug in slugs if slug in args.only]

    stale: list[str] = []
    total = 0
    args.out.mkdir(parents=True, exist_ok=True)
    for slug in slugs:
        data = render_jpeg(slug, LOOKS[slug])
        total += len(data)
        if len(data) > MAX_ASSET_BYTES:
            print(
                f"{slug}: {len(data)} bytes is over the {MAX_ASSET_BYTES} budget", file=sys.stderr
            )
            return 1
        target = args.out / f"{slug}.jpg"
        if args.check:
            if not target.exists() or target.read_bytes() != data:
                stale.append(slug)
            continue
        target.write_bytes(data)
        print(f"{target.name:<34} {len(data) / 1024:6.1f} KiB")
    if stale:
        print(f"stale or missing: {', '.join(stale)}", file=sys.stderr)
        return 1
    print(f"{len(slugs)} images, {total / 1024:.0f} KiB in total")
    return 0


def render_jpeg(slug: str, look: Look) -> bytes:
    buffer = io.BytesIO()
    render(slug, look).save(
        buffer, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True, subsampling="4:2:0"
    )
    return buffer.getvalue()


def render(slug: str, look: Look) -> Image.Image:
    # crc32, not hash(): str hashes change between interpreter runs, the art must not.
    rng = random.Random(zlib.crc32(slug.encode("utf-8")))
    scene = SCENES[look.scene]
    canvas = Canvas(WIDTH, HEIGHT)
    background = paint_background(scene, rng, canvas)

    bird = BirdGeometry.for_look(look)
    if look.perch == "rock":
        paint_rock(background, scene, bird.foot_y, rng)
    else:
        paint_branch(background, scene, bird, rng)

    layer = canvas.layer()
    paint_bird(layer, look, bird)
    composite = finish_bird(background, layer, look)
    final = composite.resize((WIDTH, HEIGHT), Image.Resampling.LANCZOS)
    return vignette(final)


# --------------------------------------------------------------------------------------------
# Drawing primitives (coordinates are final-image pixels; the canvas scales them)
# --------------------------------------------------------------------------------------------


class Canvas:
    """Creates layers and masks at the supersampled size and scales coordinates for them."""

    def __init__(self, width: int, height: int) -> None:
        self.size = (width * SUPERSAMPLE, height * SUPERSAMPLE)

    def layer(self) -> Layer:
        return Layer(Image.new("RGBA", self.size, (0, 0, 0, 0)))

    def mask(self) -> Mask:
        return Image.new("L", self.size, 0)


class Layer:
    """An RGBA image with shape-filling helpers that can clip to a mask."""

    def __init__(self, image: Image.Image) -> None:
        self.image = image

    def shape_mask(self, points: Sequence[Point]) -> Mask:
        mask = Image.new("L", self.image.size, 0)
        ImageDraw.Draw(mask).polygon(_scaled(points), fill=255)
        return mask

    def fill(self, points: Sequence[Point], colour: str, clip: Mask | None = None) -> None:
        if clip is None:
            ImageDraw.Draw(self.image).polygon(_scaled(points), fill=_rgba(colour))
            return
        self.fill_mask(ImageChops.multiply(self.shape_mask(points), clip), colour)

    def fill_mask(self, mask: Mask, colour: str, opacity: float = 1.0) -> None:
        if opacity < 1.0:
            mask = mask.point(lambda value: int(value * opacity))
        self.image.paste(_rgba(colour), (0, 0), mask)

    def line(
        self, points: Sequence[Point], colour: str, width: float, clip: Mask | None = None
    ) -> None:
        scaled = _scaled(points)
        pixels = max(1, round(width * SUPERSAMPLE))
        if clip is None:
            ImageDraw.Draw(self.image).line(scaled, fill=_rgba(colour), width=pixels, joint="curve")
            return
        mask = Image.new("L", self.image.size, 0)
        ImageDraw.Draw(mask).line(scaled, fill=255, width=pixels, joint="curve")
        self.fill_mask(ImageChops.multiply(mask, clip), colour)

    def circle(self, centre: Point, radius: float, colour: str, clip: Mask | None = None) -> None:
        self.fill(ellipse(centre, radius, radius), colour, clip)


def _scaled(points: Sequence[Point]) -> list[tuple[float, float]]:
    return [(x * SUPERSAMPLE, y * SUPERSAMPLE) for x, y in points]


def _rgb(colour: str) -> RGB:
    value = colour.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def _rgba(colour: str) -> tuple[int, int, int, int]:
    return (*_rgb(colour), 255)


def _hex(rgb: Sequence[float]) -> str:
    return "#" + "".join(f"{max(0, min(255, round(c))):02x}" for c in rgb[:3])


def shade(colour: str, factor: float) -> str:
    """Darker (factor < 1) or lighter (factor > 1, towards white) version of ``colour``."""
    red, green, blue = _rgb(colour)
    if factor <= 1:
        return _hex((red * factor, green * factor, blue * factor))
    towards_white = factor - 1
    return _hex(tuple(c + (255 - c) * towards_white for c in (red, green, blue)))


def mix(first: str, second: str, amount: float) -> str:
    a, b = _rgb(first), _rgb(second)
    return _hex(tuple(x + (y - x) * amount for x, y in zip(a, b, strict=True)))


def ellipse(
    centre: Point, rx: float, ry: float, angle: float = 0.0, steps: int = 96
) -> list[Point]:
    cos_a, sin_a = math.cos(angle), math.sin(angle)
    points = []
    for i in range(steps):
        t = 2 * math.pi * i / steps
        x, y = rx * math.cos(t), ry * math.sin(t)
        points.append((centre[0] + x * cos_a - y * sin_a, centre[1] + x * sin_a + y * cos_a))
    return points


def smooth(points: Sequence[Point], closed: bool = True, steps: int = 14) -> list[Point]:
    """Catmull-Rom spline through ``points``: organic outlines from a handful of control points."""
    count = len(points)
    result: list[Point] = []
    segments = count if closed else count - 1
    for i in range(segments):
        p0 = points[(i - 1) % count] if closed or i > 0 else points[0]
        p1 = points[i]
        p2 = points[(i + 1) % count]
        p3 = points[(i + 2) % count] if closed or i + 2 < count else points[-1]
        for step in range(steps):
            t = step / steps
            t2, t3 = t * t, t * t * t
            result.append(
                (
                    0.5
                    * (
                        2 * p1[0]
                        + (-p0[0] + p2[0]) * t
                        + (2 * p0[0] - 5 * p1[0] + 4 * p2[0] - p3[0]) * t2
                        + (-p0[0] + 3 * p1[0] - 3 * p2[0] + p3[0]) * t3
                    ),
                    0.5
                    * (
                        2 * p1[1]
                        + (-p0[1] + p2[1]) * t
                        + (2 * p0[1] - 5 * p1[1] + 4 * p2[1] - p3[1]) * t2
                        + (-p0[1] + 3 * p1[1] - 3 * p2[1] + p3[1]) * t3
                    ),
                )
            )
    if not closed:
        result.append(points[-1])
    return result


def ribbon(spine: Sequence[Point], start_width: float, end_width: float) -> list[Point]:
    """A band along ``spine`` whose width tapers from ``start_width`` to ``end_width``."""
    left: list[Point] = []
    right: list[Point] = []
    last = len(spine) - 1
    for i, (x, y) in enumerate(spine):
        before, after = spine[max(i - 1, 0)], spine[min(i + 1, last)]
        dx, dy = after[0] - before[0], after[1] - before[1]
        norm = math.hypot(dx, dy) or 1.0
        half = (start_width + (end_width - start_width) * i / last) / 2
        left.append((x - dy / norm * half, y + dx / norm * half))
        right.append((x + dy / norm * half, y - dx / norm * half))
    return [*left, *reversed(right)]


def union(*masks: Mask) -> Mask:
    result = masks[0]
    for mask in masks[1:]:
        result = ImageChops.lighter(result, mask)
    return result


# --------------------------------------------------------------------------------------------
# Background: sky, landscape, light, out-of-focus leaves
# --------------------------------------------------------------------------------------------


def paint_background(scene: Scene, rng: random.Random, canvas: Canvas) -> Image.Image:
    width, height = canvas.size
    top, middle, horizon = scene.sky
    gradient = Image.linear_gradient("L").resize((width, height), Image.Resampling.BILINEAR)
    sky = ImageOps.colorize(gradient, black=top, white=horizon, mid=middle).convert("RGBA")
    layer = Layer(sky)

    sun_x = rng.uniform(0.15, 0.85) * WIDTH
    sun_y = rng.uniform(0.12, 0.3) * HEIGHT
    glow = canvas.mask()
    ImageDraw.Draw(glow).ellipse(_box((sun_x, sun_y), 150), fill=255)
    layer.fill_mask(glow.filter(ImageFilter.GaussianBlur(90 * SUPERSAMPLE)), "#fffbe8", 0.75)

    far, near = scene.hills
    if scene.ridge == "sea":
        paint_sea(layer, scene, rng)
    elif scene.ridge == "mountains":
        paint_mountains(layer, mix(far, horizon, 0.25), rng)
        layer.fill(ridge_line(rng, 0.7, 0.04), near)
    else:
        layer.fill(ridge_line(rng, 0.55, 0.05), mix(far, horizon, 0.35))
        layer.fill(ridge_line(rng, 0.68, 0.04), near)

    for _ in range(14):
        centre = (rng.uniform(0, WIDTH), rng.uniform(0.05, 0.75) * HEIGHT)
        radius = rng.uniform(8, 34)
        bokeh = canvas.mask()
        ImageDraw.Draw(bokeh).ellipse(_box(centre, radius), fill=255)
        layer.fill_mask(bokeh, "#ffffff", rng.uniform(0.12, 0.3))

    return layer.image.filter(ImageFilter.GaussianBlur(5 * SUPERSAMPLE))


def _box(centre: Point, radius: float) -> tuple[float, float, float, float]:
    x, y = centre[0] * SUPERSAMPLE, centre[1] * SUPERSAMPLE
    r = radius * SUPERSAMPLE
    return (x - r, y - r, x + r, y + r)


def ridge_line(rng: random.Random, level: float, amplitude: float) -> list[Point]:
    """A landscape silhouette across the picture, closed along the bottom edge."""
    waves = [(rng.uniform(0.6, 1.6), rng.uniform(0, math.tau)) for _ in range(3)]
    points: list[Point] = []
    for i in range(0, 61):
        x = WIDTH * i / 60
        y = level * HEIGHT
        for k, (freq, phase) in enumerate(waves):
            y += (
                amplitude
                * HEIGHT
                * math.sin(x / WIDTH * math.tau * freq * (k + 1) + phase)
                / (k + 1)
            )
        points.append((x, y))
    return [*points, (WIDTH, HEIGHT), (0, HEIGHT)]


def paint_mountains(layer: Layer, colour: str, rng: random.Random) -> None:
    """A row of peaks with snow on their tips."""
    x = -80.0
    ridge: list[Point] = [(x, 0.6 * HEIGHT)]
    peaks: list[tuple[Point, Point, Point]] = []
    while x < WIDTH + 80:
        rise = rng.uniform(90, 170)
        peak = (x + rise, rng.uniform(0.3, 0.42) * HEIGHT)
        valley = (peak[0] + rng.uniform(90, 170), rng.uniform(0.52, 0.6) * HEIGHT)
        peaks.append((ridge[-1], peak, valley))
        ridge += [peak, valley]
        x = valley[0]
    layer.fill([*ridge, (WIDTH + 80, HEIGHT), (-80, HEIGHT)], colour)
    for before, peak, after in peaks:
        left = _towards(peak, before, 0.3)
        right = _towards(peak, after, 0.3)
        notch = _towards(peak, ((left[0] + right[0]) / 2, (left[1] + right[1]) / 2), 0.7)
        layer.fill([peak, right, (notch[0] + 12, notch[1]), notch, left], "#f4f7fb")


def _towards(start: Point, end: Point, amount: float) -> Point:
    return (start[0] + (end[0] - start[0]) * amount, start[1] + (end[1] - start[1]) * amount)


def paint_sea(layer: Layer, scene: Scene, rng: random.Random) -> None:
    far, near = scene.hills
    horizon = 0.6 * HEIGHT
    layer.fill([(0, horizon), (WIDTH, horizon), (WIDTH, HEIGHT), (0, HEIGHT)], far)
    layer.fill([(0, horizon + 90), (WIDTH, horizon + 60), (WIDTH, HEIGHT), (0, HEIGHT)], near)
    for _ in range(18):
        x = rng.uniform(0, WIDTH)
        y = rng.uniform(horizon + 8, HEIGHT * 0.9)
        layer.line([(x, y), (x + rng.uniform(30, 90), y)], "#dff1fb", 2)


# --------------------------------------------------------------------------------------------
# The perch
# --------------------------------------------------------------------------------------------


def branch_y(x: float, bird: BirdGeometry) -> float:
    """Centre line of the branch: a gentle slope with a slight wave, passing under the feet."""
    slope = -0.12
    return bird.foot_y + 13 + slope * (x - bird.foot_x) + 6 * math.sin((x - bird.foot_x) / 160)


def paint_branch(
    background: Image.Image, scene: Scene, bird: BirdGeometry, rng: random.Random
) -> None:
    layer = Layer(background)
    xs = [WIDTH * i / 48 - 40 for i in range(51)]
    top = [(x, branch_y(x, bird) - _branch_half_width(x)) for x in xs]
    bottom = [(x, branch_y(x, bird) + _branch_half_width(x)) for x in reversed(xs)]

    twigs = [(bird.foot_x + 260, -1.0), (bird.foot_x - 300, 1.0), (bird.foot_x + 470, 1.0)]
    for start_x, direction in twigs:
        paint_twig(layer, scene, (start_x, branch_y(start_x, bird)), direction, rng)

    layer.fill([*top, *bottom], scene.bark)
    bark_mask = layer.shape_mask([*top, *bottom])
    # Light from above: a lit upper edge and a shaded underside give the branch volume.
    lit = [(x, y + 3) for x, y in top]
    layer.line(lit, shade(scene.bark, 1.35), 5, clip=bark_mask)
    shadow = [(x, branch_y(x, bird) + _branch_half_width(x) * 0.55) for x in xs]
    layer.line(shadow, shade(scene.bark, 0.7), 10, clip=bark_mask)
    for _ in range(16):
        x = rng.uniform(0, WIDTH)
        y = branch_y(x, bird) + rng.uniform(-0.5, 0.4) * _branch_half_width(x)
        layer.line(
            [(x, y), (x + rng.uniform(25, 60), y + rng.uniform(-2, 2))],
            shade(scene.bark, 0.78),
            2,
            clip=bark_mask,
        )
    if scene.extra == "snow":
        snow = [(x, y - 7 + 2 * math.sin(x / 23)) for x, y in top]
        layer.fill([*snow, *[(x, y + 4) for x, y in reversed(top)]], "#f7f9fc")


def _branch_half_width(x: float) -> float:
    return 22 - 9 * (x / WIDTH)


def paint_twig(
    layer: Layer, scene: Scene, start: Point, direction: float, rng: random.Random
) -> None:
    end = (start[0] + 120 * direction, start[1] - 95)
    control = (start[0] + 40 * direction, start[1] - 60)
    path = [_quadratic(start, control, end, t / 12) for t in range(13)]
    layer.line(path, scene.bark, 7)
    for i, t in enumerate((0.35, 0.6, 0.85, 1.0)):
        base = _quadratic(start, control, end, t)
        side = -1 if i % 2 else 1
        angle = -math.pi / 2 + side * 0.9 + direction * 0.3 + rng.uniform(-0.2, 0.2)
        paint_leaf(layer, scene, base, angle, rng.uniform(34, 46))


def paint_leaf(layer: Layer, scene: Scene, base: Point, angle: float, length: float) -> None:
    if scene.extra == "snow":
        layer.circle(base, 7, "#f7f9fc")
        return
    tip = (base[0] + length * math.cos(angle), base[1] + length * math.sin(angle))
    centre = ((base[0] + tip[0]) / 2, (base[1] + tip[1]) / 2)
    if scene.extra == "blossom":
        for petal in range(5):
            a = angle + petal * math.tau / 5
            petal_centre = (centre[0] + 11 * math.cos(a), centre[1] + 11 * math.sin(a))
            layer.fill(ellipse(petal_centre, 11, 8, a), scene.foliage[0])
        layer.circle(centre, 5, "#f7d46a")
        return
    leaf = ellipse(centre, length / 2, length / 5, angle)
    layer.fill(leaf, scene.foliage[0])
    half = ellipse(centre, length / 2, length / 5, angle)[48:]
    layer.fill([*half, half[0]], scene.foliage[1])
    layer.line([base, tip], shade(scene.foliage[0], 1.25), 1.5)
    if scene.extra == "berries":
        for k in range(3):
            layer.circle((base[0] + 8 * k - 8, base[1] + 12 + 3 * (k % 2)), 5.5, "#b5222a")


def _quadratic(a: Point, control: Point, b: Point, t: float) -> Point:
    u = 1 - t
    return (
        u * u * a[0] + 2 * u * t * control[0] + t * t * b[0],
        u * u * a[1] + 2 * u * t * control[1] + t * t * b[1],
    )


def paint_rock(background: Image.Image, scene: Scene, foot_y: float, rng: random.Random) -> None:
    layer = Layer(background)
    top = foot_y + 4
    outline = smooth(
        [
            (300, HEIGHT + 40),
            (330, top + 60),
            (470, top + 6),
            (620, top - 4),
            (790, top + 14),
            (930, top + 80),
            (980, HEIGHT + 40),
        ]
    )
    layer.fill(outline, "#7a7770")
    rock = layer.shape_mask(outline)
    layer.fill(
        smooth(
            [
                (300, top + 140),
                (520, top + 60),
                (800, top + 90),
                (980, top + 170),
                (980, HEIGHT + 40),
                (300, HEIGHT + 40),
            ]
        ),
        "#5e5b55",
        clip=rock,
    )
    for _ in range(10):
        x = rng.uniform(380, 900)
        y = top + rng.uniform(40, 200)
        layer.line(
            [(x, y), (x + rng.uniform(20, 50), y + rng.uniform(-6, 6))], "#4f4c47", 2.5, clip=rock
        )
    for i in range(26):
        x = 340 + i * 24 + rng.uniform(-6, 6)
        y = top + 8 + 0.00045 * (x - 620) ** 2
        layer.line(
            [(x, y + 6), (x + rng.uniform(-10, 10), y - rng.uniform(14, 30))],
            scene.foliage[0 if i % 2 else 1],
            3,
        )


# --------------------------------------------------------------------------------------------
# The bird
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BirdGeometry:
    """Where the bird's parts sit. ``at(u, v)`` maps body coordinates to pixels: u runs from
    tail to head along the tilted body, v from belly to back, both in units of ``unit`` px."""

    cx: float
    cy: float
    unit: float
    tilt: float
    plump: float
    head: Point
    head_radius: float
    foot_x: float
    foot_y: float

    @staticmethod
    def for_look(look: Look) -> BirdGeometry:
        # Body, head and beak must fit a portrait phone's crop (about 370 of the 1200 px).
        span = 1.66 + 0.5 * look.head_size * (0.85 + _beak_length(look))
        unit = min(112.0, 330.0 / span)
        tilt = math.radians(28)
        head_radius = 0.5 * unit * look.head_size
        beak_reach = _beak_length(look) * head_radius
        # Centre body + head + beak on BIRD_CENTRE so a phone crop keeps the whole bird (long
        # tails may be cut there, faces never).
        body_left = -1.0 * unit
        head_offset = (0.66 * unit, -0.8 * unit)
        right = head_offset[0] + head_radius * 0.85 + beak_reach
        cx = BIRD_CENTRE[0] * WIDTH - (body_left + right) / 2
        cy = BIRD_CENTRE[1] * HEIGHT
        head = (cx + head_offset[0], cy + head_offset[1])
        foot_x = cx + 0.2 * unit
        foot_y = cy + 0.78 * unit * look.plump + 10
        return BirdGeometry(cx, cy, unit, tilt, look.plump, head, head_radius, foot_x, foot_y)

    def at(self, u: float, v: float) -> Point:
        dx, dy = math.cos(self.tilt), -math.sin(self.tilt)
        nx, ny = -math.sin(self.tilt), -math.cos(self.tilt)
        return (self.cx + self.unit * (u * dx + v * nx), self.cy + self.unit * (u * dy + v * ny))

    def body_points(self, u: float, v: float, ru: float, rv: float) -> list[Point]:
        return [
            self.at(u + ru * math.cos(t), v + rv * math.sin(t))
            for t in (math.tau * i / 96 for i in range(96))
        ]

    def in_head(self, x: float, y: float) -> Point:
        return (self.head[0] + x * self.head_radius, self.head[1] + y * self.head_radius)

    def head_points(self, points: Sequence[Point]) -> list[Point]:
        return [self.in_head(x, y) for x, y in points]


def _beak_length(look: Look) -> float:
    lengths = {
        "cone": 0.62,
        "thin": 0.7,
        "short": 0.5,
        "dagger": 1.55,
        "heavy": 1.3,
        "decurved": 1.35,
        "hook": 0.72,
        "toucan": 2.45,
        "puffin": 0.85,
    }
    return lengths[look.beak_kind] * look.beak_size


def paint_bird(layer: Layer, look: Look, bird: BirdGeometry) -> None:
    head_colour = look.head or look.body
    body_outline = bird.body_points(0, 0, 1.0, 0.7 * bird.plump)

    paint_tail(layer, look, bird)
    paint_legs(layer, look, bird)
    if look.crest in ("point", "fan"):
        paint_crest(layer, look, bird)

    layer.fill(body_outline, look.body)
    body = layer.shape_mask(body_outline)
    layer.fill(bird.body_points(-0.05, -0.5 * bird.plump, 1.1, 0.55 * bird.plump), look.belly, body)
    if look.breast:
        layer.fill(bird.body_points(0.6, -0.2, 0.62, 0.6), look.breast, body)
    if look.belly_stripe:
        layer.line(
            [bird.at(0.8, -0.1), bird.at(0.2, -0.55), bird.at(-0.35, -0.7)],
            look.belly_stripe,
            0.16 * bird.unit,
            clip=body,
        )
    if look.breast_band:
        layer.line(
            [bird.at(1.05, -0.25), bird.at(0.6, -0.55), bird.at(0.1, -0.72)],
            look.breast_band,
            0.07 * bird.unit,
            clip=body,
        )

    paint_wing(layer, look, bird)

    head_outline = ellipse(bird.head, bird.head_radius, bird.head_radius)
    layer.fill(head_outline, head_colour)
    head = layer.shape_mask(head_outline)
    silhouette = union(body, head)
    if look.cap:
        depth = look.cap_depth
        layer.fill(
            bird.head_points(ellipse((-0.15, -0.95 + depth * 0.55), 1.2, 0.75)), look.cap, head
        )
    if look.cheek:
        layer.fill(bird.head_points(ellipse((0.05, 0.3), 0.62, 0.42, -0.2)), look.cheek, head)
    if look.face:
        reach = look.face_reach
        layer.fill(
            bird.head_points(
                ellipse((0.85 - 0.25 * reach, 0.5 - 0.1 * reach), 0.62 * reach, 0.72 * reach)
            ),
            look.face,
            silhouette,
        )
    if look.mask:
        layer.line(
            bird.head_points([(1.0, -0.02), (0.35, -0.12), (-0.4, -0.05), (-1.0, 0.1)]),
            look.mask,
            0.28 * bird.head_radius,
            clip=head,
        )
    if look.bib:
        layer.fill(bird.head_points(ellipse((0.5, 0.98), 0.5, 0.42)), look.bib, silhouette)
    if look.necklace:
        layer.line(
            bird.head_points(
                smooth([(1.0, 0.75), (0.6, 1.15), (-0.1, 1.15), (-0.7, 0.85)], closed=False)
            ),
            look.necklace,
            0.16 * bird.head_radius,
            clip=silhouette,
        )
    if look.throat_tuft:
        for x, y, r in ((0.55, 1.0, 0.2), (0.75, 0.92, 0.16)):
            layer.circle(bird.in_head(x, y), r * bird.head_radius, look.throat_tuft)

    paint_beak(layer, look, bird)
    if look.crest in ("disc", "tuft"):
        paint_crest(layer, look, bird)
    paint_eye(layer, look, bird)


def paint_tail(layer: Layer, look: Look, bird: BirdGeometry) -> None:
    base = bird.at(-0.78, 0.05)
    angle = math.radians(look.tail_angle)
    along = (math.cos(angle), -math.sin(angle))
    across = (-along[1], along[0])
    unit = bird.unit
    length = look.tail_length

    def point(t: float, s: float) -> Point:
        return (
            base[0] + unit * (t * along[0] + s * across[0]),
            base[1] + unit * (t * along[1] + s * across[1]),
        )

    kind = look.tail_kind
    if kind == "pointed":
        outline = [
            point(0, 0.28),
            point(length * 0.55, 0.2),
            point(length, 0.0),
            point(length * 0.55, -0.2),
            point(0, -0.28),
        ]
    elif kind == "forked":
        outline = [
            point(0, 0.26),
            point(length, 0.32),
            point(length * 0.55, 0.08),
            point(length * 0.55, -0.08),
            point(length, -0.32),
            point(0, -0.26),
        ]
    else:
        fan_length = min(length, 1.3)
        outline = [
            point(0, 0.24),
            point(fan_length * 0.9, 0.34),
            point(fan_length, 0.12),
            point(fan_length, -0.12),
            point(fan_length * 0.9, -0.34),
            point(0, -0.24),
        ]
    if kind == "streamers":
        # Long, slightly diverging ribbons: the quetzal's coverts, the bee-eater's central feathers.
        for side in (0.09, -0.09):
            spine = [
                point(length * t, side * t + 0.06 * math.sin(t * 3.0))
                for t in (i / 12 for i in range(13))
            ]
            width = look.streamer_width * unit
            layer.fill(ribbon(spine, width, width * 0.35), shade(look.tail, 0.95))
    layer.fill(outline, look.tail)
    tail = layer.shape_mask(outline)
    reach = length if kind != "fan" and kind != "streamers" else min(length, 1.3)
    if look.tail_bars:
        for t in (0.45, 0.65, 0.85):
            layer.line(
                [point(reach * t, 0.5), point(reach * t, -0.5)],
                look.tail_bars,
                0.05 * unit,
                clip=tail,
            )
    if look.tail_tip:
        layer.fill(
            [
                point(reach * 0.8, 1),
                point(reach * 1.2, 1),
                point(reach * 1.2, -1),
                point(reach * 0.8, -1),
            ],
            look.tail_tip,
            clip=tail,
        )
    layer.line([point(0.1, 0), point(reach * 0.92, 0)], shade(look.tail, 0.75), 2.5, clip=tail)


def paint_legs(layer: Layer, look: Look, bird: BirdGeometry) -> None:
    for offset in (-16.0, 14.0):
        hip = (bird.foot_x + offset, bird.foot_y - 40)
        foot = (bird.foot_x + offset + 4, bird.foot_y)
        layer.line([hip, foot], look.legs, 6)
        for toe in (-14.0, 16.0):
            layer.line([foot, (foot[0] + toe, foot[1] + 5)], look.legs, 5)


def paint_crest(layer: Layer, look: Look, bird: BirdGeometry) -> None:
    colour = look.crest_colour or look.head or look.body
    if look.crest == "point":
        layer.fill(
            bird.head_points(
                smooth(
                    [(0.35, -0.8), (-0.15, -1.35), (-0.95, -1.75), (-0.75, -1.05), (-0.9, -0.35)]
                )
            ),
            colour,
        )
    elif look.crest == "fan":
        for i in range(7):
            angle = math.radians(45 + i * 18)
            direction = (math.cos(angle), -math.sin(angle))
            side = (-direction[1] * 0.16, direction[0] * 0.16)

            def along(t: float, s: float, d: Point = direction, w: Point = side) -> Point:
                return (d[0] * t + w[0] * s, d[1] * t + w[1] * s)

            feather = [
                along(0.3, 1),
                along(1.55, 1.3),
                along(2.05, 0),
                along(1.55, -1.3),
                along(0.3, -1),
            ]
            layer.fill(bird.head_points(smooth(feather)), colour)
            if look.crest_tip:
                tip = [along(1.6, 1.3), along(2.05, 0), along(1.6, -1.3)]
                layer.fill(bird.head_points(smooth(tip)), look.crest_tip)
    elif look.crest == "disc":
        layer.fill(
            bird.head_points(
                smooth(
                    [
                        (-0.2, -0.7),
                        (0.35, -1.3),
                        (1.2, -1.0),
                        (1.55, -0.3),
                        (1.35, 0.25),
                        (0.8, 0.05),
                    ]
                )
            ),
            shade(colour, 1.04),
        )
    elif look.crest == "tuft":
        layer.fill(
            bird.head_points(
                smooth([(0.6, -0.7), (0.2, -1.2), (-0.4, -1.15), (-0.6, -0.7), (0.0, -0.8)])
            ),
            colour,
        )


def paint_wing(layer: Layer, look: Look, bird: BirdGeometry) -> None:
    reach = 1.45 * look.wing_length
    control = [
        (0.62, 0.2),
        (0.3, 0.5),
        (-0.35, 0.52),
        (-0.95, 0.3),
        (-reach, 0.05),
        (-0.8, -0.14),
        (-0.1, -0.22),
        (0.45, -0.08),
    ]
    outline = [bird.at(u, v * bird.plump) for u, v in smooth(control)]
    if look.wing_lining:
        layer.fill([(x + 4, y + 10) for x, y in outline], look.wing_lining)
    layer.fill(outline, look.wing)
    wing = layer.shape_mask(outline)
    if look.wing_tip:
        layer.fill(bird.body_points(-1.35 * look.wing_length, 0.1, 0.85, 0.8), look.wing_tip, wing)
    if look.wing_coverts:
        layer.fill(bird.body_points(0.3, 0.28, 0.62, 0.42), look.wing_coverts, wing)
    for i in range(4):
        v = 0.3 - i * 0.12
        layer.line(
            [bird.at(-0.35, v), bird.at(-0.9, v * 0.7), bird.at(-reach + 0.1, 0.05)],
            shade(look.wing_tip or look.wing, 0.72),
            2.2,
            clip=wing,
        )
    if look.wing_bar:
        layer.line(
            [bird.at(0.12, 0.55), bird.at(-0.02, 0.2), bird.at(-0.02, -0.3)],
            look.wing_bar,
            0.07 * bird.unit,
            clip=wing,
        )
    if look.wing_stripes:
        for u in (-0.75, -0.45, -0.15, 0.15):
            layer.line(
                [bird.at(u + 0.1, 0.6), bird.at(u - 0.05, -0.4)],
                look.wing_stripes,
                0.08 * bird.unit,
                clip=wing,
            )
    if look.wing_panel:
        layer.line(
            [bird.at(0.45, 0.14), bird.at(-0.2, 0.16), bird.at(-0.8, 0.08)],
            look.wing_panel,
            0.13 * bird.unit,
            clip=wing,
        )
    if look.wing_spots:
        for u, v in ((-0.55, 0.05), (-0.7, 0.1), (-0.85, 0.12), (-0.4, 0.0)):
            layer.circle(bird.at(u, v), 0.045 * bird.unit, look.wing_spots, clip=wing)
    layer.line(outline[: len(outline) // 2], shade(look.wing, 1.25), 2.0, clip=wing)


def paint_beak(layer: Layer, look: Look, bird: BirdGeometry) -> None:
    size = look.beak_size
    kind = look.beak_kind
    lower_colour = look.beak_lower or shade(look.beak, 0.82)

    def scaled(points: Sequence[Point]) -> list[Point]:
        return bird.head_points([(0.78 + (x - 0.78) * size, y * size) for x, y in points])

    if kind == "hook":
        upper = [
            (0.6, -0.42),
            (1.0, -0.45),
            (1.32, -0.22),
            (1.5, 0.15),
            (1.42, 0.55),
            (1.32, 0.4),
            (1.2, 0.2),
            (0.85, 0.16),
            (0.65, 0.22),
        ]
        lower = [(0.72, 0.16), (1.18, 0.2), (1.22, 0.42), (1.02, 0.55), (0.75, 0.5)]
        layer.fill(scaled(lower), lower_colour)
        layer.fill(scaled(smooth(upper)), look.beak)
        return
    if kind == "toucan":
        upper = [
            (0.72, -0.5),
            (1.5, -0.66),
            (2.5, -0.45),
            (3.15, 0.2),
            (3.0, 0.18),
            (1.9, 0.04),
            (0.75, 0.1),
        ]
        lower = [(0.75, 0.1), (1.9, 0.08), (3.0, 0.2), (2.5, 0.44), (1.5, 0.52), (0.75, 0.46)]
        layer.fill(scaled(lower), "#3d8fd8")
        layer.fill(scaled(upper), look.beak)
        beak_mask = layer.shape_mask(scaled(upper))
        layer.fill(scaled(ellipse((1.95, -0.25), 0.55, 0.28)), "#f08a24", beak_mask)
        tip_mask = layer.shape_mask(scaled([(2.6, -1), (3.4, -1), (3.4, 1), (2.6, 1)]))
        layer.fill(scaled(upper), "#e0362c", tip_mask)
        layer.fill(scaled(lower), "#e0362c", tip_mask)
        layer.line(scaled([(0.76, -0.5), (0.76, 0.46)]), "#161616", 3)
        return
    if kind == "puffin":
        upper = [(0.72, -0.62), (1.62, 0.06), (0.75, 0.1)]
        lower = [(0.75, 0.1), (1.62, 0.1), (0.72, 0.66)]
        layer.fill(scaled(upper), look.beak)
        layer.fill(scaled(lower), look.beak)
        beak = union(layer.shape_mask(scaled(upper)), layer.shape_mask(scaled(lower)))
        layer.fill(scaled([(0.6, -1), (0.98, -1), (0.98, 1), (0.6, 1)]), "#4a6680", beak)
        layer.line(scaled([(1.0, -0.5), (1.0, 0.55)]), "#f2c94c", 4, clip=beak)
        layer.line(scaled([(1.22, -0.3), (1.22, 0.4)]), shade(look.beak, 1.3), 3, clip=beak)
        return

    length = _beak_length(look) / size
    depth, droop = {
        "cone": (0.34, 0.12),
        "thin": (0.17, 0.1),
        "short": (0.16, 0.06),
        "dagger": (0.2, 0.08),
        "heavy": (0.3, 0.12),
        "decurved": (0.13, 0.55),
    }[kind]
    base_x, mouth_y = 0.78, 0.1
    tip = (base_x + length, mouth_y + droop)
    upper = [(base_x, mouth_y - depth * 1.4)]
    lower = [(base_x, mouth_y + depth * 1.2)]
    for i in range(1, 8):
        t = i / 8
        curve = droop * t * t
        upper.append((base_x + length * t, mouth_y - depth * 1.4 * (1 - t) + curve))
        lower.append((base_x + length * t * 0.96, mouth_y + depth * 1.2 * (1 - t) + curve))
    mouth = [(base_x + length * t / 8, mouth_y + droop * (t / 8) ** 2) for t in range(9)]
    layer.fill(bird.head_points([*lower, tip, *reversed(mouth)]), lower_colour)
    layer.fill(bird.head_points([*upper, tip, *reversed(mouth)]), look.beak)
    layer.line(bird.head_points(mouth), shade(look.beak, 0.55), 1.6)


def paint_eye(layer: Layer, look: Look, bird: BirdGeometry) -> None:
    eye = bird.in_head(0.36, -0.12)
    radius = 0.14 * bird.head_radius
    if look.eye_ring:
        layer.circle(eye, radius + look.eye_ring_width * bird.head_radius, look.eye_ring)
    layer.circle(eye, radius, look.eye)
    if look.eye != "#17130f":
        layer.circle(eye, radius * 0.5, "#17130f")
    layer.circle((eye[0] + radius * 0.3, eye[1] - radius * 0.35), radius * 0.3, "#ffffff")


def finish_bird(background: Image.Image, bird_layer: Layer, look: Look) -> Image.Image:
    """Outline, light and shadow turn flat shapes into an illustration."""
    alpha = bird_layer.image.getchannel("A")
    shift = 22 * SUPERSAMPLE
    soft = ImageFilter.GaussianBlur(16 * SUPERSAMPLE)
    # A pixel is shaded when the bird continues less far below-right of it than above-left.
    below_right = ImageChops.offset(alpha, -shift, -shift).filter(soft)
    above_left = ImageChops.offset(alpha, shift, shift).filter(soft)
    shadow = ImageChops.multiply(alpha, ImageChops.invert(below_right)).point(lambda v: v * 0.42)
    light = ImageChops.multiply(alpha, ImageChops.invert(above_left)).point(lambda v: v * 0.3)

    shaded = bird_layer.image.copy()
    shaded.alpha_composite(_solid(shaded.size, (20, 14, 30), shadow))
    shaded.alpha_composite(_solid(shaded.size, (255, 250, 235), light))

    outline = alpha.filter(ImageFilter.GaussianBlur(2.2 * SUPERSAMPLE)).point(
        lambda v: 255 if v > 8 else v * 30
    )
    ground_shadow = alpha.filter(ImageFilter.GaussianBlur(18 * SUPERSAMPLE)).point(
        lambda v: v * 0.28
    )
    result = background.copy()
    result.alpha_composite(
        _solid(result.size, (10, 10, 20), ImageChops.offset(ground_shadow, 10, 18))
    )
    result.alpha_composite(_solid(result.size, _rgb(shade(look.body, 0.35)), outline))
    result.alpha_composite(shaded)
    return result.convert("RGB")


def _solid(size: tuple[int, int], rgb: RGB, alpha: Mask) -> Image.Image:
    layer = Image.new("RGBA", size, (*rgb, 0))
    layer.putalpha(alpha)
    return layer


def vignette(image: Image.Image) -> Image.Image:
    falloff = Image.radial_gradient("L").resize(image.size, Image.Resampling.BILINEAR)
    darken = falloff.point(lambda v: max(0, v - 150) * 0.45)
    return Image.composite(Image.new("RGB", image.size, (18, 16, 28)), image, darken)


if __name__ == "__main__":
    raise SystemExit(main())

"""Every catalog species has its generated picture, in the format and size the page expects."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

import roost.birds
from roost.birds.catalog_data import BIRD_SEEDS

ASSETS = Path(roost.birds.__file__).resolve().parent / "assets"
MAX_BYTES = 80 * 1024


@pytest.mark.parametrize("slug", [seed.slug for seed in BIRD_SEEDS])
def test_each_species_has_a_small_1200x800_jpeg(slug: str) -> None:
    path = ASSETS / f"{slug}.jpg"
    assert path.is_file(), f"missing {path.name}; run scripts/generate_bird_art.py"
    assert path.stat().st_size <= MAX_BYTES
    with Image.open(path) as image:
        assert image.format == "JPEG"
        assert image.size == (1200, 800)
        assert image.mode == "RGB"


def test_no_illustration_without_a_species() -> None:
    slugs = {seed.slug for seed in BIRD_SEEDS}
    orphans = sorted(p.name for p in ASSETS.glob("*.jpg") if p.stem not in slugs)
    assert orphans == []


def test_assets_readme_explains_their_origin() -> None:
    readme = (ASSETS / "README.md").read_text(encoding="utf-8")
    assert "generate_bird_art.py" in readme

"""Response-curve charts: labels that fit, the channels shown, well-formed SVG and PNG."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET

import pytest
from PIL import Image

from roost.optimizer.charts import (
    BOLD_EM_WIDTH,
    MAX_PANELS,
    PANEL_WIDTH,
    Text,
    compact,
    curves_chart,
    fit,
    layout,
    nice_ticks,
    render_png,
    render_svg,
)
from roost.optimizer.curves import Channel, HillCurve, LinearWithCapCurve

SVG = "{http://www.w3.org/2000/svg}"


@pytest.mark.parametrize(
    ("value", "label"),
    [
        (0.0, "0"),
        (0.5, "0.5"),
        (1234.0, "1.23k"),
        (999_999.0, "1M"),
        (-150_000.0, "-150k"),
        (2.5e9, "2.5B"),
        (999_999_999_999_999.9, "1e+15"),
        (3e17, "3e+17"),
    ],
)
def test_compact_labels_round_before_choosing_the_unit(value: float, label: str) -> None:
    assert compact(value) == label


def test_fit_cuts_long_text_with_an_ellipsis_and_keeps_short_text() -> None:
    assert fit("tv", 100, 14) == "tv"
    cut = fit("x" * 64, 200, 14)
    assert cut.endswith("\u2026")
    assert len(cut) * BOLD_EM_WIDTH * 14 <= 200


@pytest.mark.parametrize("maximum", [1e-9, 0.7, 1.0, 37.0, 123_456.0, 9.9e14])
def test_nice_ticks_start_at_zero_and_cover_the_maximum(maximum: float) -> None:
    ticks = nice_ticks(maximum)
    assert ticks[0] == 0.0
    assert ticks[-1] >= maximum
    assert 2 <= len(ticks) <= 7


def chart(names: list[str], locked: bool = False):  # type: ignore[no-untyped-def]
    channels = [
        Channel(name, HillCurve(vmax=1000.0 * (i + 1), k=100.0, slope=2.0))
        if i % 2
        else Channel(name, LinearWithCapCurve(slope=1.5, cap=500.0))
        for i, name in enumerate(names)
    ]
    count = len(channels)
    return curves_chart(
        title="demo v1 · max_response",
        subtitle="budget 1k",
        channels=channels,
        current=[100.0 * (i + 1) for i in range(count)],
        optimal=[100.0 * (count - i) for i in range(count)],
        marginal_roi=[1.0] * count,
        locked=[locked] * count,
    )


def test_long_channel_names_stay_inside_their_panel() -> None:
    long_name = "Channel with a very long descriptive name:" + "x" * 22
    shapes = layout(chart([long_name, "tv"], locked=True))

    titles = [s for s in shapes if isinstance(s, Text) and s.bold and s.size == 14]
    assert [t.text.endswith(" (locked)") for t in titles] == [True, True]
    assert titles[0].text.startswith("Channel with")
    assert "\u2026" in titles[0].text
    for title in titles:
        assert len(title.text) * BOLD_EM_WIDTH * 14 <= PANEL_WIDTH - 16 + 1e-9


def test_only_the_largest_spenders_get_panels_and_the_rest_are_counted() -> None:
    names = [f"ch{i}" for i in range(MAX_PANELS + 3)]
    drawn = chart(names)

    assert len(drawn.panels) == MAX_PANELS
    assert drawn.hidden == 3
    root = ET.fromstring(render_svg(drawn))  # noqa: S314 - our own output
    texts = [element.text or "" for element in root.iter(f"{SVG}text")]
    assert "3 more channels not drawn" in texts
    assert len(list(root.iter(f"{SVG}polyline"))) == MAX_PANELS


def test_svg_escapes_text_and_png_matches_its_layout() -> None:
    drawn = chart(["tv", "radio"])
    drawn = type(drawn)('a <b> & "c"', drawn.subtitle, drawn.panels, drawn.hidden)

    svg = render_svg(drawn)
    root = ET.fromstring(svg)  # noqa: S314 - our own output
    assert root.find(f"{SVG}title") is not None
    assert root.find(f"{SVG}title").text == 'a <b> & "c"'  # type: ignore[union-attr]
    png = Image.open(io.BytesIO(render_png(drawn)))
    assert png.format == "PNG"
    assert png.size == (
        round(float(root.get("width", "0")) * 1.5),
        round(float(root.get("height", "0")) * 1.5),
    )

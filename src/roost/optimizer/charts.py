"""Response-curve charts of one optimization, as SVG or PNG (pure: no I/O).

One panel per channel: the response curve with the current spend (hollow grey) and the optimal
spend (filled blue) marked on it. The layout is computed once as a list of drawing primitives;
an SVG writer and a Pillow painter each render that list, so both formats look the same.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal
from xml.sax.saxutils import escape

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from roost.optimizer.curves import Channel, FloatArray, LinearWithCapCurve

MAX_PANELS = 9
PANEL_WIDTH, PANEL_HEIGHT = 360, 250
MARGIN, HEADER = 24, 92
SAMPLES = 160
CURRENT_RADIUS, OPTIMAL_RADIUS = 7.0, 5.0

INK, MUTED, GRID, CURVE = "#111827", "#6b7280", "#e5e7eb", "#334155"
CURRENT, OPTIMAL, BACKGROUND = "#9ca3af", "#2563eb", "#ffffff"
FONT_STACK = "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"

MINUS = "\u2212"  # typographic minus: the same width as the plus sign
ELLIPSIS = "\u2026"
# Widest average glyph width, in ems, of the bold sans-serif faces we may be drawn in
# (DejaVu Sans Bold is the widest): texts are cut to fit by this estimate.
BOLD_EM_WIDTH = 0.68

Anchor = Literal["start", "middle", "end"]


@dataclass(frozen=True)
class CurvePanel:
    name: str
    spend: FloatArray
    response: FloatArray
    current: tuple[float, float]
    optimal: tuple[float, float]
    marginal_roi: float
    locked: bool = False


@dataclass(frozen=True)
class Chart:
    title: str
    subtitle: str
    panels: list[CurvePanel]
    hidden: int = 0


def curves_chart(
    *,
    title: str,
    subtitle: str,
    channels: Sequence[Channel],
    current: Sequence[float],
    optimal: Sequence[float],
    marginal_roi: Sequence[float],
    locked: Sequence[bool],
) -> Chart:
    """Panels for the channels that move the most money, at most :data:`MAX_PANELS`."""
    order = sorted(range(len(channels)), key=lambda i: -max(abs(current[i]), abs(optimal[i]), 0.0))
    shown = sorted(order[:MAX_PANELS])
    panels = []
    for i in shown:
        channel = channels[i]
        # Up to the last axis tick, so the curve spans the whole plot.
        x_top = nice_ticks(_spend_range(channel, current[i], optimal[i]))[-1]
        spend = np.linspace(0.0, x_top, SAMPLES)
        panels.append(
            CurvePanel(
                name=channel.name,
                spend=spend,
                response=np.asarray(channel.response(spend), dtype=np.float64),
                current=(current[i], float(channel.response(float(current[i])))),
                optimal=(optimal[i], float(channel.response(float(optimal[i])))),
                marginal_roi=marginal_roi[i],
                locked=locked[i],
            )
        )
    return Chart(title, subtitle, panels, hidden=len(channels) - len(shown))


def render_svg(chart: Chart) -> str:
    width, height = canvas_size(chart)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="{escape(FONT_STACK)}" role="img" '
        f'aria-label="{_attr(chart.title)}">',
        f"<title>{escape(chart.title)}</title>",
        f'<rect width="{width}" height="{height}" fill="{BACKGROUND}"/>',
    ]
    for shape in layout(chart):
        parts.append(_svg(shape))
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def render_png(chart: Chart, *, scale: float = 1.5, supersample: int = 2) -> bytes:
    """Drawn ``supersample`` times larger than wanted and scaled down: smooth lines."""
    width, height = canvas_size(chart)
    factor = scale * supersample
    image = Image.new("RGB", (round(width * factor), round(height * factor)), BACKGROUND)
    painter = _Painter(ImageDraw.Draw(image), factor)
    for shape in layout(chart):
        painter.draw(shape)
    image = image.resize((round(width * scale), round(height * scale)), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


# --------------------------------------------------------------------------------------------
# Layout
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    x1: float
    y1: float
    x2: float
    y2: float
    color: str
    width: float = 1.0
    dashed: bool = False


@dataclass(frozen=True)
class Polyline:
    points: list[tuple[float, float]]
    color: str
    width: float


@dataclass(frozen=True)
class Circle:
    x: float
    y: float
    radius: float
    fill: str | None
    stroke: str
    width: float = 2.0


@dataclass(frozen=True)
class Text:
    x: float
    y: float
    text: str
    size: float
    color: str = INK
    anchor: Anchor = "start"
    bold: bool = False


Shape = Line | Polyline | Circle | Text


def columns_for(count: int) -> int:
    return 1 if count <= 1 else 2 if count in (2, 4) else 3


def canvas_size(chart: Chart) -> tuple[int, int]:
    count = max(len(chart.panels), 1)
    columns = columns_for(count)
    rows = math.ceil(count / columns)
    footer = 24 if chart.hidden else 0
    width = 2 * MARGIN + columns * PANEL_WIDTH
    return width, HEADER + rows * PANEL_HEIGHT + MARGIN + footer


def layout(chart: Chart) -> list[Shape]:
    width, height = canvas_size(chart)
    shapes: list[Shape] = [
        Text(MARGIN, 34, fit(chart.title, width - 2 * MARGIN, 20), 20, bold=True),
        Text(MARGIN, 58, chart.subtitle, 13, MUTED),
    ]
    shapes += _legend(MARGIN, 80)
    columns = columns_for(max(len(chart.panels), 1))
    for index, panel in enumerate(chart.panels):
        left = MARGIN + (index % columns) * PANEL_WIDTH
        top = HEADER + (index // columns) * PANEL_HEIGHT
        shapes += _panel(panel, left, top)
    if chart.hidden:
        more = f"{chart.hidden} more channel{'s' if chart.hidden > 1 else ''} not drawn"
        shapes.append(Text(MARGIN, height - 16, more, 12, MUTED))
    return shapes


def _legend(left: float, baseline: float) -> list[Shape]:
    return [
        Line(left, baseline - 4, left + 22, baseline - 4, CURVE, 2.0),
        Text(left + 28, baseline, "response curve", 12, MUTED),
        Circle(left + 140, baseline - 4, CURRENT_RADIUS, None, CURRENT, 2.0),
        Text(left + 152, baseline, "current spend", 12, MUTED),
        Circle(left + 257, baseline - 4, OPTIMAL_RADIUS, OPTIMAL, OPTIMAL, 2.0),
        Text(left + 268, baseline, "optimal spend", 12, MUTED),
    ]


def _panel(panel: CurvePanel, left: float, top: float) -> list[Shape]:
    plot_left, plot_right = left + 56, left + PANEL_WIDTH - 18
    plot_top, plot_bottom = top + 58, top + PANEL_HEIGHT - 36
    x_max = float(panel.spend[-1]) if panel.spend.size else 1.0
    x_ticks = nice_ticks(x_max)
    y_ticks = nice_ticks(max(float(panel.response.max(initial=0.0)), panel.optimal[1], 1e-12))
    x_top, y_top = x_ticks[-1], y_ticks[-1]

    def at(spend: float, response: float) -> tuple[float, float]:
        x = plot_left + (plot_right - plot_left) * (spend / x_top if x_top else 0.0)
        y = plot_bottom - (plot_bottom - plot_top) * (response / y_top if y_top else 0.0)
        return x, y

    suffix = " (locked)" if panel.locked else ""
    room = PANEL_WIDTH - 16 - len(suffix) * BOLD_EM_WIDTH * 14
    title = fit(panel.name, room, 14) + suffix
    shapes: list[Shape] = [Text(left + 8, top + 20, title, 14, bold=True)]
    change = panel.optimal[0] - panel.current[0]
    summary = (
        f"{compact(panel.current[0])} → {compact(panel.optimal[0])} "
        f"({'+' if change >= 0 else MINUS}{compact(abs(change))})  ·  mROI {panel.marginal_roi:.3g}"
    )
    shapes.append(Text(left + 8, top + 37, summary, 11.5, MUTED))
    for value in y_ticks:
        _, y = at(0.0, value)
        shapes.append(Line(plot_left, y, plot_right, y, GRID))
        shapes.append(Text(plot_left - 6, y + 4, compact(value), 10.5, MUTED, "end"))
    for value in x_ticks:
        x, _ = at(value, 0.0)
        shapes.append(Line(x, plot_bottom, x, plot_bottom + 4, MUTED))
        shapes.append(Text(x, plot_bottom + 17, compact(value), 10.5, MUTED, "middle"))
    shapes.append(Line(plot_left, plot_bottom, plot_right, plot_bottom, MUTED))
    shapes.append(Text(plot_right, plot_bottom + 31, "spend", 10.5, MUTED, "end"))
    points = [at(float(x), float(y)) for x, y in zip(panel.spend, panel.response, strict=True)]
    shapes.append(Polyline(points, CURVE, 2.0))
    # The current spend is a ring drawn last and wider: where nothing moves (a locked
    # channel) it circles the optimal dot instead of hiding it.
    for (spend, response), fill, stroke, radius in (
        (panel.optimal, OPTIMAL, OPTIMAL, OPTIMAL_RADIUS),
        (panel.current, None, CURRENT, CURRENT_RADIUS),
    ):
        x, y = at(spend, response)
        shapes.append(Line(x, y, x, plot_bottom, stroke, 1.0, dashed=True))
        shapes.append(Circle(x, y, radius, fill, stroke, 2.0))
    return shapes


def nice_ticks(maximum: float, count: int = 5) -> list[float]:
    """0 and round steps (1, 2, 2.5 or 5 times a power of ten) up to at least ``maximum``."""
    if not math.isfinite(maximum) or maximum <= 0:
        return [0.0, 1.0]
    raw = maximum / count
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1.0, 2.0, 2.5, 5.0, 10.0) if m * power >= raw)
    steps = math.ceil(maximum / step - 1e-9)
    return [i * step for i in range(steps + 1)]


def fit(text: str, width: float, size: float) -> str:
    """``text`` cut with an ellipsis so that, in bold at ``size`` px, it spans at most ``width``
    px (channel names can be 64 characters, which would run into the next panel)."""
    limit = max(int(width / (BOLD_EM_WIDTH * size)), 1)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + ELLIPSIS


def compact(value: float) -> str:
    """1234 → 1.2k, 2500000 → 2.5M: axis labels that fit (scientific beyond trillions)."""
    # Round first, so that 999,999 reads 1M rather than 1e+03k.
    value = float(f"{value:.3g}")
    magnitude = abs(value)
    if magnitude >= 1e15:
        return f"{value:.3g}"
    for divisor, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if magnitude >= divisor:
            return f"{value / divisor:.3g}{suffix}"
    if magnitude == 0:
        return "0"
    return f"{value:.3g}"


def _spend_range(channel: Channel, current: float, optimal: float) -> float:
    largest = max(current, optimal)
    if largest > 0:
        # Show the bend of an S-curve or the cap of a capped line when it is close by.
        feature = _feature_spend(channel)
        return max(1.5 * largest, 1.25 * feature if feature <= 5 * largest else 0.0)
    # Nothing spent either way: show where the curve gets going.
    spend = 1.0
    supremum = channel.effective_curve.supremum
    target = 0.9 * supremum if math.isfinite(supremum) else float(channel.response(1.0)) * 10
    while float(channel.response(spend)) < target and spend < 1e15:
        spend *= 2.0
    return spend


# --------------------------------------------------------------------------------------------
# Renderers
# --------------------------------------------------------------------------------------------


def _attr(value: str) -> str:
    return escape(value, {'"': "&quot;"})


def _feature_spend(channel: Channel) -> float:
    curve = channel.effective_curve
    if isinstance(curve, LinearWithCapCurve):
        return curve.saturation
    return curve.inflection


def _svg(shape: Shape) -> str:
    if isinstance(shape, Line):
        dash = ' stroke-dasharray="4 3"' if shape.dashed else ""
        return (
            f'<line x1="{shape.x1:.1f}" y1="{shape.y1:.1f}" x2="{shape.x2:.1f}" '
            f'y2="{shape.y2:.1f}" stroke="{shape.color}" stroke-width="{shape.width:g}"{dash}/>'
        )
    if isinstance(shape, Polyline):
        points = " ".join(f"{x:.1f},{y:.1f}" for x, y in shape.points)
        return (
            f'<polyline points="{points}" fill="none" stroke="{shape.color}" '
            f'stroke-width="{shape.width:g}" stroke-linejoin="round" stroke-linecap="round"/>'
        )
    if isinstance(shape, Circle):
        return (
            f'<circle cx="{shape.x:.1f}" cy="{shape.y:.1f}" r="{shape.radius:g}" '
            f'fill="{shape.fill or "none"}" stroke="{shape.stroke}" '
            f'stroke-width="{shape.width:g}"/>'
        )
    weight = ' font-weight="600"' if shape.bold else ""
    return (
        f'<text x="{shape.x:.1f}" y="{shape.y:.1f}" font-size="{shape.size:g}" '
        f'fill="{shape.color}" text-anchor="{shape.anchor}"{weight}>{escape(shape.text)}</text>'
    )


_PIL_ANCHORS = {"start": "ls", "middle": "ms", "end": "rs"}


class _Painter:
    def __init__(self, draw: ImageDraw.ImageDraw, factor: float) -> None:
        self.canvas = draw
        self.factor = factor
        self.fonts: dict[tuple[float, bool], tuple[_Font, bool | None]] = {}

    def draw(self, shape: Shape) -> None:
        f = self.factor
        if isinstance(shape, Line):
            width = max(1, round(shape.width * f))
            start, end = (shape.x1 * f, shape.y1 * f), (shape.x2 * f, shape.y2 * f)
            for a, b in _dashes(start, end, 4 * f, 3 * f) if shape.dashed else [(start, end)]:
                self.canvas.line([a, b], fill=shape.color, width=width)
        elif isinstance(shape, Polyline):
            points = [(x * f, y * f) for x, y in shape.points]
            self.canvas.line(points, fill=shape.color, width=round(shape.width * f), joint="curve")
        elif isinstance(shape, Circle):
            r = shape.radius * f
            box = (shape.x * f - r, shape.y * f - r, shape.x * f + r, shape.y * f + r)
            self.canvas.ellipse(
                box, fill=shape.fill, outline=shape.stroke, width=round(shape.width * f)
            )
        else:
            font, native_bold = self._font(shape.size, shape.bold)
            text = shape.text if native_bold is not None else _ascii(shape.text)
            # Without a bold face, a slightly offset second strike stands in for one.
            strikes = (0.0, 0.6 * f) if shape.bold and not native_bold else (0.0,)
            for dx in strikes:
                self.canvas.text(
                    (shape.x * f + dx, shape.y * f),
                    text,
                    fill=shape.color,
                    font=font,
                    anchor=_PIL_ANCHORS[shape.anchor],
                )

    def _font(self, size: float, bold: bool) -> tuple[_Font, bool | None]:
        """The font and whether it is bold; None when only Pillow's bundled font (no arrows,
        no bold) is available."""
        key = (round(size * self.factor, 1), bold)
        if key not in self.fonts:
            self.fonts[key] = _load_font(*key)
        return self.fonts[key]


_Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


def _load_font(size: float, bold: bool) -> tuple[_Font, bool | None]:
    # DejaVu ships with most Linux images (Pillow finds it under /usr/share/fonts by name).
    for name in ("DejaVuSans-Bold.ttf", "DejaVuSans.ttf") if bold else ("DejaVuSans.ttf",):
        try:
            return ImageFont.truetype(name, size), name.endswith("Bold.ttf")
        except OSError:
            continue
    return ImageFont.load_default(size=size), None


def _ascii(text: str) -> str:
    return text.replace("→", "->").replace(MINUS, "-").replace("·", "|").replace(ELLIPSIS, "...")


def _dashes(
    start: tuple[float, float], end: tuple[float, float], on: float, off: float
) -> list[tuple[tuple[float, float], tuple[float, float]]]:
    length = math.dist(start, end)
    if length == 0:
        return []
    dx, dy = (end[0] - start[0]) / length, (end[1] - start[1]) / length
    segments = []
    position = 0.0
    while position < length:
        stop = min(position + on, length)
        segments.append(
            (
                (start[0] + dx * position, start[1] + dy * position),
                (start[0] + dx * stop, start[1] + dy * stop),
            )
        )
        position = stop + off
    return segments

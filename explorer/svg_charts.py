"""Small charts as inline SVG: line charts and overlaid histograms.

Used where a chart changes with every control step and needs no zoom (Lab 1's
normalisation histograms; Lab 3's activation curve, value histogram and shift sweep).
Updating one plotly chart took this 2-core machine's browser about 40 ms of its main
thread per step; an SVG of a few hundred elements is drawn at once, stays sharp on a
projector, and shows exact numbers on hover through SVG ``<title>`` tooltips.

Builders take plain numbers and return an SVG string for ``st.html``; they hold no state
and never import Streamlit. The drawing area is a fixed ``viewBox`` scaled to the width
of its column.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from explorer.figures import LINE_COLOURS

WIDTH = 560
"""Default width of a drawing in viewBox units. The chart is scaled to its column's width,
text included, so a caller gives about the column's width in CSS pixels."""

MARKERS_UP_TO = 40
"""Points of a line that get a marker (and a tooltip each); longer lines are drawn plain."""

_MARGIN = {"right": 14, "top": 34, "bottom": 46}
_LEGEND_ROW = 24
_FONT = 'font-size="15"'  # the family is the page's own (SVG text inherits it)
_SMALL_FONT = 'font-size="13"'
_TICK_CHAR_WIDTH = 7.5  # a 13-px digit or comma is at most this wide


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About ``count`` round tick values covering [low, high], 1, 2 or 5 × 10^k apart (the
    step nearest, by ratio, to an even split into ``count - 1`` steps).

    The first tick is ≤ ``low`` and the last ≥ ``high``; equal ends get one step around them.
    """
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError(f"tick range must be finite, got [{low}, {high}]")
    if high < low:
        low, high = high, low
    if high == low:
        pad = abs(low) * 0.5 or 1.0
        low, high = low - pad, high + pad
    raw_step = (high - low) / max(count - 1, 1)
    magnitude = 10.0 ** math.floor(math.log10(raw_step))
    step = min((m * magnitude for m in (1, 2, 5, 10)), key=lambda s: abs(math.log(s / raw_step)))
    first, last = math.floor(low / step + 1e-9), math.ceil(high / step - 1e-9)
    return [_round_tick(index * step, step) for index in range(first, last + 1)]


def _round_tick(value: float, step: float) -> float:
    """``value`` without float noise (0.30000000000000004 → 0.3) at ``step``'s precision."""
    decimals = max(0, -math.floor(math.log10(step)) + 1)
    return round(value, decimals) + 0.0  # + 0.0 turns -0.0 into 0.0


def tick_label(value: float) -> str:
    """A tick's text: up to 4 significant digits, thousands separated (12,000; 0.25; 1e-05)."""
    if value != 0 and (abs(value) >= 1e6 or abs(value) < 1e-3):
        return f"{value:.3g}"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:.4g}"


@dataclass(frozen=True)
class _Axes:
    """The linear map from data (x, y) to viewBox (px, py) of one plot area."""

    x_ticks: list[float]
    y_ticks: list[float]
    left: float
    right: float
    top: float
    bottom: float

    def px(self, x: float) -> float:
        low, high = self.x_ticks[0], self.x_ticks[-1]
        return self.left + (x - low) / (high - low) * (self.right - self.left)

    def py(self, y: float) -> float:
        low, high = self.y_ticks[0], self.y_ticks[-1]
        return self.bottom - (y - low) / (high - low) * (self.bottom - self.top)


def _axes(
    x_range: tuple[float, float], y_range: tuple[float, float], size: tuple[int, int], legend: bool
) -> _Axes:
    width, height = size
    bottom = height - _MARGIN["bottom"] - (_LEGEND_ROW if legend else 0)
    y_ticks = nice_ticks(*y_range)
    widest_label = max(len(tick_label(y)) for y in y_ticks)
    return _Axes(
        nice_ticks(*x_range),
        y_ticks,
        round(36 + _TICK_CHAR_WIDTH * widest_label),  # the y title, a gap, the tick labels
        width - _MARGIN["right"],
        _MARGIN["top"],
        bottom,
    )


def _frame(axes: _Axes, x_title: str, y_title: str) -> list[str]:
    """Grid lines, tick labels and axis titles."""
    parts = []
    for y in axes.y_ticks:
        py = f"{axes.py(y):.1f}"
        parts.append(
            f'<line x1="{axes.left}" x2="{axes.right}" y1="{py}" y2="{py}" stroke="#e5e5e5"/>'
        )
        parts.append(
            f'<text x="{axes.left - 6}" y="{py}" text-anchor="end" dominant-baseline="middle" '
            f'{_SMALL_FONT} fill="#444">{tick_label(y)}</text>'
        )
    for x in axes.x_ticks:
        px = f"{axes.px(x):.1f}"
        parts.append(
            f'<line x1="{px}" x2="{px}" y1="{axes.top}" y2="{axes.bottom}" stroke="#f0f0f0"/>'
        )
        parts.append(
            f'<text x="{px}" y="{axes.bottom + 17}" text-anchor="middle" {_SMALL_FONT} '
            f'fill="#444">{tick_label(x)}</text>'
        )
    parts.append(
        f'<rect x="{axes.left}" y="{axes.top}" width="{axes.right - axes.left}" '
        f'height="{axes.bottom - axes.top:.1f}" fill="none" stroke="#bbb"/>'
    )
    centre_x, centre_y = (axes.left + axes.right) / 2, (axes.top + axes.bottom) / 2
    if x_title:
        parts.append(
            f'<text x="{centre_x:.1f}" y="{axes.bottom + 38}" text-anchor="middle" {_FONT}>'
            f"{html.escape(x_title)}</text>"
        )
    if y_title:
        parts.append(
            f'<text x="14" y="{centre_y:.1f}" text-anchor="middle" dominant-baseline="middle" '
            f'transform="rotate(-90 14 {centre_y:.1f})" {_FONT}>{html.escape(y_title)}</text>'
        )
    return parts


def _legend(names: Sequence[str], colours: Sequence[str], x: float, height: int) -> list[str]:
    """One row of coloured swatches and names along the bottom of a chart ``height`` tall,
    left to right from ``x``."""
    parts, y = [], height - _LEGEND_ROW / 2 - 2
    for name, colour in zip(names, colours, strict=False):  # at most one colour a name
        parts.append(
            f'<rect x="{x:.1f}" y="{y - 6:.1f}" width="18" height="10" fill="{colour}" '
            'fill-opacity="0.8"/>'
        )
        parts.append(
            f'<text x="{x + 24:.1f}" y="{y:.1f}" dominant-baseline="middle" {_SMALL_FONT}>'
            f"{html.escape(name)}</text>"
        )
        x += 24 + 7.5 * len(name) + 18
    return parts


def _svg(title: str, size: tuple[int, int], body: list[str]) -> str:
    width, height = size
    heading = (
        f'<text x="4" y="20" {_FONT} font-weight="600">{html.escape(title)}</text>' if title else ""
    )
    label = html.escape(title or "chart", quote=True)
    return (
        f'<svg class="svg-chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="{label}" xmlns="http://www.w3.org/2000/svg" '
        f'style="max-width:100%;height:auto;display:block">{heading}{"".join(body)}</svg>'
    )


def _finite_range(values: np.ndarray) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    return (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)


def _runs(points: list[tuple[float, float] | None]) -> list[list[tuple[float, float]]]:
    """Split a line's points at its gaps (None) into runs of consecutive points."""
    runs: list[list[tuple[float, float]]] = [[]]
    for point in points:
        if point is None:
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append(point)
    return [run for run in runs if run]


def line_chart_svg(
    x: Sequence[float],
    series: Mapping[str, Sequence[float | None]],
    *,
    title: str = "",
    x_title: str = "",
    y_title: str = "",
    width: int = WIDTH,
    height: int = 320,
    colours: Sequence[str] = LINE_COLOURS,
) -> str:
    """Lines sharing the x values, one per named series (at most ``len(colours)``).

    Missing, NaN and infinite values leave gaps. Lines of at most :data:`MARKERS_UP_TO`
    points get a marker per point whose tooltip reads "name: x → y"; a legend row names
    the lines when there are several.
    """
    if len(series) > len(colours):
        raise ValueError(f"at most {len(colours)} lines, got {len(series)}")
    xs = np.asarray(x, dtype=np.float64)
    values = {
        name: np.array([np.nan if v is None else v for v in ys], dtype=np.float64)
        for name, ys in series.items()
    }
    all_values = np.concatenate([*values.values(), []])
    legend = len(series) > 1
    axes = _axes(_finite_range(xs), _finite_range(all_values), (width, height), legend)
    body = _frame(axes, x_title, y_title)
    for (name, ys), colour in zip(values.items(), colours, strict=False):
        points = [
            (axes.px(px), axes.py(py)) if math.isfinite(px) and math.isfinite(py) else None
            for px, py in zip(xs, ys, strict=True)
        ]
        for run in _runs(points):
            path = "M" + " L".join(f"{px:.1f},{py:.1f}" for px, py in run)
            body.append(
                f'<path d="{path}" fill="none" stroke="{colour}" stroke-width="2.5">'
                f"<title>{html.escape(name)}</title></path>"
            )
        if len(xs) <= MARKERS_UP_TO:
            for data_x, data_y, point in zip(xs, ys, points, strict=True):
                if point is not None:
                    tip = html.escape(f"{name}: {data_x:.4g} → {data_y:.4g}")
                    body.append(
                        f'<circle cx="{point[0]:.1f}" cy="{point[1]:.1f}" r="4" fill="{colour}">'
                        f"<title>{tip}</title></circle>"
                    )
    if legend:
        body += _legend(list(values), colours, axes.left, height)
    return _svg(title, (width, height), body)


def shared_histogram(
    series: Mapping[str, np.ndarray], bins: int = 60
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Counts of several value sets on one set of ``bins`` equal bins spanning all their
    finite values (non-finite values are left out).

    Returns (edges of shape (bins + 1,), {name: int counts of shape (bins,)}).
    """
    flat = {name: np.ravel(np.asarray(values, dtype=np.float64)) for name, values in series.items()}
    finite = {name: values[np.isfinite(values)] for name, values in flat.items()}
    everything = np.concatenate([*finite.values(), []])
    low, high = _finite_range(everything)
    if high == low:
        low, high = low - 0.5, high + 0.5
    edges = np.linspace(low, high, bins + 1)
    return edges, {name: np.histogram(values, bins=edges)[0] for name, values in finite.items()}


def histogram_svg(
    series: Mapping[str, np.ndarray],
    *,
    title: str = "",
    bins: int = 60,
    width: int = WIDTH,
    height: int = 300,
    colours: Sequence[str] = LINE_COLOURS,
) -> str:
    """Overlaid, half-transparent histograms of several value sets on shared bins
    (:func:`shared_histogram`), y from 0 to the largest count. Each bar's tooltip reads
    "name: [low, high) count"; a legend row names the sets when there are several."""
    if len(series) > len(colours):
        raise ValueError(f"at most {len(colours)} histograms, got {len(series)}")
    edges, counts = shared_histogram(series, bins)
    largest = max((int(c.max()) for c in counts.values() if c.size), default=0)
    legend = len(series) > 1
    x_range, y_range = (float(edges[0]), float(edges[-1])), (0.0, float(max(largest, 1)))
    axes = _axes(x_range, y_range, (width, height), legend)
    body = _frame(axes, "value", "count")
    base = axes.py(0.0)
    for (name, bars), colour in zip(counts.items(), colours, strict=False):
        for low, high, count in zip(edges[:-1], edges[1:], bars, strict=True):
            if count == 0:
                continue
            left, top = axes.px(low), axes.py(count)
            tip = html.escape(f"{name}: [{low:.3g}, {high:.3g}) {count:,}")
            body.append(
                f'<rect x="{left:.2f}" y="{top:.2f}" width="{axes.px(high) - left:.2f}" '
                f'height="{base - top:.2f}" fill="{colour}" fill-opacity="0.6">'
                f"<title>{tip}</title></rect>"
            )
    if legend:
        body += _legend(list(counts), colours, axes.left, height)
    return _svg(title, (width, height), body)

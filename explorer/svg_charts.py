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

import hashlib
import html
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from explorer.figures import (
    LINE_COLOURS,
    RATE_COLOURS,
    colour_indices,
    colour_palette,
    png_data_uri,
)

WIDTH = 560
"""Default width of a drawing in viewBox units. The chart is scaled to its column's width,
text included, so a caller gives about the column's width in CSS pixels."""

MARKERS_UP_TO = 40
"""Points of a line that get a marker (and a tooltip each); longer lines are drawn plain."""

MAX_BAR_LABELS = 24
"""Bars of :func:`bar_chart_svg` that get their value written (more would overlap)."""

MAX_BAR_TIPS = 200
"""Bars of :func:`bar_chart_svg` that get a tooltip each; more are drawn as one shape per
series (a 3,136-unit layer as bars with tooltips was 345 KB of SVG)."""

_MARGIN = {"right": 14, "top": 34, "bottom": 46}
_LEGEND_ROW = 24
_FONT = 'font-size="15"'  # the family is the page's own (SVG text inherits it)
_SMALL_FONT = 'font-size="13"'
_TICK_CHAR_WIDTH = 7.5  # a 13-px digit or comma is at most this wide
_NAME_CHAR_WIDTH = 7.5  # a 13-px letter is about this wide on average
_LEGEND_LEFT = 8


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


def log_ticks(low: float, high: float) -> list[float]:
    """Tick values for a log axis covering [low, high] (both > 0): powers of ten when the
    range spans 1.5 decades or more (every second, third… power when there would be more
    than 8), else 1, 2 and 5 × 10^k. The first tick is ≤ ``low`` and the last ≥ ``high``;
    equal ends get a factor of 2 around them."""
    if not (0 < low <= high < math.inf):
        raise ValueError(f"a log axis needs 0 < low ≤ high < inf, got [{low}, {high}]")
    if high == low:
        low, high = low / 2, high * 2
    first, last = math.floor(math.log10(low) + 1e-9), math.ceil(math.log10(high) - 1e-9)
    if math.log10(high / low) >= 1.5:
        stride = math.ceil((last - first) / 8)
        last = first + math.ceil((last - first) / stride) * stride
        return [10.0**power for power in range(first, last + 1, stride)]
    candidates = [m * 10.0**power for power in range(first, last + 1) for m in (1, 2, 5)]
    candidates.append(10.0 ** (last + 1))
    below = [tick for tick in candidates if tick <= low * (1 + 1e-9)]
    above = [tick for tick in candidates if tick >= high * (1 - 1e-9)]
    return [tick for tick in candidates if below[-1] <= tick <= above[0]]


@dataclass(frozen=True)
class _Scale:
    """One axis's data range: ``low``/``high`` are its ends (log₁₀ of them on a log
    axis), ``ticks`` the data values labelled on it."""

    low: float
    high: float
    ticks: list[float]
    log: bool = False

    def fraction(self, value: float) -> float:
        """Where ``value`` lies between the ends, 0 at ``low`` and 1 at ``high``."""
        position = math.log10(value) if self.log else value
        return (position - self.low) / (self.high - self.low)

    def shows(self, value: float) -> bool:
        """Whether ``value`` can be placed on this axis (finite, and > 0 on a log one)."""
        return math.isfinite(value) and (value > 0 or not self.log)


def _scale(
    values: np.ndarray, *, log: bool = False, limits: tuple[float, float] | None = None
) -> _Scale:
    """The axis for ``values`` (those :meth:`_Scale.shows` cannot place are ignored):
    from the first tick to the last, or ``limits`` (low, high) when given, ticks inside
    (limits that are not finite, not increasing, or ≤ 0 on a log axis are ignored)."""
    values = np.asarray(values, dtype=np.float64)
    usable = values[np.isfinite(values) & ((values > 0) if log else True)]
    if limits is not None and _usable_limits(limits, log):
        ticks = log_ticks(*limits) if log else nice_ticks(*limits)
        inside = [tick for tick in ticks if limits[0] <= tick <= limits[1]]
        ends = [math.log10(end) for end in limits] if log else list(limits)
        return _Scale(ends[0], ends[1], inside or ticks, log)
    if log:
        low, high = (float(usable.min()), float(usable.max())) if usable.size else (1.0, 10.0)
        ticks = log_ticks(low, high)
        return _Scale(math.log10(ticks[0]), math.log10(ticks[-1]), ticks, True)
    ticks = nice_ticks(*_finite_range(usable))
    return _Scale(ticks[0], ticks[-1], ticks)


def _usable_limits(limits: tuple[float, float], log: bool) -> bool:
    low, high = limits
    return math.isfinite(low) and math.isfinite(high) and low < high and (low > 0 or not log)


@dataclass(frozen=True)
class _Axes:
    """The map from data (x, y) to viewBox (px, py) of one plot area; ``legend_rows`` rows
    of legend below it."""

    x: _Scale
    y: _Scale
    left: float
    right: float
    top: float
    bottom: float
    legend_rows: int = 0
    y_text: Callable[[float], str] = tick_label

    def px(self, x: float) -> float:
        return self.left + self.x.fraction(x) * (self.right - self.left)

    def py(self, y: float) -> float:
        return self.bottom - self.y.fraction(y) * (self.bottom - self.top)

    def point(self, x: float, y: float) -> tuple[float, float] | None:
        """(px, py) of a data point, or None where an axis cannot place it (a gap)."""
        if self.x.shows(x) and self.y.shows(y):
            return self.px(x), self.py(y)
        return None


def _axes(
    x: _Scale,
    y: _Scale,
    size: tuple[int, int],
    legend: Sequence[str] = (),
    y_text: Callable[[float], str] = tick_label,
    right_margin: float = _MARGIN["right"],
) -> _Axes:
    """The plot area: left of it the y title and tick labels (as wide as the widest),
    below it the x tick labels and title, then the legend's rows (none for one name)."""
    width, height = size
    left = round(36 + _TICK_CHAR_WIDTH * max(len(y_text(tick)) for tick in y.ticks))
    rows = max(row for _, row in _legend_layout(legend, width)) + 1 if len(legend) > 1 else 0
    bottom = height - _MARGIN["bottom"] - rows * _LEGEND_ROW
    return _Axes(x, y, left, width - right_margin, _MARGIN["top"], bottom, rows, y_text)


def _y_frame(axes: _Axes, y_title: str) -> list[str]:
    """Horizontal grid lines, the y tick labels, the plot's border and the y title."""
    parts = []
    for y in axes.y.ticks:
        py = axes.py(y)
        parts.append(_grid_line((axes.left, axes.right), (py, py), "#e5e5e5"))
        parts.append(
            f'<text x="{axes.left - 6}" y="{py:.1f}" text-anchor="end" dominant-baseline="middle" '
            f'{_SMALL_FONT} fill="#444">{html.escape(axes.y_text(y))}</text>'
        )
    parts.append(
        f'<rect x="{axes.left}" y="{axes.top}" width="{axes.right - axes.left}" '
        f'height="{axes.bottom - axes.top:.1f}" fill="none" stroke="#bbb"/>'
    )
    if y_title:
        centre_y = (axes.top + axes.bottom) / 2
        parts.append(
            f'<text x="14" y="{centre_y:.1f}" text-anchor="middle" dominant-baseline="middle" '
            f'transform="rotate(-90 14 {centre_y:.1f})" {_FONT}>{html.escape(y_title)}</text>'
        )
    return parts


def _x_title(axes: _Axes, x_title: str) -> list[str]:
    if not x_title:
        return []
    centre_x = (axes.left + axes.right) / 2
    return [
        f'<text x="{centre_x:.1f}" y="{axes.bottom + 38}" text-anchor="middle" {_FONT}>'
        f"{html.escape(x_title)}</text>"
    ]


def _frame(axes: _Axes, x_title: str, y_title: str) -> list[str]:
    """Grid lines, tick labels and axis titles of a chart with a numeric x axis."""
    parts = _y_frame(axes, y_title)
    for x in axes.x.ticks:
        px = axes.px(x)
        parts.append(_grid_line((px, px), (axes.top, axes.bottom), "#f0f0f0"))
        parts.append(_x_label(axes, px, tick_label(x)))
    return parts + _x_title(axes, x_title)


def _grid_line(xs: tuple[float, float], ys: tuple[float, float], colour: str) -> str:
    return (
        f'<line x1="{xs[0]:.1f}" x2="{xs[1]:.1f}" y1="{ys[0]:.1f}" y2="{ys[1]:.1f}" '
        f'stroke="{colour}"/>'
    )


def _x_label(axes: _Axes, px: float, text: str) -> str:
    """A label centred under the plot at ``px`` (a tick's value or a category's name)."""
    return (
        f'<text x="{px:.1f}" y="{axes.bottom + 17}" text-anchor="middle" {_SMALL_FONT} '
        f'fill="#444">{html.escape(text)}</text>'
    )


def _legend_layout(names: Sequence[str], width: int) -> list[tuple[float, int]]:
    """(x, row) of each legend entry: left to right from the chart's left edge, wrapping
    to a new row where the next name would pass ``width``."""
    layout, x, row = [], _LEGEND_LEFT, 0
    for name in names:
        entry = 24 + _NAME_CHAR_WIDTH * len(name)
        if x > _LEGEND_LEFT and x + entry > width:
            x, row = _LEGEND_LEFT, row + 1
        layout.append((x, row))
        x += entry + 18
    return layout


def _legend(names: Sequence[str], colours: Sequence[str], axes: _Axes, size: tuple[int, int]):
    """Coloured swatches and names in :attr:`_Axes.legend_rows` rows along the bottom."""
    width, height = size
    first_row = height - axes.legend_rows * _LEGEND_ROW
    parts = []
    for name, colour, (x, row) in zip(names, colours, _legend_layout(names, width), strict=False):
        y = first_row + row * _LEGEND_ROW + _LEGEND_ROW / 2 - 2
        parts.append(
            f'<rect x="{x:.1f}" y="{y - 6:.1f}" width="18" height="10" fill="{colour}" '
            'fill-opacity="0.8"/>'
        )
        parts.append(
            f'<text x="{x + 24:.1f}" y="{y:.1f}" dominant-baseline="middle" {_SMALL_FONT}>'
            f"{html.escape(name)}</text>"
        )
    return parts


def _clip(size: tuple[int, int], axes: _Axes, body: Sequence[str]) -> tuple[str, str]:
    """A clip path to the plot area, named after what it clips (several charts share one
    page, so names must differ), and the attribute that applies it."""
    area = (axes.left, axes.top, axes.right, axes.bottom)
    digest = hashlib.blake2b(("".join(body) + repr(area)).encode(), digest_size=6).hexdigest()
    name = f"plot-{size[0]}x{size[1]}-{digest}"
    definition = (
        f'<defs><clipPath id="{name}"><rect x="{axes.left}" y="{axes.top}" '
        f'width="{axes.right - axes.left}" height="{axes.bottom - axes.top:.1f}"/>'
        "</clipPath></defs>"
    )
    return definition, f'clip-path="url(#{name})"'


def _svg(title: str, size: tuple[int, int], body: list[str], max_width: str = "100%") -> str:
    width, height = size
    heading = (
        f'<text x="4" y="20" {_FONT} font-weight="600">{html.escape(title)}</text>' if title else ""
    )
    label = html.escape(title or "chart", quote=True)
    return (
        f'<svg class="svg-chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="{label}" xmlns="http://www.w3.org/2000/svg" '
        f'style="max-width:{max_width};height:auto;display:block">{heading}{"".join(body)}</svg>'
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
    log_x: bool = False,
    log_y: bool = False,
    y_limits: tuple[float, float] | None = None,
    marks: Mapping[str, tuple[float, float]] | None = None,
    mark_colours: Sequence[str] = RATE_COLOURS,
    level: tuple[float, str] | None = None,
) -> str:
    """Lines sharing the x values, one per named series (at most ``len(colours)``).

    Missing, NaN and infinite values (and values ≤ 0 on a log axis) leave gaps. Lines of
    at most :data:`MARKERS_UP_TO` points get a marker per point whose tooltip reads
    "name: x → y"; a legend names the lines when there are several.

    ``log_x``/``log_y`` put an axis on a log scale. ``y_limits`` (low, high) fixes the y
    axis; what lies beyond is cut off at the plot's edge. ``marks`` {name: (x, y)} adds
    one large labelled point each, in ``mark_colours`` (and to the legend); ``level``
    (y, text) a dotted horizontal line with its text.
    """
    marks = dict(marks or {})
    if len(series) > len(colours) or len(marks) > len(mark_colours):
        raise ValueError(
            f"at most {len(colours)} lines and {len(mark_colours)} marks, "
            f"got {len(series)} and {len(marks)}"
        )
    xs = np.asarray(x, dtype=np.float64)
    values = {
        name: np.array([np.nan if v is None else v for v in ys], dtype=np.float64)
        for name, ys in series.items()
    }
    mark_x = np.array([point[0] for point in marks.values()], dtype=np.float64)
    mark_y = np.array([point[1] for point in marks.values()], dtype=np.float64)
    levels = np.array([] if level is None else [level[0]], dtype=np.float64)
    x_scale = _scale(np.concatenate([xs, mark_x]), log=log_x)
    y_values = np.concatenate([*values.values(), mark_y, levels])
    y_scale = _scale(y_values, log=log_y, limits=y_limits)
    names = [*values, *marks]
    axes = _axes(x_scale, y_scale, (width, height), names if len(names) > 1 else ())
    frame = _frame(axes, x_title, y_title)
    plotted = []
    if level is not None and axes.y.shows(level[0]):
        plotted += _level_line(axes, *level)
    for (name, ys), colour in zip(values.items(), colours, strict=False):
        plotted += _line(axes, name, xs, ys, colour)
    for (name, (data_x, data_y)), colour in zip(marks.items(), mark_colours, strict=False):
        point = axes.point(data_x, data_y)
        if point is not None:
            tip = f"{name}: {data_x:.4g} → {data_y:.4g}"
            plotted.append(_dot(point, 8, colour, tip, ring=1.5))
    definition, clip = _clip((width, height), axes, plotted)
    body = [definition, *frame, f"<g {clip}>", *plotted, "</g>"]
    if axes.legend_rows:
        body += _legend(names, [*colours[: len(values)], *mark_colours], axes, (width, height))
    return _svg(title, (width, height), body)


def _line(axes: _Axes, name: str, xs: np.ndarray, ys: np.ndarray, colour: str) -> list[str]:
    """One series: a path per run of placeable points, and a marker with a tooltip per
    point when there are at most :data:`MARKERS_UP_TO`."""
    points = [axes.point(px, py) for px, py in zip(xs, ys, strict=True)]
    parts = [_polyline(run, colour, 2.5, name) for run in _runs(points)]
    if len(xs) <= MARKERS_UP_TO:
        for data_x, data_y, point in zip(xs, ys, points, strict=True):
            if point is not None:
                parts.append(_dot(point, 4, colour, f"{name}: {data_x:.4g} → {data_y:.4g}"))
    return parts


def _polyline(points: Sequence[tuple[float, float]], colour: str, width: float, name: str) -> str:
    """A line through ``points`` (viewBox px) whose tooltip is ``name``."""
    path = "M" + " L".join(f"{px:.1f},{py:.1f}" for px, py in points)
    return (
        f'<path d="{path}" fill="none" stroke="{colour}" stroke-width="{width}">'
        f"<title>{html.escape(name)}</title></path>"
    )


def _dot(point: tuple[float, float], radius: float, colour: str, tip: str, ring: float = 0) -> str:
    """A marker at ``point`` (viewBox px) whose tooltip is ``tip``, with a white ring
    ``ring`` wide when given (to stand out on lines or a surface)."""
    outline = f' stroke="white" stroke-width="{ring}"' if ring else ""
    return (
        f'<circle cx="{point[0]:.1f}" cy="{point[1]:.1f}" r="{radius}" fill="{colour}"{outline}>'
        f"<title>{html.escape(tip)}</title></circle>"
    )


def _level_line(axes: _Axes, y: float, text: str) -> list[str]:
    """A dotted gray line across the plot at ``y``, its text just below its left end."""
    py = axes.py(y)
    return [
        f'<line x1="{axes.left}" x2="{axes.right}" y1="{py:.1f}" y2="{py:.1f}" stroke="#777" '
        f'stroke-width="1.5" stroke-dasharray="3 4"><title>{html.escape(text)}: '
        f"{y:.4g}</title></line>",
        f'<text x="{axes.left + 6}" y="{py + 16:.1f}" {_SMALL_FONT} fill="#555">'
        f"{html.escape(text)}</text>",
    ]


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
    names = list(counts) if len(counts) > 1 else []
    x_scale = _scale(np.array([edges[0], edges[-1]]))
    axes = _axes(x_scale, _scale(np.array([0.0, max(largest, 1)])), (width, height), names)
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
    if names:
        body += _legend(names, colours, axes, (width, height))
    return _svg(title, (width, height), body)


def percent_label(value: float) -> str:
    """A fraction as a whole percentage (0.25 → "25%")."""
    return f"{value:.0%}"


def bar_chart_svg(
    labels: Sequence[str],
    series: Mapping[str, Sequence[float]],
    *,
    title: str = "",
    x_title: str = "",
    y_title: str = "",
    width: int = WIDTH,
    height: int = 320,
    colours: Sequence[str] = LINE_COLOURS,
    value_text: Callable[[float], str] | None = None,
    y_text: Callable[[float], str] | None = None,
    percent: bool = False,
) -> str:
    """Bars per label, side by side for several named series (at most ``len(colours)``),
    from 0 up (or down, for negative values), each with its ``value_text`` above it (below
    a negative one) and in its tooltip "series, label: value".

    With more than :data:`MAX_BAR_LABELS` bars the values are in the tooltips only, and
    only every n-th label is written so that at most that many are; with more than
    :data:`MAX_BAR_TIPS`, each series is one shape without per-bar tooltips.

    ``percent`` draws fractions on a 0–100% axis with room above for the texts, written
    as percentages unless ``value_text`` says otherwise. ``y_text`` writes the y tick
    labels (default: as percentages with ``percent``, else :func:`tick_label`).
    Non-finite values get no bar; a legend names the series when there are several.
    """
    if len(series) > len(colours):
        raise ValueError(f"at most {len(colours)} series, got {len(series)}")
    values = {name: np.asarray(v, dtype=np.float64) for name, v in series.items()}
    if percent:
        y_scale = _Scale(0.0, 1.15, [0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
    else:
        low, high = _finite_range(np.concatenate([*values.values(), [0.0]]))
        pad = 0.12 * (high - low or 1.0)  # room for the value texts
        y_scale = _scale(np.array([low - pad if low < 0 else 0.0, high + pad if high > 0 else 0.0]))
    names = list(values) if len(values) > 1 else []
    y_text = y_text or (percent_label if percent else tick_label)
    value_text = value_text or y_text
    axes = _axes(_Scale(0.0, 1.0, []), y_scale, (width, height), names, y_text)
    body = _y_frame(axes, y_title) + _x_title(axes, x_title)
    slot = (axes.right - axes.left) / max(len(labels), 1)
    bar = 0.8 * slot / max(len(values), 1)
    base = axes.py(0.0)
    label_every = math.ceil(len(labels) / MAX_BAR_LABELS)
    texts = len(labels) * len(values) <= MAX_BAR_LABELS
    tips = len(labels) * len(values) <= MAX_BAR_TIPS
    for index, label in enumerate(labels):
        if index % label_every == 0:
            body.append(_x_label(axes, axes.left + (index + 0.5) * slot, label))
    for number, ((name, bars), colour) in enumerate(zip(values.items(), colours, strict=False)):
        outlines = []
        for index, (label, value) in enumerate(zip(labels, bars.tolist(), strict=True)):
            if not math.isfinite(value):
                continue
            left, end = axes.left + (index + 0.1) * slot + number * bar, axes.py(value)
            top, size = min(base, end), abs(base - end)
            if tips:
                tip = html.escape(f"{name}, {label}: {value_text(value)}")
                body.append(
                    f'<rect x="{left:.2f}" y="{top:.2f}" width="{bar:.2f}" height="{size:.2f}" '
                    f'fill="{colour}"><title>{tip}</title></rect>'
                )
            else:
                outlines.append(f"M{left:.2f},{top:.2f}h{bar:.2f}v{size:.2f}h{-bar:.2f}Z")
            if texts:
                body.append(
                    f'<text x="{left + bar / 2:.1f}" y="{end - 5 if value >= 0 else end + 15:.1f}" '
                    f'text-anchor="middle" font-size="12" fill="#333">'
                    f"{html.escape(value_text(value))}</text>"
                )
        if outlines:  # too many bars for a tooltip each: one shape, named
            body.append(
                f'<path d="{"".join(outlines)}" fill="{colour}"><title>{html.escape(name)}: '
                f"{len(outlines):,} bars</title></path>"
            )
    body.append(_grid_line((axes.left, axes.right), (base, base), "#888"))
    if names:
        body += _legend(names, colours, axes, (width, height))
    return _svg(title, (width, height), body)


SURFACE_SCALE = ((0.0, "rgb(255, 255, 255)"), (1.0, "rgb(45, 45, 45)"))
"""Colours of :func:`surface_svg`: white at the lowest loss, dark gray at the highest."""

OVERFLOW_RGB = (247, 190, 192)
"""Colour of :func:`surface_svg`'s cells whose loss is not finite (the weights overflowed),
apart from every gray so that they never read as a low loss."""

SURFACE_BANDS = 18
"""Bands of equal log-loss on :func:`surface_svg`, like a filled contour plot's levels."""

_START_COLOUR = "#ff7f0e"


def bilinear_upsample(grid: np.ndarray, factor: int) -> np.ndarray:
    """An (R, C) grid sampled ``factor`` times more finely between its points by bilinear
    interpolation: ((R − 1)·factor + 1, (C − 1)·factor + 1), equal to ``grid`` at every
    ``factor``-th point. NaN spreads to the cells next to it (they are left blank)."""
    grid = np.asarray(grid, dtype=np.float64)

    def along(values: np.ndarray, axis: int) -> np.ndarray:
        count = values.shape[axis]
        position = np.linspace(0, count - 1, (count - 1) * factor + 1)
        below = np.clip(np.floor(position), 0, max(count - 2, 0)).astype(int)
        shape = [1, 1]
        shape[axis] = -1
        weight = (position - below).reshape(shape)
        lower = np.take(values, below, axis=axis)
        upper = np.take(values, np.minimum(below + 1, count - 1), axis=axis)
        return lower * (1 - weight) + upper * weight

    return along(along(grid, 0), 1)


def surface_svg(
    alphas: np.ndarray,
    betas: np.ndarray,
    surface: np.ndarray,
    paths: Mapping[str, tuple[np.ndarray, np.ndarray]],
    *,
    title: str = "",
    x_title: str = "α: along −gradient",
    y_title: str = "β: across",
    width: int = 760,
    height: int = 600,
    colours: Sequence[str] = RATE_COLOURS,
    upsample: int = 16,
) -> str:
    """A 2-D slice of the loss as :data:`SURFACE_BANDS` gray bands of equal log₁₀(loss)
    (white lowest; a colour bar labelled in losses), on a square plot (α and β share a
    unit), with descent paths over it and the current weights (0, 0) marked ×.

    Args:
        alphas, betas: the grid's coordinates (A,) and (B,), increasing.
        surface: losses (B, A); cells that are not finite are drawn in
            :data:`OVERFLOW_RGB` (and the half cell around them), losses of 0 as the
            lowest positive one. The bands are drawn from the grid interpolated
            ``upsample`` times more finely; hovering any grid point shows its loss.
        paths: {name: ((T, 2) points (α, β), (T,) losses)}, at most ``len(colours)``;
            each a line from its start with a marker per step ("name, step t: loss" on
            hover); NaN points (after a divergence) end the line.
    """
    if len(paths) > len(colours):
        raise ValueError(f"at most {len(colours)} paths, got {len(paths)}")
    alphas, betas = np.asarray(alphas, np.float64), np.asarray(betas, np.float64)
    surface = np.asarray(surface, np.float64)
    finite = np.isfinite(surface)
    positive = surface[finite & (surface > 0)]
    floor = float(positive.min()) if positive.size else 1.0  # a loss of 0 is the lowest
    with np.errstate(divide="ignore", invalid="ignore"):
        logged = np.where(finite, np.log10(np.maximum(surface, floor)), np.nan)
    low, high = _finite_range(logged)
    names = [*paths, "current weights"]
    x_scale = _scale(alphas, limits=(float(alphas[0]), float(alphas[-1])))
    y_scale = _scale(betas, limits=(float(betas[0]), float(betas[-1])))
    layout = _axes(x_scale, y_scale, (width, height), names, right_margin=110)
    side = min(layout.right - layout.left, layout.bottom - layout.top)
    axes = _Axes(
        x_scale,
        y_scale,
        layout.left,
        layout.left + side,
        layout.top,
        layout.top + side,
        layout.legend_rows,
    )
    frame = _frame(axes, x_title, y_title)
    plotted = [_bands(alphas, betas, logged, (low, high), axes, upsample)]
    plotted += _surface_tips(alphas, betas, surface, axes)
    for (name, (points, losses)), colour in zip(paths.items(), colours, strict=False):
        plotted += _path(axes, name, np.asarray(points, np.float64), losses, colour)
    centre = axes.point(0.0, 0.0)
    if centre is not None:
        cx, cy = centre
        plotted.append(
            f'<path d="M{cx - 8:.1f},{cy - 8:.1f} L{cx + 8:.1f},{cy + 8:.1f} M{cx - 8:.1f},'
            f'{cy + 8:.1f} L{cx + 8:.1f},{cy - 8:.1f}" stroke="{_START_COLOUR}" '
            'stroke-width="4"><title>current weights (α 0, β 0)</title></path>'
        )
    definition, clip = _clip((width, height), axes, plotted)
    body = [definition, *frame, f"<g {clip}>", *plotted, "</g>"]
    if np.isfinite(logged).any():
        body += _colour_bar(axes, (low, high))
    if axes.legend_rows:
        body += _legend(names, [*colours[: len(paths)], _START_COLOUR], axes, (width, height))
    return _svg(title, (width, height), body, max_width=f"{width}px")


def _bands(
    alphas: np.ndarray,
    betas: np.ndarray,
    logged: np.ndarray,
    limits: tuple[float, float],
    axes: _Axes,
    upsample: int,
) -> str:
    """The banded surface as one PNG ``<image>``, each fine pixel centred on its point."""
    low, high = limits
    fine = bilinear_upsample(logged, upsample)
    span = high - low or 1.0
    band = np.clip(np.floor((fine - low) / span * SURFACE_BANDS), 0, SURFACE_BANDS - 1)
    banded = low + (band + 0.5) / SURFACE_BANDS * span
    palette = colour_palette(SURFACE_SCALE, gutter=OVERFLOW_RGB)
    uri = png_data_uri(palette[colour_indices(banded[::-1], (low, high))])  # β rises upwards
    step_x = (axes.px(alphas[-1]) - axes.px(alphas[0])) / max(fine.shape[1] - 1, 1)
    step_y = (axes.py(betas[0]) - axes.py(betas[-1])) / max(fine.shape[0] - 1, 1)
    return (
        f'<image href="{uri}" x="{axes.px(alphas[0]) - step_x / 2:.2f}" '
        f'y="{axes.py(betas[-1]) - step_y / 2:.2f}" width="{step_x * fine.shape[1]:.2f}" '
        f'height="{step_y * fine.shape[0]:.2f}" preserveAspectRatio="none"/>'
    )


def _surface_tips(
    alphas: np.ndarray, betas: np.ndarray, surface: np.ndarray, axes: _Axes
) -> list[str]:
    """Invisible cells around each grid point whose tooltip gives its loss."""
    half_x = (axes.px(alphas[-1]) - axes.px(alphas[0])) / max(len(alphas) - 1, 1) / 2
    half_y = (axes.py(betas[0]) - axes.py(betas[-1])) / max(len(betas) - 1, 1) / 2
    parts = ['<g fill="#000" fill-opacity="0">']
    for row, beta in enumerate(betas):
        for col, alpha in enumerate(alphas):
            tip = f"α {alpha:.3g}, β {beta:.3g}: loss {surface[row, col]:.4g}"
            parts.append(
                f'<rect x="{axes.px(alpha) - half_x:.1f}" y="{axes.py(beta) - half_y:.1f}" '
                f'width="{2 * half_x:.1f}" height="{2 * half_y:.1f}"><title>{tip}</title></rect>'
            )
    return [*parts, "</g>"]


def _path(axes: _Axes, name: str, points: np.ndarray, losses: np.ndarray, colour: str) -> list[str]:
    """A descent path: a line through its finite points up to the first NaN one, with a
    marker per step."""
    finite = np.isfinite(points).all(axis=-1)
    count = int(np.argmin(finite)) if not finite.all() else len(points)
    placed = [(axes.px(a), axes.py(b)) for a, b in points[:count]]
    if not placed:
        return []
    parts = [_polyline(placed, colour, 3, name)]
    for step, point in enumerate(placed):
        tip = f"{name}, step {step}: loss {float(losses[step]):.4g}"
        parts.append(_dot(point, 4.5, colour, tip, ring=1))
    return parts


def _colour_bar(axes: _Axes, limits: tuple[float, float]) -> list[str]:
    """The bands as a vertical bar right of the plot, labelled in losses at the
    :func:`log_ticks` within the range."""
    low, high = limits
    left, top, bottom = axes.right + 24, axes.top, axes.bottom
    parts = [
        f'<text x="{left}" y="{top - 10}" {_SMALL_FONT} fill="#444">loss</text>',
    ]
    step = (bottom - top) / SURFACE_BANDS
    edges = np.linspace(low, high, SURFACE_BANDS + 1)
    middles = (edges[:-1] + edges[1:]) / 2  # coloured as :func:`_bands` colours its bands
    colours = colour_palette(SURFACE_SCALE)[colour_indices(middles, (low, high))]
    for band, (band_low, band_high) in enumerate(zip(edges[:-1], edges[1:], strict=True)):
        red, green, blue = colours[band]
        tip = f"loss {10**band_low:.3g} to {10**band_high:.3g}"
        parts.append(
            f'<rect x="{left}" y="{bottom - (band + 1) * step:.2f}" width="16" '
            f'height="{step + 0.5:.2f}" fill="rgb({red},{green},{blue})">'
            f"<title>{tip}</title></rect>"
        )
    parts.append(
        f'<rect x="{left}" y="{top}" width="16" height="{bottom - top}" fill="none" stroke="#bbb"/>'
    )
    ticks = log_ticks(10.0**low, 10.0**high)
    for value in [tick for tick in ticks if low - 1e-9 <= math.log10(tick) <= high + 1e-9]:
        y = bottom - (math.log10(value) - low) / ((high - low) or 1.0) * (bottom - top)
        parts.append(
            f'<text x="{left + 22}" y="{y:.1f}" dominant-baseline="middle" {_SMALL_FONT} '
            f'fill="#444">{tick_label(value)}</text>'
        )
    return parts

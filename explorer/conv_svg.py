"""The Convolution lab's main figure as inline SVG: the padded input with the windows the
stride visits, and the colour bar beside the feature maps (which reach the browser as a
picture, :func:`explorer.figures.image_view` or :func:`explorer.figures.map_grid_view`).

Builders take arrays and return an SVG string; they hold no state and never import
Streamlit. The input inside the padded grid is a PNG ``<image>`` drawn with sharp pixels,
at most :data:`MAX_INPUT_PX` a side, so that it stays a few KB at any working size.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence

import numpy as np
from PIL import Image

from explorer import ops
from explorer.figures import colour_table

PADDING_FILL = "#f5c542"
"""The zero-padding ring's shade: amber, apart from every gray of the input."""

WINDOW_COLOUR = "#d62728"
"""Window outlines and the dots at the centres of the windows the stride visits."""

MAX_DOTS = 900
"""Every visited window gets a dot up to this many; beyond, only the first row's and the
first column's windows do (one dot per output column and per output row)."""

MAX_INPUT_PX = 128
"""Inputs larger than this a side are drawn area-averaged to fit (the dots stay exact)."""

GRID_LINES_UP_TO = 40
"""Cell borders are drawn when the padded input is at most this many cells a side."""

_BAR_WIDTH = 20
_LABEL_FONT = 18
_LABEL_CHAR_PX = 10.5  # an 18-px digit or minus sign is at most this wide
_GRADIENT_STOPS = 17


def dots_every_window(geometry: ops.ConvGeometry) -> bool:
    """Whether :func:`padded_input_svg` draws a dot for every window (at most
    :data:`MAX_DOTS`), not only for the first row's and the first column's."""
    return geometry.output_hw[0] * geometry.output_hw[1] <= MAX_DOTS


def input_caption(geometry: ops.ConvGeometry) -> str:
    """What :func:`padded_input_svg` draws, in Markdown: the input's size, its padded size
    when padded, and which window centres the dots mark."""
    (top, bottom), (left, right) = geometry.padding
    height, width = geometry.input_hw
    out_h, out_w = geometry.output_hw
    padded = (
        f", padded to {height + top + bottom}×{width + left + right}"
        if top + bottom + left + right
        else ""
    )
    which = "the" if dots_every_window(geometry) else "the first row and column of the"
    return f"**Input** {height}×{width}{padded}; dots: {which} {out_h}×{out_w} window centres"


def window_centres(geometry: ops.ConvGeometry) -> tuple[list[float], list[float]]:
    """Centres of the windows the stride visits, in cells of the padded input (the padded
    input spans 0..n + p along each axis): rows, then columns; one per output cell."""
    half = geometry.effective_kernel / 2
    return tuple([start + half for start in ops.window_starts(geometry, axis)] for axis in (0, 1))


def _input_uri(pixels: np.ndarray) -> str:
    """An (H, W, C) image in [0, 1] as a PNG data URI: gray (one byte a pixel) when C is 1,
    area-averaged to at most :data:`MAX_INPUT_PX` a side."""
    pixels = np.asarray(pixels, dtype=np.float32)
    plane = pixels[..., 0] if pixels.shape[2] == 1 else pixels
    image = Image.fromarray(np.clip(np.round(plane * 255.0), 0, 255).astype(np.uint8))
    scale = MAX_INPUT_PX / max(image.size)
    if scale < 1:
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(size, Image.Resampling.BOX)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _svg(size: tuple[float, float], body: Sequence[str], label: str, max_width: int) -> str:
    width, height = size
    return (
        f'<svg class="conv-figure" viewBox="0 0 {width:.1f} {height:.1f}" width="100%" '
        f'role="img" aria-label="{html.escape(label, quote=True)}" '
        'xmlns="http://www.w3.org/2000/svg" '
        f'style="max-width:{max_width}px;height:auto;display:block">{"".join(body)}</svg>'
    )


def _image(uri: str, x: float, y: float, width: float, height: float) -> str:
    return (
        f'<image href="{uri}" x="{x:.2f}" y="{y:.2f}" width="{width:.2f}" '
        f'height="{height:.2f}" preserveAspectRatio="none" style="image-rendering:pixelated"/>'
    )


def padded_input_svg(pixels: np.ndarray, geometry: ops.ConvGeometry, *, max_width: int = 290):
    """The input inside its zero-padding ring (:data:`PADDING_FILL`), a dot at the centre
    of each window the stride visits (see :data:`MAX_DOTS`), the first window outlined and
    the next one along the row dashed (the stride is the step between them).

    Args:
        pixels: the (H, W, C) input in [0, 1], H × W = ``geometry.input_hw``.
        geometry: the convolution's shape.
        max_width: the most CSS pixels the drawing may take.
    """
    (top, bottom), (left, right) = geometry.padding
    height, width = geometry.input_hw
    rows, cols = height + top + bottom, width + left + right
    cell = 400.0 / max(rows, cols)
    size = (cols * cell, rows * cell)
    body = []
    if top + bottom + left + right:
        body.append(
            f'<rect class="padding" width="{size[0]:.2f}" height="{size[1]:.2f}" '
            f'fill="{PADDING_FILL}"/>'
        )
    body.append(_image(_input_uri(pixels), left * cell, top * cell, width * cell, height * cell))
    if max(rows, cols) <= GRID_LINES_UP_TO:
        lines = [f"M{c * cell:.2f} 0V{size[1]:.2f}" for c in range(1, cols)]
        lines += [f"M0 {r * cell:.2f}H{size[0]:.2f}" for r in range(1, rows)]
        body.append(
            f'<path d="{"".join(lines)}" stroke="#888" stroke-width="0.6" '
            'stroke-opacity="0.6" fill="none"/>'
        )
    span = geometry.effective_kernel * cell
    starts = (ops.window_starts(geometry, 0), ops.window_starts(geometry, 1))
    body.append(
        f'<rect class="window" x="0" y="0" width="{span:.2f}" height="{span:.2f}" '
        f'fill="none" stroke="{WINDOW_COLOUR}" stroke-width="3"/>'
    )
    if len(starts[1]) > 1:
        body.append(
            f'<rect class="window next" x="{starts[1][1] * cell:.2f}" y="0" width="{span:.2f}" '
            f'height="{span:.2f}" fill="none" stroke="{WINDOW_COLOUR}" stroke-width="2" '
            'stroke-dasharray="6 4"/>'
        )
    centre_rows, centre_cols = window_centres(geometry)
    if dots_every_window(geometry):
        points = [(r, c) for r in centre_rows for c in centre_cols]
    else:
        points = [(centre_rows[0], c) for c in centre_cols]
        points += [(r, centre_cols[0]) for r in centre_rows[1:]]
    radius = max(1.5, min(0.3 * cell * geometry.stride, 0.45 * cell, 6.0))
    body.append(f'<g class="window-centres" fill="{WINDOW_COLOUR}">')
    body.extend(
        f'<circle cx="{c * cell:.2f}" cy="{r * cell:.2f}" r="{radius:.2f}"/>' for r, c in points
    )
    body.append("</g>")
    label = (
        f"The {height}×{width} input, padded to {rows}×{cols}, with the centres of the "
        f"{len(centre_rows)}×{len(centre_cols)} windows the stride visits"
    )
    return _svg(size, body, label, max_width)


def value_label(value: float) -> str:
    """A colour-bar number: three significant digits, a true minus sign, no "-0"."""
    return f"{float(value) + 0.0:.3g}".replace("-", "−")


def signed_limits(values: np.ndarray) -> tuple[float, float]:
    """Colour limits symmetric about zero, ±max|value| (±1 for an all-zero map), as
    :data:`~explorer.figures.DIVERGING` maps are coloured: zero is white."""
    peak = float(np.max(np.abs(values))) if np.size(values) else 0.0
    return (-peak, peak) if peak > 0 else (-1.0, 1.0)


def map_ticks(values: np.ndarray) -> tuple[tuple[float, str], ...]:
    """The colour bar's labels for one map, (value, text): its largest and smallest value,
    then zero when the map has values on both sides of it (the first to give way when
    labels crowd, see :func:`picture_with_colour_bar_svg`)."""
    low, high = float(np.min(values)), float(np.max(values))
    ticks = [(high, value_label(high))]
    if low != high:
        ticks.append((low, value_label(low)))
    if low < 0 < high:
        ticks.append((0.0, "0"))
    return tuple(ticks)


GRID_TICKS = ((1.0, "+max"), (-1.0, "−max"), (0.0, "0"))
"""The colour bar's labels for a grid of maps, each divided by its own largest |value|:
"+max" is that largest value of each map, "−max" its negative."""


def _label_position(y: float, placed: Sequence[float], height: float) -> float:
    """Where a label for a tick at ``y`` goes: at ``y``, or a line below (above, at the
    bottom edge or when its tick is higher) the label it would overlap."""
    clash = next((other for other in placed if abs(y - other) < _LABEL_FONT), None)
    if clash is None:
        return y
    below = clash + _LABEL_FONT
    return below if y >= clash and below <= height - _LABEL_FONT / 2 else clash - _LABEL_FONT


def colour_bar_svg(
    height: int,
    limits: tuple[float, float],
    ticks: Sequence[tuple[float, str]],
    *,
    colorscale: str,
    label: str,
) -> str:
    """A vertical colour bar ``height`` CSS pixels tall, to stand beside a picture of the
    same height (it shrinks as a whole in a narrower column): ``colorscale`` from
    ``limits[0]`` (bottom) to ``limits[1]`` (top), a labelled tick at each ``(value, text)``
    of ``ticks``. The first two labels are always
    shown (the second moved a line away from the first if they would overlap); a later one
    that would overlap a label already placed is left out."""
    low, high = limits
    bar_left, bar_top, bar_bottom = 6, _LABEL_FONT / 2, height - _LABEL_FONT / 2
    table = colour_table(colorscale)
    name = f"colour-bar-{''.join(ch for ch in colorscale if ch.isalnum())}"
    stops = "".join(
        f'<stop offset="{position:.3f}" stop-color="rgb{tuple(int(v) for v in table[index])}"/>'
        for position, index in (
            (step / (_GRADIENT_STOPS - 1), round(step * 255 / (_GRADIENT_STOPS - 1)))
            for step in range(_GRADIENT_STOPS)
        )
    )
    body = [
        f'<defs><linearGradient id="{name}" x1="0" y1="1" x2="0" y2="0">{stops}'
        "</linearGradient></defs>",
        f'<rect x="{bar_left}" y="{bar_top}" width="{_BAR_WIDTH}" '
        f'height="{bar_bottom - bar_top:.1f}" fill="url(#{name})" stroke="#999"/>',
    ]
    placed: list[float] = []
    for index, (value, text) in enumerate(ticks):
        y = bar_bottom - (value - low) / ((high - low) or 1.0) * (bar_bottom - bar_top)
        text_y = _label_position(y, placed, height) if index < 2 else y
        if any(abs(text_y - other) < _LABEL_FONT for other in placed):
            continue
        placed.append(text_y)
        body.append(
            f'<path d="M{bar_left} {y:.1f}H{bar_left + _BAR_WIDTH + 4}" stroke="#333"/>'
            f'<text class="colour-bar-label" x="{bar_left + _BAR_WIDTH + 8}" y="{text_y:.1f}" '
            f'dominant-baseline="middle" font-size="{_LABEL_FONT}" fill="#333">'
            f"{html.escape(text)}</text>"
        )
    longest = max((len(text) for _, text in ticks), default=1)
    width = round(bar_left + _BAR_WIDTH + 8 + longest * _LABEL_CHAR_PX + 4)
    return (
        f'<svg class="colour-bar" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-label="{html.escape(label, quote=True)}" '
        'xmlns="http://www.w3.org/2000/svg" style="display:block;max-width:100%;height:auto">'
        f"{''.join(body)}</svg>"
    )

"""Plotly figure builders: images, value grids, feature-map grids, curves.

Builders take NumPy arrays and return ``plotly.graph_objects.Figure``; they hold
no state and never import Streamlit. Images are (H, W) or (H, W, C) with row 0
at the top. Pictures too large to carry their numbers are better drawn as a plain
PNG than as a chart (about ten times faster to draw in the browser): the ``*_view``
builders return a :class:`Picture` for those and a figure for the rest.
"""

from __future__ import annotations

import base64
import functools
import html
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import plotly.colors
import plotly.graph_objects as go
from PIL import Image, ImageDraw, ImageFont

from explorer.images import divide_by_peak

MAX_GRID_CELLS = 250_000
"""Cells drawn in one feature-map grid; larger maps are shown downsampled (display only)."""

NUMBERS_ON_HOVER_CELLS = 64 * 64
"""Planes with at most this many cells reach the browser as numbers (exact value on hover);
larger ones as a colour-mapped PNG of a few KB (hover gives the position only), because
megabytes of float JSON made every control step take seconds to draw."""

DIVERGING = "RdBu_r"
"""Colour scale for signed values: blue negative, white zero, red positive."""

CHANNEL_SCALES = {
    "red": ((0.0, "rgb(0, 0, 0)"), (1.0, "rgb(255, 0, 0)")),
    "green": ((0.0, "rgb(0, 0, 0)"), (1.0, "rgb(0, 255, 0)")),
    "blue": ((0.0, "rgb(0, 0, 0)"), (1.0, "rgb(0, 0, 255)")),
}
"""Colour scales that show one RGB channel in its own colour."""

LINE_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd")
"""Distinct line colours that stay apart on a projector (theme colourways use close blues)."""

RATE_COLOURS = ("#2ca02c", "#1f77b4", "#d62728")
"""A small, a good and a too-large learning rate: the same colour in every chart of one
comparison, and each visible on the gray loss surface."""

FILM_FILTERS = 16
"""Filters shown per row of :func:`filter_film_figure` (more would make tiles too small)."""

_FONT = {"size": 15}


def _figure(
    traces: Sequence[go.BaseTraceType] | go.BaseTraceType,
    title: str,
    height: int,
    *,
    image_axes: bool = False,
    show_ticks: bool = False,
    xaxis: dict | None = None,
    yaxis: dict | None = None,
    **layout,
) -> go.Figure:
    """Build a figure with its whole layout in one go.

    Plotly validates every ``update_layout``/``update_xaxes`` call separately (about 5 ms for
    a figure's handful of calls, most of a control step's server time); a layout given to
    the constructor is validated once. ``image_axes`` gives square pixels with row 0 at the
    top; ``xaxis``/``yaxis`` add to (or override) the axis settings.
    """
    axis = {}
    if image_axes:
        axis = {"showticklabels": show_ticks, "showgrid": False, "zeroline": False}
        axis["constrain"] = "domain"
    image_y = {"autorange": "reversed", "scaleanchor": "x"} if image_axes else {}
    full_layout = {
        "title": {"text": title, "x": 0.0, "xanchor": "left"},
        "height": height,
        "margin": {"l": 10, "r": 10, "t": 40 if title else 10, "b": 10},
        "font": _FONT,
        "xaxis": {**axis, **(xaxis or {})},
        "yaxis": {**axis, **image_y, **(yaxis or {})},
        **layout,
    }
    return go.Figure(traces, layout=full_layout)


def colour_table(colorscale: str | tuple) -> np.ndarray:
    """The 256 colours of a plotly colour scale (a name, or ((position, "rgb(r, g, b)"), ...)),
    as uint8 (256, 3), sampled at 256 evenly spaced positions exactly as plotly interpolates."""
    return _colour_table(colorscale if isinstance(colorscale, str) else _frozen(colorscale))


def _frozen(colorscale: Sequence) -> tuple:
    return tuple((float(position), str(colour)) for position, colour in colorscale)


@functools.lru_cache(maxsize=32)
def _colour_table(colorscale: str | tuple) -> np.ndarray:
    scale = plotly.colors.get_colorscale(colorscale) if isinstance(colorscale, str) else colorscale
    samples = plotly.colors.sample_colorscale([list(stop) for stop in scale], 256)
    table = np.array([plotly.colors.unlabel_rgb(colour) for colour in samples], dtype=np.float64)
    table.setflags(write=False)
    return np.clip(np.round(table), 0, 255).astype(np.uint8)


GUTTER_INDEX = 255
"""Palette index of the white gaps (NaN) in an indexed image; colours use 0..254."""


def colour_indices(values: np.ndarray, value_range: tuple[float, float]) -> np.ndarray:
    """Quantise an (H, W) array to palette indices as a heatmap colours it: ``value_range``
    (low, high) maps to 0..254 (values outside are clipped) and NaN to :data:`GUTTER_INDEX`.

    Returns uint8 (H, W).
    """
    values = np.asarray(values, dtype=np.float32)
    low, high = value_range
    span = high - low
    position = (values - low) / span if span > 0 else np.full(values.shape, 0.5, np.float32)
    levels = GUTTER_INDEX - 1
    indices = np.clip(np.round(np.nan_to_num(position, nan=0.0) * levels), 0, levels)
    indices = indices.astype(np.uint8)
    indices[np.isnan(values)] = GUTTER_INDEX
    return indices


def colour_palette(
    colorscale: str | tuple, *, gutter: tuple[int, int, int] = (255, 255, 255)
) -> np.ndarray:
    """The palette for :func:`colour_indices`: 255 colours of the scale, then ``gutter`` (the
    colour of :data:`GUTTER_INDEX`: gaps and NaN, white unless given); uint8 (256, 3)."""
    table = colour_table(colorscale)
    positions = np.round(np.linspace(0, 255, GUTTER_INDEX)).astype(int)
    return np.concatenate([table[positions], np.array([gutter], np.uint8)])


def indexed_png_data_uri(
    values: np.ndarray, colorscale: str | tuple, value_range: tuple[float, float]
) -> str:
    """An (H, W) array as a palette PNG data URI: one byte per pixel, so a colour-mapped map
    is about a third of the size of the same image as RGB."""
    image = Image.fromarray(colour_indices(values, value_range), "L")
    image.putpalette(colour_palette(colorscale).ravel().tolist())  # becomes mode "P"
    return _data_uri(image)


def png_data_uri(rgb: np.ndarray) -> str:
    """A uint8 (H, W, 3) image as a ``data:image/png;base64,...`` URI for plotly's Image trace."""
    return _data_uri(Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8), "RGB"))


def _data_uri(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _png_trace(source: str, origin: tuple[int, int] = (0, 0), hover: bool = True) -> go.Image:
    """An Image trace drawing a PNG data URI, its pixel (0, 0) at ``origin`` (row, col)."""
    return go.Image(
        source=source,
        x0=origin[1],
        y0=origin[0],
        hovertemplate="row %{y}, col %{x}<extra></extra>" if hover else None,
        hoverinfo=None if hover else "skip",
    )


def _rgb_trace(rgb: np.ndarray, origin: tuple[int, int]) -> go.Image:
    """A small uint8 (H, W, 3) image sent as numbers, with each pixel's RGB on hover."""
    return go.Image(
        z=rgb,
        x0=origin[1],
        y0=origin[0],
        hovertemplate="row %{y}, col %{x}<br>RGB %{z}<extra></extra>",
    )


def _value_trace(
    plane: np.ndarray,
    origin: tuple[int, int],
    value_range: tuple[float, float] | None,
    colorscale: str | tuple,
    value_label: str,
) -> go.Heatmap:
    """A small (H, W) plane sent as numbers, with each exact value on hover."""
    zmin, zmax = value_range if value_range is not None else (None, None)
    return go.Heatmap(
        z=plane,
        x0=origin[1],
        y0=origin[0],
        colorscale=[list(stop) for stop in colorscale]
        if isinstance(colorscale, tuple)
        else colorscale,
        zmin=zmin,
        zmax=zmax,
        zmid=0.0 if colorscale == DIVERGING and value_range is None else None,
        showscale=False,
        hovertemplate=f"row %{{y}}, col %{{x}}<br>{value_label} %{{z:.3f}}<extra></extra>",
    )


def _data_range(plane: np.ndarray, colorscale: str | tuple) -> tuple[float, float]:
    """The colour limits plotly picks for a heatmap with no zmin/zmax (zmid 0 when diverging)."""
    if colorscale == DIVERGING:
        limit = float(np.nanmax(np.abs(plane))) if plane.size else 0.0
        return -limit, limit
    return float(np.nanmin(plane)), float(np.nanmax(plane))


def image_figure(
    image: np.ndarray,
    *,
    title: str = "",
    height: int = 420,
    value_range: tuple[float, float] | None = (0.0, 1.0),
    colorscale: str | tuple = "gray",
    value_label: str = "value",
    origin: tuple[int, int] = (0, 0),
) -> go.Figure:
    """Show an image; up to :data:`NUMBERS_ON_HOVER_CELLS` pixels, with its exact value under
    the mouse, larger as a colour-mapped PNG (hover gives row and column).

    Args:
        image: (H, W), (H, W, 1) or (H, W, 3). RGB must be in [0, 1].
        origin: (row, col) coordinate of the top-left pixel, for a crop shown
            in the coordinates of the full image.
        value_range: colour limits for one-channel images; None scales to the data.
        colorscale: for one-channel images, e.g. "gray" or :data:`DIVERGING`.
        value_label: name of the value in the hover text.
    """
    trace = _image_trace(image, value_range, colorscale, value_label, origin)
    return _figure(trace, title, height, image_axes=True)


def _image_trace(
    image: np.ndarray,
    value_range: tuple[float, float] | None = (0.0, 1.0),
    colorscale: str | tuple = "gray",
    value_label: str = "value",
    origin: tuple[int, int] = (0, 0),
) -> go.Image | go.Heatmap:
    """The trace of :func:`image_figure` (same arguments)."""
    image = np.asarray(image)
    large = image.shape[0] * image.shape[1] > NUMBERS_ON_HOVER_CELLS
    if image.ndim == 3 and image.shape[2] == 3:
        rgb = np.clip(np.round(image * 255.0), 0, 255).astype(np.uint8)
        return _png_trace(png_data_uri(rgb), origin) if large else _rgb_trace(rgb, origin)
    plane = image[..., 0] if image.ndim == 3 else image
    if large:
        limits = value_range or _data_range(plane, colorscale)
        return _png_trace(indexed_png_data_uri(plane, colorscale, limits), origin)
    return _value_trace(plane, origin, value_range, colorscale, value_label)


@dataclass(frozen=True)
class Picture:
    """A picture for a plain ``<img>``: a PNG, its title, and its size on screen in CSS
    pixels (at most; a narrower column shrinks it)."""

    png: bytes
    title: str
    width: int
    height: int


def carries_numbers(shape: Sequence[int]) -> bool:
    """Whether an (H, W, ...) picture is small enough to send its values (hover shows them)."""
    return shape[0] * shape[1] <= NUMBERS_ON_HOVER_CELLS


def _png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def _coloured_image(
    image: np.ndarray, value_range: tuple[float, float] | None, colorscale: str | tuple
) -> Image.Image:
    """An (H, W), (H, W, 1) or RGB (H, W, 3) array in [0, 1] as a PIL image, one-channel
    planes colour-mapped as :func:`image_figure` colours them."""
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[2] == 3:
        rgb = np.clip(np.round(image * 255.0), 0, 255).astype(np.uint8)
        return Image.fromarray(np.ascontiguousarray(rgb), "RGB")
    plane = image[..., 0] if image.ndim == 3 else image
    indexed = Image.fromarray(
        colour_indices(plane, value_range or _data_range(plane, colorscale)), "L"
    )
    indexed.putpalette(colour_palette(colorscale).ravel().tolist())
    return indexed


def image_view(
    image: np.ndarray,
    *,
    title: str = "",
    height: int = 420,
    value_range: tuple[float, float] | None = (0.0, 1.0),
    colorscale: str | tuple = "gray",
    value_label: str = "value",
    window: tuple[int, int, int] | None = None,
    dilation: int = 1,
    hover: bool = True,
) -> go.Figure | Picture:
    """:func:`image_figure` for a picture that carries its numbers (:func:`carries_numbers`)
    unless ``hover`` is False (an illustration whose values the lesson does not need, or
    prints elsewhere), else a :class:`Picture` of the same colours, ``height`` CSS pixels
    tall. The PNG is enlarged by the largest whole factor that keeps it within that size
    (and 1024 px), so that pixels stay sharp squares and the browser scales it by less than
    2×; larger, it would be scaled down again by ``st.image`` (bilinear, and re-encoded).

    ``window`` (row, col, size) outlines the size×size taps of a kernel whose top-left tap
    is pixel (row, col), taps ``dilation`` pixels apart, in red: :func:`outline_window` on
    a chart; on a picture, a frame just outside the window's pixels (a quarter of a pixel
    wide but at least 3 screen pixels, or a whole pixel if that is less; a one-pixel line
    on the window's edge where it meets the picture's edge) and, when dilated, one around
    each tap."""
    if hover and carries_numbers(image.shape):
        figure = image_figure(
            image,
            title=title,
            height=height,
            value_range=value_range,
            colorscale=colorscale,
            value_label=value_label,
        )
        if window is not None:
            outline_window(figure, *window, dilation=dilation)
        return figure
    coloured = _coloured_image(image, value_range, colorscale)
    factor = max(1, min(height // coloured.height, _MAX_PICTURE_PX // max(coloured.size)))
    enlarged = coloured.resize(
        (coloured.width * factor, coloured.height * factor), Image.Resampling.NEAREST
    )
    if window is not None:
        _draw_window(enlarged, window, dilation, factor, colorscale)
    return _picture(enlarged, title, height)


def _draw_window(
    picture: Image.Image,
    window: tuple[int, int, int],
    dilation: int,
    factor: int,
    colorscale: str | tuple,
) -> None:
    """Frame, in place, the window of :func:`image_view` on a picture enlarged ``factor``
    times: the frame lies in the pixels around the window; where the window meets the
    picture's edge, a one-pixel line on the window's own edge pixels marks that side."""
    row, col, size = window
    outline = _OUTLINE_RGB
    if picture.mode == "P":  # a plane has no gaps: its white gap colour becomes red
        picture.putpalette(colour_palette(colorscale, gutter=_OUTLINE_RGB).ravel().tolist())
        outline = GUTTER_INDEX
    draw = ImageDraw.Draw(picture)
    width = min(factor, max(3, math.ceil(factor / 4)))  # visible when the browser shrinks it
    span = dilation * (size - 1) + 1

    def bands(start: int, end: int, line: int, limit: int) -> tuple[tuple[int, int], ...]:
        """The frame's two bands along one axis around pixels start..end: ``line`` pixels
        outside each side, or the one pixel inside where that side meets the edge."""
        before = (max(0, start - line), start - 1) if start > 0 else (0, 0)
        after = (end + 1, min(limit, end + line)) if end < limit else (limit, limit)
        return before, after

    def frame(top: int, left: int, cells: int, line: int) -> None:
        rows = bands(top * factor, (top + cells) * factor - 1, line, picture.height - 1)
        cols = bands(left * factor, (left + cells) * factor - 1, line, picture.width - 1)
        outer_rows, outer_cols = (rows[0][0], rows[1][1]), (cols[0][0], cols[1][1])
        for first, last in rows:
            draw.rectangle((outer_cols[0], first, outer_cols[1], last), fill=outline)
        for first, last in cols:
            draw.rectangle((first, outer_rows[0], last, outer_rows[1]), fill=outline)

    frame(row, col, span, width)
    if dilation > 1:
        for tap_row in range(row, row + span, dilation):
            for tap_col in range(col, col + span, dilation):
                frame(tap_row, tap_col, 1, max(1, width // 2))


def _picture(image: Image.Image, title: str, height: int) -> Picture:
    """``image`` as a :class:`Picture` ``height`` CSS pixels tall, or at its own size if
    that is larger (``st.image`` would shrink a PNG wider than its width, and re-encode)."""
    width = round(height * image.width / image.height)
    if width < image.width:
        width, height = image.width, image.height
    return Picture(_png_bytes(image), title, width, height)


_MAX_PICTURE_PX = 1024
_OUTLINE_RGB = (214, 39, 40)
_LABEL_FONT_PX = 13
_LABEL_STRIP_PX = 17  # a 13-px name drawn from the strip's top (anchor "ma") ends at 16 px
_MIN_TILE_PX = 56


def map_grid_view(
    maps: np.ndarray,
    names: Sequence[str],
    *,
    title: str = "",
    columns: int | None = None,
    colorscale: str = DIVERGING,
    scaling: str = "symmetric",
    height: int | None = None,
    hover: bool = True,
) -> go.Figure | Picture:
    """:func:`map_grid_figure` for a mosaic that carries its numbers (unless ``hover`` is
    False: the values print elsewhere), else a :class:`Picture` of the same mosaic,
    ``height`` CSS pixels tall (460 by default), with each map's name in a white strip
    above it in the scale's darkest colour. Tiles under
    56 px are enlarged by a whole factor first so that their names fit; larger ones are
    sent at their own size (bytes matter more: the browser scales them smoothly)."""
    count, (height_in, width_in) = maps.shape[2], maps.shape[:2]
    columns = columns or mosaic_columns(count, height_in / width_in)
    display, _, (tile_h, tile_w) = tile_maps(np.asarray(maps), columns, scaling=scaling)
    if hover and carries_numbers(display.shape):
        return map_grid_figure(
            maps,
            names,
            title=title,
            columns=columns,
            colorscale=colorscale,
            scaling=scaling,
            height=height,
        )
    limits = _mosaic_limits(display, colorscale, scaling)
    rows = math.ceil(count / columns)
    factor = max(1, math.ceil(_MIN_TILE_PX / min(tile_h, tile_w)))
    mosaic = _coloured_image(display, limits, colorscale)  # palette image: 1 byte a pixel
    mosaic = mosaic.resize(
        (mosaic.width * factor, mosaic.height * factor), Image.Resampling.NEAREST
    )
    step_h, step_w = (tile_h + 1) * factor, (tile_w + 1) * factor
    canvas = Image.new("P", (mosaic.width, mosaic.height + rows * _LABEL_STRIP_PX), GUTTER_INDEX)
    canvas.putpalette(mosaic.getpalette())
    for row in range(rows):
        band = mosaic.crop((0, row * step_h, mosaic.width, min(mosaic.height, (row + 1) * step_h)))
        canvas.paste(band, (0, row * (step_h + _LABEL_STRIP_PX) + _LABEL_STRIP_PX))
    palette = colour_palette(colorscale)
    darkest = int(np.argmin(palette[:GUTTER_INDEX].astype(int).sum(axis=1)))
    draw, font = ImageDraw.Draw(canvas), ImageFont.load_default(size=_LABEL_FONT_PX)
    for index, name in enumerate(names):
        row, col = divmod(index, columns)
        centre = (col * step_w + tile_w * factor / 2, row * (step_h + _LABEL_STRIP_PX))
        draw.text(centre, name, fill=darkest, font=font, anchor="ma")
    return _picture(canvas, title, height or 460)


def outline_window(
    fig: go.Figure,
    row0: int,
    col0: int,
    size: int,
    *,
    dilation: int = 1,
    colour: str = "#d62728",
) -> go.Figure:
    """Draw the input cells a k×k (dilated) kernel covers, with its bounding box.

    ``row0``/``col0`` is the top-left tap; taps lie ``dilation`` pixels apart.
    Coordinates may be negative (the window reaches into the padding).
    """
    span = dilation * (size - 1) + 1
    fig.add_shape(
        type="rect",
        x0=col0 - 0.5,
        x1=col0 + span - 0.5,
        y0=row0 - 0.5,
        y1=row0 + span - 0.5,
        line={"color": colour, "width": 3},
    )
    if dilation > 1:
        taps = np.arange(size) * dilation
        cols, rows = np.meshgrid(col0 + taps, row0 + taps)
        fig.add_trace(
            go.Scatter(
                x=cols.ravel(),
                y=rows.ravel(),
                mode="markers",
                marker={"color": colour, "size": 7, "symbol": "square-open"},
                hoverinfo="skip",
                showlegend=False,
            )
        )
    return fig


def value_table_html(
    values: np.ndarray,
    *,
    title: str = "",
    decimals: int = 2,
    colorscale: str | tuple = DIVERGING,
    value_range: tuple[float, float] | None = None,
    row_names: Sequence[str] | None = None,
    column_names: Sequence[str] | None = None,
    font_px: int = 15,
) -> str:
    """A small (h, w) array as an HTML table of coloured cells with each number printed.

    Used for zoomed pixel patches, kernels, element-wise products and pooling windows: a
    table is built in microseconds and drawn at once, where a plotly heatmap cost about
    10 ms to build and more to draw, and a sliding-window step drew nine of them.

    Args:
        values: (h, w) numbers.
        value_range: (low, high) mapped to the ends of ``colorscale``; None means symmetric
            about zero, ±max|value| (so 0 is the middle colour, white on :data:`DIVERGING`).
        row_names, column_names: headers (escaped) instead of the row and column numbers.
        font_px: the numbers' size in CSS pixels (headers are a fifth smaller).

    Returns:
        An HTML fragment: a ``<table>`` with a caption, row and column headers.
    """
    values = np.asarray(values, dtype=np.float64)
    limit = float(np.max(np.abs(values))) if values.size else 0.0
    low, high = value_range if value_range is not None else (-(limit or 1.0), limit or 1.0)
    colours = colour_palette(colorscale)[colour_indices(values, (low, high))]
    light_text = colours.astype(np.float64) @ np.array([0.299, 0.587, 0.114]) < 140
    cell = "padding:0.25em 0.45em;text-align:right;font-variant-numeric:tabular-nums;"
    head = "padding:0 0.4em;color:#888;font-size:0.8em;text-align:center;"
    row_names = [str(r) for r in range(values.shape[0])] if row_names is None else row_names
    if column_names is None:
        column_names = [str(c) for c in range(values.shape[1])]
    rows = [
        "<tr><th></th>"
        + "".join(f'<th style="{head}">{html.escape(name)}</th>' for name in column_names)
        + "</tr>"
    ]
    for r, row in enumerate(values):
        cells = "".join(
            f'<td style="{cell}background:rgb{tuple(int(v) for v in colours[r, c])};'
            f'color:{"#fff" if light_text[r, c] else "#000"}">{value:.{decimals}f}</td>'
            for c, value in enumerate(row)
        )
        rows.append(f'<tr><th style="{head}">{html.escape(row_names[r])}</th>{cells}</tr>')
    caption_style = "caption-side:top;text-align:left;font-weight:600;white-space:nowrap"
    caption = f'<caption style="{caption_style}">{html.escape(title)}</caption>'
    return (
        f'<table style="border-collapse:collapse;font-size:{font_px}px;margin-bottom:0.8em">'
        + caption
        + "".join(rows)
        + "</table>"
    )


def bar_table_html(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    title: str = "",
    maximum: float = 1.0,
    decimals: int = 3,
) -> str:
    """Named numbers as an HTML table, each with its value printed and a horizontal bar
    whose length is value / ``maximum`` of the column (clipped to 0–100%).

    Used where a short list of numbers changes with every control step (Lab 3's relative
    changes): a table is drawn at once, where ``st.dataframe`` added about 60 ms per step.

    Args:
        labels: one name per row (escaped).
        values: one number per row, same length as ``labels``; non-finite values print as
            "—" with no bar.
    """
    cell = "padding:0.2em 0.5em;font-variant-numeric:tabular-nums;"
    rows = []
    for label, value in zip(labels, values, strict=True):
        finite = math.isfinite(value)
        share = min(max(value / maximum, 0.0), 1.0) if finite and maximum > 0 else 0.0
        bar = (
            f'<div style="width:{share:.1%};height:0.8em;background:{LINE_COLOURS[0]};'
            'border-radius:2px"></div>'
        )
        text = f"{value:.{decimals}f}" if finite else "—"
        rows.append(
            f'<tr><td style="{cell}">{html.escape(label)}</td>'
            f'<td style="{cell}text-align:right">{text}</td>'
            f'<td style="{cell}width:40%">{bar}</td></tr>'
        )
    caption_style = "caption-side:top;text-align:left;font-weight:600"
    return (
        '<table style="border-collapse:collapse;font-size:15px;width:100%">'
        f'<caption style="{caption_style}">{html.escape(title)}</caption>'
        + "".join(rows)
        + "</table>"
    )


def _downsample(plane: np.ndarray, side: int) -> np.ndarray:
    """Area-average an (H, W) map so its longer side is at most ``side`` (display only)."""
    height, width = plane.shape
    if max(height, width) <= side:
        return plane
    scale = side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resized = Image.fromarray(plane.astype(np.float32), mode="F").resize(size, Image.Resampling.BOX)
    return np.asarray(resized)


def _scale_tile(tile: np.ndarray, scaling: str) -> np.ndarray:
    if scaling == "symmetric":
        return divide_by_peak(tile)
    if scaling == "minmax":
        low, high = float(tile.min()), float(tile.max())
        return (tile - low) / (high - low) if high > low else np.full_like(tile, 0.5)
    return tile


def tile_maps(
    maps: np.ndarray, columns: int, *, scaling: str = "symmetric", max_cells: int = MAX_GRID_CELLS
) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """Arrange F maps (H, W, F) into one mosaic separated by NaN gutters.

    Args:
        maps: (H, W, F) feature maps.
        columns: tiles per row.
        scaling: per-map display scaling so weak and strong maps are equally
            visible: "symmetric" divides by the largest |value| (0 stays 0,
            range [-1, 1]), "minmax" stretches to [0, 1], "none" keeps raw
            values. Raw values are returned alongside.
        max_cells: maps are area-downsampled so the mosaic has about this many cells.

    Returns:
        (display, raw, tile_hw): two (rows*(h+1)-1, columns*(w+1)-1) mosaics
        (scaled and raw values) and the (h, w) size of one displayed tile.
    """
    count = maps.shape[2]
    side = max(8, int(math.sqrt(max_cells / count)))
    tiles = [_downsample(maps[..., i], side) for i in range(count)]
    tile_h, tile_w = tiles[0].shape
    rows = math.ceil(count / columns)
    shape = (rows * (tile_h + 1) - 1, columns * (tile_w + 1) - 1)
    display, raw = np.full(shape, np.nan), np.full(shape, np.nan)
    for index, tile in enumerate(tiles):
        row, col = divmod(index, columns)
        window = (
            slice(row * (tile_h + 1), row * (tile_h + 1) + tile_h),
            slice(col * (tile_w + 1), col * (tile_w + 1) + tile_w),
        )
        raw[window] = tile
        display[window] = _scale_tile(tile, scaling)
    return display, raw, (tile_h, tile_w)


def map_grid_figure(
    maps: np.ndarray,
    names: Sequence[str],
    *,
    title: str = "",
    columns: int | None = None,
    colorscale: str = DIVERGING,
    scaling: str = "symmetric",
    height: int | None = None,
) -> go.Figure:
    """Many feature maps as one figure (one image, not dozens of charts).

    Each map is labelled with its name. A mosaic of at most :data:`NUMBERS_ON_HOVER_CELLS`
    cells is a heatmap whose hover shows the raw value and the map it belongs to; a larger
    one is a colour-mapped PNG (a few KB instead of megabytes of numbers).

    Args:
        maps: (H, W, F) maps.
        names: F labels.
        scaling: per-map display scaling, see :func:`tile_maps` (the hover
            always shows raw values).
    """
    count, (height_in, width_in) = maps.shape[2], maps.shape[:2]
    columns = columns or mosaic_columns(count, height_in / width_in)
    display, raw, (tile_h, tile_w) = tile_maps(np.asarray(maps), columns, scaling=scaling)
    limits = _mosaic_limits(display, colorscale, scaling)
    if display.size > NUMBERS_ON_HOVER_CELLS:
        trace = _png_trace(indexed_png_data_uri(display, colorscale, limits), hover=False)
    else:
        text = _tile_text(display.shape, names, columns, (tile_h, tile_w))
        trace = _mosaic_heatmap(display, raw, text, colorscale, *limits)
    corners = [divmod(index, columns) for index in range(len(names))]
    labels = _labels(
        names,
        [col * (tile_w + 1) + tile_w / 2 - 0.5 for _, col in corners],
        [row * (tile_h + 1) - 0.5 for row, _ in corners],
        12,
    )
    return _figure(
        trace, title, height or 460, image_axes=True, plot_bgcolor="white", annotations=labels
    )


def _mosaic_heatmap(
    display: np.ndarray,
    raw: np.ndarray,
    text: np.ndarray,
    colorscale: str | list,
    zmin: float | None,
    zmax: float | None,
    colorbar: dict | None = None,
) -> go.Heatmap:
    """A tiled mosaic's heatmap: colours from ``display``, hover shows the tile name and raw value.

    ``display``, ``raw`` and ``text`` share one (rows, columns) shape, NaN in the gaps
    between tiles; numbers are sent as float32. A ``colorbar`` is shown when given.
    """
    return go.Heatmap(
        z=display.astype(np.float32),
        customdata=raw.astype(np.float32),
        text=text,
        colorscale=colorscale,
        zmin=zmin,
        zmax=zmax,
        showscale=colorbar is not None,
        colorbar=colorbar,
        hoverongaps=False,
        hovertemplate="%{text}<br>value %{customdata:.3f}<extra></extra>",
    )


def _tile_text(
    shape: tuple[int, int], names: Sequence[str], columns: int, tile_hw: tuple[int, int]
) -> np.ndarray:
    """Per-cell hover names of a mosaic from :func:`tile_maps`: tile ``i`` (row-major over
    ``columns`` tiles of ``tile_hw`` with 1-px gutters) gets ``names[i]``, gutters "".

    Returns an object array of ``shape``.
    """
    tile_h, tile_w = tile_hw
    text = np.full(shape, "", dtype=object)
    for index, name in enumerate(names):
        row, col = divmod(index, columns)
        top, left = row * (tile_h + 1), col * (tile_w + 1)
        text[top : top + tile_h, left : left + tile_w] = name
    return text


def _labels(
    texts: Sequence[str], xs: Sequence[float], ys: Sequence[float], size: int
) -> list[dict]:
    """Text labels sitting on top of (x, y), set in one go: adding annotations one at a
    time revalidates all earlier ones each time (quadratic; seconds for a few hundred)."""
    style = {"showarrow": False, "yanchor": "bottom", "font": {"size": size}}
    return [
        {"x": x, "y": y, "text": text, **style} for text, x, y in zip(texts, xs, ys, strict=True)
    ]


def _mosaic_limits(display: np.ndarray, colorscale: str, scaling: str) -> tuple[float, float]:
    """Colour limits of a mosaic from :func:`tile_maps`: [floor, 1] for symmetric scaling
    (see :func:`_symmetric_floor`), else the data's range."""
    if scaling == "symmetric":
        return _symmetric_floor(display, colorscale), 1.0
    return _data_range(display, colorscale)


def _symmetric_floor(display: np.ndarray, colorscale: str) -> float:
    """-1 for signed maps or a diverging scale (0 stays white); 0 for non-negative maps."""
    return -1.0 if colorscale == DIVERGING or np.nanmin(display) < 0 else 0.0


def mosaic_columns(count: int, aspect: float) -> int:
    """Columns that make a mosaic of ``count`` tiles of height/width ``aspect`` roughly square."""
    return max(1, min(count, round(math.sqrt(count * aspect))))


def flattened_view(image: np.ndarray, *, max_length: int = 1024, height: int = 48) -> Picture:
    """The image unrolled row by row into one long vector, drawn as a gray strip ``height``
    pixels tall, entry 0 at the left (values 0–1 from black to white).

    A vector longer than ``max_length`` is shown in chunks of k consecutive entries, each
    drawn as their mean (display only); the title says so.
    """
    vector = np.asarray(image, dtype=np.float32).ravel()
    step = max(1, math.ceil(vector.size / max_length))
    means = vector[: vector.size // step * step].reshape(-1, step).mean(axis=1)
    strip = _coloured_image(np.repeat(means[None, :], height, axis=0), (0.0, 1.0), "gray")
    chunks = f"; each column is the mean of {step} entries" if step > 1 else ""
    title = f"Entries 0 to {vector.size - 1:,}, left to right{chunks}"
    return Picture(_png_bytes(strip), title, strip.width, height)


def _finite_or_gap(values: Sequence[float | None]) -> list[float | None]:
    """Plain floats, with None (a gap in a line) for missing, NaN and infinite values."""
    return [
        float(value) if value is not None and math.isfinite(float(value)) else None
        for value in values
    ]


def line_figure(
    x: Sequence[float],
    series: Mapping[str, Sequence[float | None]],
    *,
    title: str = "",
    x_title: str = "",
    y_title: str = "",
    height: int = 340,
    log_x: bool = False,
    log_y: bool = False,
    colours: Sequence[str] = LINE_COLOURS,
) -> go.Figure:
    """Lines with markers, one per named series, sharing the x values; missing, NaN and
    infinite values leave gaps. ``log_x``/``log_y`` put an axis on a log scale. Up to
    ``len(colours)`` lines get those colours, in order."""
    distinct = len(series) <= len(colours)
    traces = [
        go.Scatter(
            x=list(x),
            y=_finite_or_gap(values),
            name=name,
            mode="lines+markers",
            line={"color": colours[index]} if distinct else None,
        )
        for index, (name, values) in enumerate(series.items())
    ]
    return _figure(
        traces,
        title,
        height,
        xaxis={"title": x_title, "type": "log" if log_x else "linear"},
        yaxis={"title": y_title, "type": "log" if log_y else "linear"},
        legend={"orientation": "h", "y": -0.25},
    )


def mark_epoch(fig: go.Figure, epoch: int, text: str) -> go.Figure:
    """A dotted vertical line at ``epoch`` with ``text`` on top (e.g. the best epoch)."""
    fig.add_vline(
        x=epoch,
        line={"dash": "dot", "color": "gray", "width": 2},
        annotation_text=text,
        annotation_position="top",
    )
    return fig


def counts_figure(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    title: str = "",
    percent: bool = False,
    height: int = 340,
    value_format: str = ",.0f",
) -> go.Figure:
    """Vertical bars, one per label, with each value printed (as a percentage on a 0–110%
    axis if ``percent``, else with the Python format ``value_format``)."""
    values = [float(v) for v in values]
    text = [f"{v:.1%}" if percent else f"{v:{value_format}}" for v in values]
    bars = go.Bar(x=list(labels), y=values, text=text, textposition="outside")
    yaxis = {"range": [0, 1.1], "tickformat": ".0%"} if percent else {}
    return _figure(bars, title, height, xaxis={"type": "category"}, yaxis=yaxis)


def confusion_figure(
    matrix: np.ndarray, class_names: Sequence[str], *, title: str = "Confusion matrix"
) -> go.Figure:
    """Counts of (true class, predicted class) with each count printed; the diagonal is correct."""
    names = list(class_names)
    cells = go.Heatmap(
        z=matrix,
        x=names,
        y=names,
        colorscale="Blues",
        showscale=False,
        texttemplate="%{z}",
        hovertemplate="true %{y}, predicted %{x}: %{z}<extra></extra>",
    )
    return _figure(
        cells,
        title,
        max(360, 40 * len(names) + 120),
        xaxis={"title": "predicted class", "type": "category", "side": "bottom"},
        yaxis={"title": "true class", "type": "category", "autorange": "reversed"},
    )


def image_gallery_figure(
    images: np.ndarray, captions: Sequence[str], *, title: str = "", columns: int = 8
) -> go.Figure:
    """A grid of small uint8 or [0, 1] images (N, H, W, 1 or 3) with a caption above each."""
    images = np.asarray(images, dtype=np.float32)
    if images.max(initial=0) > 1.0:
        images = images / 255.0
    count = len(images)
    columns = min(columns, count) or 1
    rows = math.ceil(count / columns)
    height, width, channels = images.shape[1:]
    gap = max(2, height // 3)
    canvas = np.ones(((height + gap) * rows, (width + 2) * columns, 3), np.float32)
    for index, picture in enumerate(images):
        row, col = divmod(index, columns)
        top, left = row * (height + gap) + gap, col * (width + 2)
        canvas[top : top + height, left : left + width] = (
            picture if channels == 3 else np.repeat(picture, 3, axis=-1)
        )
    corners = [divmod(index, columns) for index in range(len(captions))]
    labels = _labels(
        captions,
        [col * (width + 2) + width / 2 for _, col in corners],
        [row * (height + gap) + gap - 0.5 for row, _ in corners],
        11,
    )
    return _figure(
        _image_trace(canvas),
        title,
        90 + rows * 110,
        image_axes=True,
        margin={"l": 10, "r": 10, "t": 60, "b": 10},
        annotations=labels,
    )


def overlay_figure(
    image: np.ndarray,
    heat: np.ndarray,
    *,
    title: str = "",
    height: int = 360,
    colorscale: str = "Hot",
    signed: bool = False,
) -> go.Figure:
    """A grayscale picture (H, W[, C]) with a half-transparent heat map (H, W) on top.

    ``signed`` uses a diverging scale centred on zero (e.g. occlusion: evidence
    for the class in red, against it in blue).
    """
    gray = np.asarray(image, dtype=np.float32)
    gray = gray.mean(axis=-1) if gray.ndim == 3 else gray
    limit = float(np.max(np.abs(heat))) or 1.0
    heat_trace = go.Heatmap(
        z=heat,
        colorscale=DIVERGING if signed else colorscale,
        zmin=-limit if signed else 0.0,
        zmax=limit,
        opacity=0.55,
        showscale=True,
        colorbar={"thickness": 12},
        hovertemplate="row %{y}, col %{x}<br>%{z:.3f}<extra></extra>",
    )
    return _figure([_image_trace(gray), heat_trace], title, height, image_axes=True)


def _film_axes(size: int, rows: Sequence[str], filters: int) -> dict:
    """Tick labels of a film strip of k × k tiles with one-pixel gutters: filter numbers
    along x, the row names (epochs) along y."""
    centres = [index * (size + 1) + (size - 1) / 2 for index in range(max(len(rows), filters))]
    return {
        "xaxis": {
            "showticklabels": True,
            "tickvals": centres[:filters],
            "ticktext": [str(index + 1) for index in range(filters)],
            "title": "filter",
        },
        "yaxis": {"showticklabels": True, "tickvals": centres[: len(rows)], "ticktext": rows},
    }


def _film_height(rows: int, filters: int) -> int:
    """Pixels for a film strip of ``rows`` rows of ``filters`` tiles at full page width."""
    return 110 + min(56, 900 // filters) * rows


def _film_tiles(frames: Sequence[np.ndarray], max_filters: int) -> list[np.ndarray]:
    """The (k, k, F') planes a grey film strip draws: each frame's channel mean, first
    ``max_filters`` filters."""
    return [np.asarray(frame, np.float32).mean(axis=2)[..., :max_filters] for frame in frames]


def film_limit(
    frames: Sequence[np.ndarray], *, colour: bool, max_filters: int = FILM_FILTERS
) -> float:
    """The largest |value| a film strip of ``frames`` (R arrays (k, k, C, F)) draws, the ends
    of its one colour scale: over every weight for a colour film (one scale for all filters,
    :func:`explorer.explain.film_as_rgb`), else over the tiles of :func:`filter_film_figure`.
    """
    drawn = [np.asarray(frame) for frame in frames] if colour else _film_tiles(frames, max_filters)
    return float(max(np.max(np.abs(plane)) for plane in drawn))


def filter_film_figure(
    frames: Sequence[np.ndarray],
    row_names: Sequence[str],
    *,
    title: str = "First-layer filters over training",
    max_filters: int = FILM_FILTERS,
    limit: float | None = None,
) -> go.Figure:
    """A film strip of first-layer kernels: one row per frame (epoch), one column per filter.

    Args:
        frames: R arrays (k, k, C, F), e.g. from :func:`explorer.explain.filter_film`;
            channels are averaged.
        row_names: R labels, e.g. "init", "epoch 1 · moved 4%".
        max_filters: show only the first this many filters.
        limit: draw every tile on one colour scale from −limit (blue) to limit (red),
            with a colour bar, e.g. :func:`film_limit`; None scales each tile by its own
            largest |value| (range [−1, 1]).

    Returns:
        One heatmap of R × min(F, max_filters) tiles of k × k, separated by NaN
        gutters: z has shape (R·(k+1)−1, F·(k+1)−1); 0 stays white and hovering shows
        the raw value.
    """
    tiles = _film_tiles(frames, max_filters)
    size, filters = tiles[0].shape[0], tiles[0].shape[-1]
    scaling = "symmetric" if limit is None else "none"
    display, raw, _ = tile_maps(np.concatenate(tiles, axis=-1), filters, scaling=scaling)
    tile_names = [f"{name}, filter {col + 1}" for name in row_names for col in range(filters)]
    text = _tile_text(display.shape, tile_names, filters, (size, size))
    ends = 1.0 if limit is None else (limit or 1.0)
    colorbar = None
    if limit is not None:
        colorbar = {
            "thickness": 12,
            "tickvals": [-ends, 0.0, ends],
            "ticktext": [f"−{ends:.2g}", "0", f"{ends:.2g}"],
        }
    return _figure(
        _mosaic_heatmap(display, raw, text, DIVERGING, -ends, ends, colorbar),
        title,
        _film_height(len(tiles), filters),
        image_axes=True,
        plot_bgcolor="white",
        **_film_axes(size, row_names, filters),
    )


def rgb_film_figure(
    pictures: np.ndarray,
    row_names: Sequence[str],
    *,
    title: str = "First-layer filters over training",
    max_filters: int = FILM_FILTERS,
) -> go.Figure:
    """A film strip of colour kernels drawn in colour: one row per frame, one column per filter.

    Args:
        pictures: (R, F, k, k, 3) in [0, 1], e.g. from :func:`explorer.explain.film_as_rgb`.
        row_names: R labels, e.g. "init", "epoch 1 · moved 4%".
        max_filters: show only the first this many filters.

    Returns:
        One RGB image of R × min(F, max_filters) tiles of k × k with white one-pixel
        gutters, shape (R·(k+1)−1, F·(k+1)−1, 3); hovering shows a pixel's RGB.
    """
    pictures = np.asarray(pictures, np.float32)[:, :max_filters]
    rows, filters, size = pictures.shape[:3]
    canvas = np.ones((rows * (size + 1) - 1, filters * (size + 1) - 1, 3), np.float32)
    for row in range(rows):
        for col in range(filters):
            top, left = row * (size + 1), col * (size + 1)
            canvas[top : top + size, left : left + size] = pictures[row, col]
    return _figure(
        _image_trace(canvas),
        title,
        _film_height(rows, filters),
        image_axes=True,
        plot_bgcolor="white",
        **_film_axes(size, row_names, filters),
    )


def loss_curve_figure(
    points: Sequence[tuple[float, float]],
    epochs: Sequence[int],
    val_losses: Sequence[float],
    *,
    title: str = "Loss (cross-entropy)",
    height: int = 340,
) -> go.Figure:
    """The live loss curve: a thin line of training loss, markers of validation loss.

    Args:
        points: (epochs done, training loss) pairs, e.g. one per jitted call; the
            epochs done are fractional (1.5 = halfway through epoch 2).
        epochs: 1-based finished epochs; ``val_losses`` has one loss for each, drawn
            at the epoch's end.
    """
    training = go.Scatter(
        x=[x for x, _ in points],
        y=[loss for _, loss in points],
        name="training loss (per update)",
        mode="lines",
        line={"width": 1.5, "color": LINE_COLOURS[0]},
    )
    validation = go.Scatter(
        x=list(epochs),
        y=list(val_losses),
        name="validation loss (per epoch)",
        mode="markers",
        marker={"size": 11, "symbol": "diamond", "color": LINE_COLOURS[1]},
    )
    return _figure(
        [training, validation],
        title,
        height,
        xaxis={"title": "epoch", "rangemode": "tozero"},
        yaxis={"title": "loss", "rangemode": "tozero"},
        legend={"orientation": "h", "y": -0.25},
    )


def accuracy_curves_figure(
    amounts: Sequence[float],
    series: Mapping[str, Sequence[float]],
    x_title: str,
    *,
    chance: float | None = None,
    title: str = "Test accuracy as the images are moved",
    height: int = 400,
) -> go.Figure:
    """Accuracy (fraction in [0, 1], shown as %) against a transform's amount, one line per
    model (the legend shows even for one), with an optional dotted chance level (1 / classes)."""
    lines = [
        go.Scatter(
            x=list(amounts),
            y=list(values),
            name=name,
            mode="lines+markers",
            line={"color": LINE_COLOURS[index % len(LINE_COLOURS)], "width": 3},
            marker={"size": 8},
        )
        for index, (name, values) in enumerate(series.items())
    ]
    fig = _figure(
        lines,
        title,
        height,
        xaxis={"title": x_title},
        yaxis={"title": "test accuracy", "range": [0, 1.05], "tickformat": ".0%"},
        showlegend=True,
        legend={"orientation": "h", "y": -0.25},
    )
    if chance is not None:
        fig.add_hline(
            y=chance,
            line={"dash": "dot", "color": "gray"},
            annotation_text="chance",
            annotation_position="bottom right",
        )
    return fig


def gradient_norms_figure(
    norms: np.ndarray, activations: Sequence[str], *, title: str = "", height: int = 420
) -> go.Figure:
    """Gradient norm per layer (log y axis) of a deep stack: one colour per activation,
    solid without batch norm, dashed with it.

    Args:
        norms: (activations, 2, depth) as from ``explorer.learning.deep_stack_gradient_norms``.
    """
    depth = norms.shape[-1]
    layers = list(range(1, depth + 1))
    traces = [
        go.Scatter(
            x=layers,
            y=_finite_or_gap(norms[index, with_norm]),
            name=f"{activation}{' + batch norm' if with_norm else ''}",
            mode="lines+markers",
            line={"color": LINE_COLOURS[index], "dash": "dash" if with_norm else "solid"},
        )
        for index, activation in enumerate(activations)
        for with_norm in (0, 1)
    ]
    return _figure(
        traces,
        title,
        height,
        xaxis={"title": "conv layer (1 = nearest the input)", "dtick": 1},
        yaxis={"title": "‖dL/dW‖ (log scale)", "type": "log", "exponentformat": "power"},
        legend={"orientation": "h", "y": -0.25},
    )


def error_by_year_figure(
    years: Sequence[int],
    errors: Sequence[float],
    labels: Sequence[str],
    *,
    title: str = "",
    height: int = 380,
) -> go.Figure:
    """Top-5 error (%) per year as a line with markers, each point labelled (above right
    and below left in turn, so that neighbours' labels do not overlap)."""
    trace = go.Scatter(
        x=list(years),
        y=list(errors),
        mode="lines+markers+text",
        text=[f"{label}<br>{error:g}%" for label, error in zip(labels, errors, strict=True)],
        textposition=["top right" if i % 2 == 0 else "bottom left" for i in range(len(years))],
        line={"color": LINE_COLOURS[0]},
        hovertemplate="%{x}: %{y:g}%<extra></extra>",
    )
    return _figure(
        trace,
        title,
        height,
        xaxis={"title": "year", "dtick": 1, "range": [min(years) - 0.5, max(years) + 1.2]},
        yaxis={
            "title": "top-5 error (%)",
            "range": [-0.2 * max(errors), max(errors) * 1.25],  # room for labels below
            "tickvals": list(range(0, math.ceil(max(errors) * 1.25), 5)),
        },
    )


def labelled_points_figure(
    x: Sequence[float],
    y: Sequence[float],
    labels: Sequence[str],
    *,
    title: str = "",
    x_title: str = "",
    y_title: str = "",
    height: int = 380,
) -> go.Figure:
    """One labelled marker per item at (x, y) on logarithmic axes (positive values that
    span orders of magnitude), each label to the right of its marker."""
    trace = go.Scatter(
        x=list(x),
        y=list(y),
        mode="markers+text",
        text=list(labels),
        textposition="middle right",
        marker={"size": 14, "color": LINE_COLOURS[1]},
        hovertemplate="%{text}: %{x:,.2f}, %{y:,.1f}<extra></extra>",
    )
    x_ends, y_ends = (min(x) / 1.5, max(x) * 3), (min(y) / 1.5, max(y) * 1.5)
    return _figure(
        trace,
        title,
        height,
        xaxis={"title": x_title, **_log_axis(*x_ends)},
        yaxis={"title": y_title, **_log_axis(*y_ends)},
    )


def log_ticks(low: float, high: float) -> tuple[list[float], list[str]]:
    """Tick values 1, 2, 5, 10, 20, 50… from ``low`` to ``high`` (0 < low < high; only the
    powers of ten when that spans more than three decades), each labelled with its whole
    number: "200", "1,000", "0.5"."""
    powers = range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)
    mantissas = (1, 2, 5) if math.log10(high / low) <= 3 else (1,)
    values = [mantissa * 10.0**power for power in powers for mantissa in mantissas]
    shown = [round(value, 12) for value in values if low <= value <= high]
    return shown, [f"{value:,.0f}" if value >= 1 else f"{value:g}" for value in shown]


def _log_axis(low: float, high: float) -> dict:
    """A logarithmic axis from ``low`` to ``high`` labelled only at :func:`log_ticks`
    (plotly's own labels call 200 "2" between decades)."""
    tickvals, ticktext = log_ticks(low, high)
    return {
        "type": "log",
        "range": [math.log10(low), math.log10(high)],
        "tickvals": tickvals,
        "ticktext": ticktext,
    }

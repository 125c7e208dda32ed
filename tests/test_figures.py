"""explorer.figures builders and the feature-map mosaic; explorer.samples loading."""

from __future__ import annotations

import base64
import inspect
import io
import math
import re

import numpy as np
import plotly.colors
import plotly.graph_objects as go
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from explorer import figures, gallery, samples
from explorer.errors import ExplorerError

FAST = settings(max_examples=50, deadline=None)


def trace_types(fig):
    return [type(trace).__name__ for trace in fig.data]


# --------------------------------------------------------------------------- builders


def test_image_figure_rgb_is_an_image_trace_with_bytes():
    rgb = np.zeros((4, 5, 3))
    rgb[0, 0] = (1.0, 0.5, 0.0)
    fig = figures.image_figure(rgb, title="photo", origin=(10, 20))
    assert isinstance(fig, go.Figure) and trace_types(fig) == ["Image"]
    z = np.asarray(fig.data[0].z)
    assert z.shape == (4, 5, 3) and z[0, 0].tolist() == [255, 128, 0]
    assert fig.data[0].x0 == 20 and fig.data[0].y0 == 10
    assert fig.layout.title.text == "photo"


@pytest.mark.parametrize("shape", [(6, 7), (6, 7, 1)])
def test_image_figure_gray_is_a_heatmap_with_raw_values(shape):
    gray = np.random.default_rng(0).random(shape)
    fig = figures.image_figure(gray, value_range=None, colorscale=figures.DIVERGING)
    assert trace_types(fig) == ["Heatmap"]
    np.testing.assert_array_equal(np.asarray(fig.data[0].z), gray.reshape(6, 7))
    assert fig.layout.yaxis.autorange == "reversed"  # row 0 at the top
    fixed = figures.image_figure(gray)
    assert (fixed.data[0].zmin, fixed.data[0].zmax) == (0.0, 1.0)


def test_outline_window_adds_a_box_and_taps_when_dilated():
    fig = figures.image_figure(np.zeros((10, 10)))
    figures.outline_window(fig, -1, 2, 3)
    assert len(fig.layout.shapes) == 1 and trace_types(fig) == ["Heatmap"]
    box = fig.layout.shapes[0]
    assert (box.x0, box.x1, box.y0, box.y1) == (1.5, 4.5, -1.5, 1.5)
    figures.outline_window(fig, 0, 0, 3, dilation=2)
    assert len(fig.layout.shapes) == 2 and trace_types(fig) == ["Heatmap", "Scatter"]
    taps = fig.data[1]
    assert sorted(set(taps.x)) == [0, 2, 4] and sorted(set(taps.y)) == [0, 2, 4]
    assert fig.layout.shapes[1].x1 == 4.5  # span d(k-1)+1 = 5


def test_value_table_prints_every_number_in_its_colour():
    values = np.array([[-2.0, 0.5], [1.0, 3.25]])
    table = figures.value_table_html(values, title="kernel <b>", decimals=1)
    cells = re.findall(r"background:rgb\((\d+), (\d+), (\d+)\);color:(#\w+)\">([^<]+)</td>", table)
    assert [cell[-1] for cell in cells] == ["-2.0", "0.5", "1.0", "3.2"]
    extreme = np.array([int(c) for c in cells[3][:3]])
    assert np.abs(extreme - plotly_colour(figures.DIVERGING, 1.0)).max() <= 3  # +3.25 = top
    assert cells[3][3] == "#fff", "light text on the dark end of the scale"
    assert "kernel &lt;b&gt;" in table and "<b>" not in table, "the title is escaped"
    zeros = figures.value_table_html(np.zeros((3, 3)), decimals=0)
    middle = np.array([int(c) for c in re.findall(r"rgb\((\d+), (\d+), (\d+)\)", zeros)[0]])
    assert np.abs(middle - plotly_colour(figures.DIVERGING, 0.5)).max() <= 3  # 0 is white
    gray = figures.value_table_html(
        np.array([[0.0, 255.0]]), title="", decimals=0, colorscale="gray", value_range=(0, 255)
    )
    rgb = re.findall(r"rgb\((\d+), (\d+), (\d+)\)", gray)
    for drawn, position in zip(rgb, (0.0, 1.0), strict=True):
        assert np.abs(np.array(drawn, int) - plotly_colour("gray", position)).max() <= 3
    assert 'color:#fff">0</td>' in gray and 'color:#000">255</td>' in gray


def test_map_grid_figure_is_one_heatmap_with_labels_and_raw_hover():
    maps = np.random.default_rng(1).standard_normal((6, 5, 4)) * [1, 10, 100, 0.01]
    names = ["a", "b", "c", "d"]
    fig = figures.map_grid_figure(maps, names, title="maps", columns=2)
    assert trace_types(fig) == ["Heatmap"]
    assert [annotation.text for annotation in fig.layout.annotations] == names
    raw = np.asarray(fig.data[0].customdata)
    assert raw.shape == (2 * 7 - 1, 2 * 6 - 1)
    np.testing.assert_allclose(raw[0:6, 6:11], maps[..., 1], rtol=1e-6)
    assert set(np.asarray(fig.data[0].text)[7:13, 6:11].ravel()) == {"d"}
    display = np.asarray(fig.data[0].z, dtype=float)
    assert np.nanmax(np.abs(display)) == pytest.approx(1.0)


def decoded_png(trace) -> np.ndarray:
    """The RGB pixels of an Image trace drawn from a PNG data URI, uint8 (H, W, 3)."""
    header, payload = trace.source.split(",", 1)
    assert header == "data:image/png;base64"
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(payload))).convert("RGB"))


def plotly_colour(colorscale, position: float) -> np.ndarray:
    """Plotly's own colour at ``position`` in [0, 1] of a scale: the independent reference."""
    scale = plotly.colors.get_colorscale(colorscale)
    return np.array(
        plotly.colors.unlabel_rgb(plotly.colors.sample_colorscale(scale, [position])[0])
    )


def test_large_gray_images_are_a_small_palette_png_coloured_like_the_heatmap():
    side = 80  # 6,400 cells > NUMBERS_ON_HOVER_CELLS
    ramp = np.tile(np.linspace(-2.0, 2.0, side, dtype=np.float32), (side, 1))
    fig = figures.image_figure(ramp, value_range=None, colorscale=figures.DIVERGING, origin=(3, 4))
    assert trace_types(fig) == ["Image"] and fig.data[0].z is None
    assert (fig.data[0].x0, fig.data[0].y0) == (4, 3)
    pixels = decoded_png(fig.data[0])
    assert pixels.shape == (side, side, 3)
    for column in (0, side // 3, side - 1):  # zmid 0: ±2 are the two ends of the scale
        position = (ramp[0, column] + 2.0) / 4.0
        reference = plotly_colour(figures.DIVERGING, position)
        assert np.abs(pixels[0, column].astype(int) - reference).max() <= 3
    as_numbers = figures._value_trace(ramp, (0, 0), None, figures.DIVERGING, "value")
    assert len(fig.to_json()) < len(go.Figure(as_numbers).to_json()) / 4


def test_large_rgb_images_are_a_lossless_png():
    rgb = np.random.default_rng(2).integers(0, 256, (70, 90, 3)).astype(np.float32) / 255
    fig = figures.image_figure(rgb)
    np.testing.assert_array_equal(decoded_png(fig.data[0]), np.round(rgb * 255).astype(np.uint8))


def test_large_mosaics_are_a_png_with_white_gutters_and_labels():
    maps = np.random.default_rng(3).standard_normal((40, 50, 4)) * [1, 10, 100, 0.01]
    fig = figures.map_grid_figure(maps, list("abcd"), title="maps", columns=2)
    assert trace_types(fig) == ["Image"]
    assert [annotation.text for annotation in fig.layout.annotations] == list("abcd")
    pixels = decoded_png(fig.data[0])
    assert pixels.shape == (2 * 41 - 1, 2 * 51 - 1, 3)
    assert (pixels[40] == 255).all() and (pixels[:, 50] == 255).all()  # gutters
    tile = maps[..., 2] / np.abs(maps[..., 2]).max()  # each tile scaled to its own peak
    row, col = np.unravel_index(np.argmax(tile), tile.shape)
    drawn = pixels[41 + row, col].astype(int)
    assert np.abs(drawn - plotly_colour(figures.DIVERGING, 1.0)).max() <= 3


def picture_pixels(picture: figures.Picture) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(picture.png)).convert("RGB"))


def test_a_view_of_a_small_picture_is_a_chart_that_carries_its_numbers():
    digit = np.random.default_rng(4).random((28, 28, 1)).astype(np.float32)
    view = figures.image_view(digit, title="digit", height=300, window=(2, 3, 5))
    assert isinstance(view, go.Figure) and trace_types(view) == ["Heatmap"]
    np.testing.assert_array_equal(view.data[0].z, digit[..., 0])
    assert len(view.layout.shapes) == 1  # the outlined window


def test_a_view_of_a_large_picture_is_an_enlarged_png_of_the_same_colours():
    ramp = np.tile(np.linspace(-2.0, 2.0, 90, dtype=np.float32), (70, 1))  # 6,300 cells
    view = figures.image_view(
        ramp, title="ramp", height=280, value_range=None, colorscale=figures.DIVERGING
    )
    assert isinstance(view, figures.Picture)
    assert (view.title, view.height, view.width) == ("ramp", 280, 360)  # 280 · 90 / 70
    pixels = picture_pixels(view)
    factor = 280 // 70
    assert pixels.shape == (70 * factor, 90 * factor, 3)
    np.testing.assert_array_equal(
        pixels[::factor, ::factor], pixels[factor - 1 :: factor, ::factor]
    )
    chart = decoded_png(
        figures.image_figure(ramp, value_range=None, colorscale=figures.DIVERGING).data[0]
    )
    np.testing.assert_array_equal(pixels[::factor, ::factor], chart)


def test_a_large_picture_view_outlines_the_window_in_red_around_it():
    gray = np.full((80, 100, 1), 0.5, np.float32)
    view = figures.image_view(gray, title="where", height=80, window=(10, 20, 8))
    pixels = picture_pixels(view)  # factor 1: 80 px tall already
    red = np.argwhere((pixels == [214, 39, 40]).all(axis=-1))
    assert red[:, 0].min() == 9 and red[:, 0].max() == 18  # rows 10..17 and the frame
    assert red[:, 1].min() == 19 and red[:, 1].max() == 28
    assert (pixels[10:18, 20:28] == pixels[0, 0]).all()  # the patch itself is untouched


def test_an_enlarged_picture_frames_a_dilated_window_and_each_tap_outside_their_pixels():
    gray = np.full((10, 12, 1), 0.5, np.float32)
    view = figures.image_view(gray, height=80, window=(2, 3, 3), dilation=2, hover=False)
    pixels = picture_pixels(view)  # 8× enlarged: a frame 3 px wide, taps framed 1 px wide
    red = (pixels == [214, 39, 40]).all(axis=-1)
    span = slice(2 * 8 - 3, 7 * 8 + 3), slice(3 * 8 - 3, 8 * 8 + 3)  # 5 pixels and the frame
    assert not red[: span[0].start].any() and not red[span[0].stop :].any()
    assert not red[:, : span[1].start].any() and not red[:, span[1].stop :].any()
    assert red[span[0].start, span[1]].all() and red[span[0].stop - 1, span[1]].all()
    for tap_row in (2, 4, 6):
        for tap_col in (3, 5, 7):
            cell = red[tap_row * 8 : tap_row * 8 + 8, tap_col * 8 : tap_col * 8 + 8]
            assert not cell.any()  # the tap's own pixels keep their colour
            assert red[tap_row * 8 - 1, tap_col * 8 : tap_col * 8 + 8].all()  # framed above
    assert not red[3 * 8 + 2 : 3 * 8 + 6, 4 * 8 + 2 : 4 * 8 + 6].any()  # a gap's middle


def test_a_window_at_the_pictures_corner_is_marked_by_one_pixel_on_its_clipped_sides():
    gray = np.full((10, 12, 1), 0.5, np.float32)
    pixels = picture_pixels(figures.image_view(gray, height=80, window=(0, 0, 3), hover=False))
    red = (pixels == [214, 39, 40]).all(axis=-1)
    assert red[0, :24].all() and red[:24, 0].all()  # the clipped sides: one pixel inside
    assert red[24:27, :27].all() and red[:27, 24:27].all()  # the others 3 px outside
    assert not red[1:24, 1:24].any(), "the window keeps all but one pixel row and column"
    assert not red[27:].any() and not red[:, 27:].any()


def test_a_large_mosaic_view_enlarges_each_tile_and_names_it_above():
    maps = np.random.default_rng(5).standard_normal((60, 80, 4)) * [1, 10, 100, 0.01]
    view = figures.map_grid_view(maps, ["alpha", "beta", "gamma", "delta"], title="maps", columns=2)
    assert isinstance(view, figures.Picture) and view.title == "maps"
    pixels = picture_pixels(view)
    chart = decoded_png(figures.map_grid_figure(maps, list("abcd"), columns=2).data[0])
    strip = figures._LABEL_STRIP_PX
    factor = pixels.shape[1] // chart.shape[1]
    assert factor >= 1 and pixels.shape[1] == chart.shape[1] * factor
    assert pixels.shape[0] == chart.shape[0] * factor + 2 * strip
    top_tiles = pixels[strip : strip + 60 * factor : factor, : 161 * factor : factor]
    np.testing.assert_array_equal(top_tiles, chart[:60, :161])
    second_row = pixels[2 * strip + 61 * factor :: factor, ::factor]
    np.testing.assert_array_equal(second_row, chart[61:])
    label_strip = pixels[:strip]
    assert (label_strip != 255).any() and (label_strip[:, 80 * factor : 81 * factor] == 255).all()


@pytest.mark.parametrize("shape", [(70, 90, 1), (85, 128, 3), (300, 40, 1), (65, 65, 1)])
@pytest.mark.parametrize("height", [100, 260, 480])
def test_no_picture_is_wider_than_it_is_shown(shape, height):
    """``st.image`` would shrink (bilinear) and re-encode a PNG wider than its width."""
    image = np.random.default_rng(7).random(shape).astype(np.float32)
    picture = figures.image_view(image, title="", height=height)
    assert picture_pixels(picture).shape[1] <= picture.width
    maps = np.random.default_rng(8).standard_normal((shape[0], shape[1], 6))
    mosaic = figures.map_grid_view(maps, list("abcdef"), title="", height=height)
    assert picture_pixels(mosaic).shape[1] <= mosaic.width


def test_small_mosaics_stay_charts_with_their_numbers():
    maps = np.random.default_rng(6).standard_normal((5, 5, 3))
    view = figures.map_grid_view(maps, list("abc"), title="kernels")
    assert isinstance(view, go.Figure) and trace_types(view) == ["Heatmap"]


def test_colour_indices_clip_and_mark_gaps():
    values = np.array([[-5.0, 0.0, 0.5, 1.0, 9.0, np.nan]])
    indices = figures.colour_indices(values, (0.0, 1.0))
    assert indices.tolist() == [[0, 0, 127, 254, 254, figures.GUTTER_INDEX]]
    flat = figures.colour_indices(np.full((2, 2), 3.0), (3.0, 3.0))
    assert (flat == 127).all()


def strip_values(view: figures.Picture) -> np.ndarray:
    """The red levels of a strip picture's rows, (height, width) uint8."""
    return np.asarray(Image.open(io.BytesIO(view.png)).convert("RGB"))[..., 0]


def gray_levels(values: np.ndarray) -> np.ndarray:
    """The red level the "gray" scale gives each value in 0–1 (tested on its own above)."""
    return figures.colour_palette("gray")[figures.colour_indices(values, (0.0, 1.0))][..., 0]


def test_flattened_view_keeps_order_and_averages_long_vectors():
    image = np.arange(12, dtype=np.float32).reshape(2, 3, 2) / 11
    view = figures.flattened_view(image, height=5)
    assert strip_values(view).shape == (5, 12) and (view.width, view.height) == (12, 5)
    np.testing.assert_array_equal(strip_values(view), gray_levels(np.tile(image.ravel(), (5, 1))))
    long = np.linspace(0, 1, 10_000, dtype=np.float32)
    chunked = figures.flattened_view(long, max_length=1000)
    means = long.reshape(-1, 10).mean(axis=1)
    np.testing.assert_array_equal(strip_values(chunked)[0], gray_levels(means))
    assert "9,999" in chunked.title and "mean of 10 entries" in chunked.title


def test_line_figure():
    lines = figures.line_figure([0, 1, 2], {"train": [3, 2, 1], "test": [3, 3, 2]}, title="loss")
    assert trace_types(lines) == ["Scatter", "Scatter"]
    assert list(lines.data[0].x) == [0, 1, 2] and list(lines.data[1].y) == [3, 3, 2]


def test_figure_builders_take_their_options_by_keyword_only():
    builders = [
        function
        for name, function in inspect.getmembers(figures, inspect.isfunction)
        if function.__module__ == figures.__name__ and not name.startswith("_")
    ]
    assert len(builders) > 20
    for builder in builders:
        for parameter in inspect.signature(builder).parameters.values():
            if parameter.default is not inspect.Parameter.empty:
                assert parameter.kind is inspect.Parameter.KEYWORD_ONLY, (
                    f"{builder.__name__}({parameter.name}=…) can be passed by position"
                )


def test_counts_figure_prints_values_and_percentages():
    counts = figures.counts_figure(["0", "1", "2"], [5, 1200, 0], title="per class")
    assert trace_types(counts) == ["Bar"]
    assert list(counts.data[0].x) == ["0", "1", "2"] and list(counts.data[0].y) == [5, 1200, 0]
    assert list(counts.data[0].text) == ["5", "1,200", "0"]
    shares = figures.counts_figure(["a", "b"], [0.25, 0.875], percent=True)
    assert list(shares.data[0].text) == ["25.0%", "87.5%"]


def test_confusion_figure_shows_the_matrix_with_true_classes_as_rows():
    matrix = np.array([[5, 1, 0], [0, 7, 2], [1, 0, 9]])
    fig = figures.confusion_figure(matrix, ["cat", "dog", "eel"])
    assert trace_types(fig) == ["Heatmap"]
    np.testing.assert_array_equal(np.asarray(fig.data[0].z), matrix)
    assert list(fig.data[0].y) == ["cat", "dog", "eel"]
    assert "true" in fig.layout.yaxis.title.text and "predicted" in fig.layout.xaxis.title.text


# --------------------------------------------------------------------------- tile_maps


@FAST
@given(
    st.integers(1, 20),
    st.integers(1, 20),
    st.integers(1, 9),
    st.integers(1, 5),
    st.integers(0, 10**6),
)
def test_tile_maps_layout_without_downsampling(height, width, count, columns, seed):
    maps = np.random.default_rng(seed).standard_normal((height, width, count))
    display, raw, (tile_h, tile_w) = figures.tile_maps(maps, columns, scaling="none")
    rows = math.ceil(count / columns)
    assert (tile_h, tile_w) == (height, width)
    assert raw.shape == display.shape == (rows * (height + 1) - 1, columns * (width + 1) - 1)
    for index in range(rows * columns):
        row, col = divmod(index, columns)
        block = raw[row * (height + 1) : row * (height + 1) + height, col * (width + 1) :][
            :, :width
        ]
        if index < count:
            np.testing.assert_array_equal(block, maps[..., index])
        else:
            assert np.isnan(block).all()  # empty slot in the last row
    # Gutters are NaN rows and columns between tiles.
    for row in range(1, rows):
        assert np.isnan(raw[row * (height + 1) - 1]).all()
    for col in range(1, columns):
        assert np.isnan(raw[:, col * (width + 1) - 1]).all()
    assert np.count_nonzero(~np.isnan(raw)) == count * height * width
    np.testing.assert_array_equal(np.isnan(display), np.isnan(raw))


def test_tile_maps_scalings():
    maps = np.stack([np.array([[-2.0, 1.0], [0.0, 4.0]]), np.full((2, 2), 3.0)], axis=-1)
    symmetric, raw, _ = figures.tile_maps(maps, 2, scaling="symmetric")
    np.testing.assert_allclose(symmetric[:, :2], maps[..., 0] / 4.0)
    np.testing.assert_allclose(symmetric[:, 3:], 1.0)
    minmax, _, _ = figures.tile_maps(maps, 2, scaling="minmax")
    np.testing.assert_allclose(minmax[:, :2], (maps[..., 0] + 2.0) / 6.0)
    np.testing.assert_allclose(minmax[:, 3:], 0.5)  # a flat map sits mid-scale
    np.testing.assert_array_equal(raw[:, :2], maps[..., 0])
    zeros, _, _ = figures.tile_maps(np.zeros((3, 3, 1)), 1, scaling="symmetric")
    np.testing.assert_array_equal(zeros, 0.0)


@pytest.mark.parametrize(
    ("shape", "max_cells"),
    [((400, 300, 4), 20_000), ((1000, 1000, 2), 250_000), ((64, 256, 16), 10_000)],
)
def test_tile_maps_downsampling_caps_the_cell_count(shape, max_cells):
    rng = np.random.default_rng(0)
    maps = rng.random(shape).astype(np.float32) + np.arange(shape[2], dtype=np.float32)
    display, raw, (tile_h, tile_w) = figures.tile_maps(maps, 2, scaling="none", max_cells=max_cells)
    cells = np.count_nonzero(~np.isnan(raw))
    assert cells == shape[2] * tile_h * tile_w
    assert cells <= max_cells
    assert tile_h < shape[0] and tile_w <= shape[1]
    assert tile_h / tile_w == pytest.approx(shape[0] / shape[1], rel=0.1)  # aspect kept
    # Area averaging keeps each map's mean and value range.
    for index in range(shape[2]):
        row, col = divmod(index, 2)
        tile = raw[row * (tile_h + 1) : row * (tile_h + 1) + tile_h]
        tile = tile[:, col * (tile_w + 1) : col * (tile_w + 1) + tile_w]
        assert float(tile.mean()) == pytest.approx(float(maps[..., index].mean()), abs=0.02)
        assert index <= tile.min() and tile.max() <= index + 1


def test_mosaic_columns():
    assert figures.mosaic_columns(1, 1.0) == 1
    assert figures.mosaic_columns(16, 1.0) == 4
    assert figures.mosaic_columns(3, 10.0) == 3  # never more columns than tiles
    assert figures.mosaic_columns(8, 0.1) == 1


# --------------------------------------------------------------------------- samples


@pytest.mark.parametrize("name", samples.SAMPLE_NAMES)
def test_every_sample_loads_as_uint8_with_one_or_three_channels(name):
    image = samples.load_sample(name)
    assert image.dtype == np.uint8
    assert image.ndim == 3 and image.shape[2] in (1, 3)
    assert min(image.shape[:2]) >= 28
    assert image.max() > image.min()  # not blank


def test_mnist_samples_are_28x28_white_on_black():
    for digit in range(10):
        image = samples.load_sample(f"MNIST digit {digit}")
        assert image.shape == (28, 28, 1)
        assert image[0, :, 0].max() == 0 and image[:, 0, 0].max() == 0  # black border
        assert image.max() > 200
    first, second = samples.mnist_digit(3, 0), samples.mnist_digit(3, 1)
    assert not np.array_equal(first, second)


def test_unknown_sample_is_a_user_error():
    with pytest.raises(ExplorerError, match="no sample"):
        samples.load_sample("lena")


def test_filter_film_has_one_row_of_tiles_per_epoch():
    rng = np.random.default_rng(0)
    kernels = [rng.normal(size=(3, 3, 2, 5)).astype(np.float32) for _ in range(4)]
    names = ["init", "epoch 1", "epoch 2", "epoch 3"]
    fig = figures.filter_film_figure(kernels, names)
    assert trace_types(fig) == ["Heatmap"]
    z = np.array(fig.data[0].z, dtype=float)
    assert z.shape == (4 * 4 - 1, 5 * 4 - 1)  # 4 rows (init + 3 epochs) of 5 tiles, 1-px gutters
    assert list(fig.layout.yaxis.ticktext) == names
    np.testing.assert_allclose(fig.layout.yaxis.tickvals, [1, 5, 9, 13])
    assert np.isnan(z[3]).all() and np.isnan(z[:, 3]).all()
    tile = kernels[2][..., 4].mean(axis=-1)  # epoch 2, filter 5, channels averaged
    np.testing.assert_allclose(z[8:11, 16:19], tile / np.abs(tile).max(), rtol=1e-6)
    raw = np.asarray(fig.data[0].customdata, dtype=float)
    np.testing.assert_allclose(raw[8:11, 16:19], tile, rtol=1e-6)  # hover shows raw values
    assert set(np.asarray(fig.data[0].text)[8:11, 16:19].ravel()) == {f"{names[2]}, filter 5"}
    assert "%{text}" in fig.data[0].hovertemplate and "%{customdata" in fig.data[0].hovertemplate
    assert figures.filter_film_figure(kernels, names, max_filters=2).data[0].z.shape == (15, 7)


def test_a_colour_film_draws_each_filter_as_an_rgb_tile_with_white_gutters():
    rng = np.random.default_rng(1)
    pictures = rng.uniform(size=(3, 5, 3, 3, 3)).astype(np.float32)  # 3 rows of 5 RGB tiles
    names = ["init", "epoch 1", "epoch 2"]
    fig = figures.rgb_film_figure(pictures, names, title="Colour film")
    assert trace_types(fig) == ["Image"]
    rgb = np.asarray(fig.data[0].z, dtype=float)
    assert rgb.shape == (3 * 4 - 1, 5 * 4 - 1, 3)
    np.testing.assert_allclose(rgb[4:7, 12:15], np.round(pictures[1, 3] * 255), atol=0.5)
    assert (rgb[3] == 255).all() and (rgb[:, 11] == 255).all(), "white one-pixel gutters"
    assert list(fig.layout.yaxis.ticktext) == names
    np.testing.assert_allclose(fig.layout.xaxis.tickvals, [1, 5, 9, 13, 17])
    assert list(fig.layout.xaxis.ticktext) == ["1", "2", "3", "4", "5"]
    small = figures.rgb_film_figure(pictures, names, max_filters=2)
    assert np.asarray(small.data[0].z).shape == (11, 7, 3)


def test_loss_curve_has_a_thin_per_update_line_and_per_epoch_markers():
    points = [(0.5, 2.0), (1.0, 1.5), (1.5, 1.2), (2.0, 1.0)]
    fig = figures.loss_curve_figure(points, [1, 2], [1.6, 1.1])
    assert trace_types(fig) == ["Scatter", "Scatter"]
    line, markers = fig.data
    assert line.mode == "lines" and list(line.x) == [0.5, 1.0, 1.5, 2.0]
    assert list(line.y) == [2.0, 1.5, 1.2, 1.0]
    assert markers.mode == "markers" and list(markers.x) == [1, 2]
    assert list(markers.y) == [1.6, 1.1]


def test_accuracy_curves_one_line_per_model_and_a_chance_level():
    series = {"tiny CNN": [0.9, 0.8, 0.6], "mlp MLP": [0.9, 0.5, 0.2]}
    fig = figures.accuracy_curves_figure([0, 2, 4], series, "shift", chance=0.1)
    assert [trace.name for trace in fig.data] == ["tiny CNN", "mlp MLP"]
    assert list(fig.data[1].x) == [0, 2, 4] and list(fig.data[1].y) == [0.9, 0.5, 0.2]
    assert [shape.y0 for shape in fig.layout.shapes] == [0.1]
    assert fig.layout.yaxis.tickformat == ".0%" and fig.layout.showlegend
    assert not figures.accuracy_curves_figure([0], {"a": [1.0]}, "shift").layout.shapes


def test_value_table_names_rows_and_columns_and_escapes_them():
    table = figures.value_table_html(
        np.array([[1.0, 0.0], [0.25, 0.75]]), row_names=["y", "<p>"], column_names=["a", "b"]
    )
    assert ">y</th>" in table and "&lt;p&gt;" in table and "<p>" not in table
    assert re.findall(r">([ab])</th>", table) == ["a", "b"]


def test_line_figure_leaves_gaps_for_non_finite_values_and_can_use_log_axes():
    fig = figures.line_figure([0, 1, 2, 3], {"path": [2.3, math.inf, math.nan, None]}, log_y=True)
    assert list(fig.data[0].y) == [2.3, None, None, None]
    assert fig.layout.yaxis.type == "log" and fig.layout.xaxis.type == "linear"
    coloured = figures.line_figure([0], {"a": [1], "b": [2]}, colours=figures.RATE_COLOURS)
    assert [trace.line.color for trace in coloured.data] == list(figures.RATE_COLOURS[:2])


def test_mark_epoch_draws_one_dotted_line_at_the_epoch():
    fig = figures.mark_epoch(figures.line_figure([1, 2, 3], {"a": [1, 2, 3]}), 2, "best")
    assert [(shape.x0, shape.x1, shape.line.dash) for shape in fig.layout.shapes] == [(2, 2, "dot")]
    assert fig.layout.annotations[0].text == "best"


def test_gradient_norms_one_line_per_activation_and_batch_norm():
    norms = np.arange(1, 13, dtype=float).reshape(3, 2, 2)
    fig = figures.gradient_norms_figure(norms, ["sigmoid", "tanh", "relu"])
    assert [trace.name for trace in fig.data][:2] == ["sigmoid", "sigmoid + batch norm"]
    assert list(fig.data[3].y) == [7.0, 8.0] and fig.data[3].line.dash == "dash"
    assert fig.layout.yaxis.type == "log"


def test_counts_figure_formats_small_values():
    fig = figures.counts_figure(["a", "b"], [0.123456, 2.5], value_format=".3g")
    assert list(fig.data[0].text) == ["0.123", "2.5"]


def test_bar_table_prints_each_value_with_a_bar_of_its_share_of_the_maximum():
    table = figures.bar_table_html(
        ["pixels", "<b>maps</b>", "max", "gone"],
        [0.75, 3.0, -0.2, float("nan")],
        title="change",
        maximum=1.5,
    )
    rows = re.findall(r"<tr>(.*?)</tr>", table)
    assert len(rows) == 4
    widths = [re.search(r"width:([\d.]+)%;height", row).group(1) for row in rows]
    assert widths == ["50.0", "100.0", "0.0", "0.0"]  # clipped to 0–100%
    assert ">0.750<" in rows[0] and ">—<" in rows[3]
    assert "&lt;b&gt;maps&lt;/b&gt;" in rows[1] and "<b>" not in table
    with pytest.raises(ValueError):
        figures.bar_table_html(["a"], [1.0, 2.0])


def test_a_change_film_draws_every_tile_on_one_scale_with_its_colour_bar():
    rng = np.random.default_rng(2)
    changes = [rng.normal(0, 0.05, size=(3, 3, 2, 20)).astype(np.float32) for _ in range(3)]
    drawn = np.stack([change.mean(axis=2)[..., :16] for change in changes])
    limit = figures.film_limit(changes, colour=False)
    assert limit == pytest.approx(float(np.abs(drawn).max()), rel=1e-6)
    assert figures.film_limit(changes, colour=True) == pytest.approx(
        float(max(np.abs(change).max() for change in changes)), rel=1e-6
    )
    fig = figures.filter_film_figure(changes, ["e1", "e2", "e3"], limit=limit)
    heatmap = fig.data[0]
    assert (heatmap.zmin, heatmap.zmax) == (-limit, limit) and heatmap.showscale
    z = np.asarray(heatmap.z, dtype=float)
    np.testing.assert_allclose(z[4:7, 8:11], drawn[1, ..., 2], rtol=1e-6)  # raw, not per tile
    np.testing.assert_allclose(heatmap.colorbar.tickvals, [-limit, 0, limit])
    assert list(heatmap.colorbar.ticktext) == [f"−{limit:.2g}", "0", f"{limit:.2g}"]
    assert not figures.filter_film_figure(changes, ["e1", "e2", "e3"]).data[0].showscale


def tick_number(text: str) -> float:
    return float(text.replace(",", ""))


@pytest.mark.parametrize(
    ("low", "high"), [(0.476, 46.4), (4.42, 208), (0.9, 11), (3e-3, 20), (150, 4e6)]
)
def test_log_ticks_are_labelled_with_their_own_values(low, high):
    values, texts = figures.log_ticks(low, high)
    assert [tick_number(text) for text in texts] == pytest.approx(values, rel=1e-12)
    assert all(low <= value <= high for value in values) and len(values) >= 2
    decades = math.log10(high / low)
    steps = (1, 2, 5) if decades <= 3 else (1,)
    expected = sorted(
        m * 10.0**p for p in range(-5, 8) for m in steps if low <= m * 10.0**p <= high
    )
    assert values == pytest.approx(expected, rel=1e-12)


def test_the_gallery_s_log_axes_label_200_as_200():
    totals = [gallery.totals(entry.spec) for entry in gallery.ARCHITECTURES]
    macs, params = [t.macs / 1e9 for t in totals], [t.params / 1e6 for t in totals]
    fig = figures.labelled_points_figure(macs, params, ["n"] * len(totals))
    for axis, data in ((fig.layout.xaxis, macs), (fig.layout.yaxis, params)):
        assert axis.type == "log"
        low, high = 10 ** axis.range[0], 10 ** axis.range[1]
        assert low < min(data) and max(data) < high
        assert [tick_number(text) for text in axis.ticktext] == pytest.approx(axis.tickvals)
        assert all(low <= value <= high for value in axis.tickvals) and len(axis.tickvals) >= 4
    assert "200" in fig.layout.yaxis.ticktext and "2" not in fig.layout.yaxis.ticktext

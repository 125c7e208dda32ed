"""The Convolution lab's main figure (explorer.conv_svg) and its output-size arithmetic
(explorer.ops) against references written out here: the textbook formula, a loop that
slides a window along a padded row, and NumPy's own min and max of the map."""

from __future__ import annotations

import re

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from explorer import conv_svg, figures, ops, text
from explorer.errors import ExplorerError

FAST = settings(max_examples=60, deadline=None)


def formula(n: int, k: int, s: int, p: int, d: int) -> int:
    """The output length as textbooks write it: ⌊(n + 2p − d(k − 1) − 1) / s⌋ + 1."""
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def naive_starts(n: int, k: int, s: int, p: int, d: int) -> list[int]:
    """Slide a dilated window along a padded row one stride at a time; where it begins
    each time it still fits (0 = the first padding pixel)."""
    starts, start, span = [], 0, d * (k - 1) + 1
    while start + span <= n + 2 * p:
        starts.append(start)
        start += s
    return starts


geometries = st.tuples(
    st.integers(1, 70),  # height
    st.integers(1, 70),  # width
    st.integers(1, 11),  # k
    st.integers(1, 5),  # s
    st.integers(0, 5),  # p
    st.integers(1, 3),  # d
)


def circle_centres(svg: str) -> tuple[set[float], set[float]]:
    """The distinct x and y of the window-centre dots drawn in an SVG."""
    group = re.search(r'<g class="window-centres"[^>]*>(.*?)</g>', svg).group(1)
    dots = re.findall(r'<circle cx="([\d.]+)" cy="([\d.]+)"', group)
    return {float(x) for x, _ in dots}, {float(y) for _, y in dots}


@FAST
@given(geometries)
def test_the_padded_input_has_one_dot_per_output_row_and_column(shape):
    height, width, k, s, p, d = shape
    span = d * (k - 1) + 1
    assume(span <= min(height, width) + 2 * p)
    geometry = ops.conv_geometry((height, width), k, s, p, d)
    image = np.random.default_rng(height * width).random((height, width, 1), np.float32)
    xs, ys = circle_centres(conv_svg.padded_input_svg(image, geometry))
    rows, cols = naive_starts(height, k, s, p, d), naive_starts(width, k, s, p, d)
    assert len(ys) == len(rows) == formula(height, k, s, p, d) == geometry.output_hw[0]
    assert len(xs) == len(cols) == formula(width, k, s, p, d) == geometry.output_hw[1]
    cell = 400.0 / (max(height, width) + 2 * p)  # the drawing is 400 units on its long side
    np.testing.assert_allclose(sorted(xs), [(c + span / 2) * cell for c in cols], atol=0.01)
    np.testing.assert_allclose(sorted(ys), [(r + span / 2) * cell for r in rows], atol=0.01)


@FAST
@given(geometries)
def test_the_caption_says_which_window_centres_have_dots(shape):
    height, width, k, s, p, d = shape
    assume(d * (k - 1) + 1 <= min(height, width) + 2 * p)
    geometry = ops.conv_geometry((height, width), k, s, p, d)
    svg = conv_svg.padded_input_svg(np.zeros((height, width, 1), np.float32), geometry)
    dots = svg.count("<circle ")
    out_h, out_w = formula(height, k, s, p, d), formula(width, k, s, p, d)
    caption = conv_svg.input_caption(geometry)
    assert f"{out_h}×{out_w} window centres" in caption
    assert (dots == out_h * out_w) == ("first row and column" not in caption)
    assert ("padded to" in caption) == (p > 0)


def test_the_padding_ring_and_the_first_two_windows_are_drawn():
    geometry = ops.conv_geometry((28, 28), 5, 2, 1, 1)
    svg = conv_svg.padded_input_svg(np.zeros((28, 28, 1), np.float32), geometry)
    assert f'class="padding" width="400.00" height="400.00" fill="{conv_svg.PADDING_FILL}"' in svg
    assert 'x="13.33" y="13.33" width="373.33" height="373.33"' in svg, "the input inside it"
    cell = 400 / 30
    assert f'class="window" x="0" y="0" width="{5 * cell:.2f}"' in svg
    assert f'class="window next" x="{2 * cell:.2f}"' in svg, "one stride along the row"
    unpadded = ops.conv_geometry((28, 28), 3, 1, 0, 1)
    assert 'class="padding"' not in conv_svg.padded_input_svg(np.zeros((28, 28, 1)), unpadded)


@FAST
@given(geometries, st.sampled_from(["valid", "same", "explicit"]))
def test_the_arithmetic_fills_in_the_formula_and_ends_in_the_output_size(shape, mode):
    height, width, k, s, p, d = shape
    padding = p if mode == "explicit" else mode
    try:
        geometry = ops.conv_geometry((height, width), k, s, padding, d)
    except ExplorerError:
        assume(False)
    lines = ops.output_size_arithmetic(geometry)
    pads = [sum(pair) for pair in geometry.padding]
    expected = [
        (n + total - d * (k - 1) - 1) // s + 1
        for n, total in zip((height, width), pads, strict=True)
    ]
    for line, n, (before, after), result in zip(
        lines * 2 if len(lines) == 1 else lines,
        (height, width),
        geometry.padding,
        expected,
        strict=True,
    ):
        numerator = n + before + after - d * (k - 1) - 1
        assert f"⌊({n} + {before} + {after} − {d}·({k} − 1) − 1) / {s}⌋ + 1" in line
        assert line.endswith(f" = ⌊{numerator} / {s}⌋ + 1 = {result}")
    assert (len(lines) == 1) == (lines[0].startswith("H_out = W_out = "))


def test_the_stride_lesson_reads_thirteen():
    geometry = ops.conv_geometry((28, 28), 5, 2, 1, 1)
    assert ops.output_size_arithmetic(geometry) == (
        "H_out = W_out = ⌊(28 + 1 + 1 − 1·(5 − 1) − 1) / 2⌋ + 1 = ⌊25 / 2⌋ + 1 = 13",
    )


def bar_labels(svg: str) -> list[str]:
    return re.findall(r'class="colour-bar-label"[^>]*>([^<]*)</text>', svg)


def as_number(label: str) -> float:
    return float(label.replace("−", "-"))


@FAST
@given(
    st.integers(0, 10_000),
    st.floats(-50, 50),
    st.floats(0, 50),
    st.integers(1, 40),
)
def test_the_colour_bar_is_labelled_with_the_maps_own_min_and_max(seed, offset, spread, side):
    values = (np.random.default_rng(seed).random((side, side)) * spread + offset).astype(np.float32)
    limits = conv_svg.signed_limits(values)
    ticks = conv_svg.map_ticks(values)
    svg = conv_svg.colour_bar_svg(200, limits, ticks, colorscale=figures.DIVERGING, label="map")
    labels = [as_number(label) for label in bar_labels(svg)]
    low, high = float(values.min()), float(values.max())
    assert abs(labels[0] - high) <= 5e-3 * abs(high) + 1e-12
    assert abs(labels[-1 if low == high else 1] - low) <= 5e-3 * abs(low) + 1e-12
    peak = max(abs(low), abs(high))
    assert limits == ((-peak, peak) if peak else (-1.0, 1.0)), "zero is the middle colour"
    assert (len(labels) == 3) <= (low < 0 < high), "a zero between the ends: a signed map"


def test_the_colour_bar_of_a_signed_map_shows_zero_between_its_ends():
    values = np.array([[-2.0, 0.5], [1.0, 3.0]], np.float32)
    ticks = conv_svg.map_ticks(values)
    svg = conv_svg.colour_bar_svg(100, (-3.0, 3.0), ticks, colorscale="RdBu_r", label="m")
    assert bar_labels(svg) == ["3", "−2", "0"]


def test_a_count_names_its_noun_in_the_right_number():
    assert text.count_noun(1, "filter") == "1 filter"
    assert text.count_noun(4, "filter") == "4 filters"
    assert text.count_noun(0, "filter") == "0 filters"
    assert text.count_noun(2, "child", "children") == "2 children"
    assert text.count_noun(1000, "unit") == "1,000 units"

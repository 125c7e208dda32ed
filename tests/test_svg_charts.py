"""The SVG charts put each number where an independent calculation says it belongs."""

import math
import re
import xml.etree.ElementTree as ElementTree

import numpy as np
import pytest

from explorer import svg_charts

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ElementTree.Element:
    """The chart as XML: it must be well-formed for the browser to draw it."""
    return ElementTree.fromstring(svg)


def tick_positions(root: ElementTree.Element) -> tuple[dict[float, float], dict[float, float]]:
    """{tick value: x} for the x axis and {tick value: y} for the y axis, read from the
    tick labels (x labels are centred under the axis, y labels end left of it)."""
    x_ticks, y_ticks = {}, {}
    for text in root.iter(f"{SVG}text"):
        label = (text.text or "").replace(",", "")
        if not re.fullmatch(r"-?[\d.e+-]+", label):
            continue
        if text.get("text-anchor") == "end":
            y_ticks[float(label)] = float(text.get("y"))
        elif text.get("text-anchor") == "middle" and text.get("transform") is None:
            x_ticks[float(label)] = float(text.get("x"))
    return x_ticks, y_ticks


def to_pixels(ticks: dict[float, float], value: float) -> float:
    """Where ``value`` lies on an axis, interpolated from two of its tick labels."""
    (low, low_px), (high, high_px) = sorted(ticks.items())[0], sorted(ticks.items())[-1]
    return low_px + (value - low) / (high - low) * (high_px - low_px)


def path_points(d: str) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in re.findall(r"([-\d.]+),([-\d.]+)", d)]


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (0, 1, [0, 0.2, 0.4, 0.6, 0.8, 1.0]),
        (-4, 4, [-4, -2, 0, 2, 4]),
        (0, 1.37, [0, 0.5, 1.0, 1.5]),
        (0, 12_345, [0, 2000, 4000, 6000, 8000, 10_000, 12_000, 14_000]),
        (-0.3, 0.7, [-0.4, -0.2, 0, 0.2, 0.4, 0.6, 0.8]),
    ],
)
def test_nice_ticks_are_round_and_cover_the_range(low, high, expected):
    assert svg_charts.nice_ticks(low, high) == pytest.approx(expected)


def test_nice_ticks_of_one_value_or_a_reversed_range_still_cover_it():
    ticks = svg_charts.nice_ticks(3.0, 3.0)
    assert ticks[0] < 3.0 < ticks[-1]
    assert svg_charts.nice_ticks(1, 0) == svg_charts.nice_ticks(0, 1)
    with pytest.raises(ValueError, match="finite"):
        svg_charts.nice_ticks(0, math.inf)


def test_tick_labels_read_as_people_write_numbers():
    labels = [svg_charts.tick_label(v) for v in (0.0, 12_000.0, 0.25, 1e-5, -2.0, 2.5e6)]
    assert labels == ["0", "12,000", "0.25", "1e-05", "-2", "2.5e+06"]


def test_line_points_sit_where_the_tick_labels_say():
    x = [0, 1, 2, 3, 4]
    y = [0.0, 1.0, 4.0, 9.0, 16.0]
    root = parse(svg_charts.line_chart_svg(x, {"square": y}, title="x²", x_title="x"))
    x_ticks, y_ticks = tick_positions(root)
    (line,) = [p for p in root.iter(f"{SVG}path") if p.get("stroke") != "none"]
    points = path_points(line.get("d"))
    assert len(points) == len(x)
    for (px, py), data_x, data_y in zip(points, x, y, strict=True):
        assert px == pytest.approx(to_pixels(x_ticks, data_x), abs=0.11)
        assert py == pytest.approx(to_pixels(y_ticks, data_y), abs=0.11)
    tips = [title.text for title in root.iter(f"{SVG}title")]
    assert "square: 3 → 9" in tips


def test_missing_and_non_finite_values_break_the_line():
    svg = svg_charts.line_chart_svg([0, 1, 2, 3, 4], {"loss": [2.0, math.nan, 1.0, 0.5, None]})
    runs = [path_points(path.get("d")) for path in parse(svg).iter(f"{SVG}path")]
    assert [len(run) for run in runs] == [1, 2]  # 2.0 alone, then 1.0 → 0.5


def test_long_lines_have_no_markers_and_several_lines_a_legend():
    x = np.linspace(-4, 4, 161)
    root = parse(svg_charts.line_chart_svg(x, {"tanh": np.tanh(x)}))
    assert not list(root.iter(f"{SVG}circle"))
    two = parse(svg_charts.line_chart_svg([0, 1], {"a": [0, 1], "b <c>": [1, 0]}))
    texts = [text.text for text in two.iter(f"{SVG}text")]
    assert "a" in texts and "b <c>" in texts  # the name is escaped, and parses back intact
    with pytest.raises(ValueError, match="at most"):
        svg_charts.line_chart_svg([0], {str(i): [i] for i in range(5)})


def test_histogram_counts_and_bar_heights_match_numpy():
    rng = np.random.default_rng(0)
    before = rng.normal(size=2000)
    after = np.maximum(before, 0)
    edges, counts = svg_charts.shared_histogram({"before": before, "after": after}, bins=30)
    np.testing.assert_allclose(edges, np.linspace(before.min(), before.max(), 31))
    np.testing.assert_array_equal(counts["before"], np.histogram(before, bins=edges)[0])
    np.testing.assert_array_equal(counts["after"], np.histogram(after, bins=edges)[0])

    root = parse(svg_charts.histogram_svg({"before": before, "after": after}, bins=30))
    x_ticks, y_ticks = tick_positions(root)
    bars = [rect for rect in root.iter(f"{SVG}rect") if rect.find(f"{SVG}title") is not None]
    assert len(bars) == np.count_nonzero(counts["before"]) + np.count_nonzero(counts["after"])
    for bar in bars:
        name, count = re.fullmatch(r"(\w+): \[.*\) ([\d,]+)", bar.find(f"{SVG}title").text).groups()
        top, bottom = float(bar.get("y")), float(bar.get("y")) + float(bar.get("height"))
        assert bottom == pytest.approx(to_pixels(y_ticks, 0), abs=0.02)
        assert top == pytest.approx(to_pixels(y_ticks, int(count.replace(",", ""))), abs=0.02)
    first_bar = bars[0]
    assert float(first_bar.get("x")) == pytest.approx(to_pixels(x_ticks, edges[0]), abs=0.02)


def test_histogram_of_one_value_and_of_non_finite_values():
    edges, counts = svg_charts.shared_histogram({"flat": np.ones((2, 2))}, bins=4)
    assert edges[0] < 1 < edges[-1] and counts["flat"].sum() == 4
    edges, counts = svg_charts.shared_histogram({"x": np.array([1.0, np.inf, np.nan, 2.0])}, 2)
    assert counts["x"].tolist() == [1, 1]
    parse(svg_charts.histogram_svg({"none": np.array([np.nan])}))


def log_tick_positions(ticks: dict[float, float], value: float) -> float:
    """Where ``value`` lies on a log axis, interpolated in log₁₀ from its end tick labels."""
    (low, low_px), (high, high_px) = sorted(ticks.items())[0], sorted(ticks.items())[-1]
    fraction = (math.log10(value) - math.log10(low)) / (math.log10(high) - math.log10(low))
    return low_px + fraction * (high_px - low_px)


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (0.001, 15, [0.001, 0.01, 0.1, 1, 10, 100]),
        (0.3, 4, [0.2, 0.5, 1, 2, 5]),
        (2, 2, [1, 2, 5]),
        (1e-8, 1e30, [10.0**p for p in range(-8, 33, 5)]),
    ],
)
def test_log_ticks_are_powers_of_ten_or_1_2_5_and_cover_the_range(low, high, expected):
    assert svg_charts.log_ticks(low, high) == pytest.approx(expected)
    with pytest.raises(ValueError, match="log axis"):
        svg_charts.log_ticks(0, 1)


def test_a_log_x_slice_places_points_marks_and_level_by_their_logarithm_and_clips_the_top():
    step_sizes = [0.0, 0.001, 0.01, 0.1, 1.0, 10.0]
    losses = [2.3, 2.29, 2.2, 1.6, 4.0, math.inf]
    svg = svg_charts.line_chart_svg(
        step_sizes,
        {"slice": losses},
        log_x=True,
        y_limits=(0.0, 3.0),
        marks={"good": (0.1, 1.6), "too large": (10.0, 50.0)},
        level=(2.3, "loss now"),
    )
    root = parse(svg)
    x_ticks, y_ticks = tick_positions(root)
    assert min(y_ticks) == 0 and max(y_ticks) <= 3.0
    (line,) = [p for p in root.iter(f"{SVG}path") if p.get("stroke") != "none"]
    points = path_points(line.get("d"))
    assert len(points) == 4, "η = 0 cannot sit on a log axis; the infinite loss is a gap"
    for (px, py), eta, loss in zip(points, step_sizes[1:], losses[1:], strict=False):
        assert px == pytest.approx(log_tick_positions(x_ticks, eta), abs=0.11)
        assert py == pytest.approx(to_pixels(y_ticks, loss), abs=0.11)
    marks = {c.find(f"{SVG}title").text: c for c in root.iter(f"{SVG}circle") if c.get("r") == "8"}
    assert set(marks) == {"good: 0.1 → 1.6", "too large: 10 → 50"}
    assert float(marks["good: 0.1 → 1.6"].get("cy")) == pytest.approx(to_pixels(y_ticks, 1.6), 1e-3)
    (level,) = [ln for ln in root.iter(f"{SVG}line") if ln.get("stroke-dasharray")]
    assert float(level.get("y1")) == pytest.approx(to_pixels(y_ticks, 2.3), abs=0.06)
    (clip,) = root.iter(f"{SVG}clipPath")
    box = clip.find(f"{SVG}rect")
    assert float(box.get("y")) == pytest.approx(to_pixels(y_ticks, 3.0), abs=0.06)
    assert f'clip-path="url(#{clip.get("id")})"' in svg, "the 4.0 and the 50 run off the top"
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert {"slice", "good", "too large", "loss now"} <= set(texts), "legend and level text"


def test_a_log_y_line_leaves_gaps_at_zero_and_overflow():
    root = parse(svg_charts.line_chart_svg([0, 1, 2, 3], {"d": [2.0, 0.5, 0.0, 1e4]}, log_y=True))
    _, y_ticks = tick_positions(root)
    assert sorted(y_ticks) == [0.1, 1, 10, 100, 1000, 10_000]
    runs = [path_points(p.get("d")) for p in root.iter(f"{SVG}path")]
    assert [len(run) for run in runs] == [2, 1]
    assert runs[0][1][1] == pytest.approx(log_tick_positions(y_ticks, 0.5), abs=0.11)


def test_two_charts_on_one_page_get_different_clip_names():
    first = svg_charts.line_chart_svg([0, 1], {"a": [0, 1]})
    second = svg_charts.line_chart_svg([0, 1], {"a": [1, 0]})
    name = re.compile(r'clipPath id="([^"]+)"')
    assert name.search(first).group(1) != name.search(second).group(1)


def test_a_long_legend_wraps_to_rows_inside_the_chart():
    names = {f"a rather long series name {i}": [i, i + 1] for i in range(4)}
    root = parse(svg_charts.line_chart_svg([0, 1], names, width=400, height=320))
    legend = [t for t in root.iter(f"{SVG}text") if (t.text or "").startswith("a rather")]
    rows = sorted({float(t.get("y")) for t in legend})
    assert len(rows) == 4 and rows[-1] < 320
    assert all(float(t.get("x")) + 7.5 * len(t.text) <= 400 for t in legend)


def bars_by_tip(root: ElementTree.Element) -> dict[str, ElementTree.Element]:
    return {
        rect.find(f"{SVG}title").text: rect
        for rect in root.iter(f"{SVG}rect")
        if rect.find(f"{SVG}title") is not None
    }


def test_bars_rise_from_zero_to_their_value_side_by_side_and_fall_below_it_when_negative():
    root = parse(
        svg_charts.bar_chart_svg(
            ["0", "1", "2"], {"y": [0.0, 1.0, 0.0], "p": [0.25, 0.6, 0.15]}, percent=True
        )
    )
    y_ticks = {
        float(t.text.rstrip("%")) / 100: float(t.get("y"))
        for t in root.iter(f"{SVG}text")
        if t.get("text-anchor") == "end"
    }
    assert sorted(y_ticks) == pytest.approx([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    bars = bars_by_tip(root)
    assert set(bars) >= {"y, 1: 100%", "p, 0: 25%", "p, 2: 15%"}
    for tip, value in (("y, 1: 100%", 1.0), ("p, 1: 60%", 0.6), ("p, 0: 25%", 0.25)):
        top, height = float(bars[tip].get("y")), float(bars[tip].get("height"))
        assert top == pytest.approx(to_pixels(y_ticks, value), abs=0.06)
        assert top + height == pytest.approx(to_pixels(y_ticks, 0), abs=0.06)
    assert float(bars["p, 1: 60%"].get("x")) > float(bars["y, 1: 100%"].get("x"))
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "60%" in texts and "y" in texts and "p" in texts, "values printed; a legend"

    signed = parse(svg_charts.bar_chart_svg(["a", "b"], {"logit": [-2.0, 3.0]}))
    _, y_ticks = tick_positions(signed)
    bars = bars_by_tip(signed)
    negative = bars["logit, a: -2"]
    assert float(negative.get("y")) == pytest.approx(to_pixels(y_ticks, 0), abs=0.06)
    bottom = float(negative.get("y")) + float(negative.get("height"))
    assert bottom == pytest.approx(to_pixels(y_ticks, -2.0), abs=0.06)


def test_many_bars_keep_their_values_in_tooltips_and_thin_out_their_labels():
    labels = [str(i) for i in range(100)]
    root = parse(svg_charts.bar_chart_svg(labels, {"unit": np.arange(100.0)}))
    assert len(bars_by_tip(root)) == 100
    assert "unit, 37: 37" in bars_by_tip(root)
    x_labels = [t.text for t in root.iter(f"{SVG}text") if t.get("text-anchor") == "middle"]
    assert x_labels == [str(i) for i in range(0, 100, 5)], "every 5th of 100: at most 24"
    assert not [t for t in root.iter(f"{SVG}text") if t.get("font-size") == "12"], "no values"


def test_bilinear_upsampling_matches_scipy():
    from scipy.interpolate import RegularGridInterpolator

    grid = np.random.default_rng(1).random((5, 7))
    fine = svg_charts.bilinear_upsample(grid, 4)
    rows, cols = np.linspace(0, 4, 17), np.linspace(0, 6, 25)
    reference = RegularGridInterpolator((np.arange(5), np.arange(7)), grid)(
        np.stack(np.meshgrid(rows, cols, indexing="ij"), axis=-1)
    )
    np.testing.assert_allclose(fine, reference, atol=1e-12)


def test_the_surface_bands_log_losses_marks_each_point_and_stops_a_path_at_divergence():
    import base64
    import io

    from PIL import Image

    axis = np.linspace(-1.0, 1.0, 5)
    surface = 10.0 ** (np.add.outer(axis**2, 2 * axis**2))  # loss 1 at the centre, 1000 max
    surface[0, 0] = math.inf
    path = np.array([[0.0, 0.0], [0.5, 0.25], [np.nan, np.nan]])
    paths = {"good": (path, [1.0, 2.2, math.inf])}
    svg = svg_charts.surface_svg(axis, axis, surface, paths, upsample=8)
    root = parse(svg)
    tips = [t.text for t in root.iter(f"{SVG}title")]
    assert "α 0, β 0: loss 1" in tips and "α -1, β -1: loss inf" in tips
    assert "good, step 0: loss 1" in tips and "good, step 1: loss 2.2" in tips
    assert not any(tip.startswith("good, step 2") for tip in tips), "no point after divergence"
    bar_labels = [t.text for t in root.iter(f"{SVG}text") if t.get("text-anchor") is None]
    assert {"1", "10", "100", "1,000"} <= set(bar_labels)

    (image,) = root.iter(f"{SVG}image")
    png = base64.b64decode(image.get("href").split(",", 1)[1])
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    assert pixels.shape == (4 * 8 + 1, 4 * 8 + 1, 3)
    gray = pixels[..., 0]
    centre, edge = gray[16, 16], gray[16, 32]  # loss 1 and loss 100 (β = 0, α = 1)
    assert centre > 240 and centre == gray.max() and edge < 130, "white is low, dark high"
    assert tuple(pixels[32, 0]) == svg_charts.OVERFLOW_RGB, "the infinite corner (β −1, α −1)"
    grays = pixels[(pixels[..., 0] == pixels[..., 1])]
    assert len(np.unique(grays[:, 0])) <= svg_charts.SURFACE_BANDS


def test_equal_or_non_finite_limits_fall_back_to_the_data():
    for limits in [(0.0, 0.0), (0.0, math.nan), (3.0, 1.0)]:
        root = parse(svg_charts.line_chart_svg([1, 2], {"a": [0.0, 0.0]}, y_limits=limits))
        _, y_ticks = tick_positions(root)
        assert min(y_ticks) <= 0 <= max(y_ticks) and min(y_ticks) < max(y_ticks), limits


def test_a_thousand_bars_are_one_shape_per_series_without_a_tooltip_each():
    svg = svg_charts.bar_chart_svg([str(i) for i in range(1000)], {"unit": np.arange(1000.0)})
    root = parse(svg)
    assert not bars_by_tip(root)
    (shape,) = [p for p in root.iter(f"{SVG}path") if p.find(f"{SVG}title") is not None]
    assert shape.find(f"{SVG}title").text == "unit: 1,000 bars"
    assert shape.get("d").count("Z") == 1000 and len(svg) < 60_000


def test_a_zero_loss_is_the_lightest_band_not_the_overflow_colour_and_ticks_thin_out():
    import base64
    import io

    from PIL import Image

    axis = np.linspace(-1.0, 1.0, 5)
    surface = 10.0 ** (4 * np.add.outer(axis**2, axis**2))  # 10 beside the centre, 1e8 at corners
    surface[2, 2] = 0.0
    root = parse(svg_charts.surface_svg(axis, axis, surface, {}, upsample=8))
    (image,) = root.iter(f"{SVG}image")
    png = base64.b64decode(image.get("href").split(",", 1)[1])
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    assert tuple(pixels[16, 16]) != svg_charts.OVERFLOW_RGB
    assert pixels[16, 16, 0] == pixels[..., 0].max(), "a loss of 0 is as light as the lowest"
    labels = [t.text for t in root.iter(f"{SVG}text") if t.get("text-anchor") is None]
    assert "current weights" not in labels, "no legend for the start marker alone"
    bar = [label for label in labels if label not in ("loss",)]
    assert bar == ["10", "100", "1,000", "10,000", "100,000", "1e+06", "1e+07", "1e+08"]
    wide = parse(svg_charts.surface_svg(axis, axis, surface**10, {}))  # 10 to 1e80
    bar = [t.text for t in wide.iter(f"{SVG}text") if t.get("text-anchor") is None]
    assert 3 <= len(bar) - 1 <= 9, "every 10th power at most, not 1-2-5 of 80 decades"


def test_a_surface_without_a_finite_loss_has_no_colour_bar():
    axis = np.linspace(-1.0, 1.0, 3)
    root = parse(svg_charts.surface_svg(axis, axis, np.full((3, 3), np.inf), {}))
    assert "loss" not in [t.text for t in root.iter(f"{SVG}text")]

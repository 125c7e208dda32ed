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

"""explorer.invariance: relative change, equivariance of convolution, invariance of global max.

The pipeline reference here is SciPy's correlate2d plus NumPy pooling, not explorer.ops.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import signal

from explorer import invariance, ops
from explorer.errors import ExplorerError


def digit_canvas(size=40):
    """A small '7'-like stroke pattern in the middle of a black canvas, (size, size, 1)."""
    canvas = np.zeros((size, size, 1), np.float32)
    centre = size // 2
    canvas[centre - 6 : centre - 4, centre - 5 : centre + 5, 0] = 1.0
    for step in range(12):
        canvas[centre - 4 + step, centre + 4 - step // 2, 0] = 0.8
    canvas[centre, centre - 3 : centre + 2, 0] = 0.5
    return canvas


def reference_pipeline(image, kernels, pool):
    """Stride-1 'same' correlation (odd k), ReLU and max pooling, from SciPy and NumPy only."""
    height, width, channels = image.shape
    filters = kernels.shape[3]
    conv = np.zeros((height, width, filters))
    for f in range(filters):
        for c in range(channels):
            conv[..., f] += signal.correlate2d(image[..., c], kernels[:, :, c, f], "same")
    activated = np.maximum(conv, 0)
    out_h, out_w = height // pool, width // pool
    pooled = (
        activated[: out_h * pool, : out_w * pool]
        .reshape(out_h, pool, out_w, pool, filters)
        .max(axis=(1, 3))
    )
    return activated, pooled


def shifted(image, rows, cols):
    out = np.zeros_like(image)
    height, width = image.shape[:2]
    for r in range(height):
        for c in range(width):
            if 0 <= r + rows < height and 0 <= c + cols < width:
                out[r + rows, c + cols] = image[r, c]
    return out


def norm_change(before, after):
    return math.sqrt(float(np.sum((after - before) ** 2))) / math.sqrt(float(np.sum(before**2)))


# --------------------------------------------------------------------------- relative_change


def test_relative_change_basics():
    before = np.array([3.0, 4.0])
    assert invariance.relative_change(before, before) == 0.0
    assert invariance.relative_change(before, np.array([3.0, 0.0])) == pytest.approx(4 / 5)
    assert invariance.relative_change(before, -before) == pytest.approx(2.0)
    assert invariance.relative_change(before, 2 * before) == pytest.approx(1.0)
    assert invariance.relative_change(np.zeros(3), np.zeros(3)) == 0.0
    assert invariance.relative_change(np.zeros(3), np.array([0.0, 1.0, 0.0])) == math.inf
    matrix = np.arange(12.0).reshape(3, 4)
    assert invariance.relative_change(matrix, matrix + 1) == pytest.approx(
        math.sqrt(12) / np.linalg.norm(matrix.ravel())
    )


# --------------------------------------------------------------------------- compare_shift


@pytest.fixture(scope="module")
def bank():
    return ops.build_filter_bank(3, 1, 4, ("sobel x", "sobel y", "laplacian"), seed=5).kernels


@pytest.mark.parametrize("shift", [(1, 0), (0, 2), (3, 3), (-2, 1), (-3, -3)])
def test_stride_one_same_padding_is_equivariant(bank, shift):
    image = digit_canvas()
    geometry = ops.conv_geometry(image.shape[:2], 3, 1, "same")
    result = invariance.compare_shift(image, bank, geometry, "relu", "max", 2, 2, shift)
    assert result.shift == shift
    assert result.feature_maps_realigned == pytest.approx(0.0, abs=1e-6)
    # The pattern stays in view, so each map's strongest response is unchanged.
    assert result.global_max == pytest.approx(0.0, abs=1e-6)
    # Without realigning, the maps and pixels did change.
    assert result.pixels > 0.3 and result.feature_maps > 0.3

    activated, pooled = reference_pipeline(image, bank, 2)
    moved = shifted(image, *shift)
    activated_after, pooled_after = reference_pipeline(moved, bank, 2)
    assert result.pixels == pytest.approx(norm_change(image, moved), rel=1e-5)
    assert result.feature_maps == pytest.approx(norm_change(activated, activated_after), rel=1e-4)
    assert result.pooled_maps == pytest.approx(norm_change(pooled, pooled_after), rel=1e-4)


@pytest.mark.parametrize("shift", [(2, 0), (0, -2), (4, 2)])
def test_stride_two_shift_by_whole_cells_is_equivariant(bank, shift):
    image = digit_canvas()
    geometry = ops.conv_geometry(image.shape[:2], 3, 2, "same")
    result = invariance.compare_shift(image, bank, geometry, "relu", "max", 2, 2, shift)
    assert result.feature_maps_realigned == pytest.approx(0.0, abs=1e-6)
    assert result.feature_maps > 0.1


def test_global_max_changes_once_the_pattern_leaves_the_view(bank):
    image = digit_canvas()
    geometry = ops.conv_geometry(image.shape[:2], 3, 1, "same")
    gone = invariance.compare_shift(image, bank, geometry, "relu", "max", 2, 2, (0, 30))
    assert gone.global_max == pytest.approx(1.0)  # every map is now all zeros
    assert gone.pixels == pytest.approx(1.0)


def test_valid_padding_realigned_interior_matches(bank):
    image = digit_canvas(44)
    geometry = ops.conv_geometry(image.shape[:2], 3, 1, "valid")
    result = invariance.compare_shift(image, bank, geometry, "tanh", "average", 3, 3, (2, -1))
    assert result.feature_maps_realigned == pytest.approx(0.0, abs=1e-6)
    assert result.global_max == pytest.approx(0.0, abs=1e-6)


def test_zero_shift_changes_nothing(bank):
    image = digit_canvas()
    geometry = ops.conv_geometry(image.shape[:2], 3, 1, "same")
    result = invariance.compare_shift(image, bank, geometry, "relu", "average", 2, 2, (0, 0))
    for value in (
        result.pixels,
        result.feature_maps,
        result.feature_maps_realigned,
        result.pooled_maps,
        result.global_max,
    ):
        assert value == 0.0


def test_compare_shift_passes_on_pooling_errors(bank):
    image = np.eye(12, dtype=np.float32)[..., None]
    geometry = ops.conv_geometry(image.shape[:2], 3, 1, "valid")
    with pytest.raises(ExplorerError):
        invariance.compare_shift(image, bank, geometry, "relu", "max", 11, 1, (1, 1))


def test_realigned_change_does_not_claim_zero_when_no_cells_were_compared():
    image = np.zeros((28, 28, 1), np.float32)
    image[8:20, 12:16] = 1.0
    kernels = ops.build_filter_bank(11, 1, 2, seed=0).kernels
    geometry = ops.conv_geometry((28, 28), 11, 1, "same")
    try:
        result = invariance.compare_shift(image, kernels, geometry, "relu", "max", 2, 2, (8, 8))
    except ExplorerError:
        return  # refusing is an honest answer too
    assert result.feature_maps_realigned != 0.0  # NaN (nothing to compare) would be honest


def test_shift_verdict_says_what_the_numbers_show():
    def verdict(pixels, pooled, global_max):
        comparison = invariance.ShiftComparison((1, 1), pixels, 0.5, 0.0, pooled, global_max)
        return invariance.shift_verdict(comparison, "max")

    both = verdict(0.7, 0.3, 0.1)
    assert "**0.700**" in both and "**0.300**" in both and "**0.100**" in both
    assert "both summaries changed less" in both
    assert "the pooled maps did not" in verdict(0.7, 0.9, 0.1)
    photo = verdict(0.198, 0.692, 0.436)  # the default cat photo, shifted by (1, 1)
    assert "did **not** make the shift matter less" in photo


def test_shift_verdict_on_a_digit_and_on_the_default_photo():
    """The lab's claim, checked on real pictures at the lab's default settings."""
    from explorer import images, ops, samples

    verdicts = {}
    for name in ("MNIST digit 3", "cat (photo)"):
        pixels = images.to_working_image(samples.load_sample(name), "grayscale", 128)
        bank = ops.build_filter_bank(3, 1, 4, ("sobel x", "sobel y", "laplacian", "gaussian blur"))
        geometry = ops.conv_geometry(pixels.shape[:2], 3, 1, "valid", 1)
        comparison = invariance.compare_shift(
            pixels, bank.kernels, geometry, "relu", "max", 2, 2, (1, 1)
        )
        verdicts[name] = invariance.shift_verdict(comparison, "max")
        assert f"**{comparison.pixels:.3f}**" in verdicts[name]
    assert "did **not**" in verdicts["cat (photo)"]

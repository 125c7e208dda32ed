"""explorer.frequency against hand-built DFTs, Parseval's theorem and explicit circular loops."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from explorer import frequency, ops
from explorer.errors import ExplorerError

FAST = settings(max_examples=50, deadline=None)


def centred_frequencies(n):
    """Integer frequency of each centred-spectrum index: -(n//2) .. n - n//2 - 1."""
    return np.arange(n) - n // 2


def reference_radius(shape):
    """Distance from DC as a fraction of Nyquist, written from the definition."""
    rows = 2.0 * centred_frequencies(shape[0]) / shape[0]
    cols = 2.0 * centred_frequencies(shape[1]) / shape[1]
    return np.sqrt(rows[:, None] ** 2 + cols[None, :] ** 2)


def direct_dft_magnitude(kernel, shape):
    """|sum_mn k[m, n] exp(-2 pi i (u m / H + v n / W))| on the centred grid, without np.fft."""
    height, width = shape
    u = centred_frequencies(height)[:, None]
    v = centred_frequencies(width)[:, None]
    rows = np.exp(-2j * np.pi * u * np.arange(kernel.shape[0])[None, :] / height)
    cols = np.exp(-2j * np.pi * v * np.arange(kernel.shape[1])[None, :] / width)
    return np.abs(rows @ kernel @ cols.T)


# --------------------------------------------------------------------------- spectra


@pytest.mark.parametrize(
    ("shape", "fr", "fc"), [((32, 32), 0, 4), ((31, 40), 3, 0), ((20, 27), 2, 5)]
)
def test_cosine_spectrum_peaks_at_expected_cells(shape, fr, fc):
    height, width = shape
    rows, cols = np.mgrid[0:height, 0:width]
    image = np.cos(2 * np.pi * (fr * rows / height + fc * cols / width))
    magnitude = np.abs(frequency.centred_spectrum(image))
    centre = (height // 2, width // 2)
    peaks = {(centre[0] + fr, centre[1] + fc), (centre[0] - fr, centre[1] - fc)}
    for cell in peaks:
        assert magnitude[cell] == pytest.approx(height * width / 2)
    rest = magnitude.copy()
    for cell in peaks:
        rest[cell] = 0
    assert rest.max() < 1e-8 * height * width


def test_constant_image_has_only_dc_and_zero_phase():
    image = np.full((9, 12), 0.25)
    spectrum = frequency.centred_spectrum(image)
    magnitude = np.abs(spectrum)
    assert magnitude[4, 6] == pytest.approx(0.25 * 9 * 12)
    magnitude[4, 6] = 0
    assert magnitude.max() < 1e-12
    assert frequency.phase(spectrum)[4, 6] == pytest.approx(0.0)


def test_log_magnitude_and_phase():
    spectrum = np.array([[0, 1j * (np.e - 1)], [-3, 1 + 1j]])
    np.testing.assert_allclose(
        frequency.log_magnitude(spectrum), [[0, 1], [np.log(4), np.log1p(np.sqrt(2))]]
    )
    np.testing.assert_allclose(frequency.phase(spectrum), [[0, np.pi / 2], [np.pi, np.pi / 4]])


# --------------------------------------------------------------------------- masks


@pytest.mark.parametrize("shape", [(8, 8), (9, 9), (16, 11), (33, 20)])
def test_normalised_radius_from_definition(shape):
    radius = frequency.normalised_radius(shape)
    np.testing.assert_allclose(radius, reference_radius(shape))
    assert radius[shape[0] // 2, shape[1] // 2] == 0.0
    if shape[0] % 2 == 0:
        assert radius[0, shape[1] // 2] == pytest.approx(1.0)  # Nyquist row


@FAST
@given(
    st.integers(2, 40),
    st.integers(2, 40),
    st.floats(0.02, 1.5),
    st.floats(0.02, 0.6),
)
def test_mask_families(height, width, cutoff, width_ring):
    shape = (height, width)
    radius = reference_radius(shape)
    low = frequency.frequency_mask(shape, "ideal", "low-pass", cutoff)
    high = frequency.frequency_mask(shape, "ideal", "high-pass", cutoff)
    # A frequency whose radius lies on an edge (within float round-off) may fall either side.
    clear = ~np.isclose(radius, cutoff, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(low[clear], (radius <= cutoff).astype(float)[clear])
    np.testing.assert_array_equal(high, 1.0 - low)
    ring = frequency.frequency_mask(shape, "ideal", "band-pass", cutoff, width_ring)
    distance = np.abs(radius - cutoff)
    clear = ~np.isclose(distance, width_ring / 2, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(ring[clear], (distance <= width_ring / 2).astype(float)[clear])
    for band in frequency.MASK_BANDS:
        smooth = frequency.frequency_mask(shape, "gaussian", band, cutoff, width_ring)
        assert smooth.shape == shape and smooth.dtype == np.float64
        assert np.all((smooth >= 0) & (smooth <= 1))
    g_low = frequency.frequency_mask(shape, "gaussian", "low-pass", cutoff)
    g_high = frequency.frequency_mask(shape, "gaussian", "high-pass", cutoff)
    np.testing.assert_allclose(g_low + g_high, 1.0)
    assert g_low[height // 2, width // 2] == pytest.approx(1.0)
    # Gaussian low-pass falls off monotonically with the radius.
    order = np.argsort(radius, axis=None)
    assert np.all(np.diff(g_low.ravel()[order]) <= 1e-12)
    g_ring = frequency.frequency_mask(shape, "gaussian", "band-pass", cutoff, width_ring)
    np.testing.assert_allclose(
        g_ring, np.exp(-((radius - cutoff) ** 2) / (2 * (width_ring / 2) ** 2)), atol=1e-12
    )


@pytest.mark.parametrize(
    ("args", "pattern"),
    [
        (("box", "low-pass", 0.5), "mask shape"),
        (("ideal", "notch", 0.5), "band"),
        (("ideal", "low-pass", 0.0), "cutoff"),
        (("ideal", "low-pass", 1.6), "cutoff"),
        (("gaussian", "band-pass", 0.5, 0.0), "width"),
    ],
)
def test_mask_errors(args, pattern):
    with pytest.raises(ExplorerError, match=pattern):
        frequency.frequency_mask((16, 16), *args)


# --------------------------------------------------------------------------- filtering, energy


@FAST
@given(st.integers(1, 30), st.integers(1, 30), st.integers(0, 10**6))
def test_filter_image_with_all_ones_mask_returns_the_image(height, width, seed):
    image = np.random.default_rng(seed).random((height, width))
    np.testing.assert_allclose(
        frequency.filter_image(image, np.ones((height, width))), image, atol=1e-12
    )
    np.testing.assert_allclose(
        frequency.filter_image(image, np.zeros((height, width))), 0, atol=1e-15
    )


def test_ideal_low_pass_above_the_corner_radius_keeps_everything():
    image = np.random.default_rng(1).random((16, 16))
    mask = frequency.frequency_mask(image.shape, "ideal", "low-pass", 1.5)
    assert mask.min() == 1.0
    np.testing.assert_allclose(frequency.filter_image(image, mask), image, atol=1e-12)


def test_low_pass_removes_a_fine_stripe_pattern_and_keeps_the_mean():
    cols = np.arange(32)
    stripes = 0.5 + 0.5 * np.cos(2 * np.pi * 12 * cols / 32)[None, :].repeat(32, axis=0)
    mask = frequency.frequency_mask(stripes.shape, "ideal", "low-pass", 0.3)
    np.testing.assert_allclose(frequency.filter_image(stripes, mask), 0.5, atol=1e-12)
    high = frequency.frequency_mask(stripes.shape, "ideal", "high-pass", 0.3)
    np.testing.assert_allclose(
        frequency.filter_image(stripes, mask) + frequency.filter_image(stripes, high), stripes
    )


@FAST
@given(
    st.integers(2, 24),
    st.integers(2, 24),
    st.sampled_from(frequency.MASK_SHAPES),
    st.sampled_from(frequency.MASK_BANDS),
    st.floats(0.05, 1.2),
    st.integers(0, 10**6),
)
def test_energy_fraction_obeys_parseval(height, width, mask_shape, band, cutoff, seed):
    """Radial masks keep the spectrum Hermitian, so kept energy = ||filtered||^2 / ||image||^2."""
    image = np.random.default_rng(seed).standard_normal((height, width))
    mask = frequency.frequency_mask((height, width), mask_shape, band, cutoff, 0.2)
    kept = frequency.energy_fraction(image, mask)
    filtered = frequency.filter_image(image, mask)
    assert 0.0 <= kept <= 1.0 + 1e-12
    assert kept == pytest.approx(np.sum(filtered**2) / np.sum(image**2), rel=1e-9, abs=1e-12)


def test_energy_fraction_edge_cases():
    image = np.random.default_rng(2).random((10, 10))
    assert frequency.energy_fraction(image, np.ones((10, 10))) == pytest.approx(1.0)
    assert frequency.energy_fraction(image, np.zeros((10, 10))) == 0.0
    assert frequency.energy_fraction(np.zeros((10, 10)), np.ones((10, 10))) == 0.0
    dc_only = np.zeros((10, 10))
    dc_only[5, 5] = 1.0
    assert frequency.energy_fraction(image, dc_only) == pytest.approx(
        (image.sum() ** 2) / (100 * np.sum(image**2))
    )


def test_high_frequency_share_orders_textures():
    rng = np.random.default_rng(0)
    noise = rng.random((64, 64))
    rows, cols = np.mgrid[0:64, 0:64]
    smooth = 0.5 + 0.4 * np.sin(2 * np.pi * cols / 64)
    assert frequency.high_frequency_share(smooth, 0.1) == pytest.approx(0.0, abs=1e-12)
    assert frequency.high_frequency_share(noise, 0.1) > 0.9
    # Adding a constant (brightness) does not change the share of detail.
    assert frequency.high_frequency_share(noise * 0.5 + 0.3, 0.1) == pytest.approx(
        frequency.high_frequency_share(noise, 0.1)
    )


@pytest.mark.parametrize(("cycles", "share"), [(4, 0.0), (12, 1.0), (6, 0.0), (7, 1.0)])
def test_a_pure_wave_counts_wholly_below_or_wholly_above_the_cutoff(cycles, share):
    """The issue's case: a wave at 5% of Nyquist read 22.1% "above 10%", one at 15% 89.5%.
    ``cycles`` across 128 px sit at radius 2·cycles/128 of Nyquist (4 → 6%, 12 → 19%)."""
    cols = np.arange(128)[None, :] * np.ones((128, 1))
    wave = 0.5 + 0.4 * np.cos(2 * np.pi * cycles * cols / 128)
    assert frequency.high_frequency_share(wave, 0.1) == pytest.approx(share, abs=1e-9)


def test_high_frequency_share_of_a_flat_image_is_zero():
    # All-black (a blank drawing canvas) and mid-grey are exactly flat: 1.0 is reported today.
    # (0.7 happens to give 0.0, because mean() leaves a ~1e-16 residue that counts as "low".)
    for value in (0.0, 0.5):
        assert frequency.high_frequency_share(np.full((16, 16), value), 0.1) == 0.0


# --------------------------------------------------------------------------- kernel responses


def test_a_stack_of_kernels_gives_each_kernels_response():
    kernels = np.stack([ops.kernel_preset(name, 3) for name in ("sobel x", "box blur")], axis=-1)
    stacked = frequency.kernel_frequency_response(kernels, (12, 10))
    assert stacked.shape == (12, 10, 2)
    for index in range(2):
        alone = frequency.kernel_frequency_response(kernels[..., index], (12, 10))
        np.testing.assert_allclose(stacked[..., index], alone, atol=1e-12)


@pytest.mark.parametrize("shape", [(16, 16), (15, 21), (64, 64)])
@pytest.mark.parametrize(
    "name", ["box blur", "gaussian blur", "sobel x", "laplacian", "sharpen", "emboss"]
)
@pytest.mark.parametrize("size", [3, 5])
def test_kernel_frequency_response_equals_direct_dft(name, size, shape):
    kernel = ops.kernel_preset(name, size).astype(np.float64)
    response = frequency.kernel_frequency_response(kernel, shape)
    assert response.shape == shape
    np.testing.assert_allclose(response, direct_dft_magnitude(kernel, shape), atol=1e-10)


@pytest.mark.parametrize("size", [3, 5, 7])
def test_blur_response_peaks_at_the_centre(size):
    for name in ("box blur", "gaussian blur"):
        response = frequency.kernel_frequency_response(ops.kernel_preset(name, size), (32, 32))
        assert response[16, 16] == pytest.approx(1.0, abs=1e-6)  # passes the mean unchanged
        assert response.max() == pytest.approx(response[16, 16])


@pytest.mark.parametrize("size", [3, 5, 7])
def test_sobel_x_response_is_zero_along_the_centre_column(size):
    response = frequency.kernel_frequency_response(ops.kernel_preset("sobel x", size), (32, 33))
    np.testing.assert_allclose(response[:, 33 // 2], 0.0, atol=1e-6)
    assert response[16, :].max() > 1.0  # it does pass horizontal frequencies
    sobel_y = frequency.kernel_frequency_response(ops.kernel_preset("sobel y", size), (32, 33))
    np.testing.assert_allclose(sobel_y[16, :], 0.0, atol=1e-6)


def test_edge_detectors_block_dc_and_identity_is_flat():
    for name in ("laplacian", "sobel x", "vertical edges"):
        response = frequency.kernel_frequency_response(ops.kernel_preset(name, 3), (20, 20))
        assert response[10, 10] == pytest.approx(0.0, abs=1e-6)
    identity = frequency.kernel_frequency_response(ops.kernel_preset("identity", 5), (20, 20))
    np.testing.assert_allclose(identity, 1.0, atol=1e-6)


def test_kernel_larger_than_grid_is_refused():
    with pytest.raises(ExplorerError, match="larger"):
        frequency.kernel_frequency_response(np.ones((7, 7)), (5, 9))


# --------------------------------------------------------------------------- convolution theorem


def circular_convolution(image, kernel):
    """out[i, j] = sum_mn k[m, n] * x[(i + c_r - m) mod H, (j + c_c - n) mod W], c = k // 2."""
    height, width = image.shape
    centre_r, centre_c = kernel.shape[0] // 2, kernel.shape[1] // 2
    out = np.zeros_like(image)
    for m in range(kernel.shape[0]):
        for n in range(kernel.shape[1]):
            out += kernel[m, n] * np.roll(image, (m - centre_r, n - centre_c), axis=(0, 1))
    return out


def circular_correlation(image, kernel):
    """out[i, j] = sum_mn k[m, n] * x[(i + m - c_r) mod H, (j + n - c_c) mod W]: no flip."""
    centre_r, centre_c = kernel.shape[0] // 2, kernel.shape[1] // 2
    out = np.zeros_like(image)
    for m in range(kernel.shape[0]):
        for n in range(kernel.shape[1]):
            out += kernel[m, n] * np.roll(image, (centre_r - m, centre_c - n), axis=(0, 1))
    return out


NAIVE = {"convolution": circular_convolution, "cross-correlation": circular_correlation}


@FAST
@given(
    st.integers(1, 11).map(lambda n: 2 * n + 1),
    st.integers(1, 11).map(lambda n: 2 * n + 1),
    st.integers(1, 6),
    st.integers(1, 6),
    st.integers(0, 10**6),
    st.sampled_from(frequency.OPERATIONS),
)
def test_convolution_theorem_holds_for_odd_and_even_kernels(
    height, width, k_rows, k_cols, seed, operation
):
    assume(k_rows <= height and k_cols <= width)  # larger kernels: tested below
    rng = np.random.default_rng(seed)
    image = rng.random((height, width))
    kernel = rng.standard_normal((k_rows, k_cols))
    check = frequency.check_convolution_theorem(image, kernel, operation)
    assert check.spatial.shape == check.spectral.shape == (height, width)
    assert check.max_abs_difference < 1e-10
    assert check.max_abs_difference == pytest.approx(np.max(np.abs(check.spatial - check.spectral)))
    # Both sides are the circular operation centred at k // 2, checked with plain loops.
    np.testing.assert_allclose(check.spatial, NAIVE[operation](image, kernel), atol=1e-10)
    np.testing.assert_allclose(check.spectral, NAIVE[operation](image, kernel), atol=1e-10)


def test_cross_correlation_is_what_the_convolution_lab_computes():
    """Inside the border, Lab 4's cross-correlation equals Lab 2's feature map; convolution
    with Sobel x flips its sign (the "opposite colours" a learner sees)."""
    rng = np.random.default_rng(1)
    image = rng.random((12, 14))
    sobel_x = ops.kernel_preset("sobel x", 3)
    geometry = ops.conv_geometry(image.shape, 3, 1, "valid", 1)
    lab_2 = ops.feature_maps(image[..., None], sobel_x[:, :, None, None], geometry)[..., 0]
    correlated = frequency.check_convolution_theorem(image, sobel_x, "cross-correlation")
    convolved = frequency.check_convolution_theorem(image, sobel_x, "convolution")
    np.testing.assert_allclose(correlated.spatial[1:-1, 1:-1], lab_2, atol=1e-5)
    np.testing.assert_allclose(convolved.spatial[1:-1, 1:-1], -lab_2, atol=1e-5)


@pytest.mark.parametrize(("image_shape", "kernel_shape"), [((5, 5), (7, 7)), ((3, 3), (1, 4))])
def test_convolution_theorem_with_a_kernel_larger_than_the_image(image_shape, kernel_shape):
    rng = np.random.default_rng(0)
    image = rng.random(image_shape)
    kernel = rng.standard_normal(kernel_shape)
    for operation, naive in NAIVE.items():
        check = frequency.check_convolution_theorem(image, kernel, operation)
        assert check.max_abs_difference < 1e-10
        np.testing.assert_allclose(check.spectral, naive(image, kernel), atol=1e-10)


def test_kernel_on_grid_puts_the_centre_at_the_origin():
    kernel = np.arange(1, 10, dtype=float).reshape(3, 3)
    grid = frequency.kernel_on_grid(kernel, (6, 7))
    assert grid[0, 0] == 5.0  # the centre tap
    assert grid[-1, -1] == 1.0 and grid[1, 1] == 9.0 and grid[0, -1] == 4.0
    assert grid.sum() == kernel.sum()

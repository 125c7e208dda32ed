"""explorer.ops against independent references: naive NumPy loops, SciPy and lax's own SAME rule.

Nothing here compares the code with its own output: every expected value comes
from a loop written out in the test, a textbook constant, or another library.
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from jax import lax
from scipy import signal

from explorer import ops
from explorer.errors import ExplorerError

FAST = settings(max_examples=60, deadline=None)


# --------------------------------------------------------------------------- references


def naive_conv(image, kernels, stride, padding, dilation):
    """Cross-correlation of one (H, W, C) image with (k, k, C, F) kernels, written as loops."""
    (top, bottom), (left, right) = padding
    padded = np.pad(np.asarray(image, np.float64), ((top, bottom), (left, right), (0, 0)))
    size = kernels.shape[0]
    span = dilation * (size - 1) + 1
    out_h = (padded.shape[0] - span) // stride + 1
    out_w = (padded.shape[1] - span) // stride + 1
    out = np.zeros((out_h, out_w, kernels.shape[3]))
    for i in range(out_h):
        for j in range(out_w):
            for f in range(kernels.shape[3]):
                total = 0.0
                for a in range(size):
                    for b in range(size):
                        row, col = i * stride + a * dilation, j * stride + b * dilation
                        total += float(np.dot(padded[row, col, :], kernels[a, b, :, f]))
                out[i, j, f] = total
    return out


def naive_pool(values, kind, window, stride):
    """Unpadded max/average pooling of an (H, W, C) array, written as loops."""
    height, width, channels = values.shape
    out_h, out_w = (height - window) // stride + 1, (width - window) // stride + 1
    out = np.zeros((out_h, out_w, channels))
    for i in range(out_h):
        for j in range(out_w):
            block = values[i * stride : i * stride + window, j * stride : j * stride + window, :]
            reduced = block.max(axis=(0, 1)) if kind == "max" else block.mean(axis=(0, 1))
            out[i, j] = reduced
    return out


def tf_same_padding(n, k, s, d):
    """TensorFlow's documented SAME rule, written independently: out = ceil(n/s)."""
    span = d * (k - 1) + 1
    out = math.ceil(n / s)
    total = max((out - 1) * s + span - n, 0)
    return out, (total // 2, total - total // 2)


def run_conv(image, kernels, geometry):
    return np.asarray(
        ops.conv2d(
            jnp.asarray(image[None], jnp.float32),
            jnp.asarray(kernels, jnp.float32),
            geometry.stride,
            geometry.padding,
            geometry.dilation,
        )[0]
    )


@st.composite
def conv_configs(draw):
    """A possible convolution: image, kernel bank, stride, padding mode, dilation."""
    height = draw(st.integers(1, 20))
    width = draw(st.integers(1, 20))
    channels = draw(st.sampled_from([1, 3]))
    size = draw(st.integers(1, 11))
    stride = draw(st.integers(1, 5))
    dilation = draw(st.integers(1, 3))
    padding = draw(st.one_of(st.sampled_from(["valid", "same"]), st.integers(0, 5)))
    filters = draw(st.integers(1, 4))
    seed = draw(st.integers(0, 2**31 - 1))
    return height, width, channels, size, stride, dilation, padding, filters, seed


def _explicit_pads(padding):
    return ((padding, padding), (padding, padding))


# --------------------------------------------------------------------------- output size


@FAST
@given(conv_configs())
def test_conv2d_matches_naive_loop_or_refuses_impossible_settings(config):
    height, width, channels, size, stride, dilation, padding, filters, seed = config
    span = dilation * (size - 1) + 1
    if padding == "valid":
        pads = ((0, 0), (0, 0))
    elif padding == "same":
        pads = (tf_same_padding(height, size, stride, dilation)[1],) + (
            tf_same_padding(width, size, stride, dilation)[1],
        )
    else:
        pads = _explicit_pads(padding)
    padded_h, padded_w = height + sum(pads[0]), width + sum(pads[1])
    if padded_h < span or padded_w < span:
        with pytest.raises(ExplorerError, match="Impossible setting"):
            ops.conv_geometry((height, width), size, stride, padding, dilation)
        return
    geometry = ops.conv_geometry((height, width), size, stride, padding, dilation)
    assert geometry.padding == pads
    expected_hw = ((padded_h - span) // stride + 1, (padded_w - span) // stride + 1)
    assert geometry.output_hw == expected_hw
    if padding == "same":
        assert geometry.output_hw == (math.ceil(height / stride), math.ceil(width / stride))

    rng = np.random.default_rng(seed)
    image = rng.random((height, width, channels)).astype(np.float32)
    kernels = rng.standard_normal((size, size, channels, filters)).astype(np.float32)
    got = run_conv(image, kernels, geometry)
    assert got.shape == (*expected_hw, filters)
    np.testing.assert_allclose(got, naive_conv(image, kernels, stride, pads, dilation), atol=2e-4)


@pytest.mark.parametrize(
    ("n", "k", "s", "d", "pads"),
    [
        (5, 3, 1, 1, (1, 1)),
        (5, 3, 2, 1, (1, 1)),
        (6, 3, 2, 1, (0, 1)),
        (13, 6, 5, 1, (1, 2)),  # the worked example of TensorFlow's padding docs
        (28, 4, 1, 1, (1, 2)),  # even kernel: the odd leftover goes after
        (10, 3, 1, 2, (2, 2)),
        (7, 1, 3, 1, (0, 0)),
    ],
)
def test_same_padding_hand_checked(n, k, s, d, pads):
    assert ops.same_padding(n, k, s, d) == pads
    assert ops.conv_geometry((n, n), k, s, "same", d).output_hw == (-(-n // s),) * 2


@FAST
@given(
    st.integers(1, 16),
    st.integers(1, 16),
    st.integers(1, 7),
    st.integers(1, 4),
    st.integers(1, 3),
    st.integers(0, 1000),
)
def test_same_padding_agrees_with_lax_same(height, width, size, stride, dilation, seed):
    """lax computes SAME padding itself; ours must give identical maps."""
    geometry = ops.conv_geometry((height, width), size, stride, "same", dilation)
    rng = np.random.default_rng(seed)
    image = rng.random((1, height, width, 2)).astype(np.float32)
    kernels = rng.standard_normal((size, size, 2, 3)).astype(np.float32)
    reference = lax.conv_general_dilated(
        image,
        kernels,
        window_strides=(stride, stride),
        padding="SAME",
        rhs_dilation=(dilation, dilation),
        dimension_numbers=("NHWC", "HWIO", "NHWC"),
    )
    got = ops.conv2d(image, kernels, stride, geometry.padding, dilation)
    assert got.shape == reference.shape
    np.testing.assert_allclose(np.asarray(got), np.asarray(reference), atol=1e-5)


@FAST
@given(st.integers(1, 18), st.integers(1, 18), st.integers(1, 9), st.integers(0, 1000))
def test_valid_padding_equals_scipy_correlate2d(height, width, size, seed):
    assume(size <= min(height, width))
    rng = np.random.default_rng(seed)
    image = rng.random((height, width, 1))
    kernel = rng.standard_normal((size, size))
    geometry = ops.conv_geometry((height, width), size, 1, "valid")
    got = run_conv(image, kernel[:, :, None, None], geometry)[..., 0]
    np.testing.assert_allclose(got, signal.correlate2d(image[..., 0], kernel, "valid"), atol=1e-4)


@FAST
@given(st.integers(1, 15), st.integers(1, 15), st.integers(1, 7), st.data())
def test_explicit_padding_equals_cropped_full_correlation(height, width, size, data):
    """Padding p <= k-1 is the 'full' correlation with k-1-p rows/cols cropped off each side."""
    padding = data.draw(st.integers(0, size - 1))
    assume(height + 2 * padding >= size and width + 2 * padding >= size)
    rng = np.random.default_rng(data.draw(st.integers(0, 1000)))
    image = rng.random((height, width, 1))
    kernel = rng.standard_normal((size, size))
    geometry = ops.conv_geometry((height, width), size, 1, padding)
    full = signal.correlate2d(image[..., 0], kernel, "full")
    crop = size - 1 - padding
    expected = full[crop : full.shape[0] - crop, crop : full.shape[1] - crop]
    got = run_conv(image, kernel[:, :, None, None], geometry)[..., 0]
    np.testing.assert_allclose(got, expected, atol=1e-4)


@pytest.mark.parametrize("size", [1, 3, 5, 7])
def test_same_padding_odd_kernel_equals_scipy_same(size):
    rng = np.random.default_rng(size)
    image = rng.random((11, 9, 1))
    kernel = rng.standard_normal((size, size))
    geometry = ops.conv_geometry((11, 9), size, 1, "same")
    got = run_conv(image, kernel[:, :, None, None], geometry)[..., 0]
    np.testing.assert_allclose(got, signal.correlate2d(image[..., 0], kernel, "same"), atol=1e-4)


def test_conv_is_cross_correlation_not_flipped():
    image = np.zeros((5, 5, 1), np.float32)
    image[2, 2, 0] = 1.0
    kernel = np.arange(9, dtype=np.float32).reshape(3, 3)
    geometry = ops.conv_geometry((5, 5), 3, 1, "valid")
    out = run_conv(image, kernel[:, :, None, None], geometry)[..., 0]
    # An impulse under a correlation window reads the kernel back rotated by 180 degrees.
    np.testing.assert_allclose(out, kernel[::-1, ::-1])


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"input_hw": (5, 5), "kernel_size": 7}, "Impossible"),
        ({"input_hw": (28, 28), "kernel_size": 5, "dilation": 7}, "Impossible"),
        ({"input_hw": (4, 30), "kernel_size": 5}, "Impossible"),
        ({"input_hw": (8, 8), "kernel_size": 0}, "at least 1"),
        ({"input_hw": (8, 8), "kernel_size": 3, "stride": 0}, "at least 1"),
        ({"input_hw": (8, 8), "kernel_size": 3, "dilation": 0}, "at least 1"),
        ({"input_hw": (8, 8), "kernel_size": 3, "padding": -1}, "negative"),
        ({"input_hw": (8, 8), "kernel_size": 3, "padding": "full"}, "Unknown padding"),
    ],
)
def test_conv_geometry_refuses_with_a_message(kwargs, pattern):
    with pytest.raises(ExplorerError, match=pattern):
        ops.conv_geometry(**kwargs)


def test_impossible_message_names_the_numbers():
    with pytest.raises(ExplorerError) as info:
        ops.conv_geometry((5, 6), 4, 1, 0, 2)
    message = str(info.value)
    assert "7" in message and "5×6" in message


def test_geometry_window_origin_and_effective_kernel():
    geometry = ops.conv_geometry((10, 10), 3, 2, 2, 2)
    assert geometry.effective_kernel == 5
    assert geometry.window_origin(0, 0) == (-2, -2)
    assert geometry.window_origin(3, 1) == (4, 0)


# --------------------------------------------------------------------------- activations


@pytest.mark.parametrize("slope", [0.01, 0.2])
def test_activations_match_numpy_formulas(slope):
    x = np.linspace(-6, 6, 241).astype(np.float32)
    expected = {
        "linear": x,
        "relu": np.maximum(x, 0),
        "leaky_relu": np.where(x >= 0, x, slope * x),
        "sigmoid": 1.0 / (1.0 + np.exp(-x.astype(np.float64))),
        "tanh": np.tanh(x.astype(np.float64)),
    }
    assert set(expected) == set(ops.ACTIVATIONS)
    for name, reference in expected.items():
        got = np.asarray(ops.activate(jnp.asarray(x), ops.activation_index(name), slope))
        np.testing.assert_allclose(got, reference, atol=1e-6, err_msg=name)


def test_unknown_activation_and_pooling_are_user_errors():
    with pytest.raises(ExplorerError, match="activation"):
        ops.activation_index("swish")
    with pytest.raises(ExplorerError, match="pooling"):
        ops.pooling_index("median")


# --------------------------------------------------------------------------- pooling


@FAST
@given(
    st.integers(1, 20),
    st.integers(1, 20),
    st.integers(1, 4),
    st.integers(1, 5),
    st.integers(1, 4),
    st.sampled_from(ops.POOLING_KINDS),
    st.integers(0, 1000),
)
def test_pooling_matches_naive_loop(height, width, channels, window, stride, kind, seed):
    assume(window <= min(height, width))
    rng = np.random.default_rng(seed)
    values = rng.standard_normal((height, width, channels)).astype(np.float32)
    expected = naive_pool(values, kind, window, stride)
    assert ops.check_pooling((height, width), window, stride) == expected.shape[:2]
    got = np.asarray(ops.pool2d(jnp.asarray(values[None]), ops.pooling_index(kind), window, stride))
    np.testing.assert_allclose(got[0], expected, atol=1e-5)


def test_max_pool_of_negative_values_is_not_clamped_at_zero():
    values = -np.arange(1, 17, dtype=np.float32).reshape(1, 4, 4, 1)
    got = np.asarray(ops.pool2d(jnp.asarray(values), 0, 2, 2))[0, ..., 0]
    np.testing.assert_array_equal(got, [[-1, -3], [-9, -11]])


@pytest.mark.parametrize(
    ("hw", "window", "stride", "pattern"),
    [
        ((4, 4), 5, 1, "larger"),
        ((10, 3), 4, 2, "larger"),
        ((8, 8), 0, 1, "at least 1"),
        ((8, 8), 2, 0, "at least 1"),
    ],
)
def test_check_pooling_errors(hw, window, stride, pattern):
    with pytest.raises(ExplorerError, match=pattern):
        ops.check_pooling(hw, window, stride)


@FAST
@given(
    st.integers(2, 24), st.integers(2, 24), st.integers(1, 4), st.integers(1, 4), st.integers(0, 99)
)
def test_pooling_example_region_pools_to_the_block(height, width, window, stride, seed):
    assume(window <= min(height, width))
    rng = np.random.default_rng(seed)
    feature_map = rng.standard_normal((height, width))
    region, (row, col) = ops.pooling_example(feature_map, window, stride, cells=3)
    full = naive_pool(feature_map[..., None], "max", window, stride)[..., 0]
    block = naive_pool(region[..., None], "max", window, stride)[..., 0]
    assert 1 <= block.shape[0] <= 3 and 1 <= block.shape[1] <= 3
    assert block.shape == (min(3, full.shape[0]), min(3, full.shape[1]))
    np.testing.assert_array_equal(
        block, full[row : row + block.shape[0], col : col + block.shape[1]]
    )


# --------------------------------------------------------------------------- window arithmetic


@FAST
@given(conv_configs(), st.data())
def test_window_arithmetic_total_equals_conv_output(config, data):
    height, width, channels, size, stride, dilation, padding, _, seed = config
    try:
        geometry = ops.conv_geometry((height, width), size, stride, padding, dilation)
    except ExplorerError:
        assume(False)
    rng = np.random.default_rng(seed)
    image = rng.random((height, width, channels)).astype(np.float32)
    kernel = rng.standard_normal((size, size, channels)).astype(np.float32)
    maps = run_conv(image, kernel[..., None], geometry)[..., 0]
    out_row = data.draw(st.integers(0, geometry.output_hw[0] - 1))
    out_col = data.draw(st.integers(0, geometry.output_hw[1] - 1))
    patch, products, total = ops.window_arithmetic(image, kernel, geometry, out_row, out_col)

    (top, bottom), (left, right) = geometry.padding
    padded = np.pad(image, ((top, bottom), (left, right), (0, 0)))
    row0, col0 = out_row * stride, out_col * stride
    span = dilation * (size - 1) + 1
    expected_patch = padded[row0 : row0 + span : dilation, col0 : col0 + span : dilation]
    np.testing.assert_allclose(patch, expected_patch, atol=1e-7)
    np.testing.assert_allclose(products, expected_patch * kernel, atol=1e-6)
    assert total == pytest.approx(maps[out_row, out_col], abs=2e-4)


def test_window_arithmetic_in_the_padding_corner():
    image = np.arange(1, 26, dtype=np.float32).reshape(5, 5, 1)
    kernel = np.ones((3, 3, 1), np.float32)
    geometry = ops.conv_geometry((5, 5), 3, 1, 1)
    patch, _, total = ops.window_arithmetic(image, kernel, geometry, 0, 0)
    expected = np.array([[0, 0, 0], [0, 1, 2], [0, 6, 7]], np.float64)
    np.testing.assert_array_equal(patch[..., 0], expected)
    assert total == 16.0


# --------------------------------------------------------------------------- kernel presets

TEXTBOOK_3X3 = {
    "identity": [[0, 0, 0], [0, 1, 0], [0, 0, 0]],
    "box blur": np.full((3, 3), 1 / 9),
    "gaussian blur": None,  # checked separately (sigma is a design choice)
    "sharpen": [[0, -1, 0], [-1, 5, -1], [0, -1, 0]],
    "sobel x": [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],
    "sobel y": [[-1, -2, -1], [0, 0, 0], [1, 2, 1]],
    "laplacian": [[0, 1, 0], [1, -4, 1], [0, 1, 0]],
    "vertical edges": [[-1, 0, 1], [-1, 0, 1], [-1, 0, 1]],
    "horizontal edges": [[-1, -1, -1], [0, 0, 0], [1, 1, 1]],
    "emboss": [[-2, -1, 0], [-1, 1, 1], [0, 1, 2]],
}


@pytest.mark.parametrize(
    "name", [name for name, value in TEXTBOOK_3X3.items() if value is not None]
)
def test_textbook_3x3_kernels(name):
    kernel = ops.kernel_preset(name, 3)
    assert kernel.dtype == np.float32 and kernel.shape == (3, 3)
    np.testing.assert_allclose(kernel, np.asarray(TEXTBOOK_3X3[name], np.float64), atol=1e-7)


def test_sobel_5x5_is_the_known_kernel():
    # The 5x5 Sobel of OpenCV's getDerivKernels(1, 0, 5): [1,4,6,4,1]^T x [-1,-2,0,2,1].
    expected = np.array(
        [
            [-1, -2, 0, 2, 1],
            [-4, -8, 0, 8, 4],
            [-6, -12, 0, 12, 6],
            [-4, -8, 0, 8, 4],
            [-1, -2, 0, 2, 1],
        ],
        np.float64,
    )
    np.testing.assert_array_equal(ops.kernel_preset("sobel x", 5), expected)
    np.testing.assert_array_equal(ops.kernel_preset("sobel y", 5), expected.T)


def test_gaussian_3x3_is_symmetric_and_peaks_in_the_centre():
    kernel = ops.kernel_preset("gaussian blur", 3)
    np.testing.assert_allclose(kernel, kernel.T)
    np.testing.assert_allclose(kernel, kernel[::-1, ::-1])
    assert kernel[1, 1] == kernel.max() and kernel[0, 0] == kernel.min() > 0


@pytest.mark.parametrize("size", range(1, 12))
@pytest.mark.parametrize("name", ["box blur", "gaussian blur"])
def test_blur_kernels_sum_to_one_and_are_non_negative(name, size):
    kernel = ops.kernel_preset(name, size)
    assert kernel.shape == (size, size)
    assert kernel.sum() == pytest.approx(1.0, abs=1e-5)
    assert (kernel >= 0).all()


@pytest.mark.parametrize("size", range(3, 12))
@pytest.mark.parametrize(
    "name",
    ["sobel x", "sobel y", "laplacian", "vertical edges", "horizontal edges", "curve detector"],
)
def test_edge_kernels_sum_to_zero(name, size):
    kernel = ops.kernel_preset(name, size)
    assert kernel.shape == (size, size) and kernel.dtype == np.float32
    assert abs(float(kernel.sum())) < 1e-4
    assert np.abs(kernel).max() > 0


@pytest.mark.parametrize("size", range(3, 12))
def test_sobel_x_responds_to_left_to_right_ramps_only(size):
    kernel = ops.kernel_preset("sobel x", size).astype(np.float64)
    rows, cols = np.mgrid[0:size, 0:size]
    assert (kernel * cols).sum() > 0  # brighter to the right gives a positive response
    assert abs((kernel * rows).sum()) < 1e-6  # a top-to-bottom ramp gives nothing


@pytest.mark.parametrize("size", [1, 3, 4, 5, 7])
def test_identity_and_sharpen_sum_to_one(size):
    assert ops.kernel_preset("identity", size).sum() == pytest.approx(1.0)
    if size >= 3:
        assert ops.kernel_preset("sharpen", size).sum() == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("size", [3, 5, 7, 9, 11])
def test_identity_kernel_leaves_an_image_unchanged(size):
    rng = np.random.default_rng(size)
    image = rng.random((13, 12, 1)).astype(np.float32)
    geometry = ops.conv_geometry((13, 12), size, 1, "same")
    kernel = ops.kernel_preset("identity", size)[:, :, None, None]
    np.testing.assert_allclose(run_conv(image, kernel, geometry)[..., 0], image[..., 0], atol=1e-6)


def test_kernel_preset_errors():
    with pytest.raises(ExplorerError, match="Unknown"):
        ops.kernel_preset("unsharp", 3)
    for name in ("sobel x", "laplacian", "emboss"):
        with pytest.raises(ExplorerError, match="at least 3"):
            ops.kernel_preset(name, 2)


# --------------------------------------------------------------------------- filter bank


def test_filter_bank_order_custom_then_presets_then_random():
    custom = np.arange(9, dtype=np.float32).reshape(3, 3)
    bank = ops.build_filter_bank(3, 3, 5, ("sobel x", "box blur"), custom, seed=4)
    assert bank.names == ("custom", "sobel x", "box blur", "random 1", "random 2")
    assert bank.kernels.shape == (3, 3, 3, 5) and bank.kernels.dtype == np.float32
    for channel in range(3):
        np.testing.assert_allclose(bank.kernels[:, :, channel, 0], custom / 3)
        np.testing.assert_allclose(
            bank.kernels[:, :, channel, 1], np.array(TEXTBOOK_3X3["sobel x"]) / 3, atol=1e-7
        )
        np.testing.assert_allclose(bank.kernels[:, :, channel, 2], 1 / 27, atol=1e-7)


def test_filter_bank_truncates_and_keeps_the_custom_kernel_first():
    custom = np.ones((3, 3))
    bank = ops.build_filter_bank(3, 1, 2, ("sobel x", "sobel y", "laplacian"), custom)
    assert bank.names == ("custom", "sobel x")
    assert bank.kernels.shape == (3, 3, 1, 2)
    single = ops.build_filter_bank(3, 1, 1, ("sobel x",), custom)
    assert single.names == ("custom",)


def test_filter_bank_random_filters_are_seeded():
    first = ops.build_filter_bank(5, 3, 4, seed=11)
    again = ops.build_filter_bank(5, 3, 4, seed=11)
    other = ops.build_filter_bank(5, 3, 4, seed=12)
    np.testing.assert_array_equal(first.kernels, again.kernels)
    assert not np.allclose(first.kernels, other.kernels)
    assert first.names == tuple(f"random {i}" for i in range(1, 5))
    # Adding presets in front does not reshuffle the random filters that follow.
    with_preset = ops.build_filter_bank(5, 3, 5, ("identity",), seed=11)
    np.testing.assert_array_equal(with_preset.kernels[..., 1:], first.kernels)


def test_random_kernels_have_he_scale():
    kernels = ops.random_kernels(3, 3, 64, seed=0)
    assert kernels.shape == (3, 3, 3, 64) and kernels.dtype == np.float32
    assert float(kernels.std()) == pytest.approx(math.sqrt(2 / 27), rel=0.1)
    assert abs(float(kernels.mean())) < 0.05


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"count": 0}, "between 1 and 64"),
        ({"count": 65}, "between 1 and 64"),
        ({"count": 2, "custom_kernel": np.ones((5, 5))}, "3×3"),
        ({"count": 2, "custom_kernel": np.ones(9)}, "3×3"),
        ({"count": 2, "custom_kernel": np.array([[1, 2, 3], [4, np.nan, 6], [7, 8, 9]])}, "cell"),
        ({"count": 2, "custom_kernel": np.full((3, 3), np.inf)}, "cell"),
        ({"count": 2, "presets": ("nope",)}, "Unknown"),
    ],
)
def test_filter_bank_validation(kwargs, pattern):
    with pytest.raises(ExplorerError, match=pattern):
        ops.build_filter_bank(3, 1, **kwargs)


# --------------------------------------------------------------------------- whole layer


@pytest.mark.parametrize(
    ("activation", "pool_kind", "padding", "stride"),
    [("relu", "max", "same", 1), ("tanh", "average", 1, 2), ("leaky_relu", "max", "valid", 1)],
)
def test_conv_activate_pool_matches_references(activation, pool_kind, padding, stride):
    rng = np.random.default_rng(3)
    image = rng.random((17, 15, 3)).astype(np.float32)
    bank = ops.build_filter_bank(3, 3, 3, ("sobel x",), seed=2)
    geometry = ops.conv_geometry((17, 15), 3, stride, padding)
    stages = ops.conv_activate_pool(image, bank.kernels, geometry, activation, 0.1, pool_kind, 2, 2)
    conv = naive_conv(image, bank.kernels, stride, geometry.padding, 1)
    functions = {
        "relu": lambda x: np.maximum(x, 0),
        "tanh": np.tanh,
        "leaky_relu": lambda x: np.where(x >= 0, x, 0.1 * x),
    }
    activated = functions[activation](conv)
    np.testing.assert_allclose(stages.conv, conv, atol=1e-4)
    np.testing.assert_allclose(stages.activated, activated, atol=1e-4)
    np.testing.assert_allclose(stages.pooled, naive_pool(activated, pool_kind, 2, 2), atol=1e-4)
    np.testing.assert_allclose(ops.feature_maps(image, bank.kernels, geometry), conv, atol=1e-4)
    # Lab 3 runs the same stages one at a time; they agree with the references too.
    one_by_one = ops.activate_maps(conv, activation, 0.1)
    np.testing.assert_allclose(one_by_one, activated, atol=1e-4)
    pooled = ops.pool_maps(one_by_one, pool_kind, 2, 2)
    np.testing.assert_allclose(pooled, naive_pool(activated, pool_kind, 2, 2), atol=1e-4)


def test_conv_activate_pool_refuses_oversized_pooling():
    geometry = ops.conv_geometry((6, 6), 3, 1, "valid")
    kernels = ops.build_filter_bank(3, 1, 1).kernels
    with pytest.raises(ExplorerError, match="larger"):
        ops.conv_activate_pool(np.zeros((6, 6, 1)), kernels, geometry, "relu", 0.01, "max", 5, 1)
    with pytest.raises(ExplorerError, match="larger"):
        ops.pool_maps(np.zeros((4, 4, 1)), "max", 5, 1)


def test_changing_values_does_not_recompile():
    """Kernel values, activation, slope and pooling kind are traced: one compile per shape."""
    rng = np.random.default_rng(0)
    image = rng.random((23, 19, 3)).astype(np.float32)
    geometry = ops.conv_geometry((23, 19), 5, 2, "same", 1)

    def run(kernels, activation, slope, pool_kind):
        ops.conv_activate_pool(image, kernels, geometry, activation, slope, pool_kind, 3, 1)

    run(ops.build_filter_bank(5, 3, 4, seed=0).kernels, "relu", 0.01, "max")
    sizes = (ops.conv2d._cache_size(), ops.activate._cache_size(), ops.pool2d._cache_size())
    for step, (activation, pool_kind) in enumerate(
        [(a, p) for a in ops.ACTIVATIONS for p in ops.POOLING_KINDS]
    ):
        kernels = ops.build_filter_bank(5, 3, 4, ("sobel x",), seed=step + 1).kernels
        run(kernels, activation, 0.05 * step, pool_kind)
    after = (ops.conv2d._cache_size(), ops.activate._cache_size(), ops.pool2d._cache_size())
    assert after == sizes


# --------------------------------------------------------------------------- arithmetic helpers


def test_output_size_arithmetic_shows_the_numbers_of_each_axis():
    geometry = ops.conv_geometry((28, 20), 5, 2, 1, 1)
    height, width = geometry.output_hw
    assert (height, width) == ((28 + 2 - 5) // 2 + 1, (20 + 2 - 5) // 2 + 1) == (13, 9)
    assert ops.output_size_arithmetic(geometry) == (
        "H_out = ⌊(28 + 1 + 1 − 1·(5 − 1) − 1) / 2⌋ + 1 = ⌊25 / 2⌋ + 1 = 13",
        "W_out = ⌊(20 + 1 + 1 − 1·(5 − 1) − 1) / 2⌋ + 1 = ⌊17 / 2⌋ + 1 = 9",
    )


def test_pad_image_adds_zero_borders():
    image = np.ones((2, 3, 2), np.float32)
    padded = ops.pad_image(image, ((1, 2), (0, 3)))
    assert padded.shape == (5, 6, 2)
    assert padded.sum() == image.sum()
    np.testing.assert_array_equal(padded[1:3, 0:3], image)


def test_parameter_counts_hand_checked():
    assert ops.conv_parameter_count(3, 1, 32) == 320
    assert ops.conv_parameter_count(5, 3, 64) == 5 * 5 * 3 * 64 + 64 == 4864
    comparison = ops.dense_versus_conv(28, 28, 1, 128, 32, 3)
    assert comparison.flattened_length == 784
    assert comparison.dense_parameters == 784 * 128 + 128 == 100_480
    assert comparison.conv_parameters == 320
    # A conv layer's size does not depend on the image size; a dense layer's does.
    bigger = ops.dense_versus_conv(224, 224, 3, 128, 32, 3)
    assert bigger.conv_parameters == 3 * 3 * 3 * 32 + 32
    assert bigger.dense_parameters == 224 * 224 * 3 * 128 + 128


@pytest.mark.parametrize("size", range(3, 12))
def test_emboss_keeps_brightness_at_every_size(size):
    assert ops.kernel_preset("emboss", size).sum() == pytest.approx(1.0)


def test_presets_for_kernel_size_are_exactly_those_kernel_preset_builds():
    for size in (1, 2, 3, 5):
        buildable = []
        for name in ops.KERNEL_PRESETS:
            try:
                ops.kernel_preset(name, size)
                buildable.append(name)
            except ExplorerError:
                pass
        assert ops.presets_for_kernel_size(size) == buildable
    assert ops.presets_for_kernel_size(1) == ["identity", "box blur", "gaussian blur"]

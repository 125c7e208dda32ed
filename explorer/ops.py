"""Convolution, activations, pooling, output-size arithmetic and kernel presets.

Arrays are NHWC for images and HWIO for kernels (height, width, input
channels, output channels), float32. Like every deep-learning library, "convolution"
here is cross-correlation: the kernel is not flipped.

The jitted functions take everything that changes the *shape* of the result
(stride, padding, dilation, pooling window) as static arguments and everything
else (kernel values, which activation, which pooling) as traced values, so moving
a control that only changes values reuses the compiled function.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from explorer.architecture import output_size, same_padding
from explorer.errors import ExplorerError

ACTIVATIONS = ("linear", "relu", "leaky_relu", "sigmoid", "tanh")
"""The lab's activations, named as in training (:data:`explorer.architecture.WORDS`)."""
POOLING_KINDS = ("max", "average")
PADDING_MODES = ("valid", "same", "explicit")

Padding = tuple[tuple[int, int], tuple[int, int]]


@dataclass(frozen=True)
class ConvGeometry:
    """Everything about the shape of one 2-D convolution.

    Attributes:
        input_hw: (height, width) of the input.
        kernel_size: k of a square k×k kernel.
        stride: step of the sliding window, in input pixels.
        dilation: spacing between kernel taps (1 = dense kernel).
        padding: ((top, bottom), (left, right)) zeros added around the input.
        output_hw: (height, width) of every feature map.
    """

    input_hw: tuple[int, int]
    kernel_size: int
    stride: int
    dilation: int
    padding: Padding
    output_hw: tuple[int, int]

    @property
    def effective_kernel(self) -> int:
        """Span of the dilated kernel on the input: d*(k-1)+1."""
        return self.dilation * (self.kernel_size - 1) + 1

    def window_origin(self, out_row: int, out_col: int) -> tuple[int, int]:
        """Top-left input coordinate (may be negative, inside padding) of an output cell."""
        return (
            out_row * self.stride - self.padding[0][0],
            out_col * self.stride - self.padding[1][0],
        )


def conv_geometry(
    input_hw: tuple[int, int],
    kernel_size: int,
    stride: int = 1,
    padding: str | int = "valid",
    dilation: int = 1,
) -> ConvGeometry:
    """Resolve a padding mode and check that the convolution is possible.

    Args:
        input_hw: (height, width) of the input image.
        kernel_size: side of the square kernel, >= 1.
        stride: >= 1.
        padding: "valid" (none), "same" (output = ceil(input / stride)) or an
            int number of zero rows/columns added on every side.
        dilation: >= 1.

    Raises:
        ExplorerError: when a setting is out of range or the output would be empty.
    """
    if kernel_size < 1 or stride < 1 or dilation < 1:
        raise ExplorerError("Kernel size, stride and dilation must all be at least 1.")
    if isinstance(padding, str):
        if padding == "valid":
            pads = ((0, 0), (0, 0))
        elif padding == "same":
            pads = tuple(same_padding(n, kernel_size, stride, dilation) for n in input_hw)
        else:
            raise ExplorerError(f"Unknown padding {padding!r}: use 'valid', 'same' or a number.")
    else:
        if padding < 0:
            raise ExplorerError("Padding cannot be negative.")
        pads = ((padding, padding), (padding, padding))
    output_hw = tuple(
        output_size(n, kernel_size, stride, sum(pad), dilation)
        for n, pad in zip(input_hw, pads, strict=True)
    )
    geometry = ConvGeometry(tuple(input_hw), kernel_size, stride, dilation, pads, output_hw)
    if min(output_hw) < 1:
        padded = tuple(n + sum(pad) for n, pad in zip(input_hw, pads, strict=True))
        raise ExplorerError(
            f"Impossible setting: the kernel spans {geometry.effective_kernel} pixels "
            f"(size {kernel_size}, dilation {dilation}) but the padded input is only "
            f"{padded[0]}×{padded[1]}, so the output would be "
            f"{output_hw[0]}×{output_hw[1]}. Use a smaller kernel or dilation, more padding, "
            "or a larger image."
        )
    return geometry


@partial(jax.jit, static_argnames=("stride", "padding", "dilation"))
def conv2d(
    images: jax.Array, kernels: jax.Array, stride: int, padding: Padding, dilation: int
) -> jax.Array:
    """2-D cross-correlation of a batch with a filter bank, no bias.

    Args:
        images: (N, H, W, C) float32.
        kernels: (k, k, C, F) float32; one k×k×C kernel per output filter.
        stride, padding, dilation: as in :class:`ConvGeometry`.

    Returns:
        (N, H_out, W_out, F) float32 feature maps.
    """
    return lax.conv_general_dilated(
        images,
        kernels,
        window_strides=(stride, stride),
        padding=padding,
        rhs_dilation=(dilation, dilation),
        dimension_numbers=("NHWC", "HWIO", "NHWC"),
    )


def activation_index(name: str) -> int:
    """Position of an activation in :data:`ACTIVATIONS` (a traced value for :func:`activate`)."""
    if name not in ACTIVATIONS:
        raise ExplorerError(f"Unknown activation {name!r}; choose one of {ACTIVATIONS}.")
    return ACTIVATIONS.index(name)


@jax.jit
def activate(values: jax.Array, index: jax.Array | int, negative_slope: float = 0.01) -> jax.Array:
    """Apply the activation ``ACTIVATIONS[index]`` elementwise.

    ``index`` and ``negative_slope`` (for leaky ReLU) are traced, so switching
    between activations does not recompile.
    """
    branches = (
        lambda x: x,
        jax.nn.relu,
        lambda x: jnp.where(x >= 0, x, negative_slope * x),
        jax.nn.sigmoid,
        jnp.tanh,
    )
    return lax.switch(index, branches, values)


def pooling_index(kind: str) -> int:
    """Position of a pooling kind in :data:`POOLING_KINDS`."""
    if kind not in POOLING_KINDS:
        raise ExplorerError(f"Unknown pooling {kind!r}; choose one of {POOLING_KINDS}.")
    return POOLING_KINDS.index(kind)


def pool_output_size(input_size: int, window: int, stride: int) -> int:
    """Output length of unpadded pooling: floor((n - w) / s) + 1."""
    return output_size(input_size, window, stride, 0)


def check_pooling(input_hw: tuple[int, int], window: int, stride: int) -> tuple[int, int]:
    """Output (height, width) of pooling, or an :class:`ExplorerError` if it would be empty."""
    if window < 1 or stride < 1:
        raise ExplorerError("Pooling window and stride must be at least 1.")
    output_hw = tuple(pool_output_size(n, window, stride) for n in input_hw)
    if min(output_hw) < 1:
        raise ExplorerError(
            f"The {window}×{window} pooling window is larger than the "
            f"{input_hw[0]}×{input_hw[1]} feature map. Use a smaller window."
        )
    return output_hw


@partial(jax.jit, static_argnames=("window", "stride"))
def pool2d(values: jax.Array, kind_index: jax.Array | int, window: int, stride: int) -> jax.Array:
    """Max (index 0) or average (index 1) pooling without padding.

    Args:
        values: (N, H, W, C).
        kind_index: index into :data:`POOLING_KINDS`; traced, so switching kinds
            does not recompile.
        window: side of the square pooling window.
        stride: step between windows.

    Returns:
        (N, H_out, W_out, C) with H_out = floor((H - window) / stride) + 1.
    """
    dims, strides = (1, window, window, 1), (1, stride, stride, 1)

    def max_pool(x):
        return lax.reduce_window(x, -jnp.inf, lax.max, dims, strides, "VALID")

    def average_pool(x):
        return lax.reduce_window(x, 0.0, lax.add, dims, strides, "VALID") / (window * window)

    return lax.switch(kind_index, (max_pool, average_pool), values)


def activate_maps(maps: np.ndarray, activation: str, negative_slope: float) -> np.ndarray:
    """One image's (H, W, F) feature maps through an activation, as in :func:`conv_activate_pool`
    (run as a batch of one, so it reuses that function's compiled shapes)."""
    batch = jnp.asarray(maps, jnp.float32)[None]
    return np.asarray(activate(batch, activation_index(activation), negative_slope)[0])


def pool_maps(maps: np.ndarray, kind: str, window: int, stride: int) -> np.ndarray:
    """One image's (H, W, F) maps pooled to (H', W', F), as in :func:`conv_activate_pool`.

    Raises:
        ExplorerError: unknown kind, or a window larger than the maps.
    """
    check_pooling(maps.shape[:2], window, stride)
    batch = jnp.asarray(maps, jnp.float32)[None]
    return np.asarray(pool2d(batch, pooling_index(kind), window, stride)[0])


def pooling_example(
    feature_map: np.ndarray, window: int, stride: int, cells: int = 3
) -> tuple[np.ndarray, tuple[int, int]]:
    """A small worked example of pooling around the strongest response of one map.

    Args:
        feature_map: (H, W) map that is pooled.
        window, stride: pooling settings (already checked to fit).
        cells: pooled outputs per side to show.

    Returns:
        (region, (row, col)): the input region that feeds a block of at most
        ``cells``×``cells`` pooled outputs, and the block's top-left pooled
        cell. Pooling the region with the same window and stride gives the block.
    """
    height, width = feature_map.shape
    out_h, out_w = pool_output_size(height, window, stride), pool_output_size(width, window, stride)
    cells_h, cells_w = min(cells, out_h), min(cells, out_w)
    peak_row, peak_col = np.unravel_index(np.argmax(feature_map), feature_map.shape)
    row = int(np.clip(peak_row // stride - cells_h // 2, 0, out_h - cells_h))
    col = int(np.clip(peak_col // stride - cells_w // 2, 0, out_w - cells_w))
    span_h, span_w = (cells_h - 1) * stride + window, (cells_w - 1) * stride + window
    region = feature_map[row * stride : row * stride + span_h, col * stride : col * stride + span_w]
    return region, (row, col)


def window_arithmetic(
    image: np.ndarray, kernel: np.ndarray, geometry: ConvGeometry, out_row: int, out_col: int
) -> tuple[np.ndarray, np.ndarray, float]:
    """The multiplications behind one output cell, computed independently of :func:`conv2d`.

    Args:
        image: (H, W, C) input.
        kernel: (k, k, C) one filter.
        geometry: the convolution's geometry.
        out_row, out_col: the output cell.

    Returns:
        (patch, products, total): the (k, k, C) input values under the dilated
        kernel (zeros where the window lies in the padding), their elementwise
        products with the kernel, and the sum of the products.
    """
    size, dilation = geometry.kernel_size, geometry.dilation
    row0, col0 = geometry.window_origin(out_row, out_col)
    rows = row0 + dilation * np.arange(size)
    cols = col0 + dilation * np.arange(size)
    height, width = image.shape[:2]
    inside = (rows[:, None] >= 0) & (rows[:, None] < height) & (cols >= 0) & (cols < width)
    patch = np.zeros((size, size, image.shape[2]), dtype=np.float64)
    safe_rows, safe_cols = np.clip(rows, 0, height - 1), np.clip(cols, 0, width - 1)
    patch[inside] = image[np.ix_(safe_rows, safe_cols)][inside]
    products = patch * kernel
    return patch, products, float(products.sum())


KERNEL_PRESETS = (
    "identity",
    "box blur",
    "gaussian blur",
    "sharpen",
    "sobel x",
    "sobel y",
    "laplacian",
    "vertical edges",
    "horizontal edges",
    "curve detector",
    "emboss",
)

_PRESETS_NEEDING_SIZE_3 = {
    "sharpen",
    "sobel x",
    "sobel y",
    "laplacian",
    "vertical edges",
    "horizontal edges",
    "curve detector",
    "emboss",
}


def presets_for_kernel_size(size: int) -> list[str]:
    """The presets a size×size kernel can have, in :data:`KERNEL_PRESETS` order."""
    return [name for name in KERNEL_PRESETS if size >= 3 or name not in _PRESETS_NEEDING_SIZE_3]


def kernel_preset(name: str, size: int) -> np.ndarray:
    """A classic k×k image-processing kernel, float32 (size, size).

    Presets that detect edges or curves need at least 3×3 (a 1×1 or 2×2 kernel
    has no centre to compare neighbours against). At 3×3 they are the textbook
    kernels; larger sizes use the natural generalisation (binomial-smoothed
    Sobel, Laplacian of Gaussian, ...).

    Raises:
        ExplorerError: unknown name or a size the preset cannot have.
    """
    if name not in KERNEL_PRESETS:
        raise ExplorerError(f"Unknown kernel preset {name!r}.")
    if name not in presets_for_kernel_size(size):
        raise ExplorerError(f"The {name!r} kernel needs a kernel size of at least 3.")
    builder = _PRESET_BUILDERS[name]
    return np.asarray(builder(size), dtype=np.float32)


def _identity(size: int) -> np.ndarray:
    kernel = np.zeros((size, size))
    kernel[(size - 1) // 2, (size - 1) // 2] = 1.0
    return kernel


def _gaussian(size: int) -> np.ndarray:
    sigma = max(size / 6.0, 0.5)
    axis = np.arange(size) - (size - 1) / 2.0
    profile = np.exp(-(axis**2) / (2 * sigma**2))
    kernel = np.outer(profile, profile)
    return kernel / kernel.sum()


def _binomial(order: int) -> np.ndarray:
    return np.array([math.comb(order, i) for i in range(order + 1)], dtype=np.float64)


def _sobel_x(size: int) -> np.ndarray:
    smoothing = _binomial(size - 1)
    derivative = np.convolve(_binomial(size - 3), [1.0, 0.0, -1.0])[::-1]
    return np.outer(smoothing, derivative)


def _sharpen(size: int) -> np.ndarray:
    if size == 3:
        return np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], dtype=np.float64)
    return 2.0 * _identity(size) - _gaussian(size)


def _laplacian(size: int) -> np.ndarray:
    if size == 3:
        return np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=np.float64)
    sigma = size / 6.0
    axis = np.arange(size) - (size - 1) / 2.0
    r2 = axis[:, None] ** 2 + axis[None, :] ** 2
    log = (r2 - 2 * sigma**2) / sigma**4 * np.exp(-r2 / (2 * sigma**2))
    log -= log.mean()
    return log / np.abs(log).sum() * 8.0


def _vertical_edges(size: int) -> np.ndarray:
    centre = (size - 1) / 2.0
    return np.tile(np.sign(np.arange(size) - centre), (size, 1))


def _curve_detector(size: int) -> np.ndarray:
    """A quarter-circle arc of positive weights on a slightly negative, zero-sum background."""
    rows, cols = np.mgrid[0:size, 0:size]
    distance = np.hypot(rows - (size - 1), cols - (size - 1))
    arc = np.abs(distance - (size - 1)) < 0.5
    kernel = np.where(arc, 1.0, 0.0)
    return kernel - kernel.mean()


def _emboss(size: int) -> np.ndarray:
    rows, cols = np.mgrid[0:size, 0:size]
    kernel = np.clip(rows + cols - (size - 1), -2, 2).astype(np.float64)
    kernel[(size - 1) // 2, (size - 1) // 2] += 1.0
    return kernel


_PRESET_BUILDERS = {
    "identity": _identity,
    "box blur": lambda size: np.full((size, size), 1.0 / size**2),
    "gaussian blur": _gaussian,
    "sharpen": _sharpen,
    "sobel x": _sobel_x,
    "sobel y": lambda size: _sobel_x(size).T,
    "laplacian": _laplacian,
    "vertical edges": _vertical_edges,
    "horizontal edges": lambda size: _vertical_edges(size).T,
    "curve detector": _curve_detector,
    "emboss": _emboss,
}


def random_kernels(size: int, in_channels: int, count: int, seed: int) -> np.ndarray:
    """He-initialised random filters, float32 (size, size, in_channels, count).

    The same seed always gives the same filters, like a network before training.
    """
    rng = np.random.default_rng(seed)
    scale = math.sqrt(2.0 / (size * size * in_channels))
    return (rng.standard_normal((size, size, in_channels, count)) * scale).astype(np.float32)


def lift_to_channels(kernel: np.ndarray, in_channels: int) -> np.ndarray:
    """Turn a 2-D (k, k) kernel into a 3-D (k, k, C) one that averages over channels.

    A kernel always has the input's depth: on an RGB image a 3×3 preset becomes
    3×3×3 = 27 weights, each channel weighted 1/C so the response matches the
    preset applied to the mean intensity.
    """
    return np.repeat(kernel[:, :, None], in_channels, axis=2) / in_channels


@dataclass(frozen=True)
class FilterBank:
    """A stack of filters with a readable name for each.

    Attributes:
        kernels: float32 (k, k, C, F).
        names: F labels, e.g. "sobel x" or "random 3".
    """

    kernels: np.ndarray
    names: tuple[str, ...]


def build_filter_bank(
    size: int,
    in_channels: int,
    count: int,
    presets: tuple[str, ...] = (),
    custom_kernel: np.ndarray | None = None,
    seed: int = 0,
) -> FilterBank:
    """Assemble ``count`` filters: the custom kernel first, then the presets, then random ones.

    Args:
        size: kernel side k.
        in_channels: depth C of the input (1 for grayscale, 3 for RGB).
        count: number of filters F, 1..64.
        presets: names from :data:`KERNEL_PRESETS`, in order.
        custom_kernel: optional (k, k) user-edited kernel; it always leads the
            bank so that switching it on is visible at any filter count.
        seed: seed of the random filters that fill up the bank.

    Returns:
        A :class:`FilterBank` with kernels (k, k, C, F); chosen filters beyond
        ``count`` are dropped.
    """
    if not 1 <= count <= 64:
        raise ExplorerError("The filter count must be between 1 and 64.")
    chosen = []
    if custom_kernel is not None:
        custom = np.asarray(custom_kernel, dtype=np.float32)
        if custom.shape != (size, size):
            raise ExplorerError(f"The custom kernel must be {size}×{size}.")
        if not np.all(np.isfinite(custom)):
            raise ExplorerError("The custom kernel contains an empty or non-numeric cell.")
        chosen.append(("custom", lift_to_channels(custom, in_channels)))
    chosen += [(name, lift_to_channels(kernel_preset(name, size), in_channels)) for name in presets]
    chosen = chosen[:count]
    missing = count - len(chosen)
    randoms = random_kernels(size, in_channels, missing, seed)
    kernels = [kernel for _, kernel in chosen] + [randoms[..., i] for i in range(missing)]
    names = [name for name, _ in chosen] + [f"random {i + 1}" for i in range(missing)]
    return FilterBank(np.stack(kernels, axis=-1).astype(np.float32), tuple(names))


@dataclass(frozen=True)
class FeatureStages:
    """One conv layer's stages for one image, each (H', W', F) float32 (or a batch of them,
    (N, H', W', F), from :func:`conv_activate_pool_batch`).

    Attributes:
        conv: raw feature maps (kernel responses, no bias).
        activated: after the activation function.
        pooled: after pooling (smaller by the pooling window and stride).
    """

    conv: np.ndarray
    activated: np.ndarray
    pooled: np.ndarray


def feature_maps(image: np.ndarray, kernels: np.ndarray, geometry: ConvGeometry) -> np.ndarray:
    """Feature maps of one (H, W, C) image under (k, k, C, F) kernels: (H', W', F)."""
    batch = jnp.asarray(image, jnp.float32)[None]
    maps = conv2d(batch, jnp.asarray(kernels), geometry.stride, geometry.padding, geometry.dilation)
    return np.asarray(maps[0])


def conv_activate_pool(
    image: np.ndarray,
    kernels: np.ndarray,
    geometry: ConvGeometry,
    activation: str,
    negative_slope: float,
    pool_kind: str,
    pool_window: int,
    pool_stride: int,
) -> FeatureStages:
    """Convolution, activation and pooling of one (H, W, C) image, as a CNN layer does.

    Raises:
        ExplorerError: unknown activation/pooling, or a pooling window larger
            than the feature maps.
    """
    stages = conv_activate_pool_batch(
        np.asarray(image)[None],
        kernels,
        geometry,
        activation,
        negative_slope,
        pool_kind,
        pool_window,
        pool_stride,
    )
    return FeatureStages(stages.conv[0], stages.activated[0], stages.pooled[0])


def conv_activate_pool_batch(
    images: np.ndarray,
    kernels: np.ndarray,
    geometry: ConvGeometry,
    activation: str,
    negative_slope: float,
    pool_kind: str,
    pool_window: int,
    pool_stride: int,
) -> FeatureStages:
    """:func:`conv_activate_pool` of N images (N, H, W, C) in one call; each stage of the
    result has a leading N axis, (N, H', W', F).

    Raises:
        ExplorerError: as :func:`conv_activate_pool`.
    """
    check_pooling(geometry.output_hw, pool_window, pool_stride)
    batch = jnp.asarray(images, jnp.float32)
    conv = conv2d(batch, jnp.asarray(kernels), geometry.stride, geometry.padding, geometry.dilation)
    activated = activate(conv, activation_index(activation), negative_slope)
    pooled = pool2d(activated, pooling_index(pool_kind), pool_window, pool_stride)
    return FeatureStages(np.asarray(conv), np.asarray(activated), np.asarray(pooled))


OUTPUT_SIZE_FORMULA = "out = ⌊(n + p_before + p_after − d·(k − 1) − 1) / s⌋ + 1"
"""The output-size formula in words a page prints above its numbers."""


def window_starts(geometry: ConvGeometry, axis: int) -> range:
    """Where each window the stride visits begins along ``axis`` (0 rows, 1 columns), in
    pixels of the padded input (0 is the first padding pixel): one start per output cell,
    every ``stride`` pixels, while the dilated kernel still fits."""
    padded = geometry.input_hw[axis] + sum(geometry.padding[axis])
    return range(0, padded - geometry.effective_kernel + 1, geometry.stride)


def output_size_arithmetic(geometry: ConvGeometry) -> tuple[str, ...]:
    """The output-size formula with the geometry's numbers, as plain text that wraps:
    :data:`OUTPUT_SIZE_FORMULA` filled in, ``"H_out = ⌊(28 + 1 + 1 − 1·(5 − 1) − 1) / 2⌋ + 1
    = ⌊24 / 2⌋ + 1 = 13"``, one line per axis, or one ``"H_out = W_out = …"`` line when
    both axes read the same. The result is :func:`~explorer.architecture.output_size`, the
    formula's one home."""
    k, s, d = geometry.kernel_size, geometry.stride, geometry.dilation
    sums = []
    for size, (before, after) in zip(geometry.input_hw, geometry.padding, strict=True):
        numerator = size + before + after - d * (k - 1) - 1
        result = output_size(size, k, s, before + after, d)
        sums.append(
            f"⌊({size} + {before} + {after} − {d}·({k} − 1) − 1) / {s}⌋ + 1"
            f" = ⌊{numerator} / {s}⌋ + 1 = {result}"
        )
    if sums[0] == sums[1]:
        return (f"H_out = W_out = {sums[0]}",)
    return f"H_out = {sums[0]}", f"W_out = {sums[1]}"


def pad_image(image: np.ndarray, padding: Padding) -> np.ndarray:
    """Add zero rows and columns around an (H, W, C) image: ((top, bottom), (left, right))."""
    return np.pad(image, (*padding, (0, 0)))


def conv_parameter_count(kernel_size: int, in_channels: int, filters: int) -> int:
    """Learnable numbers of a conv layer: k·k·C weights per filter plus one bias each."""
    return kernel_size * kernel_size * in_channels * filters + filters


@dataclass(frozen=True)
class DenseVersusConv:
    """Parameter counts of a dense layer on the flattened image vs a conv layer."""

    flattened_length: int
    dense_units: int
    dense_parameters: int
    conv_filters: int
    conv_kernel_size: int
    conv_parameters: int


def dense_versus_conv(
    height: int, width: int, channels: int, dense_units: int, conv_filters: int, kernel_size: int
) -> DenseVersusConv:
    """Weights + biases of a fully connected layer vs a conv layer on an (H, W, C) input.

    A dense layer connects every one of H*W*C inputs to every unit; a conv layer
    shares one k*k*C kernel per filter across all positions, so its size does
    not depend on H or W.
    """
    flattened = height * width * channels
    return DenseVersusConv(
        flattened_length=flattened,
        dense_units=dense_units,
        dense_parameters=flattened * dense_units + dense_units,
        conv_filters=conv_filters,
        conv_kernel_size=kernel_size,
        conv_parameters=conv_parameter_count(kernel_size, channels, conv_filters),
    )

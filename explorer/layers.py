"""Convolution, batch norm and pooling for the training fast path, with hand-written gradients.

XLA's CPU backend runs the gradients of its native convolution and ``reduce_window``
pooling an order of magnitude slower than the matrix products they amount to for the
small images used here. These functions compute exactly the same values and
gradients as ``lax.conv_general_dilated``, Flax's ``max_pool``/``avg_pool`` and Flax's
``BatchNorm`` (see ``tests/test_layers.py``) with plain slices, reshapes and matrix
products, which run well on any backend (CPU, GPU, TPU):

- :func:`im2col_conv`: the forward pass is matrix products over image patches
  (for stride 1, over row patches: KH times fewer patch values than full im2col;
  for a one-channel input, a weighted sum of ``kh·kw`` shifted images, with no
  patches at all). Its ``jax.custom_vjp`` computes the weight gradient without the
  transposed copy of the output gradient that automatic differentiation leads XLA
  to make, and the input gradient as a matrix product scattered back onto the
  padded input (skipped by XLA when, as for the first layer, nothing needs it).
- :func:`batch_norm`: training-mode batch normalisation whose ``jax.custom_vjp`` is
  the textbook closed form (two per-channel sums and one elementwise pass) instead
  of automatic differentiation's chain through the mean and variance.
- :func:`window_pool`: pooling at any stride and padding as the maximum or mean of
  ``size²`` strided views, max pooling's gradient routed to each window's first
  maximum, as ``select_and_scatter`` does.
- :func:`block_pool`: non-overlapping pooling as a reshape and reduction. Max
  pooling's ``jax.custom_vjp`` keeps, per window, which position (the first in
  row-major order) holds the maximum and routes the gradient there, as XLA's
  ``select_and_scatter`` does for ``reduce_window``, instead of automatic
  differentiation of the reshape and reduction, which splits the gradient among tied
  positions. Ties are common: after batch norm, every blank window of a digit holds
  one repeated value.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

from explorer.architecture import output_size


def _tap_window(i: int, j: int, stride: int, out_hw: tuple[int, int]) -> tuple[slice, ...]:
    """The index of (N, H, W, C) that kernel tap (i, j) sees at every output position."""
    out_h, out_w = out_hw
    return (
        slice(None),
        slice(i, i + (out_h - 1) * stride + 1, stride),
        slice(j, j + (out_w - 1) * stride + 1, stride),
    )


def _shifted_views(
    padded: jax.Array, kernel_hw: tuple[int, int], stride: int, out_hw: tuple[int, int]
) -> list[jax.Array]:
    """The ``kh·kw`` strided views (N, out_h, out_w, C) of ``padded``, tap (i, j) at i·kw + j."""
    kh, kw = kernel_hw
    return [padded[_tap_window(i, j, stride, out_hw)] for i in range(kh) for j in range(kw)]


def _place_tap(
    tap_grad: jax.Array, i: int, j: int, stride: int, padded_shape: tuple[int, ...]
) -> jax.Array:
    """Scatter tap (i, j)'s gradient (N, out_h, out_w, C) back onto the padded input's grid.

    The inverse placement of :func:`_tap_window`, written as a zero pad (interior
    padding for strides) so that XLA fuses the sum over taps into one loop.
    """
    _, out_h, out_w, _ = tap_grad.shape
    rows = (i, padded_shape[1] - i - (out_h - 1) * stride - 1, stride - 1)
    cols = (j, padded_shape[2] - j - (out_w - 1) * stride - 1, stride - 1)
    return jax.lax.pad(tap_grad, jnp.array(0, tap_grad.dtype), [(0, 0, 0), rows, cols, (0, 0, 0)])


def _pad_and_size(
    x: jax.Array, kernel_hw: tuple[int, int], stride: int, padding: tuple[int, int, int, int]
) -> tuple[jax.Array, tuple[int, int]]:
    top, bottom, left, right = padding
    padded = jnp.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    out_h = output_size(x.shape[1], kernel_hw[0], stride, top + bottom)
    out_w = output_size(x.shape[2], kernel_hw[1], stride, left + right)
    return padded, (out_h, out_w)


def _row_weights(kernel: jax.Array) -> jax.Array:
    """(KH, KW, C_in, C_out) → (KW·C_in, KH·C_out): one column block per kernel row."""
    kh, kw, c_in, c_out = kernel.shape
    return kernel.transpose(1, 2, 0, 3).reshape(kw * c_in, kh * c_out)


def _uses_row_patches(kernel: jax.Array, stride: int) -> bool:
    """Whether a convolution takes the row-patch path (forward and backward agree on it)."""
    return kernel.shape[2] > 1 and stride == 1


def _conv_forward(
    x: jax.Array, kernel: jax.Array, stride: int, padding: tuple[int, int, int, int]
) -> tuple[jax.Array, tuple]:
    kh, kw, c_in, c_out = kernel.shape
    padded, (out_h, out_w) = _pad_and_size(x, (kh, kw), stride, padding)
    if c_in == 1:
        views = _shifted_views(padded, (kh, kw), stride, (out_h, out_w))
        taps = kernel.reshape(kh * kw, c_out)
        return sum(view * taps[tap] for tap, view in enumerate(views)), (padded, None, kernel)
    if _uses_row_patches(kernel, stride):
        n, padded_h = padded.shape[:2]
        row_patches = jnp.concatenate([padded[:, :, j : j + out_w] for j in range(kw)], axis=-1)
        by_kernel_row = row_patches.reshape(-1, kw * c_in) @ _row_weights(kernel)
        by_kernel_row = by_kernel_row.reshape(n, padded_h, out_w, kh * c_out)
        out = sum(
            by_kernel_row[:, i : i + out_h, :, i * c_out : (i + 1) * c_out] for i in range(kh)
        )
        return out, (padded, row_patches, kernel)
    patches = jnp.concatenate(_shifted_views(padded, (kh, kw), stride, (out_h, out_w)), axis=-1)
    return patches @ kernel.reshape(kh * kw * c_in, c_out), (padded, patches, kernel)


@partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def im2col_conv(
    x: jax.Array, kernel: jax.Array, stride: int, padding: tuple[int, int, int, int]
) -> jax.Array:
    """2-D cross-correlation as matrix products over image patches.

    Three ways, all with the same values and gradients:

    - ``C_in == 1``: a weighted sum of the ``KH·KW`` shifted images (no patches);
    - stride 1: row patches, the ``KW`` horizontally shifted copies of the padded
      input side by side, (N, H_pad, W_out, KW·C_in), times all kernel rows at once,
      then the ``KH`` results summed with their vertical shifts. This builds KH times
      fewer patch values than full im2col, for a few more multiplications (the
      padding rows);
    - otherwise: full im2col, (N, H_out, W_out, KH·KW·C_in) times the kernel.

    Args:
        x: (N, H, W, C_in).
        kernel: (KH, KW, C_in, C_out).
        stride: the same along both axes.
        padding: zero pixels (top, bottom, left, right).

    Returns:
        (N, H_out, W_out, C_out), equal to ``lax.conv_general_dilated`` up to rounding,
        with ``H_out = (H + top + bottom - KH) // stride + 1`` (likewise W_out).
    """
    return _conv_forward(x, kernel, stride, padding)[0]


def _row_patch_backward(
    padded: jax.Array, row_patches: jax.Array, kernel: jax.Array, grad: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """Gradients of the stride-1 row-patch convolution: (padded input, kernel)."""
    kh, kw, c_in, c_out = kernel.shape
    n, out_h, out_w, _ = grad.shape
    padded_h, padded_w = padded.shape[1:3]
    by_kernel_row = jnp.concatenate(
        [jnp.pad(grad, ((0, 0), (i, padded_h - out_h - i), (0, 0), (0, 0))) for i in range(kh)],
        axis=-1,
    ).reshape(-1, kh * c_out)
    kernel_grad = row_patches.reshape(-1, kw * c_in).T @ by_kernel_row
    kernel_grad = kernel_grad.reshape(kw, c_in, kh, c_out).transpose(2, 0, 1, 3)
    row_patch_grads = by_kernel_row @ _row_weights(kernel).T
    row_patch_grads = row_patch_grads.reshape(n, padded_h, out_w, kw * c_in)
    padded_grad = sum(
        jnp.pad(
            row_patch_grads[..., j * c_in : (j + 1) * c_in],
            ((0, 0), (0, 0), (j, padded_w - out_w - j), (0, 0)),
        )
        for j in range(kw)
    )
    return padded_grad, kernel_grad


def _full_patch_backward(
    padded: jax.Array, patches: jax.Array | None, kernel: jax.Array, stride: int, grad: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """Gradients of full im2col (or, without patches, of the one-channel weighted sum)."""
    kh, kw, c_in, c_out = kernel.shape
    n, out_h, out_w, _ = grad.shape
    rows = n * out_h * out_w
    grad_rows = grad.reshape(rows, c_out)
    if patches is None:
        taps = jnp.stack(_shifted_views(padded, (kh, kw), stride, (out_h, out_w)))
        kernel_grad = taps.reshape(kh * kw, rows) @ grad_rows
    else:
        kernel_grad = patches.reshape(rows, kh * kw * c_in).T @ grad_rows
    patch_grads = grad_rows @ kernel.reshape(kh * kw * c_in, c_out).T
    patch_grads = patch_grads.reshape(n, out_h, out_w, kh * kw, c_in)
    padded_grad = sum(
        _place_tap(patch_grads[..., tap, :], *divmod(tap, kw), stride, padded.shape)
        for tap in range(kh * kw)
    )
    return padded_grad, kernel_grad.reshape(kernel.shape)


def _conv_backward(
    stride: int, padding: tuple[int, int, int, int], residuals: tuple, grad: jax.Array
) -> tuple[jax.Array, jax.Array]:
    padded, patches, kernel = residuals
    if _uses_row_patches(kernel, stride):
        padded_grad, kernel_grad = _row_patch_backward(padded, patches, kernel, grad)
    else:
        padded_grad, kernel_grad = _full_patch_backward(padded, patches, kernel, stride, grad)
    top, bottom, left, right = padding
    x_grad = padded_grad[:, top : padded.shape[1] - bottom, left : padded.shape[2] - right]
    return x_grad, kernel_grad


im2col_conv.defvjp(_conv_forward, _conv_backward)


def _windows(x: jax.Array, size: int) -> jax.Array:
    """(N, H, W, C) → (N, H//size, size, W//size, size, C), leftover rows/columns dropped."""
    n, h, w, c = x.shape
    out_h, out_w = h // size, w // size
    return x[:, : out_h * size, : out_w * size].reshape(n, out_h, size, out_w, size, c)


def _maximum_and_offset(windows: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Each window's maximum and which position (row-major, 0..size²−1) first holds it.

    One pass over the ``size²`` positions, so XLA computes both in one loop.

    Args:
        windows: (N, H', size, W', size, C) from :func:`_windows`.

    Returns:
        The maxima (N, H', W', C), NaN where a window holds one, and their offsets,
        (N, H', W', C) int8 (int32 for windows of more than 128 positions).
    """
    size = windows.shape[2]
    maximum = windows[:, :, 0, :, 0]
    offset = jnp.zeros(maximum.shape, jnp.int8 if size * size <= 128 else jnp.int32)
    for position in range(1, size * size):
        row, column = divmod(position, size)
        value = windows[:, :, row, :, column]
        offset = jnp.where(value > maximum, position, offset)
        maximum = jnp.maximum(maximum, value)
    return maximum, offset


@partial(jax.custom_vjp, nondiff_argnums=(1, 2))
def _max_pool(x: jax.Array, size: int, leftover: tuple[int, int]) -> jax.Array:
    return _windows(x, size).max(axis=(2, 4))


def _max_pool_forward(
    x: jax.Array, size: int, leftover: tuple[int, int]
) -> tuple[jax.Array, tuple]:
    pooled, offset = _maximum_and_offset(_windows(x, size))
    return pooled, (offset,)


def _max_pool_backward(
    size: int, leftover: tuple[int, int], residuals: tuple, grad: jax.Array
) -> tuple[jax.Array]:
    (offset,) = residuals
    n, out_h, out_w, c = grad.shape
    offsets = jnp.arange(size * size).reshape(1, 1, size, 1, size, 1)
    at_maximum = offset[:, :, None, :, None, :] == offsets
    covered = jnp.where(at_maximum, grad[:, :, None, :, None, :], 0.0)
    covered = covered.reshape(n, out_h * size, out_w * size, c)
    return (jnp.pad(covered, ((0, 0), (0, leftover[0]), (0, leftover[1]), (0, 0))),)


_max_pool.defvjp(_max_pool_forward, _max_pool_backward)


def block_pool(x: jax.Array, kind: str, size: int) -> jax.Array:
    """Non-overlapping ``size``×``size`` max or average pooling of (N, H, W, C).

    Returns (N, H // size, W // size, C); rows/columns that do not fill a whole window
    are dropped (like "VALID" pooling) and get zero gradient.
    """
    if kind == "max":
        return _max_pool(x, size, (x.shape[1] % size, x.shape[2] % size))
    return _windows(x, size).mean(axis=(2, 4))


def _first_maximum(views: list[jax.Array]) -> tuple[jax.Array, jax.Array]:
    """The element-wise maximum of equally shaped views and which view (the first) holds it."""
    maximum = views[0]
    offset = jnp.zeros(maximum.shape, jnp.int8 if len(views) <= 128 else jnp.int32)
    for position, value in enumerate(views[1:], start=1):
        offset = jnp.where(value > maximum, position, offset)
        maximum = jnp.maximum(maximum, value)
    return maximum, offset


@partial(jax.custom_vjp, nondiff_argnums=(1, 2, 3))
def _window_max(
    x: jax.Array, size: int, stride: int, padding: tuple[int, int, int, int]
) -> jax.Array:
    return _window_max_forward(x, size, stride, padding)[0]


def _window_max_forward(
    x: jax.Array, size: int, stride: int, padding: tuple[int, int, int, int]
) -> tuple[jax.Array, tuple]:
    top, bottom, left, right = padding
    padded = jnp.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=-jnp.inf)
    out_hw = (
        output_size(x.shape[1], size, stride, top + bottom),
        output_size(x.shape[2], size, stride, left + right),
    )
    maximum, offset = _first_maximum(_shifted_views(padded, (size, size), stride, out_hw))
    return maximum, (offset, padded.shape)


def _window_max_backward(
    size: int, stride: int, padding: tuple[int, int, int, int], residuals: tuple, grad: jax.Array
) -> tuple[jax.Array]:
    offset, padded_shape = residuals
    padded_grad = sum(
        _place_tap(jnp.where(offset == tap, grad, 0.0), *divmod(tap, size), stride, padded_shape)
        for tap in range(size * size)
    )
    top, bottom, left, right = padding
    return (padded_grad[:, top : padded_shape[1] - bottom, left : padded_shape[2] - right],)


_window_max.defvjp(_window_max_forward, _window_max_backward)


def window_pool(
    x: jax.Array, kind: str, size: int, stride: int, padding: tuple[int, int, int, int]
) -> jax.Array:
    """``size``×``size`` max or average pooling of (N, H, W, C) at any stride and padding.

    Max pooling pads with −∞ and routes each window's gradient to its first maximum
    (row-major), as Flax's ``max_pool`` does; average pooling pads with zeros and
    divides by the whole window, as Flax's ``avg_pool`` does by default. Windows that
    tile the input ("valid", stride = size) take :func:`block_pool`'s reshape.

    Args:
        padding: (top, bottom, left, right) pixels.

    Returns:
        (N, H_out, W_out, C) with ``H_out = (H + top + bottom − size) // stride + 1``.
    """
    if stride == size and not any(padding):
        return block_pool(x, kind, size)
    if kind == "max":
        return _window_max(x, size, stride, padding)
    top, bottom, left, right = padding
    padded = jnp.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    out_hw = (
        output_size(x.shape[1], size, stride, top + bottom),
        output_size(x.shape[2], size, stride, left + right),
    )
    return sum(_shifted_views(padded, (size, size), stride, out_hw)) / (size * size)


def batch_statistics(x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Per-channel mean and (biased) variance of (..., C) over all other axes.

    The variance is E[x²] − E[x]², clamped at 0, as Flax's ``BatchNorm`` computes it
    by default; both are (C,).
    """
    axes = tuple(range(x.ndim - 1))
    mean = x.mean(axes)
    variance = jnp.maximum(0.0, (x * x).mean(axes) - mean * mean)
    return mean, variance


@partial(jax.custom_vjp, nondiff_argnums=(3,))
def batch_norm(x: jax.Array, scale: jax.Array, bias: jax.Array, epsilon: float) -> jax.Array:
    """Normalise (..., C) with its own per-channel batch statistics, then scale and shift.

    ``(x − mean) / sqrt(variance + epsilon) · scale + bias`` with the statistics of
    :func:`batch_statistics`: the same values and gradients as Flax's
    ``BatchNorm(use_running_average=False)``. ``scale`` and ``bias`` are (C,).
    """
    return _batch_norm_forward(x, scale, bias, epsilon)[0]


def _batch_norm_forward(
    x: jax.Array, scale: jax.Array, bias: jax.Array, epsilon: float
) -> tuple[jax.Array, tuple]:
    mean, variance = batch_statistics(x)
    inverse_std = jax.lax.rsqrt(variance + epsilon)
    return (x - mean) * (inverse_std * scale) + bias, (x, mean, inverse_std, scale)


def _batch_norm_backward(
    epsilon: float, residuals: tuple, grad: jax.Array
) -> tuple[jax.Array, jax.Array, jax.Array]:
    x, mean, inverse_std, scale = residuals
    axes = tuple(range(x.ndim - 1))
    count = x.size // x.shape[-1]
    normalized = (x - mean) * inverse_std
    bias_grad = grad.sum(axes)
    scale_grad = (grad * normalized).sum(axes)
    x_grad = (scale * inverse_std / count) * (count * grad - bias_grad - normalized * scale_grad)
    return x_grad, scale_grad, bias_grad


batch_norm.defvjp(_batch_norm_forward, _batch_norm_backward)

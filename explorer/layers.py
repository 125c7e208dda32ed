"""Convolution, batch norm and pooling for the training fast path, with hand-written gradients.

XLA's CPU backend runs the gradients of its native convolution and ``reduce_window``
pooling an order of magnitude slower than the matrix products they amount to for the
small images used here. These functions compute exactly the same values and
gradients as ``lax.conv_general_dilated`` and Flax's ``max_pool``/``avg_pool`` (see
``tests/test_layers.py``) with plain slices, reshapes and matrix products, which run
well on any backend (CPU, GPU, TPU):

- :func:`im2col_conv`: the forward pass is one matrix product over image patches
  (for a one-channel input, a weighted sum of ``kh·kw`` shifted images, which
  skips building the patches). Its ``jax.custom_vjp`` computes the weight gradient
  without the transposed copy of the output gradient that automatic
  differentiation leads XLA to make (for a one-channel input, as a product of
  stacked shifted images), and the input gradient as a matrix product scattered
  back onto the padded input (skipped by XLA when, as for the first layer, nothing
  needs it).
- :func:`batch_norm`: training-mode batch normalisation whose ``jax.custom_vjp`` is
  the textbook closed form (two per-channel sums and one elementwise pass) instead
  of automatic differentiation's chain through the mean and variance.
- :func:`block_pool`: non-overlapping pooling as a reshape and reduction. Max
  pooling's ``jax.custom_vjp`` routes each window's gradient to the positions equal
  to its maximum with one comparison, instead of automatic differentiation's
  count-and-divide. The two differ only for exact ties at the maximum inside a
  window, where this gives every tied position the full gradient; after a ReLU,
  ties happen at 0, where the ReLU's own gradient is 0, so training is unchanged.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp


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
    out_h = (padded.shape[1] - kernel_hw[0]) // stride + 1
    out_w = (padded.shape[2] - kernel_hw[1]) // stride + 1
    return padded, (out_h, out_w)


def _conv_forward(
    x: jax.Array, kernel: jax.Array, stride: int, padding: tuple[int, int, int, int]
) -> tuple[jax.Array, tuple]:
    kh, kw, c_in, c_out = kernel.shape
    padded, out_hw = _pad_and_size(x, (kh, kw), stride, padding)
    views = _shifted_views(padded, (kh, kw), stride, out_hw)
    if c_in == 1:
        taps = kernel.reshape(kh * kw, c_out)
        return sum(view * taps[tap] for tap, view in enumerate(views)), (padded, None, kernel)
    patches = jnp.concatenate(views, axis=-1)
    return patches @ kernel.reshape(kh * kw * c_in, c_out), (padded, patches, kernel)


@partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def im2col_conv(
    x: jax.Array, kernel: jax.Array, stride: int, padding: tuple[int, int, int, int]
) -> jax.Array:
    """2-D cross-correlation as one matrix product over patches (a weighted sum of
    shifted images when ``C_in == 1``).

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


def _conv_backward(
    stride: int, padding: tuple[int, int, int, int], residuals: tuple, grad: jax.Array
) -> tuple[jax.Array, jax.Array]:
    padded, patches, kernel = residuals
    kh, kw, c_in, c_out = kernel.shape
    n, out_h, out_w, _ = grad.shape
    rows = n * out_h * out_w
    grad_rows = grad.reshape(rows, c_out)
    if c_in == 1:
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
    top, bottom, left, right = padding
    x_grad = padded_grad[:, top : padded.shape[1] - bottom, left : padded.shape[2] - right]
    return x_grad, kernel_grad.reshape(kernel.shape)


im2col_conv.defvjp(_conv_forward, _conv_backward)


def _windows(x: jax.Array, size: int) -> jax.Array:
    """(N, H, W, C) → (N, H//size, size, W//size, size, C), leftover rows/columns dropped."""
    n, h, w, c = x.shape
    out_h, out_w = h // size, w // size
    return x[:, : out_h * size, : out_w * size].reshape(n, out_h, size, out_w, size, c)


@partial(jax.custom_vjp, nondiff_argnums=(1,))
def _max_pool(x: jax.Array, size: int) -> jax.Array:
    return _windows(x, size).max(axis=(2, 4))


def _max_pool_forward(x: jax.Array, size: int) -> tuple[jax.Array, tuple]:
    pooled = _max_pool(x, size)
    return pooled, (x, pooled)


def _max_pool_backward(size: int, residuals: tuple, grad: jax.Array) -> tuple[jax.Array]:
    x, pooled = residuals
    at_maximum = _windows(x, size) == pooled[:, :, None, :, None, :]
    window_grad = jnp.where(at_maximum, grad[:, :, None, :, None, :], 0.0)
    n, h, w, c = x.shape
    covered = window_grad.reshape(n, grad.shape[1] * size, grad.shape[2] * size, c)
    leftover = ((0, 0), (0, h - covered.shape[1]), (0, w - covered.shape[2]), (0, 0))
    return (jnp.pad(covered, leftover),)


_max_pool.defvjp(_max_pool_forward, _max_pool_backward)


def block_pool(x: jax.Array, kind: str, size: int) -> jax.Array:
    """Non-overlapping ``size``×``size`` max or average pooling of (N, H, W, C).

    Returns (N, H // size, W // size, C); rows/columns that do not fill a whole window
    are dropped (like "VALID" pooling) and get zero gradient.
    """
    if kind == "max":
        return _max_pool(x, size)
    return _windows(x, size).mean(axis=(2, 4))


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

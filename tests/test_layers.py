"""Fast-path layers: values and gradients against lax convolution, Flax pooling and batch norm."""

from functools import partial

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from explorer.layers import batch_norm, batch_statistics, block_pool, im2col_conv, window_pool


def test_im2col_conv_matches_lax_convolution():
    x = jax.random.normal(jax.random.key(0), (2, 7, 8, 3))
    w = jax.random.normal(jax.random.key(1), (3, 2, 3, 4))
    ours = im2col_conv(x, w, stride=2, padding=(1, 0, 0, 2))
    reference = jax.lax.conv_general_dilated(
        x, w, (2, 2), [(1, 0), (0, 2)], dimension_numbers=("NHWC", "HWIO", "NHWC")
    )
    np.testing.assert_allclose(ours, reference, rtol=1e-5, atol=1e-5)


def _lax_conv(x, w, stride, padding):
    top, bottom, left, right = padding
    return jax.lax.conv_general_dilated(
        x,
        w,
        (stride, stride),
        [(top, bottom), (left, right)],
        dimension_numbers=("NHWC", "HWIO", "NHWC"),
    )


@pytest.mark.parametrize(
    ("kernel_shape", "stride", "padding"),
    [
        ((3, 3, 1, 16), 1, (1, 1, 1, 1)),
        ((3, 3, 16, 32), 1, (1, 1, 1, 1)),
        ((5, 3, 3, 4), 2, (2, 0, 1, 3)),
        ((5, 3, 3, 4), 1, (2, 0, 1, 3)),
        ((2, 4, 5, 6), 1, (0, 1, 2, 0)),
        ((3, 3, 1, 4), 2, (1, 0, 0, 1)),
    ],
    ids=[
        "first-layer",
        "second-layer",
        "odd-shape-stride2",
        "odd-shape-stride1",
        "even-kernel-stride1",
        "one-channel-stride2",
    ],
)
def test_im2col_conv_gradients_equal_lax_convolution_gradients(kernel_shape, stride, padding):
    """The fast path's input and weight gradients are the reference convolution's."""
    x = jax.random.normal(jax.random.key(0), (4, 12, 11, kernel_shape[2]))
    w = jax.random.normal(jax.random.key(1), kernel_shape)
    upstream = jax.random.normal(jax.random.key(2), _lax_conv(x, w, stride, padding).shape)

    def weighted_sum(conv):
        return lambda x, w: (conv(x, w, stride, padding) * upstream).sum()

    ours = jax.grad(weighted_sum(im2col_conv), argnums=(0, 1))(x, w)
    reference = jax.grad(weighted_sum(_lax_conv), argnums=(0, 1))(x, w)
    for mine, theirs in zip(ours, reference, strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("kind", ["max", "average"])
def test_block_pool_gradient_equals_flax_pooling_gradient(kind):
    """Without ties, max pooling routes each window's gradient to its maximum, as reduce_window."""
    x = jax.random.normal(jax.random.key(0), (3, 8, 10, 4))
    upstream = jax.random.normal(jax.random.key(1), (3, 4, 5, 4))
    pool = nn.max_pool if kind == "max" else nn.avg_pool
    ours = jax.grad(lambda x: (block_pool(x, kind, 2) * upstream).sum())(x)
    reference = jax.grad(lambda x: (pool(x, (2, 2), strides=(2, 2)) * upstream).sum())(x)
    np.testing.assert_allclose(ours, reference, rtol=1e-6, atol=1e-7)
    if kind == "max":
        assert np.count_nonzero(np.asarray(ours)) == upstream.size


@pytest.mark.parametrize("kind", ["max", "average"])
def test_block_pool_matches_flax_pooling_and_drops_leftovers(kind):
    x = jax.random.normal(jax.random.key(0), (2, 7, 9, 3))
    pool = nn.max_pool if kind == "max" else nn.avg_pool
    reference = pool(x, (3, 3), strides=(3, 3), padding="VALID")
    np.testing.assert_allclose(block_pool(x, kind, 3), reference, rtol=1e-6)
    assert block_pool(x, kind, 3).shape == (2, 2, 3, 3)


def test_max_pool_gradient_after_relu_equals_flax_even_with_ties_at_zero():
    """ReLU makes many windows all-zero ties; the ReLU's zero gradient hides the tie rule."""
    x = jax.random.normal(jax.random.key(3), (2, 6, 6, 3)) - 0.8
    upstream = jax.random.normal(jax.random.key(4), (2, 3, 3, 3))
    assert np.any(np.asarray(nn.max_pool(nn.relu(x), (2, 2), strides=(2, 2))) == 0)

    def weighted(pool):
        return lambda x: (pool(nn.relu(x)) * upstream).sum()

    ours = jax.grad(weighted(lambda y: block_pool(y, "max", 2)))(x)
    reference = jax.grad(weighted(lambda y: nn.max_pool(y, (2, 2), strides=(2, 2))))(x)
    np.testing.assert_array_equal(ours, reference)


@pytest.mark.parametrize("size", [2, 3])
def test_max_pool_gradient_goes_to_the_first_tied_maximum_as_in_flax(size):
    """Blank image regions tie at positive values after batch norm; only one position may win."""
    x = jnp.round(jax.random.uniform(jax.random.key(6), (2, 9, 9, 3)) * 2) / 2 + 1.0
    upstream = jax.random.normal(jax.random.key(7), (2, 9 // size, 9 // size, 3))
    window = (size, size)
    ours = jax.grad(lambda x: (block_pool(x, "max", size) * upstream).sum())(x)
    reference = jax.grad(lambda x: (nn.max_pool(x, window, strides=window) * upstream).sum())(x)
    np.testing.assert_array_equal(ours, reference)
    assert np.count_nonzero(np.asarray(ours)) == upstream.size


def test_max_pool_gradient_for_a_window_of_more_than_128_positions():
    x = jax.random.normal(jax.random.key(8), (1, 24, 25, 2))
    ours = jax.grad(lambda x: block_pool(x, "max", 12).sum())(x)
    reference = jax.grad(lambda x: nn.max_pool(x, (12, 12), strides=(12, 12)).sum())(x)
    np.testing.assert_array_equal(ours, reference)


def test_max_pool_keeps_nan_so_a_diverging_run_is_noticed():
    x = jnp.zeros((1, 4, 4, 1)).at[0, 1, 2, 0].set(jnp.nan)
    pooled, _ = jax.vjp(lambda x: block_pool(x, "max", 2), x)
    assert np.isnan(pooled[0, 0, 1, 0]) and np.isnan(block_pool(x, "max", 2)[0, 0, 1, 0])
    assert np.count_nonzero(np.isnan(np.asarray(pooled))) == 1


def test_leftover_rows_and_columns_get_zero_gradient():
    x = jax.random.normal(jax.random.key(5), (1, 5, 7, 2))
    grad = jax.grad(lambda x: block_pool(x, "max", 2).sum())(x)
    assert grad.shape == x.shape
    assert not np.any(np.asarray(grad[:, 4:])) and not np.any(np.asarray(grad[:, :, 6:]))
    assert np.count_nonzero(np.asarray(grad)) == 2 * 3 * 2


def test_batch_statistics_match_numpy():
    x = np.random.default_rng(0).normal(3.0, 2.0, (5, 4, 3, 6)).astype(np.float32)
    mean, variance = batch_statistics(x)
    np.testing.assert_allclose(mean, x.mean((0, 1, 2)), rtol=1e-5)
    np.testing.assert_allclose(variance, x.var((0, 1, 2)), rtol=1e-4)


def _flax_batch_norm(x, scale, bias):
    variables = {"params": {"scale": scale, "bias": bias}}
    bn = nn.BatchNorm(use_running_average=False)
    return bn.apply(variables, x, mutable=["batch_stats"])[0]


def test_batch_norm_values_and_gradients_equal_flax_batch_norm():
    """Input, scale and bias gradients of the closed form equal autodiff through Flax's."""
    keys = jax.random.split(jax.random.key(0), 4)
    x = 2.0 + 3.0 * jax.random.normal(keys[0], (6, 5, 7, 4))
    scale = jax.random.normal(keys[1], (4,))
    bias = jax.random.normal(keys[2], (4,))
    upstream = jax.random.normal(keys[3], x.shape)

    def weighted_sum(norm):
        return lambda x, scale, bias: (norm(x, scale, bias) * upstream).sum()

    np.testing.assert_allclose(
        batch_norm(x, scale, bias, 1e-5), _flax_batch_norm(x, scale, bias), rtol=1e-5, atol=1e-5
    )
    ours = jax.grad(weighted_sum(partial(batch_norm, epsilon=1e-5)), argnums=(0, 1, 2))
    reference = jax.grad(weighted_sum(_flax_batch_norm), argnums=(0, 1, 2))
    for mine, theirs in zip(ours(x, scale, bias), reference(x, scale, bias), strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-4, atol=1e-4)


def test_batch_norm_gradient_of_a_constant_channel_is_finite():
    """A channel with zero variance (a dead filter) normalises to 0 and passes finite gradients."""
    x = jnp.ones((4, 3, 3, 2)).at[..., 1].set(jax.random.normal(jax.random.key(0), (4, 3, 3)))
    grads = jax.grad(lambda x: batch_norm(x, jnp.ones(2), jnp.zeros(2), 1e-5).sum())(x)
    assert np.isfinite(grads).all()
    np.testing.assert_allclose(batch_norm(x, jnp.ones(2), jnp.zeros(2), 1e-5)[..., 0], 0.0)


@pytest.mark.parametrize("kind", ["max", "average"])
@pytest.mark.parametrize(
    ("size", "stride", "padding"),
    [(3, 2, (0, 0, 0, 0)), (3, 2, (1, 1, 1, 1)), (3, 1, (1, 1, 1, 1)), (3, 2, (0, 1, 0, 1))],
    ids=["alexnet-3s2", "resnet-3s2p1", "inception-3s1p1", "same-3s2"],
)
def test_window_pool_values_and_gradients_equal_flax_pooling(kind, size, stride, padding):
    """Overlapping windows with padding; values rounded to halves so many windows tie."""
    x = jnp.round(jax.random.normal(jax.random.key(9), (2, 9, 10, 3)) * 2) / 2
    pool = nn.max_pool if kind == "max" else nn.avg_pool
    pads = [padding[:2], padding[2:]]

    def reference(x):
        return pool(x, (size, size), strides=(stride, stride), padding=pads)

    expected = reference(x)
    np.testing.assert_allclose(window_pool(x, kind, size, stride, padding), expected, rtol=1e-6)
    upstream = jax.random.normal(jax.random.key(10), expected.shape)
    ours = jax.grad(lambda x: (window_pool(x, kind, size, stride, padding) * upstream).sum())(x)
    theirs = jax.grad(lambda x: (reference(x) * upstream).sum())(x)
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-6)

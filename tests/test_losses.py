"""Targets and losses: hand-computed values, gradients against jax.grad and finite differences."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from explorer.errors import ExplorerError
from explorer.losses import (
    LOSSES,
    batch_loss,
    cross_entropy,
    logit_gradient,
    one_hot,
    per_image_loss,
    squared_error,
)

# softmax of (0, ln 2, ln 5) is (1, 2, 5) / 8; the true class is 2.
LOGITS = jnp.array([[0.0, math.log(2.0), math.log(5.0)]])
TARGET = jnp.array([[0.0, 0.0, 1.0]])


def test_one_hot_and_smoothed_targets_by_hand():
    np.testing.assert_array_equal(one_hot(jnp.array([2, 0]), 3), [[0, 0, 1], [1, 0, 0]])
    smoothed = np.asarray(one_hot(jnp.array([1]), 4, smoothing=0.2))
    np.testing.assert_allclose(smoothed, [[0.05, 0.85, 0.05, 0.05]], rtol=1e-6)
    assert smoothed.sum() == pytest.approx(1.0)


def test_losses_by_hand():
    assert float(cross_entropy(LOGITS, TARGET)[0]) == pytest.approx(-math.log(5 / 8), rel=1e-6)
    # ½ ((1/8)² + (2/8)² + (3/8)²) = 14 / 128
    assert float(squared_error(LOGITS, TARGET)[0]) == pytest.approx(14 / 128, rel=1e-6)


def test_gradients_with_respect_to_the_logits_by_hand():
    np.testing.assert_allclose(
        logit_gradient("cross-entropy", LOGITS, TARGET)[0], [1 / 8, 2 / 8, -3 / 8], rtol=1e-6
    )
    # r = p − y = (1, 2, −3)/8, Σ p·r = −10/64, dL/dz_j = p_j (r_j + 10/64)
    np.testing.assert_allclose(
        logit_gradient("mse", LOGITS, TARGET)[0], [18 / 512, 52 / 512, -70 / 512], rtol=1e-5
    )


def _numpy_loss(kind: str, logits: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Float64 reference, written independently of explorer.losses."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    probabilities = np.exp(shifted) / np.exp(shifted).sum(axis=-1, keepdims=True)
    if kind == "cross-entropy":
        return -(targets * np.log(probabilities)).sum(axis=-1)
    return 0.5 * ((targets - probabilities) ** 2).sum(axis=-1)


@pytest.mark.parametrize("kind", LOSSES)
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_closed_form_gradient_matches_jax_grad_and_finite_differences(kind, smoothing):
    rng = np.random.default_rng(4)
    logits = rng.normal(0, 3, (5, 10)).astype(np.float32)
    targets = np.asarray(one_hot(jnp.array([0, 3, 9, 9, 4]), 10, smoothing))
    closed = np.asarray(logit_gradient(kind, jnp.asarray(logits), jnp.asarray(targets)))

    def total(z):
        return per_image_loss(kind, z, jnp.asarray(targets)).sum()

    np.testing.assert_allclose(closed, jax.grad(total)(jnp.asarray(logits)), atol=1e-6)
    step = 1e-5
    numeric = np.zeros_like(closed, dtype=np.float64)
    for index in np.ndindex(*logits.shape):
        plus, minus = logits.astype(np.float64), logits.astype(np.float64)
        plus[index] += step
        minus[index] -= step
        numeric[index] = (
            _numpy_loss(kind, plus, targets)[index[0]] - _numpy_loss(kind, minus, targets)[index[0]]
        ) / (2 * step)
    np.testing.assert_allclose(closed, numeric, atol=2e-5)
    np.testing.assert_allclose(
        per_image_loss(kind, jnp.asarray(logits), jnp.asarray(targets)),
        _numpy_loss(kind, logits.astype(np.float64), targets),
        rtol=1e-5,
    )


def test_batch_loss_is_the_mean_over_images():
    logits = jnp.array([[2.0, 0.0], [0.0, 0.0]])
    labels = jnp.array([0, 1])
    expected = (math.log(1 + math.exp(-2)) + math.log(2)) / 2
    assert float(batch_loss("cross-entropy", logits, labels, 2)) == pytest.approx(expected)


def test_a_confident_wrong_answer_gets_a_small_mse_gradient_but_a_large_cross_entropy_one():
    wrong = jnp.array([[8.0, 0.0]])
    target = jnp.array([[0.0, 1.0]])
    ce = np.abs(np.asarray(logit_gradient("cross-entropy", wrong, target))).max()
    mse = np.abs(np.asarray(logit_gradient("mse", wrong, target))).max()
    assert ce > 0.99 and mse < 0.001


def test_an_unknown_loss_is_refused():
    with pytest.raises(ExplorerError, match="Unknown loss 'hinge'"):
        per_image_loss("hinge", LOGITS, TARGET)

"""Targets and losses of a classifier: one-hot labels, cross-entropy, mean squared error,
and their gradients with respect to the logits.

A network ends in K logits ``z`` per image; the softmax turns them into probabilities
``p = softmax(z)`` (positive, summing to 1). The label becomes a target vector ``y`` of
K numbers: one-hot (1 for the true class, 0 elsewhere), or smoothed (1 − ε + ε/K and
ε/K). Per image:

- cross-entropy ``L = −Σ_k y_k log p_k`` (for a one-hot target, −log of the true class's
  probability), with gradient ``dL/dz = p·Σ_k y_k − y``, i.e. ``p − y``;
- mean squared error ``L = ½ Σ_k (y_k − p_k)²``, whose gradient goes back through the
  softmax: ``dL/dz_j = p_j (r_j − Σ_k p_k r_k)`` with ``r = p − y``. Each term carries a
  factor ``p_j``, so a confidently wrong answer (p of the true class near 0) gets a small
  gradient: MSE learns slowly where cross-entropy pushes hardest.

A batch's loss is the mean over its images. Everything takes and returns JAX arrays of
float32, logits and targets (N, K), labels int (N,).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from explorer.errors import ExplorerError

LOSSES = ("cross-entropy", "mse")
"""The losses training can minimise (``TrainConfig.loss``, ``--loss``)."""
LOSS_TITLES = {"cross-entropy": "cross-entropy", "mse": "mean squared error"}
DEFAULT_LOSS = LOSSES[0]
"""What a run that does not name its loss (an older checkpoint) was trained with."""


def one_hot(labels: jax.Array, num_classes: int, smoothing: float = 0.0) -> jax.Array:
    """Targets float32 (N, K): 1 at each label, 0 elsewhere; with ``smoothing`` ε in [0, 1),
    1 − ε + ε/K and ε/K (each row still sums to 1)."""
    hot = jax.nn.one_hot(labels, num_classes, dtype=jnp.float32)
    return hot * (1.0 - smoothing) + smoothing / num_classes


def cross_entropy(logits: jax.Array, targets: jax.Array) -> jax.Array:
    """Per-image cross-entropy −Σ_k y_k log softmax(z)_k, float32 (N,), ≥ 0 for targets ≥ 0."""
    return -(targets * jax.nn.log_softmax(logits, axis=-1)).sum(axis=-1)


def squared_error(logits: jax.Array, targets: jax.Array) -> jax.Array:
    """Per-image ½ Σ_k (y_k − softmax(z)_k)², float32 (N,), in [0, 1] for one-hot targets."""
    return 0.5 * jnp.square(targets - jax.nn.softmax(logits, axis=-1)).sum(axis=-1)


def check_loss(kind: str) -> None:
    """Raise :class:`ExplorerError` unless ``kind`` is one of :data:`LOSSES`."""
    if kind not in LOSSES:
        raise ExplorerError(f"Unknown loss {kind!r}; use one of {LOSSES}.")


def per_image_loss(kind: str, logits: jax.Array, targets: jax.Array) -> jax.Array:
    """The loss ``kind`` (one of :data:`LOSSES`) of each image, float32 (N,)."""
    check_loss(kind)
    if kind == "cross-entropy":
        return cross_entropy(logits, targets)
    return squared_error(logits, targets)


def logit_gradient(kind: str, logits: jax.Array, targets: jax.Array) -> jax.Array:
    """d(per-image loss)/d logits in closed form (see the module docstring), float32 (N, K)."""
    check_loss(kind)
    probabilities = jax.nn.softmax(logits, axis=-1)
    if kind == "cross-entropy":
        return probabilities * targets.sum(axis=-1, keepdims=True) - targets
    residual = probabilities - targets
    return probabilities * (residual - (probabilities * residual).sum(axis=-1, keepdims=True))


def batch_loss(
    kind: str, logits: jax.Array, labels: jax.Array, num_classes: int, smoothing: float = 0.0
) -> jax.Array:
    """Mean loss ``kind`` of a batch: logits (N, K), int labels (N,) → a float32 scalar."""
    return per_image_loss(kind, logits, one_hot(labels, num_classes, smoothing)).mean()

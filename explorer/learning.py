"""How a network learns: one gradient-descent step, the loss around the weights, and how
gradients pass through a deep stack at initialisation.

Everything runs the project's own model (:class:`explorer.model.Network`) on real
digits: :func:`lesson_batch` takes a few of the built-in MNIST training images of every
class. The lab's network, :data:`LAB_SPEC`, has no batch norm or dropout, so its
training and inference forward passes are the same function of the weights, and "the
loss on the same batch before and after a step" means exactly that.

Plain gradient descent on a fixed batch: ``W ← W − η·dL/dW`` for every weight array,
with the loss ``L`` the batch mean of :mod:`explorer.losses`. Weights are Flax
parameter trees (``{"conv1": {"kernel", "bias"}, ..., "logits": {...}}``); the
landscape functions flatten them into one vector of P numbers. Every function is
jitted once per (spec, loss, shapes) and takes values (weights, learning rates) as
traced arguments, so new values reuse the compiled code.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from explorer.data import registry
from explorer.layers import batch_norm, im2col_conv
from explorer.losses import batch_loss, logit_gradient, one_hot
from explorer.model import ACTIVATIONS, BatchNorm, ConvBlock, ModelSpec, Network

LAB_SPEC = ModelSpec((28, 28, 1), 10, conv_blocks=(ConvBlock(8), ConvBlock(16)), name="lab")
"""The lab's network: conv 8 → conv 16 (3×3, ReLU, 2×2 max pool) → 10 logits; 9,098
weights, small enough to evaluate the loss at hundreds of points in a second."""
PER_CLASS = 2
"""Digits of each class in :func:`lesson_batch` (a batch of 20)."""


def lesson_batch(per_class: int = PER_CLASS) -> tuple[np.ndarray, np.ndarray]:
    """The first ``per_class`` training images of every digit of the built-in MNIST set
    (split seed 0), ordered 0, 1, …, 9, 0, 1, …

    Returns:
        float32 images (10·per_class, 28, 28, 1) in [0, 1] and int32 labels.
    """
    train = registry.load_dataset("mnist-5k", seed=0).train
    rows = np.stack(
        [np.flatnonzero(train.labels == digit)[:per_class] for digit in range(10)], axis=1
    ).ravel()
    return train.images[rows].astype(np.float32) / 255.0, train.labels[rows].astype(np.int32)


def layer_names(spec: ModelSpec) -> list[str]:
    """The parameter layers of a spec in forward order, e.g. ["conv1", "conv2", "logits"]."""
    names = []
    for index, block in enumerate(spec.conv_blocks, start=1):
        names += [f"conv{index}"] + [f"bn{index}"] * block.batch_norm
    names += [f"dense{index}" for index in range(1, len(spec.dense_layers) + 1)]
    return [*names, "logits"]


def _logits(spec: ModelSpec, params: dict, images: jax.Array) -> jax.Array:
    return Network(spec).apply({"params": params}, images, train=False)


@partial(jax.jit, static_argnums=(0, 4))
def batch_loss_of(
    spec: ModelSpec, params: dict, images: jax.Array, labels: jax.Array, kind: str
) -> jax.Array:
    """The mean loss ``kind`` of the batch (N, H, W, C) with int labels (N,), a scalar."""
    return batch_loss(kind, _logits(spec, params, images), labels, spec.num_classes)


@partial(jax.jit, static_argnums=(0, 4))
def _loss_logits_gradients(
    spec: ModelSpec, params: dict, images: jax.Array, labels: jax.Array, kind: str
) -> tuple[jax.Array, jax.Array, dict]:
    def loss_of(weights):
        logits = _logits(spec, weights, images)
        return batch_loss(kind, logits, labels, spec.num_classes), logits

    (loss, logits), gradients = jax.value_and_grad(loss_of, has_aux=True)(params)
    return loss, logits, gradients


def sgd_update(params: dict, gradients: dict, learning_rate: float) -> dict:
    """One step of plain gradient descent: ``W − η·dL/dW`` for every array of the tree."""
    return jax.tree_util.tree_map(lambda w, g: w - learning_rate * g, params, gradients)


def layer_norms(tree: dict, names: list[str]) -> np.ndarray:
    """The Euclidean norm of each named layer's arrays together (kernel and bias), (L,)."""
    return np.array(
        [float(tree_norm(tree[name])) if name in tree else np.nan for name in names],
        np.float64,
    )


def tree_norm(tree: dict) -> jax.Array:
    """√(sum of squares) over every array of a tree."""
    return jnp.sqrt(sum(jnp.sum(jnp.square(leaf)) for leaf in jax.tree_util.tree_leaves(tree)))


@dataclass(frozen=True)
class Step:
    """One gradient-descent step on a batch, with everything a learner looks at.

    Attributes:
        logits, probabilities, targets: (N, K) before the step; targets one-hot.
        logit_gradients: (N, K) d(each image's loss)/d logits (the batch loss is their
            mean, so its gradient is these divided by N).
        gradients, new_params: trees like the parameters (NumPy).
        layers: layer names in forward order; gradient_norms, weight_norms: (L,).
        loss_before, loss_after: the batch's mean loss with the old and new weights
            (loss_after may be inf or NaN when the step diverged).
    """

    learning_rate: float
    loss_before: float
    loss_after: float
    logits: np.ndarray
    probabilities: np.ndarray
    targets: np.ndarray
    logit_gradients: np.ndarray
    gradients: dict
    new_params: dict
    layers: list[str]
    gradient_norms: np.ndarray
    weight_norms: np.ndarray

    @property
    def finite(self) -> bool:
        """False when the new weights give a non-finite loss (the step diverged)."""
        return bool(np.isfinite(self.loss_after))


def gradient_step(
    spec: ModelSpec,
    params: dict,
    images: np.ndarray,
    labels: np.ndarray,
    kind: str,
    learning_rate: float,
) -> Step:
    """Forward pass, loss, backward pass (``jax.grad``) and the update ``W − η·dL/dW``.

    Args:
        spec: a network without batch norm or dropout (e.g. :data:`LAB_SPEC`).
        images: float32 (N, H, W, C) in [0, 1]; labels: int (N,).
        kind: one of :data:`explorer.losses.LOSSES`.
    """
    images, labels = jnp.asarray(images, jnp.float32), jnp.asarray(labels, jnp.int32)
    loss, logits, gradients = _loss_logits_gradients(spec, params, images, labels, kind)
    new_params = sgd_update(params, gradients, learning_rate)
    targets = one_hot(labels, spec.num_classes)
    names = [name for name in layer_names(spec) if name in params]
    return Step(
        learning_rate=float(learning_rate),
        loss_before=float(loss),
        loss_after=float(batch_loss_of(spec, new_params, images, labels, kind)),
        logits=np.asarray(logits),
        probabilities=np.asarray(jax.nn.softmax(logits, axis=-1)),
        targets=np.asarray(targets),
        logit_gradients=np.asarray(logit_gradient(kind, logits, targets)),
        gradients=jax.device_get(gradients),
        new_params=jax.device_get(new_params),
        layers=names,
        gradient_norms=layer_norms(gradients, names),
        weight_norms=layer_norms(params, names),
    )


# --- The loss around the weights ----------------------------------------------------------


@partial(jax.jit, static_argnums=(0, 4))
def _loss_along_gradient(spec, params, images, labels, kind, step_sizes):
    gradients = jax.grad(lambda weights: batch_loss_of(spec, weights, images, labels, kind))(params)

    def loss_at(size):
        return batch_loss_of(spec, sgd_update(params, gradients, size), images, labels, kind)

    return jax.lax.map(loss_at, step_sizes), tree_norm(gradients)


def loss_along_gradient(
    spec: ModelSpec,
    params: dict,
    images: np.ndarray,
    labels: np.ndarray,
    kind: str,
    step_sizes: np.ndarray,
) -> tuple[np.ndarray, float]:
    """A 1-D slice of the loss: L(W − η·g) for each η of ``step_sizes`` (S,), g = dL/dW.

    The loss after one step of learning rate η is this curve at η.

    Returns:
        (losses float64 (S,), possibly inf/NaN far out; the gradient's norm ‖g‖).
    """
    losses, norm = _loss_along_gradient(
        spec, params, *_batch(images, labels), kind, jnp.asarray(step_sizes, jnp.float32)
    )
    return np.asarray(losses, np.float64), float(norm)


def _batch(images: np.ndarray, labels: np.ndarray) -> tuple[jax.Array, jax.Array]:
    return jnp.asarray(images, jnp.float32), jnp.asarray(labels, jnp.int32)


@partial(jax.jit, static_argnums=(0, 4, 6))
def _descent(spec, params, images, labels, kind, rate, steps):
    """One rate's path; called once per rate (a ``vmap`` over the rates batched every
    layer's weights: slower to compile and to run on a CPU)."""
    flat, unravel = ravel_pytree(params)

    def loss_of(vector):
        return batch_loss_of(spec, unravel(vector), images, labels, kind)

    def step(vector, _):
        loss, gradient = jax.value_and_grad(loss_of)(vector)
        return vector - rate * gradient, (vector, loss)

    last, (vectors, losses) = jax.lax.scan(step, flat, length=steps)
    return jnp.concatenate([vectors, last[None]]), jnp.append(losses, loss_of(last))


def descent_paths(
    spec: ModelSpec,
    params: dict,
    images: np.ndarray,
    labels: np.ndarray,
    kind: str,
    learning_rates: list[float],
    steps: int,
) -> tuple[np.ndarray, np.ndarray]:
    """``steps`` steps of gradient descent on the batch from ``params``, for each rate.

    Returns:
        (weights float32 (R, steps + 1, P) flattened, starting point first;
        losses float64 (R, steps + 1) at those weights). Once a path's loss is not
        finite, its later weights and losses are NaN or inf too.
    """
    batch = _batch(images, labels)
    paths = [
        _descent(spec, params, *batch, kind, jnp.float32(rate), steps) for rate in learning_rates
    ]
    vectors = np.stack([np.asarray(vectors) for vectors, _ in paths])
    return vectors, np.stack([np.asarray(losses, np.float64) for _, losses in paths])


def first_divergence(losses: np.ndarray) -> int | None:
    """The first index of a path's losses (T,) that is not finite, or None."""
    bad = np.flatnonzero(~np.isfinite(losses))
    return int(bad[0]) if bad.size else None


def plane_directions(
    gradient: np.ndarray, towards: np.ndarray, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Two orthonormal directions (P,) for a 2-D slice of the loss around the weights.

    The first is downhill, −g/‖g‖ (a seeded random direction where the gradient is zero or
    not finite: there is no downhill). The second is the part of ``towards`` (e.g. where a
    descent path ended, minus the start) at right angles to the first, so that path runs
    close to the plane; if that part is zero or not finite, a seeded random direction.
    """
    norm = np.linalg.norm(gradient)
    if not (np.isfinite(norm) and norm > 0):
        gradient = np.random.default_rng(seed + 1).normal(size=gradient.shape)
        norm = np.linalg.norm(gradient)
    first = -gradient / norm
    second = np.where(np.isfinite(towards), towards, 0.0)
    second = second - (second @ first) * first
    if not np.linalg.norm(second) > 1e-6 * max(np.linalg.norm(towards), 1e-12):
        second = np.random.default_rng(seed).normal(size=first.shape)
        second = second - (second @ first) * first
    return first.astype(np.float32), (second / np.linalg.norm(second)).astype(np.float32)


@partial(jax.jit, static_argnums=(0, 4))
def _loss_plane(spec, params, images, labels, kind, first, second, alphas, betas):
    """One point after another (``lax.map``): on a CPU about twice as fast as ``vmap``,
    which turns every layer into a batch of per-point weight products."""
    flat, unravel = ravel_pytree(params)

    def loss_at(point):
        weights = unravel(flat + point[0] * first + point[1] * second)
        return batch_loss_of(spec, weights, images, labels, kind)

    grid = jnp.stack(jnp.meshgrid(alphas, betas), axis=-1)
    return jax.lax.map(loss_at, grid.reshape(-1, 2)).reshape(grid.shape[:2])


def loss_plane(
    spec: ModelSpec,
    params: dict,
    images: np.ndarray,
    labels: np.ndarray,
    kind: str,
    directions: tuple[np.ndarray, np.ndarray],
    alphas: np.ndarray,
    betas: np.ndarray,
) -> np.ndarray:
    """The loss at ``W + α·d₁ + β·d₂`` on a grid, float64 (len(betas), len(alphas))."""
    surface = _loss_plane(
        spec,
        params,
        *_batch(images, labels),
        kind,
        *(jnp.asarray(direction) for direction in directions),
        jnp.asarray(alphas, jnp.float32),
        jnp.asarray(betas, jnp.float32),
    )
    return np.asarray(surface, np.float64)


@dataclass(frozen=True)
class Landscape:
    """The loss around the current weights and the paths of gradient descent across it.

    Attributes:
        learning_rates: (R,) the rates compared.
        step_sizes, slice_losses: the 1-D slice L(W − η·g), (S,) each.
        gradient_norm: ‖g‖ at the current weights.
        path_losses: (R, T) loss after 0, 1, …, T − 1 steps at each rate.
        path_points: (R, T, 2) the paths' weights projected on the plane (α, β).
        alphas, betas, surface: the plane's grid and losses (len(betas), len(alphas)).
        divergence: for each rate, the first step whose loss is not finite, or None.
    """

    learning_rates: np.ndarray
    step_sizes: np.ndarray
    slice_losses: np.ndarray
    gradient_norm: float
    path_losses: np.ndarray
    path_points: np.ndarray
    alphas: np.ndarray
    betas: np.ndarray
    surface: np.ndarray
    divergence: list[int | None]


DEFAULT_RATES = (0.01, 0.1, 10.0)
"""Small, good and too large for plain gradient descent on the lab's network."""


def loss_landscape(
    spec: ModelSpec,
    params: dict,
    images: np.ndarray,
    labels: np.ndarray,
    kind: str,
    learning_rates: list[float],
    steps: int = 10,
    grid: int = 17,
    reference: int = 1,
) -> Landscape:
    """The 1-D slice along the gradient, descent paths at each rate, and a 2-D slice.

    The plane passes through the current weights, spanned by the downhill direction and
    the direction towards the end of the path of ``learning_rates[reference]`` (see
    :func:`plane_directions`). Its grid spans ±1.25 × the farthest projected point of
    the paths whose loss never rose above where it started (else of the reference
    path), so an overshooting path may leave the picture. The 1-D slice runs from η = 0
    to 1.5 × the largest rate on a log scale.
    """
    step_sizes = np.concatenate([[0.0], np.geomspace(1e-3, 1.5 * max(learning_rates), 48)])
    slice_losses, gradient_norm = loss_along_gradient(
        spec, params, images, labels, kind, step_sizes
    )
    vectors, path_losses = descent_paths(spec, params, images, labels, kind, learning_rates, steps)
    start = vectors[0, 0].astype(np.float64)
    gradient = np.asarray(ravel_pytree(_gradient(spec, params, images, labels, kind))[0])
    directions = plane_directions(gradient, vectors[reference, -1] - start)
    moved = vectors.astype(np.float64) - start
    finite = np.all(np.isfinite(moved), axis=-1)
    points = np.full((*moved.shape[:2], 2), np.nan)
    points[finite] = np.stack([moved[finite] @ direction for direction in directions], axis=-1)
    downhill = [
        index
        for index, losses in enumerate(path_losses)
        if np.all(np.isfinite(losses)) and losses.max() <= losses[0]
    ]
    reach = max([float(np.abs(points[index]).max()) for index in downhill or [reference]] + [1e-3])
    axis = np.linspace(-1.25 * reach, 1.25 * reach, grid)
    surface = loss_plane(spec, params, images, labels, kind, directions, axis, axis)
    return Landscape(
        np.asarray(learning_rates, np.float64),
        step_sizes,
        slice_losses,
        gradient_norm,
        path_losses,
        points,
        axis,
        axis,
        surface,
        [first_divergence(losses) for losses in path_losses],
    )


def _gradient(spec, params, images, labels, kind) -> dict:
    return _loss_logits_gradients(spec, params, *_batch(images, labels), kind)[2]


# --- Gradients through a deep stack at initialisation ---------------------------------------

DEPTH_ACTIVATIONS = ("sigmoid", "tanh", "relu")
DEEP_WIDTH = 8


def deep_stack_spec(depth: int, activation: str, batch_norm: bool) -> ModelSpec:
    """``depth`` conv blocks of :data:`DEEP_WIDTH` 3×3 filters ("same" padding, no pooling),
    each with ``activation`` and optional batch norm, then 10 logits, on 28×28 digits."""
    block = ConvBlock(DEEP_WIDTH, activation=activation, pool="none", batch_norm=batch_norm)
    return ModelSpec((28, 28, 1), 10, conv_blocks=(block,) * depth, name="deep")


def deep_stack_params(depth: int, seed: int = 0) -> dict:
    """Initial weights of :func:`deep_stack_spec` in the model's layout and with its
    initialisers (LeCun normal kernels, zero biases, batch-norm scale 1 and bias 0): the
    same kernels for every activation, with and without batch norm."""
    keys = jax.random.split(jax.random.key(seed), depth + 1)
    init = nn.initializers.lecun_normal()
    params, channels = {}, 1
    for index in range(depth):
        kernel = init(keys[index], (3, 3, channels, DEEP_WIDTH), jnp.float32)
        params[f"conv{index + 1}"] = {"kernel": kernel, "bias": jnp.zeros(DEEP_WIDTH)}
        params[f"bn{index + 1}"] = {"scale": jnp.ones(DEEP_WIDTH), "bias": jnp.zeros(DEEP_WIDTH)}
        channels = DEEP_WIDTH
    features = 28 * 28 * DEEP_WIDTH
    params["logits"] = {
        "kernel": init(keys[depth], (features, 10), jnp.float32),
        "bias": jnp.zeros(10),
    }
    return params


def _deep_stack_loss(params, images, labels, activation_index, use_batch_norm, depth):
    """Cross-entropy of the deep stack in training mode (batch statistics), with the
    activation chosen by index into :data:`DEPTH_ACTIVATIONS`; the layers are the model's
    own (:func:`explorer.layers.im2col_conv`, :func:`explorer.layers.batch_norm`)."""
    activations = [ACTIVATIONS[name] for name in DEPTH_ACTIVATIONS]
    x = images
    for index in range(1, depth + 1):
        conv, norm = params[f"conv{index}"], params[f"bn{index}"]
        y = im2col_conv(x, conv["kernel"], 1, (1, 1, 1, 1))
        normalised = batch_norm(y, norm["scale"], norm["bias"], BatchNorm.epsilon)
        y = jnp.where(use_batch_norm, normalised, y + conv["bias"])
        x = jax.lax.switch(activation_index, activations, y)
    logits = x.reshape(x.shape[0], -1) @ params["logits"]["kernel"] + params["logits"]["bias"]
    return batch_loss("cross-entropy", logits, labels, 10)


@partial(jax.jit, static_argnums=5)
def _deep_gradients(params, images, labels, activation_index, use_batch_norm, depth):
    """Kernel gradient norms (depth,) of one configuration; the activation and batch norm
    are traced, so all six configurations share one compiled function."""
    gradients = jax.grad(_deep_stack_loss)(
        params, images, labels, activation_index, use_batch_norm, depth
    )
    return jnp.stack(
        [tree_norm(gradients[f"conv{index}"]["kernel"]) for index in range(1, depth + 1)]
    )


def deep_stack_gradient_norms(
    images: np.ndarray, labels: np.ndarray, depth: int = 10, seed: int = 0
) -> np.ndarray:
    """‖dL/dK_l‖ of every conv layer's kernel at initialisation, for each activation of
    :data:`DEPTH_ACTIVATIONS` without and with batch norm (one compiled function for all).

    Returns:
        float64 (activations, 2, depth): [activation, batch norm off/on, layer 1…depth].
    """
    params, batch = deep_stack_params(depth, seed), _batch(images, labels)
    return np.array(
        [
            [
                np.asarray(
                    _deep_gradients(params, *batch, jnp.int32(index), jnp.bool_(norm), depth)
                )
                for norm in (False, True)
            ]
            for index in range(len(DEPTH_ACTIVATIONS))
        ],
        np.float64,
    )

"""Look inside a trained network: stage outputs, saliency, Grad-CAM, occlusion,
activation maximisation, receptive fields, edits to first-layer filters, and how
those filters changed over training.

Images are float32 (H, W, C) in [0, 1] (one image) or (N, H, W, C) (a batch),
as the model takes them. Conv blocks are numbered from 1, as in the model's
layer table. Every gradient function is jitted once per (spec, shapes).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import optax

from explorer import architecture, claims, model, ops, text
from explorer.architecture import receptive_fields
from explorer.budget import INSPECT_BATCH
from explorer.errors import ExplorerError
from explorer.images import divide_by_peak
from explorer.model import ModelSpec, Network


@dataclass(frozen=True)
class Stage:
    """One recorded stage of the forward pass for one image.

    Attributes:
        key: the model's record name without "_out", e.g. "conv1", "pool2", "flatten".
        title: readable name, e.g. "block 1 · convolution".
        values: (H, W, C) maps for conv-block stages, (D,) vectors after flattening.
    """

    key: str
    title: str
    values: np.ndarray


@partial(jax.jit, static_argnums=0)
def _intermediates(spec: ModelSpec, variables: dict, images: jax.Array) -> dict:
    _, state = Network(spec).apply(variables, images, train=False, mutable=["intermediates"])
    return {name: values[0] for name, values in state["intermediates"].items()}


def stage_keys(spec: ModelSpec) -> list[str]:
    """The recorded stages of a network in forward order, e.g. ["conv1", "act1", "pool1", ...]."""
    return [step.key for step in model.steps(spec)]


def spatial_stage_keys(spec: ModelSpec) -> list[str]:
    """The stages whose outputs are maps (H, W, C), in forward order."""
    return [step.key for step in model.steps(spec) if len(step.shape) == 3]


def feature_blocks(spec: ModelSpec) -> dict[int, str]:
    """Block number → the stage of its output maps, for blocks that have one (a pooling
    block has none): the maps Grad-CAM weighs and unit preferences look at."""
    return {
        index: step.key
        for index, block_steps in enumerate(architecture.block_steps(spec), start=1)
        for step in block_steps
        if step.feature
    }


def forward_stages(spec: ModelSpec, variables: dict, image: np.ndarray) -> list[Stage]:
    """Every stage of the forward pass for one (H, W, C) image, in forward order."""
    recorded = _intermediates(spec, variables, jnp.asarray(image, jnp.float32)[None])
    return [
        Stage(step.key, step.title, np.asarray(recorded[f"{step.key}_out"][0]))
        for step in model.steps(spec)
    ]


def _zero_perturbations(spec: ModelSpec, variables: dict, images: jax.Array) -> dict:
    recorded = _intermediates(spec, variables, images)
    return {
        step.key: jnp.zeros_like(recorded[f"{step.key}_out"])
        for step in model.steps(spec)
        if step.feature
    }


def _logits(spec: ModelSpec, variables: dict, images: jax.Array, perturbations: dict | None = None):
    if perturbations:
        variables = {**variables, "perturbations": perturbations}
    return Network(spec).apply(variables, images, train=False)


@partial(jax.jit, static_argnums=0)
def input_gradient(
    spec: ModelSpec, variables: dict, image: jax.Array, class_index: jax.Array | int
) -> jax.Array:
    """d logit[class] / d image for one (H, W, C) image: same shape as the image."""

    def score(picture):
        return _logits(spec, variables, picture[None])[0, class_index]

    return jax.grad(score)(jnp.asarray(image, jnp.float32))


def saliency_map(
    spec: ModelSpec, variables: dict, image: np.ndarray, class_index: int
) -> np.ndarray:
    """Input-gradient saliency (Simonyan et al., 2013): max over channels of |gradient|.

    Returns float32 (H, W) scaled to [0, 1] (all zeros if the gradient is zero):
    bright pixels are those whose change would move the class score most.
    """
    gradient = np.abs(np.asarray(input_gradient(spec, variables, image, class_index))).max(axis=-1)
    return divide_by_peak(gradient)


def _feature_stage(spec: ModelSpec, block: int) -> str:
    """The stage of block ``block``'s output maps; refused for a block without maps."""
    features = feature_blocks(spec)
    if block not in features:
        raise ExplorerError(
            f"This network's blocks with maps are {sorted(features) or 'none'}; "
            f"there is no block {block} to explain."
        )
    return features[block]


@partial(jax.jit, static_argnums=(0, 3))
def _activation_and_gradient(
    spec: ModelSpec, variables: dict, image: jax.Array, block: int, class_index: jax.Array | int
) -> tuple[jax.Array, jax.Array]:
    images = image[None]
    key = _feature_stage(spec, block)
    zeros = _zero_perturbations(spec, variables, images)
    activation = _intermediates(spec, variables, images)[f"{key}_out"][0]

    def score(perturbation):
        perturbations = {**zeros, key: perturbation}
        return _logits(spec, variables, images, perturbations)[0, class_index]

    gradient = jax.grad(score)(zeros[key])[0]
    return activation, gradient


def grad_cam(
    spec: ModelSpec, variables: dict, image: np.ndarray, class_index: int, block: int
) -> np.ndarray:
    """Grad-CAM (Selvaraju et al., 2017) of a block's output maps for one class.

    Each map of the block is weighted by the spatial mean of the class score's
    gradient with respect to it; the weighted sum is rectified and upsampled.

    Returns:
        float32 (H, W) in [0, 1] at the input's size (zeros where nothing supports the class).
    """
    _feature_stage(spec, block)
    activation, gradient = _activation_and_gradient(
        spec, variables, jnp.asarray(image, jnp.float32), block, class_index
    )
    weights = gradient.mean(axis=(0, 1))
    cam = jax.nn.relu(jnp.tensordot(activation, weights, axes=([2], [0])))
    cam = jax.image.resize(cam, image.shape[:2], "bilinear")
    cam = np.asarray(cam, dtype=np.float32)
    return divide_by_peak(cam)


@partial(jax.jit, static_argnums=0)
def _probabilities(spec: ModelSpec, variables: dict, images: jax.Array) -> jax.Array:
    return jax.nn.softmax(_logits(spec, variables, images), axis=-1)


def in_fixed_batches(
    compute: Callable[[jax.Array], jax.Array], images: np.ndarray, batch: int
) -> np.ndarray:
    """``compute`` applied to float32 images (N, ...) in batches of exactly ``batch`` rows,
    the last one filled up with zeros, so a jitted ``compute`` compiles one shape for any N;
    the rows of the filling are dropped from the result (N, ...)."""
    images = np.asarray(images, np.float32)
    count = len(images)
    padded = math.ceil(count / batch) * batch
    filled = np.concatenate([images, np.zeros((padded - count, *images.shape[1:]), np.float32)])
    results = [
        np.asarray(compute(jnp.asarray(filled[i : i + batch]))) for i in range(0, padded, batch)
    ]
    return np.concatenate(results)[:count]


def probabilities(
    spec: ModelSpec, variables: dict, images: np.ndarray, batch: int = INSPECT_BATCH
) -> np.ndarray:
    """Class probabilities float32 (N, classes) for float images (N, H, W, C) in [0, 1].

    Inference mode (batch-norm running statistics, no dropout), in fixed-size batches
    (one compiled shape for any N > 1; a single picture, the live prediction, runs alone).
    """
    batch = 1 if len(images) == 1 else batch
    return in_fixed_batches(partial(_probabilities, spec, variables), images, batch)


def occlusion_map(
    spec: ModelSpec,
    variables: dict,
    image: np.ndarray,
    class_index: int,
    patch: int = 6,
    stride: int = 2,
    fill: float = 0.0,
) -> np.ndarray:
    """Occlusion sensitivity (Zeiler & Fergus, 2014): how much the class probability
    drops when a ``patch``×``patch`` square of the input is covered with ``fill``.

    Returns:
        float32 (H, W): for every pixel, the mean probability drop over the patches
        covering it (positive = evidence for the class, negative = against it).
    """
    height, width = image.shape[:2]
    if not 1 <= patch <= min(height, width) or stride < 1:
        raise ExplorerError("The occluding patch must fit inside the image.")
    rows = range(0, height - patch + 1, stride)
    cols = range(0, width - patch + 1, stride)
    positions = [(row, col) for row in rows for col in cols]
    occluded = np.repeat(np.asarray(image, np.float32)[None], len(positions), axis=0)
    for index, (row, col) in enumerate(positions):
        occluded[index, row : row + patch, col : col + patch] = fill
    base = probabilities(spec, variables, image[None])[0, class_index]
    drops = base - probabilities(spec, variables, occluded)[:, class_index]
    total = np.zeros((height, width), np.float64)
    counts = np.zeros((height, width), np.float64)
    for drop, (row, col) in zip(drops, positions, strict=True):
        total[row : row + patch, col : col + patch] += drop
        counts[row : row + patch, col : col + patch] += 1
    return (total / np.maximum(counts, 1)).astype(np.float32)


@dataclass(frozen=True)
class Window:
    """A square window of the input, in input pixel coordinates (may reach into padding)."""

    top: float
    left: float
    size: int


def receptive_window(spec: ModelSpec, stage: str, row: int, col: int) -> Window:
    """The input window that output cell (row, col) of a map stage can see.

    Receptive-field arithmetic (:func:`explorer.architecture.receptive_fields`) over
    the steps up to ``stage``, assuming a square input.

    Args:
        stage: a stage with maps, e.g. "conv1", "act2", "pool2" (see
            :func:`spatial_stage_keys`; batch norm and activation keep the window).
    """
    walk = model.steps(spec)
    if stage not in spatial_stage_keys(spec):
        raise ExplorerError(f"This network has no stage {stage!r} with maps.")
    fields = receptive_fields(walk)
    size, jump, start = fields[[step.key for step in walk].index(stage)]
    half = (size - 1) / 2
    return Window(start + row * jump - half, start + col * jump - half, int(size))


@partial(jax.jit, static_argnums=(0, 3, 4))
def _unit_input_gradient(
    spec: ModelSpec, variables: dict, image: jax.Array, stage: str, filter_index: int, row, col
) -> jax.Array:
    def unit(picture):
        return _intermediates(spec, variables, picture[None])[f"{stage}_out"][
            0, row, col, filter_index
        ]

    return jax.grad(unit)(image)


def effective_receptive_field(
    spec: ModelSpec,
    variables: dict,
    image: np.ndarray,
    stage: str,
    filter_index: int,
    row: int,
    col: int,
) -> np.ndarray:
    """|d unit / d input| for one output cell: the pixels that actually move it.

    Returns float32 (H, W) in [0, 1] (max over channels, scaled by its maximum).
    Usually much smaller and more centred than the theoretical window.
    """
    gradient = _unit_input_gradient(
        spec, variables, jnp.asarray(image, jnp.float32), stage, filter_index, row, col
    )
    magnitude = np.abs(np.asarray(gradient)).max(axis=-1)
    return divide_by_peak(magnitude)


@partial(jax.jit, static_argnums=(0, 2, 5))
def _ascend(
    spec: ModelSpec,
    variables: dict,
    target: str,
    index,
    start: jax.Array,
    steps: int,
    learning_rate: float,
    l2: float,
) -> jax.Array:
    optimizer = optax.adam(learning_rate)

    source = next(
        step.ascent_source or step.key for step in model.steps(spec) if step.key == target
    )

    def objective(latent):
        image = jax.nn.sigmoid(latent)
        recorded = _intermediates(spec, variables, image[None])
        values = recorded[f"{source}_out"][0]
        if values.ndim == 1:
            unit = values[index]
        else:
            unit = values[values.shape[0] // 2, values.shape[1] // 2, index]
        return -unit + l2 * jnp.mean((image - 0.5) ** 2)

    def step(carry, _):
        latent, state = carry
        gradient = jax.grad(objective)(latent)
        updates, state = optimizer.update(gradient, state)
        return (optax.apply_updates(latent, updates), state), None

    (latent, _), _ = jax.lax.scan(step, (start, optimizer.init(start)), None, length=steps)
    return jax.nn.sigmoid(latent)


def maximise_activation(
    spec: ModelSpec,
    variables: dict,
    target: str,
    index: int,
    steps: int = 200,
    learning_rate: float = 0.05,
    l2: float = 0.1,
    seed: int = 0,
) -> np.ndarray:
    """The input a unit "wants": gradient ascent from faint noise, with L2 regularisation.

    Args:
        target: a stage key such as "act1" (maximise the centre unit of map
            ``index`` before its ReLU, so that a unit that starts switched off
            still gets a gradient; the pattern it wants appears inside its
            receptive field) or
            "logits" (maximise the score of class ``index``).
        steps, learning_rate: Adam steps on the image's logit-space pixels.
        l2: weight of the mean squared distance from mid-grey, so that only
            pixels that help stand out.

    Returns:
        float32 image (H, W, C) in [0, 1].
    """
    start = 0.1 * jax.random.normal(jax.random.key(seed), spec.input_shape)
    image = _ascend(spec, variables, target, index, start, steps, learning_rate, l2)
    return np.asarray(image, np.float32)


@partial(jax.jit, static_argnums=(0, 3))
def _map_maxima(spec: ModelSpec, variables: dict, images: jax.Array, stage: str) -> jax.Array:
    maps = _intermediates(spec, variables, images)[f"{stage}_out"]
    return maps.max(axis=(1, 2))


def top_activating(
    spec: ModelSpec,
    variables: dict,
    images: np.ndarray,
    stage: str,
    count: int = 9,
    batch: int = INSPECT_BATCH,
) -> np.ndarray:
    """Indices (F, count) of the images whose strongest response in each map is largest.

    Args:
        images: float32 (N, H, W, C) in [0, 1], e.g. the test split.
        stage: a conv-block stage key such as "act1".
    """
    maxima = in_fixed_batches(
        lambda chunk: _map_maxima(spec, variables, chunk, stage), images, batch
    )
    return np.argsort(-maxima, axis=0)[: min(count, len(images))].T


def first_layer_kernels(variables: dict) -> np.ndarray:
    """The first conv layer's learned kernels, float32 (k, k, C, F)."""
    try:
        return np.asarray(variables["params"]["conv1"]["kernel"], np.float32)
    except KeyError:
        raise ExplorerError("This network has no convolution layer (an MLP).") from None


def kernels_as_rgb(kernels: np.ndarray) -> np.ndarray:
    """Colour kernels (k, k, 3, F) as F RGB pictures (F, k, k, 3) in [0, 1], all on one
    scale: 0.5 + K / (2 · max |K|), so mid-grey is zero, a red tile weighs the red channel
    positively and the colours of different filters compare."""
    return np.moveaxis(0.5 + divide_by_peak(np.asarray(kernels, np.float32)) / 2, -1, 0)


def filter_film(
    snapshots: Sequence[np.ndarray], change: bool = False
) -> tuple[list[np.ndarray], list[str]]:
    """Frames and row labels of a film strip of first-layer kernels over training.

    Args:
        snapshots: kernels (k, k, C, F) at initialisation (index 0) and after each epoch.
        change: show each epoch's change since initialisation (kernels − initial
            kernels) instead of the weights themselves; the init row is then left out.

    Returns:
        (frames, labels): the (k, k, C, F) arrays to draw, one row each, labelled
        "init" or "epoch e · moved p%", where p is the distance from the initial
        kernels relative to their size, :func:`explorer.claims.relative_change`.
    """
    start = np.asarray(snapshots[0], np.float32)
    frames, labels = ([], []) if change else ([start], ["init"])
    for epoch, kernels in enumerate(snapshots[1:], start=1):
        kernels = np.asarray(kernels, np.float32)
        frames.append(kernels - start if change else kernels)
        labels.append(f"epoch {epoch} · moved {claims.relative_change(start, kernels):.0%}")
    return frames, labels


def film_as_rgb(frames: Sequence[np.ndarray]) -> np.ndarray:
    """A film strip of colour kernels as RGB pictures, all frames on one scale.

    Args:
        frames: R arrays (k, k, 3, F), e.g. from :func:`filter_film`.

    Returns:
        float32 (R, F, k, k, 3) in [0, 1]: :func:`kernels_as_rgb` of the whole film at once,
        so mid-grey is zero in every frame and frames compare tile by tile.
    """
    count = np.shape(frames[0])[-1]
    pictures = kernels_as_rgb(np.concatenate([np.asarray(f) for f in frames], axis=-1))
    return pictures.reshape(len(frames), count, *pictures.shape[1:])


def replace_first_layer_filter(variables: dict, filter_index: int, kernel: np.ndarray) -> dict:
    """A copy of the variables with first-layer filter ``filter_index`` replaced.

    Args:
        kernel: (k, k) values, used on every input channel (divided by the channel
            count), or zeros to switch the filter off.
    """
    kernels = first_layer_kernels(variables).copy()
    size, _, channels, filters = kernels.shape
    if not 0 <= filter_index < filters:
        raise ExplorerError(f"The first layer has {text.count_noun(filters, 'filter')}.")
    if np.shape(kernel) != (size, size):
        raise ExplorerError(f"The replacement kernel must be {size}×{size}.")
    kernels[..., filter_index] = ops.lift_to_channels(np.asarray(kernel), channels)
    params = dict(variables["params"])
    params["conv1"] = {**params["conv1"], "kernel": jnp.asarray(kernels)}
    return {**variables, "params": params}

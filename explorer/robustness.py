"""How accuracy holds up when test images are shifted, rotated or scaled.

The experiment behind "why CNNs": do a CNN's shared kernels and pooling make it
tolerate translations that throw an MLP off? (Only partly: a CNN that flattens its maps
into dense layers still ties each weight to a position.) Images are uint8 or float
(N, H, W, C); transforms keep the size and fill with black (0). Rotation and zoom come
back as float32.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from explorer import explain
from explorer.data.augmentation import Augmentation, affine_resample
from explorer.images import shift_image
from explorer.model import ModelSpec

NETWORK_KINDS = ("MLP", "CNN that flattens", "CNN with global average pooling")
"""The kinds of network the robustness view tells apart, in teaching order."""


def model_kind(spec: ModelSpec) -> str:
    """What kind of network ``spec`` is (one of :data:`NETWORK_KINDS`): an "MLP", a "CNN
    that flattens" (one weight per position after the last maps) or a "CNN with global
    average pooling" (one mean per map, wherever the feature is)."""
    if not spec.conv_blocks:
        return NETWORK_KINDS[0]
    return NETWORK_KINDS[2] if spec.head == "gap" else NETWORK_KINDS[1]


def training_words(augmentation: Augmentation | None) -> str:
    """How a model's training images were moved, for a legend: "trained without
    augmentation", "trained with shift ±4 px", or "" when the record is missing."""
    if augmentation is None:
        return ""
    if not augmentation.enabled:
        return "trained without augmentation"
    return f"trained with {augmentation.describe()}"


class StudyCurve(NamedTuple):
    """One curve of the shift study: the kind of network (of :data:`NETWORK_KINDS`),
    whether it was trained with shift augmentation, its layers (to tell which models
    differ only in the head) and its accuracy (fraction) at each amount shown."""

    kind: str
    shifted: bool
    layers: tuple
    accuracies: Sequence[float]


def _change(subject: str, before: float, after: float) -> str:
    """E.g. "raised the mean accuracy of the MLP from 34% to 51%" (or lowered, or left),
    judged on the rounded percentages shown."""
    old, new = f"{before:.0%}", f"{after:.0%}"
    if old == new:
        return f"left the mean accuracy of {subject} at {old}"
    verb = "raised" if after > before else "lowered"
    return f"{verb} the mean accuracy of {subject} from {old} to {new}"


def study_summary(curves: Sequence[StudyCurve]) -> str:
    """What each single difference between the curves shown did to the mean accuracy
    over the amounts shown, one sentence per pair that differs in one thing only: shift
    augmentation (same network), or global average pooling instead of flattening (same
    layers, same training). The models must have been trained alike otherwise."""
    lines = []
    for kind in NETWORK_KINDS:
        pair = {c.shifted: c for c in curves if c.kind == kind}
        if len(pair) == 2:
            before, after = (float(np.mean(pair[s].accuracies)) for s in (False, True))
            lines.append(f"Shift augmentation {_change(f'the {kind}', before, after)}.")
    for shifted in (False, True):
        heads = {c.kind: c for c in curves if c.shifted == shifted}
        flat, pooled = heads.get(NETWORK_KINDS[1]), heads.get(NETWORK_KINDS[2])
        if flat and pooled and flat.layers == pooled.layers:
            before, after = float(np.mean(flat.accuracies)), float(np.mean(pooled.accuracies))
            training = "trained with shifts" if shifted else "trained without augmentation"
            lines.append(
                "With the same layers, global average pooling instead of flattening "
                f"{_change(f'the CNN {training}', before, after)}."
            )
    return " ".join(lines)


def shift_batch(images: np.ndarray, pixels: int) -> np.ndarray:
    """Move every image ``pixels`` right and ``pixels`` down (zeros fill the gap)."""
    return np.stack([shift_image(image, pixels, pixels) for image in images])


_resample_batch = jax.jit(jax.vmap(affine_resample, in_axes=(0, None, None, None, None)))


def _resampled(images: np.ndarray, clockwise_degrees: float = 0.0, zoom: float = 1.0):
    """Float32 images (N, H, W, C) turned and zoomed about their centres (see
    :func:`explorer.data.augmentation.affine_resample`)."""
    floats = jnp.asarray(images, jnp.float32)
    angle = jnp.float32(np.deg2rad(clockwise_degrees))
    return np.asarray(_resample_batch(floats, angle, jnp.float32(zoom), jnp.zeros(2), False))


def rotate_batch(images: np.ndarray, degrees: float) -> np.ndarray:
    """Rotate every image about its centre by ``degrees`` (counter-clockwise), bilinear."""
    return _resampled(images, clockwise_degrees=-degrees)


def scale_batch(images: np.ndarray, factor: float) -> np.ndarray:
    """Zoom every image about its centre by ``factor`` (< 1 shrinks), keeping the size."""
    return _resampled(images, zoom=factor)


class Transform(NamedTuple):
    """A way to move test images: ``move(images, amount)`` for each of ``amounts``."""

    move: Callable[[np.ndarray, float], np.ndarray]
    amounts: Sequence[float]
    axis_title: str
    unit: str


TRANSFORMS: dict[str, Transform] = {
    "shift": Transform(shift_batch, tuple(range(0, 9)), "shift (pixels right and down)", " px"),
    "rotation": Transform(rotate_batch, (0, 10, 20, 30, 45, 60), "rotation (degrees)", "°"),
    "scale": Transform(scale_batch, (0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3), "zoom factor", "×"),
}


SUBSET_SIZE = 1000
"""Test images in the robustness experiment: accuracy within about ±2 points, fast on a CPU."""


def fixed_subset(
    images: np.ndarray, labels: np.ndarray, size: int = SUBSET_SIZE, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """A fixed random subset of a test split, the same on every call.

    Args:
        images: uint8 (N, H, W, C) in 0..255. labels: int (N,).

    Returns:
        float32 (n, H, W, C) in [0, 1] and int labels (n,), n = min(size, N), in split order.
    """
    rows = np.sort(np.random.default_rng(seed).permutation(len(images))[:size])
    return images[rows].astype(np.float32) / 255.0, labels[rows]


def comparison_problem(
    input_shapes: Sequence[tuple[int, int, int]],
    dataset_names: Sequence[str],
    test_splits: Sequence[str],
) -> str | None:
    """Why models cannot be compared on the same test images, or None if they can.

    Args:
        input_shapes: each model's input (H, W, C). dataset_names: what each was trained on.
        test_splits: a fingerprint of each model's own test split.
    """
    shapes = list(dict.fromkeys(tuple(shape) for shape in input_shapes))
    if len(shapes) > 1:
        sizes = " vs ".join("×".join(map(str, shape)) for shape in shapes)
        return (
            f"These models read differently sized images ({sizes}), so no test image fits "
            "them all. Compare models trained on the same dataset."
        )
    names = list(dict.fromkeys(dataset_names))
    if len(names) > 1:
        return (
            f"These models were trained on different datasets ({' vs '.join(names)}), so one "
            "test set cannot judge them all fairly. Compare models of the same dataset."
        )
    if len(set(test_splits)) > 1:
        return (
            "These models split the dataset differently (another split seed), so each one's "
            "test images include the other's training images. Train both with the same seed "
            "to compare them fairly."
        )
    return None


def degradation_summary(
    amounts: Sequence[float], curves: dict[str, Sequence[float]], chance: float, unit: str
) -> str:
    """One Markdown sentence per claim, each read off the accuracy curves shown.

    Args:
        amounts: the transform's settings, first the untouched one (0 px, 0°) or the
            smallest. curves: legend → accuracy (fraction) per amount.
        chance: accuracy of guessing (1 / number of classes). unit: appended to amounts.
    """
    first, last = amounts[0], amounts[-1]
    lines = [
        "From {} to {}: ".format(f"{first:g}{unit}", f"{last:g}{unit}")
        + "; ".join(
            f"{legend} {accuracy[0]:.0%} → {accuracy[-1]:.0%}"
            for legend, accuracy in curves.items()
        )
        + "."
    ]
    if len(curves) == 2:
        (name_a, a), (name_b, b) = curves.items()
        pairs = list(zip(a, b, strict=True))
        if all(x > y for x, y in pairs) or all(y > x for x, y in pairs):
            leader = name_a if a[0] > b[0] else name_b
            lines.append(f"{leader} stays ahead at every setting shown.")
        else:
            lines.append("Neither model is ahead at every setting: the curves cross or touch.")
    for legend, accuracy in curves.items():
        below = [amount for amount, value in zip(amounts, accuracy, strict=True) if value < chance]
        if below:
            lines.append(f"{legend} falls below chance ({chance:.0%}) from {below[0]:g}{unit}.")
    return " ".join(lines)


def accuracy_under(
    spec: ModelSpec,
    variables: dict,
    images: np.ndarray,
    labels: np.ndarray,
    transform: str,
    amounts: Sequence[float] | None = None,
) -> tuple[list[float], list[float]]:
    """Accuracy (fraction) of a model on transformed copies of the images.

    Args:
        images: float32 (N, H, W, C) in [0, 1].
        labels: int (N,).
        transform: a key of :data:`TRANSFORMS`.
        amounts: the transform's settings; its defaults when None.

    Returns:
        (amounts, accuracies), one accuracy per amount.
    """
    move = TRANSFORMS[transform].move
    amounts = list(TRANSFORMS[transform].amounts if amounts is None else amounts)
    accuracies = []
    for amount in amounts:
        moved = move(np.asarray(images, np.float32), amount)
        predictions = explain.probabilities(spec, variables, moved).argmax(axis=1)
        accuracies.append(float((predictions == labels).mean()))
    return amounts, accuracies

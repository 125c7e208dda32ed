"""How accuracy holds up when test images are shifted, rotated or scaled.

The experiment behind "why CNNs": a CNN's shared kernels and pooling make it
tolerate small translations that throw an MLP off. Images are uint8 or float
(N, H, W, C); transforms keep the size and fill with black (0).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy import ndimage

from explorer import explain
from explorer.images import shift_image
from explorer.model import ModelSpec


def shift_batch(images: np.ndarray, pixels: int) -> np.ndarray:
    """Move every image ``pixels`` right and ``pixels`` down (zeros fill the gap)."""
    return np.stack([shift_image(image, pixels, pixels) for image in images])


def rotate_batch(images: np.ndarray, degrees: float) -> np.ndarray:
    """Rotate every image about its centre by ``degrees`` (counter-clockwise), bilinear."""
    return ndimage.rotate(images, degrees, axes=(2, 1), reshape=False, order=1, mode="constant")


def scale_batch(images: np.ndarray, factor: float) -> np.ndarray:
    """Zoom every image about its centre by ``factor`` (< 1 shrinks), keeping the size."""
    height, width = images.shape[1:3]
    centre = np.array([(height - 1) / 2, (width - 1) / 2])
    matrix = np.diag([1.0, 1.0 / factor, 1.0 / factor, 1.0])
    offset = np.concatenate([[0.0], centre - centre / factor, [0.0]])
    return ndimage.affine_transform(images, matrix, offset=offset, order=1, mode="constant")


TRANSFORMS: dict[str, tuple[Callable[[np.ndarray, float], np.ndarray], Sequence[float], str]] = {
    "shift": (shift_batch, tuple(range(0, 9)), "shift (pixels right and down)"),
    "rotation": (rotate_batch, (0, 10, 20, 30, 45, 60), "rotation (degrees)"),
    "scale": (scale_batch, (0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3), "zoom factor"),
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
    input_shapes: Sequence[tuple[int, int, int]], dataset_names: Sequence[str]
) -> str | None:
    """Why models cannot be compared on the same test images, or None if they can.

    Args:
        input_shapes: each model's input (H, W, C). dataset_names: what each was trained on.
    """
    shapes = list(dict.fromkeys(tuple(shape) for shape in input_shapes))
    if len(shapes) > 1:
        sizes = " vs ".join("×".join(map(str, shape)) for shape in shapes)
        return (
            f"These models read differently sized images ({sizes}), so no test image fits "
            "both. Compare two models trained on the same dataset."
        )
    names = list(dict.fromkeys(dataset_names))
    if len(names) > 1:
        return (
            f"These models were trained on different datasets ({' vs '.join(names)}), so one "
            "test set cannot judge both fairly. Compare two models of the same dataset."
        )
    return None


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
    function, defaults, _ = TRANSFORMS[transform]
    amounts = list(defaults if amounts is None else amounts)
    accuracies = []
    for amount in amounts:
        moved = function(np.asarray(images, np.float32), amount)
        predictions = explain.probabilities(spec, variables, moved).argmax(axis=1)
        accuracies.append(float((predictions == labels).mean()))
    return amounts, accuracies

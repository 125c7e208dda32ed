"""Is a picture like the images a network was trained on? A remark to show beside a prediction.

A classifier must answer with one of its classes, and its softmax confidence is no measure
of familiarity: a digit network calls a cat photo "2" at 70%. Two checks say so in numbers:
a colour picture given to a network trained on grayscale images, and a picture whose nearest
training image (Euclidean distance between network inputs in [0, 1]) is farther away than
the nearest training image of 99% of the validation images.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

REFERENCE_TRAIN_IMAGES = 5_000
"""Training images kept to measure distances against (a fixed random subset beyond this):
16 MB at 28×28; one input is measured in about a millisecond."""
REFERENCE_VALIDATION_IMAGES = 500
"""Validation images whose nearest-training-image distances set the threshold."""
TYPICAL_SHARE = 0.99
"""A picture farther from the training images than this share of validation images is unusual."""
COLOUR_SPREAD = 8.0
"""Mean absolute difference between a pixel's channels (0–255) above which a picture is colour."""


@dataclass(frozen=True)
class Reference:
    """Training images as flat float32 rows (N, D) in [0, 1], their squared norms (N,), and
    the sorted nearest-training-image distances (M,) of validation images."""

    train_rows: np.ndarray
    train_norms: np.ndarray
    validation_distances: np.ndarray

    @property
    def threshold(self) -> float:
        """The distance that :data:`TYPICAL_SHARE` of validation images stay within."""
        return float(np.quantile(self.validation_distances, TYPICAL_SHARE))


def _rows(images: np.ndarray) -> np.ndarray:
    """uint8 images (N, H, W, C) as float32 rows (N, H·W·C) in [0, 1]."""
    return images.reshape(len(images), -1).astype(np.float32) / 255.0


def _subset(images: np.ndarray, size: int) -> np.ndarray:
    if len(images) <= size:
        return images
    rows = np.sort(np.random.default_rng(0).permutation(len(images))[:size])
    return images[rows]


def nearest_distances(
    train_rows: np.ndarray, train_norms: np.ndarray, rows: np.ndarray
) -> np.ndarray:
    """Distance (M,) from each row of ``rows`` (M, D) to its nearest training row."""
    squared = (rows**2).sum(axis=1)[:, None] - 2.0 * rows @ train_rows.T + train_norms[None]
    return np.sqrt(np.maximum(squared.min(axis=1), 0.0))


def build_reference(train_images: np.ndarray, validation_images: np.ndarray) -> Reference:
    """The reference of a dataset from its uint8 (N, H, W, C) training and validation images."""
    train_rows = _rows(_subset(train_images, REFERENCE_TRAIN_IMAGES))
    train_norms = (train_rows**2).sum(axis=1)
    validation_rows = _rows(_subset(validation_images, REFERENCE_VALIDATION_IMAGES))
    distances = np.sort(nearest_distances(train_rows, train_norms, validation_rows))
    return Reference(train_rows, train_norms, distances)


def is_colour(image: np.ndarray) -> bool:
    """Whether a uint8 (H, W, C) picture has colour (not three equal channels)."""
    if image.shape[-1] < 3:
        return False
    channels = image[..., :3].astype(np.float32)
    spread = np.abs(channels - channels.mean(axis=-1, keepdims=True)).mean()
    return bool(spread > COLOUR_SPREAD)


def unlike_training_reasons(
    original: np.ndarray, prepared: np.ndarray, reference: Reference | None
) -> list[str]:
    """Why a picture is unlike the training images (empty when nothing stands out).

    Args:
        original: uint8 (H, W, C), the picture as decoded.
        prepared: float32 (h, w, c) in [0, 1], the picture as the network sees it.
        reference: the training images' reference, or None when they cannot be loaded
            (then only the colour check runs).
    """
    reasons = []
    if prepared.shape[-1] == 1 and is_colour(original):
        reasons.append("it is a colour picture, and the network was trained on grayscale images")
    if reference is not None:
        distance = float(
            nearest_distances(reference.train_rows, reference.train_norms, prepared.reshape(1, -1))[
                0
            ]
        )
        if distance > reference.threshold:
            share = float(np.mean(reference.validation_distances < distance))
            reasons.append(
                f"its nearest training image is {distance:.1f} away, farther than for "
                f"{share:.1%} of the validation images (99% are within "
                f"{reference.threshold:.1f})"
            )
    return reasons

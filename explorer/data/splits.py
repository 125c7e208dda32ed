"""Loaded datasets and their fixed train/validation/test splits.

Every dataset comes back as a :class:`Dataset`: uint8 images (N, H, W, C), int32 labels,
class names and a train/validation/test split fixed by a seed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

import numpy as np

from explorer.errors import ExplorerError


@dataclass(frozen=True)
class Split:
    """uint8 images (N, H, W, C) and int32 labels (N,) in [0, number of classes)."""

    images: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)


@dataclass(frozen=True)
class Dataset:
    """A loaded dataset with fixed train/validation/test splits.

    ``split_seed`` is the seed the splits were made with (loading again with it gives the
    same splits); ``skipped`` lists files that were not images (folder/zip datasets only);
    ``folder`` is the absolute data folder the files were read from (None for the datasets
    without files and for uploads).
    """

    name: str
    class_names: tuple[str, ...]
    train: Split
    validation: Split
    test: Split
    preprocessing: str
    split_seed: int
    flip_makes_sense: bool = False
    skipped: tuple[str, ...] = ()
    folder: str | None = None

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """(H, W, C) of one image."""
        return tuple(self.train.images.shape[1:])


def split_fingerprint(split: Split) -> str:
    """A hex digest (32 characters) of a split's images and labels, in order.

    Two splits have the same fingerprint exactly when they hold the same images with the
    same labels in the same order (up to a BLAKE2b collision).
    """
    digest = hashlib.blake2b(digest_size=16)
    for array in (split.images, split.labels.astype(np.int32)):
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype}{array.shape}".encode())
        digest.update(array.data)
    return digest.hexdigest()


def class_counts(split: Split, num_classes: int) -> np.ndarray:
    """Images per class, int64 (num_classes,)."""
    return np.bincount(split.labels, minlength=num_classes)


def stratified_split(
    labels: np.ndarray, fractions: tuple[float, float], seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Index arrays (train, validation, test), each class shuffled and cut by ``fractions``.

    Every class gives at least one image to validation and one to test, even when its
    share rounds to none (five images at 10% each), so neither split is ever empty; a
    class of three images thus gives one to each split.

    Args:
        labels: int (N,).
        fractions: positive shares of each class for (validation, test); the rest is
            training.
        seed: fixes the shuffle, so the same seed always gives the same split.
    """
    rng = np.random.default_rng(seed)
    parts: tuple[list, list, list] = ([], [], [])
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        n_val = max(1, round(len(members) * fractions[0]))
        n_test = max(1, round(len(members) * fractions[1]))
        parts[1].append(members[:n_val])
        parts[2].append(members[n_val : n_val + n_test])
        parts[0].append(members[n_val + n_test :])
    return tuple(np.sort(np.concatenate(part)) for part in parts)


def _subset(images: np.ndarray, labels: np.ndarray, indices: np.ndarray) -> Split:
    return Split(np.ascontiguousarray(images[indices]), labels[indices].astype(np.int32))


def split_three_ways(
    images: np.ndarray, labels: np.ndarray, seed: int, fractions: tuple[float, float] = (0.1, 0.1)
) -> tuple[Split, Split, Split]:
    """Train/validation/test :class:`Split` of one pool of images (stratified, seeded)."""
    train, val, test = stratified_split(labels, fractions, seed)
    return tuple(_subset(images, labels, part) for part in (train, val, test))


def fewer_training_images(dataset: Dataset, count: int, seed: int) -> Dataset:
    """The dataset with only ``count`` of its training images; validation and test unchanged.

    Every class keeps about the same share as in the full training split: each class is
    shuffled (seeded), and images are taken in order of their rank within their class
    divided by the class's size. ``count`` ≥ the training size returns ``dataset`` itself.
    """
    train = dataset.train
    if count >= len(train):
        return dataset
    if count < 1:
        raise ExplorerError("Training needs at least one image.")
    rng = np.random.default_rng(seed)
    share = np.empty(len(train))
    for label in np.unique(train.labels):
        members = rng.permutation(np.flatnonzero(train.labels == label))
        share[members] = (np.arange(len(members)) + 0.5) / len(members)
    kept = np.sort(np.argsort(share, kind="stable")[:count])
    return replace(dataset, train=_subset(train.images, train.labels, kept))


def carve_validation(train: Split, size: int, seed: int) -> tuple[Split, Split]:
    """Move a seeded random ``size`` images (at most a tenth) of a training set to validation."""
    size = min(size, len(train) // 10)
    order = np.random.default_rng(seed).permutation(len(train))
    val, rest = np.sort(order[:size]), np.sort(order[size:])
    return _subset(train.images, train.labels, rest), _subset(train.images, train.labels, val)


def concatenate(splits: list[Split]) -> Split:
    """One split holding the images and labels of ``splits``, in order."""
    return Split(
        np.concatenate([s.images for s in splits]), np.concatenate([s.labels for s in splits])
    )

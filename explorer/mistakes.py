"""The test set's mistakes: which confusion-matrix cell to open and which images fall in it.

Pure functions on a confusion matrix (int (classes, classes), row = true class, column =
predicted class, as :func:`explorer.train.confusion_matrix` makes it) and on the test
labels and predictions; the sentences that state what the matrix shows are in
:mod:`explorer.claims`.
"""

from __future__ import annotations

import numpy as np

Cell = tuple[int, int]
"""A confusion-matrix cell: (true class, predicted class)."""


def largest_off_diagonal(matrix: np.ndarray) -> Cell | None:
    """The off-diagonal cell with the most images: the network's most common mistake.

    Ties go to the first such cell in reading order (smallest true class, then smallest
    predicted class). None when no cell off the diagonal holds an image.
    """
    counts = np.asarray(matrix, dtype=np.int64).copy()
    np.fill_diagonal(counts, 0)
    if counts.size == 0 or counts.max() <= 0:
        return None
    true, predicted = np.unravel_index(int(np.argmax(counts)), counts.shape)
    return int(true), int(predicted)


def cell_to_show(matrix: np.ndarray, picked: Cell | None) -> Cell | None:
    """The cell whose images are shown: ``picked`` when it is a cell of ``matrix``, else
    the most common mistake (:func:`largest_off_diagonal`), else None."""
    classes = np.asarray(matrix).shape[0]
    if picked is not None and all(0 <= index < classes for index in picked):
        return picked
    return largest_off_diagonal(matrix)


def images_in_cell(
    labels: np.ndarray, predictions: np.ndarray, cell: Cell, limit: int
) -> np.ndarray:
    """Indices (int, ascending) of at most ``limit`` test images of true class ``cell[0]``
    predicted as ``cell[1]``, from int ``labels`` and ``predictions`` (N,)."""
    true, predicted = cell
    return np.flatnonzero((labels == true) & (predictions == predicted))[:limit]


def shading(matrix: np.ndarray) -> np.ndarray:
    """float (classes, classes) in [0, 1] to colour each cell by: its share of its row
    (its true class's test images), 0 for a class with no images."""
    counts = np.asarray(matrix, dtype=np.float64)
    totals = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)

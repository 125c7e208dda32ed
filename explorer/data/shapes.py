"""The generated shapes and orientations dataset: drawn with NumPy from a seed."""

from __future__ import annotations

import numpy as np

SHAPE_CLASSES = ("horizontal line", "vertical line", "diagonal line", "edge", "circle", "square")


def render_shapes(count: int, seed: int, side: int = 28) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``count`` images of :data:`SHAPE_CLASSES`, balanced, in a seeded random order.

    Lines (horizontal/vertical/diagonal within ±10°), a straight edge between a dark
    and a bright half at any angle, circle outlines and rotated square outlines, at
    random positions, sizes and brightness, over faint noise.

    Returns:
        uint8 images (count, side, side, 1) and int32 labels (count,).
    """
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(count) % len(SHAPE_CLASSES)).astype(np.int32)
    rows, cols = np.mgrid[0:side, 0:side].astype(np.float32) + 0.5
    centre = rng.uniform(0.3, 0.7, (count, 2)) * side
    dy, dx = rows[None] - centre[:, 0, None, None], cols[None] - centre[:, 1, None, None]
    base_angle = np.choose(np.minimum(labels, 3), [0.0, 90.0, 45.0, 0.0])
    base_angle = base_angle + np.where(labels == 2, 90.0 * rng.integers(0, 2, count), 0.0)
    jitter = np.where(labels < 3, rng.uniform(-10, 10, count), rng.uniform(0, 360, count))
    theta = np.deg2rad(base_angle + jitter)[:, None, None]
    along = dx * np.cos(theta) - dy * np.sin(theta)
    across = dx * np.sin(theta) + dy * np.cos(theta)
    size = rng.uniform(0.25, 0.4, count)[:, None, None] * side
    width = rng.uniform(1.2, 2.2, count)[:, None, None]
    line = np.clip(width / 2 + 0.5 - np.abs(across), 0, 1) * (np.abs(along) < size)
    edge = np.clip(across + 0.5, 0, 1)
    circle = np.clip(width / 2 + 0.5 - np.abs(np.hypot(dx, dy) - size * 0.8), 0, 1)
    square_dist = np.maximum(np.abs(along), np.abs(across))
    square = np.clip(width / 2 + 0.5 - np.abs(square_dist - size * 0.7), 0, 1)
    kind = labels[:, None, None]
    shape = np.where(kind < 3, line, np.where(kind == 3, edge, np.where(kind == 4, circle, square)))
    brightness = rng.uniform(0.6, 1.0, count)[:, None, None]
    noise = rng.uniform(0, 0.12, shape.shape)
    pixels = np.clip(shape * brightness + noise, 0, 1)
    return np.round(pixels * 255).astype(np.uint8)[..., None], labels

"""Augmentation: random per-image transforms of training batches, in JAX on the device,
inside the jitted training step.

:func:`affine_resample` is the package's one image affine transform (rotation, zoom, shift,
mirror): augmentation draws its amounts at random, and :mod:`explorer.robustness` moves
test images by fixed amounts with it. It is JAX so that it can run inside the jitted
training step; on the CPU it matches ``scipy.ndimage`` (tested).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np


@dataclass(frozen=True)
class Augmentation:
    """Random per-image transforms applied to training batches.

    ``max_shift`` in pixels, ``max_rotation`` in degrees, ``max_scale`` as a fraction
    (zoom in [1 - s, 1 + s]); ``horizontal_flip`` mirrors half the images (only for
    datasets where a mirrored picture is still the same class, not digits).
    """

    max_shift: float = 0.0
    max_rotation: float = 0.0
    max_scale: float = 0.0
    horizontal_flip: bool = False

    @property
    def enabled(self) -> bool:
        """Whether any transform is switched on."""
        return bool(self.max_shift or self.max_rotation or self.max_scale or self.horizontal_flip)

    def describe(self) -> str:
        """The transforms in words, e.g. "shift ±4 px, rotate ±10°", or "none"."""
        parts = [
            f"shift ±{self.max_shift:g} px" if self.max_shift else "",
            f"rotate ±{self.max_rotation:g}°" if self.max_rotation else "",
            f"zoom ±{self.max_scale:g}" if self.max_scale else "",
            "flip" if self.horizontal_flip else "",
        ]
        return ", ".join(part for part in parts if part) or "none"


_EDGE_TOLERANCE = 1e-4
"""Pixels of float32 rounding by which a source point on the edge may seem outside it."""


def affine_resample(
    image: jax.Array, angle: jax.Array, scale: jax.Array, shift: jax.Array, flip: jax.Array
) -> jax.Array:
    """One (H, W, C) image rotated, zoomed, shifted and mirrored about its centre.

    Bilinear; an output pixel whose source point lies outside the image is 0 (SciPy's
    ``ndimage`` "constant" mode: nothing is blended in from beyond the edge).

    Args:
        angle: radians, clockwise on screen (rows grow downwards).
        scale: zoom factor (> 1 enlarges).
        shift: (rows, columns) in pixels, down and right.
        flip: whether to mirror left and right.
    """
    height, width, channels = image.shape
    rows, cols = jnp.meshgrid(jnp.arange(height), jnp.arange(width), indexing="ij")
    cy, cx = (height - 1) / 2, (width - 1) / 2
    y, x = rows - cy - shift[0], cols - cx - shift[1]
    cos, sin = jnp.cos(angle) / scale, jnp.sin(angle) / scale
    src_y = cos * y - sin * x + cy
    src_x = sin * y + cos * x + cx
    src_x = jnp.where(flip, width - 1 - src_x, src_x)
    resample = jax.vmap(
        lambda plane: jax.scipy.ndimage.map_coordinates(plane, [src_y, src_x], order=1),
        in_axes=2,
        out_axes=2,
    )
    margin = _EDGE_TOLERANCE
    inside = (
        (src_y >= -margin)
        & (src_y <= height - 1 + margin)
        & (src_x >= -margin)
        & (src_x <= width - 1 + margin)
    )
    return jnp.where(inside[..., None], resample(image).reshape(height, width, channels), 0.0)


def _augment_one(key: jax.Array, image: jax.Array, aug: Augmentation) -> jax.Array:
    """One (H, W, C) image through a random rotation/zoom/shift/flip within ``aug``."""
    k_angle, k_scale, k_shift, k_flip = jax.random.split(key, 4)
    angle = jnp.deg2rad(jax.random.uniform(k_angle, (), minval=-1, maxval=1) * aug.max_rotation)
    scale = 1.0 + jax.random.uniform(k_scale, (), minval=-1, maxval=1) * aug.max_scale
    shift = jax.random.uniform(k_shift, (2,), minval=-1, maxval=1) * aug.max_shift
    flip = aug.horizontal_flip & jax.random.bernoulli(k_flip)
    return affine_resample(image, angle, scale, shift, flip)


def augment_batch(key: jax.Array, images: jax.Array, aug: Augmentation) -> jax.Array:
    """Augment a float batch (N, H, W, C) in [0, 1]; outside pixels are filled with 0.

    Jit-friendly: ``aug`` is a static (hashable) configuration.
    """
    if not aug.enabled:
        return images
    keys = jax.random.split(key, images.shape[0])
    return jax.vmap(_augment_one, in_axes=(0, 0, None))(keys, images, aug)


_augment_jitted = jax.jit(augment_batch, static_argnums=2)


def augmentation_preview(
    images: np.ndarray, aug: Augmentation, seed: int = 0, copies: int = 8
) -> np.ndarray:
    """Random augmented copies of a few images for a preview grid.

    Args:
        images: uint8 (n, H, W, C).

    Returns:
        float32 (n, copies + 1, H, W, C) in [0, 1]; column 0 is the original. With no
        transform switched on every copy is the original, without compiling anything.
    """
    if not aug.enabled:
        floats = images.astype(np.float32) / 255.0
        return np.repeat(floats[:, None], copies + 1, axis=1)
    floats = jnp.asarray(images, jnp.float32) / 255.0
    repeated = jnp.repeat(floats, copies, axis=0)
    augmented = _augment_jitted(jax.random.key(seed), repeated, aug)
    augmented = augmented.reshape(len(images), copies, *images.shape[1:])
    return np.asarray(jnp.concatenate([floats[:, None], augmented], axis=1))

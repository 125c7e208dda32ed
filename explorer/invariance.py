"""How much a representation changes when the input is shifted by a few pixels.

Convolution is translation *equivariant* (shift the input, the maps shift the
same way); pooling summarises neighbourhoods, so pooled maps change less: a
little translation *invariance*. A flattened pixel vector, what an MLP sees,
has neither property.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from explorer import images, ops

DEMO_DIGIT = "MNIST digit 3"
"""The sample Lab 3 shifts by default: a digit on black, where the lesson shows (a photo's
borders bring in new content when it moves)."""

DIAGONAL_SHIFTS = tuple(range(9))
"""Lab 3's sweep: the input moved by (s, s) pixels for each s, 0 (no shift) included."""


def relative_change(before: np.ndarray, after: np.ndarray) -> float:
    """||after - before|| / ||before|| (Euclidean over all entries); 0 when both are zero."""
    norm = float(np.linalg.norm(before))
    if norm == 0.0:
        return 0.0 if not np.any(after) else float("inf")
    return float(np.linalg.norm(after - before) / norm)


@dataclass(frozen=True)
class ShiftComparison:
    """Relative change of each representation after shifting the input.

    Attributes:
        shift: (rows, cols) the input moved by.
        pixels: change of the flattened pixel vector (what an MLP sees).
        feature_maps: change of the activated conv maps.
        feature_maps_realigned: change after shifting the original maps by the
            same amount, measured away from the borders (near 0: convolution is
            equivariant; only the image edges, where content enters or leaves,
            differ). NaN when the maps have no cells far enough from the borders
            to compare.
        pooled_maps: change of the pooled maps.
        global_max: change of each map's single maximum (global max pooling).
    """

    shift: tuple[int, int]
    pixels: float
    feature_maps: float
    feature_maps_realigned: float
    pooled_maps: float
    global_max: float


def compare_shift(
    image: np.ndarray,
    kernels: np.ndarray,
    geometry: ops.ConvGeometry,
    activation: str,
    pool_kind: str,
    pool_window: int,
    pool_stride: int,
    shift: tuple[int, int],
    *,
    negative_slope: float = 0.01,
) -> ShiftComparison:
    """Shift an (H, W, C) image by whole pixels and measure how each stage changes.

    The realigned comparison is exact only for stride 1 (a shift by s pixels at
    stride s moves the maps by one cell); for other strides the shift is
    divided by the stride and rounded.
    """
    settings = (activation, pool_kind, pool_window, pool_stride)
    return compare_shifts(
        image, kernels, geometry, *settings, [shift], negative_slope=negative_slope
    )[0]


def compare_shifts(
    image: np.ndarray,
    kernels: np.ndarray,
    geometry: ops.ConvGeometry,
    activation: str,
    pool_kind: str,
    pool_window: int,
    pool_stride: int,
    shifts: list[tuple[int, int]],
    *,
    negative_slope: float = 0.01,
) -> list[ShiftComparison]:
    """:func:`compare_shift` for several shifts, with the original and every shifted
    image run through the layer as one batch."""
    pictures = np.stack([image] + [images.shift_image(image, *shift) for shift in shifts])
    stages = ops.conv_activate_pool_batch(
        pictures,
        kernels,
        geometry,
        activation,
        negative_slope,
        pool_kind,
        pool_window,
        pool_stride,
    )
    return [
        _comparison(image, pictures[index + 1], stages, index + 1, shift, geometry)
        for index, shift in enumerate(shifts)
    ]


def _comparison(
    image: np.ndarray,
    shifted: np.ndarray,
    stages: ops.FeatureStages,
    index: int,
    shift: tuple[int, int],
    geometry: ops.ConvGeometry,
) -> ShiftComparison:
    """The changes between batch entry 0 (the original) and entry ``index`` (shifted)."""
    before_maps, after_maps = stages.activated[0], stages.activated[index]
    map_shift = tuple(round(amount / geometry.stride) for amount in shift)
    realigned = images.shift_image(before_maps, *map_shift)
    reach = -(-geometry.effective_kernel // geometry.stride)
    margin = max(abs(amount) for amount in map_shift) + reach
    interior = (slice(margin, -margin or None), slice(margin, -margin or None))
    return ShiftComparison(
        shift=shift,
        pixels=relative_change(image.ravel(), shifted.ravel()),
        feature_maps=relative_change(before_maps, after_maps),
        feature_maps_realigned=(
            relative_change(realigned[interior], after_maps[interior])
            if realigned[interior].size
            else float("nan")
        ),
        pooled_maps=relative_change(stages.pooled[0], stages.pooled[index]),
        global_max=relative_change(before_maps.max(axis=(0, 1)), after_maps.max(axis=(0, 1))),
    )


def shift_verdict(comparison: ShiftComparison, pool_kind: str) -> str:
    """One sentence on what a shift did, worded from the comparison's own numbers: whether
    pooling and the global maximum changed less than the raw pixels, and if not, why."""
    pixels, pooled, global_max = comparison.pixels, comparison.pooled_maps, comparison.global_max
    numbers = (
        f"This shift changed the pixels by **{pixels:.3f}**, the {pool_kind}-pooled maps by "
        f"**{pooled:.3f}** and the global maxima by **{global_max:.3f}**"
    )
    if global_max < pixels and pooled < pixels:
        return f"{numbers}: both summaries changed less than the raw pixels."
    if global_max < pixels:
        return (
            f"{numbers}: the global maxima changed less than the pixels, the pooled maps did "
            "not. A shift moves strokes across window borders, so many small windows see a "
            "different maximum; only one maximum over the whole map forgets the position."
        )
    return (
        f"{numbers}: here pooling did **not** make the shift matter less. Invariance needs the "
        "pattern to stay in view on a plain background (try an MNIST digit) and a shift smaller "
        "than the pooling window; on a photo new content enters at the borders."
    )

"""Benchmark: server-side compute of one control change in the labs, and JAX compilations.

Measures, on a 256×256 grayscale photo with 16 filters, the work a control
change triggers on the server (convolution + activation + pooling + FFT
spectrum + frequency filter), warm, as the median of many changes; then counts
the XLA compilations while sweeping every control: changes of values only
must compile nothing, changes of shape compile once per new shape and never
again when revisited.

Run from the repository root: python -m bench.lab_speed [--repeats N]
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time

import jax
import numpy as np

from explorer import frequency, images, ops, samples

COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"
SIZE, FILTERS = 256, 16


class CompileCounter:
    """Counts XLA backend compilations through ``jax.monitoring``."""

    def __init__(self) -> None:
        self.count = 0
        jax.monitoring.register_event_duration_secs_listener(self._on_event)

    def _on_event(self, name: str, duration: float, **_: object) -> None:
        if name == COMPILE_EVENT:
            self.count += 1


def control_change(image: np.ndarray, settings: dict) -> float:
    """Everything one control change recomputes on the server; returns seconds."""
    start = time.perf_counter()
    geometry = ops.conv_geometry(
        image.shape[:2],
        settings["kernel_size"],
        settings["stride"],
        settings["padding"],
        settings["dilation"],
    )
    bank = ops.build_filter_bank(
        settings["kernel_size"], 1, FILTERS, settings["presets"], seed=settings["seed"]
    )
    ops.conv_activate_pool(
        image,
        bank.kernels,
        geometry,
        settings["activation"],
        settings["slope"],
        settings["pool_kind"],
        settings["pool_window"],
        settings["pool_stride"],
    )
    gray = image[..., 0]
    frequency.log_magnitude(frequency.centred_spectrum(gray))
    mask = frequency.frequency_mask(gray.shape, "gaussian", "low-pass", settings["cutoff"])
    frequency.filter_image(gray, mask)
    return time.perf_counter() - start


BASE = {
    "kernel_size": 3,
    "stride": 1,
    "padding": "same",
    "dilation": 1,
    "presets": ("sobel x", "sobel y", "laplacian", "gaussian blur"),
    "seed": 0,
    "activation": "relu",
    "slope": 0.01,
    "pool_kind": "max",
    "pool_window": 2,
    "pool_stride": 2,
    "cutoff": 0.2,
}

VALUE_CHANGES = {
    "presets": [("sobel x",), ("emboss", "sharpen"), ("curve detector", "laplacian", "identity")],
    "seed": [1, 2, 3],
    "activation": list(ops.ACTIVATIONS),
    "slope": [0.05, 0.2],
    "pool_kind": list(ops.POOLING_KINDS),
    "cutoff": [0.05, 0.5, 0.9],
}
SHAPE_CHANGES = {
    "kernel_size": [5, 7, 11],
    "stride": [2, 3],
    "padding": ["valid", 2],
    "dilation": [2, 3],
    "pool_window": [3, 4],
    "pool_stride": [1, 3],
}


def sweep(image: np.ndarray, changes: dict) -> list[float]:
    """Change one control at a time through its values; returns seconds per change."""
    timings = []
    for key, values in changes.items():
        for value in values:
            timings.append(control_change(image, {**BASE, key: value}))
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="passes over the value sweep")
    arguments = parser.parse_args()

    counter = CompileCounter()
    photo = images.to_working_image(samples.load_sample("cameraman (photo)"), "grayscale", SIZE)
    assert photo.shape == (SIZE, SIZE, 1)
    print(
        f"JAX {jax.__version__} on {jax.default_backend()} ({jax.devices()[0].device_kind}); "
        f"image {SIZE}×{SIZE}×1, {FILTERS} filters"
    )

    before = counter.count
    control_change(photo, BASE)
    print(f"first change (cold, compiles): {counter.count - before} compilations")

    before = counter.count
    warm = list(
        itertools.chain.from_iterable(sweep(photo, VALUE_CHANGES) for _ in range(arguments.repeats))
    )
    value_compiles = counter.count - before
    print(f"value-only changes: {len(warm)}, compilations: {value_compiles} (target 0)")
    print(
        f"warm compute per control change: median {statistics.median(warm) * 1e3:.1f} ms, "
        f"p90 {np.percentile(warm, 90) * 1e3:.1f} ms (target <= 30 ms)"
    )

    before = counter.count
    sweep(photo, SHAPE_CHANGES)
    first_pass = counter.count - before
    before = counter.count
    revisit = sweep(photo, SHAPE_CHANGES)
    second_pass = counter.count - before
    shapes = sum(len(values) for values in SHAPE_CHANGES.values())
    print(
        f"shape changes: {shapes} new shapes -> {first_pass} compilations on first visit, "
        f"{second_pass} when revisited (target 0); "
        f"revisit median {statistics.median(revisit) * 1e3:.1f} ms"
    )


if __name__ == "__main__":
    main()

"""Benchmark: the training fast path against the Flax layers on the newer block kinds.

For the AlexNet-style preset (overlapping 3×3 max pooling at stride 2), the small ResNet
preset (residual blocks, projection shortcuts, global average pooling) and a small
inception net, each on 28×28×1 MNIST digits with batch 128, Adam at a constant rate, it
times in one process, alternating round by round, ``--steps`` training steps of the
project's :class:`explorer.train.Trainer` with ``layer_impl="im2col"`` (the fast path of
:mod:`explorer.layers`) and with ``layer_impl="flax"`` (Flax's ``Conv``, ``BatchNorm``
and ``max_pool``), after a warm-up call each (compilation excluded) and ``--settle``
idle seconds before every timed call.

It prints images/s per implementation (medians over rounds) and the median of the
per-round ratios fast / Flax, and exits with status 1 when the fast path is not ahead
(median ratio ≤ 1) on some net.

Usage: python -m bench.kinds_speed [--rounds 5] [--steps 10] [--settle 0.5]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys

import numpy as np

from bench.timing import jax_runner, timed_rate
from explorer.architecture import InceptionBlock, PoolBlock
from explorer.data.registry import load_dataset
from explorer.model import ConvBlock, ModelSpec, preset
from explorer.train import device_description


def inception_net(input_shape: tuple[int, int, int], num_classes: int) -> ModelSpec:
    """conv 32 → 3×3/2 max pool → two inception blocks → global average pooling."""
    return ModelSpec(
        input_shape,
        num_classes,
        (
            ConvBlock(32, batch_norm=True, pool="none"),
            PoolBlock("max", 3, 2, "same"),
            InceptionBlock(16, 16, 24, 4, 8, 8),
            InceptionBlock(24, 24, 32, 8, 16, 16),
        ),
        head="gap",
        name="inception",
    )


def benchmark(spec: ModelSpec, images, labels, rounds: int, steps: int, settle: float) -> dict:
    """Alternate fast path and Flax for ``rounds`` rounds; medians and the ratio."""
    runners = {
        "fast": jax_runner(dataclasses.replace(spec, layer_impl="im2col"), images, labels, steps),
        "flax": jax_runner(dataclasses.replace(spec, layer_impl="flax"), images, labels, steps),
    }
    for run in runners.values():
        run()
    rates: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(rounds):
        for name, run in runners.items():
            rates[name].append(timed_rate(run, steps, settle))
    ratios = [fast / flax for fast, flax in zip(rates["fast"], rates["flax"], strict=True)]
    return {
        "net": spec.name,
        "images_per_second": {name: round(statistics.median(v)) for name, v in rates.items()},
        "ratio_fast_to_flax": round(statistics.median(ratios), 2),
        "ratio_per_round": [round(ratio, 2) for ratio in ratios],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--settle", type=float, default=0.5)
    args = parser.parse_args()
    data = load_dataset("mnist-5k")
    images, labels = data.train.images, data.train.labels.astype(np.int32)
    shape, classes = images.shape[1:], len(data.class_names)
    specs = [preset("alexnet", shape, classes), preset("resnet", shape, classes)]
    specs.append(inception_net(shape, classes))
    print(json.dumps({"device": device_description(), "steps_per_round": args.steps}))
    behind = []
    for spec in specs:
        result = benchmark(spec, images, labels, args.rounds, args.steps, args.settle)
        print(json.dumps(result))
        if result["ratio_fast_to_flax"] <= 1:
            behind.append(spec.name)
    if behind:
        print(f"the fast path is not ahead on: {', '.join(behind)}")
        sys.exit(1)


if __name__ == "__main__":
    main()

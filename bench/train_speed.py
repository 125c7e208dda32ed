"""Benchmark: training throughput of the project's jitted step against PyTorch, same device.

For the default net ("tiny": conv16-bn → conv32-bn → dense 128) and a wider one
(conv32-bn → conv64-bn → dense 128), each on 28×28×1 MNIST digits with batch 128,
Adam at a constant rate, no augmentation, it times in one process, alternating:

- ``jax-im2col``: the project's :class:`explorer.train.Trainer` (a whole call of steps
  in one jitted ``lax.scan``) with the hand-written layers (``layer_impl="im2col"``);
- ``jax-flax``: the same with the standard Flax ``Conv``/``max_pool`` layers (cuDNN on
  a GPU);
- ``torch``: the same architecture in PyTorch (NCHW, eager, ``torch.compile`` not
  used), and ``torch-cl`` with channels-last tensors; the faster of the two is the
  reference. PyTorch runs on the GPU when its build has CUDA and one is present.

The JAX variant that ``layer_impl="auto"`` picks on this backend (``im2col`` on CPU,
``flax`` elsewhere) is timed in every round and compared with PyTorch; the other one
only in the first three rounds. Every round times ``--steps`` steps of each after a
warm-up call (compilation excluded), each timed call after ``--settle`` idle seconds so
that the previous implementation's spinning worker threads have gone quiet. It prints
the JAX device and the variant "auto" picks, images/s per implementation (medians), the
median over rounds of the ratio of that variant to the faster PyTorch variant of that
round, the model's forward FLOPs per image and the achieved training GFLOP/s (3× the
forward FLOPs: forward, input and weight gradients).

PyTorch is a benchmark-only dependency: ``pip install -r requirements-bench.txt``.

Usage: python -m bench.train_speed [--rounds 15] [--steps 20] [--settle 0.5] [--nets tiny wide]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
from collections.abc import Callable
from functools import partial

import numpy as np
import torch
from torch import nn

from bench.timing import BATCH, LEARNING_RATE, jax_runner, timed_rate
from explorer.data.registry import load_dataset
from explorer.model import (
    ConvBlock,
    DenseLayer,
    ModelSpec,
    layer_table,
    preset,
    resolve_layer_impl,
)
from explorer.train import device_description

OTHER_ROUNDS = 3  # the variant "auto" does not pick is timed in the first rounds only
TORCH_DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")


def wide_net(input_shape: tuple[int, int, int], num_classes: int) -> ModelSpec:
    """conv32-bn → conv64-bn → dense 128: the layer sizes the issue's leads were timed on."""
    return ModelSpec(
        input_shape,
        num_classes,
        conv_blocks=(ConvBlock(32, batch_norm=True), ConvBlock(64, batch_norm=True)),
        dense_layers=(DenseLayer(128),),
        name="wide",
    )


def torch_network(spec: ModelSpec) -> nn.Module:
    """The PyTorch twin of a spec made of 'same' 3×3 conv → BN → ReLU → max-pool blocks."""
    layers: list[nn.Module] = []
    channels, height, width = spec.input_shape[2], spec.input_shape[0], spec.input_shape[1]
    for block in spec.conv_blocks:
        size = block.kernel_size
        layers += [
            nn.Conv2d(channels, block.filters, size, padding=size // 2, bias=not block.batch_norm),
            nn.BatchNorm2d(block.filters, momentum=0.1),
            nn.ReLU(),
            nn.MaxPool2d(block.pool_size),
        ]
        channels, height, width = block.filters, height // 2, width // 2
    layers.append(nn.Flatten())
    features = channels * height * width
    for dense in spec.dense_layers:
        layers += [nn.Linear(features, dense.units), nn.ReLU()]
        features = dense.units
    layers.append(nn.Linear(features, spec.num_classes))
    return nn.Sequential(*layers)


def torch_runner(
    spec: ModelSpec, images: np.ndarray, labels: np.ndarray, steps: int, channels_last: bool
) -> Callable:
    """A function that runs ``steps`` PyTorch training steps on random batches."""
    torch.manual_seed(0)
    model = torch_network(spec)
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(TORCH_DEVICE, memory_format=memory_format).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    loss_fn = nn.CrossEntropyLoss()
    all_images = torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))
    all_images = all_images.to(TORCH_DEVICE)
    all_labels = torch.from_numpy(labels.astype(np.int64)).to(TORCH_DEVICE)
    generator = torch.Generator(TORCH_DEVICE).manual_seed(0)

    def run() -> None:
        for _ in range(steps):
            rows = torch.randint(
                len(all_labels), (BATCH,), generator=generator, device=TORCH_DEVICE
            )
            batch = (all_images[rows].float() / 255.0).contiguous(memory_format=memory_format)
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(batch), all_labels[rows])
            loss.backward()
            optimizer.step()
        if TORCH_DEVICE.type == "cuda":
            torch.cuda.synchronize()

    return run


def benchmark(spec: ModelSpec, images, labels, rounds: int, steps: int, settle: float) -> dict:
    """Alternate the implementations for ``rounds`` rounds; medians and the ratio."""
    picked = f"jax-{resolve_layer_impl('auto')}"
    runners = {
        f"jax-{impl}": jax_runner(dataclasses.replace(spec, layer_impl=impl), images, labels, steps)
        for impl in ("im2col", "flax")
    }
    runners |= {
        "torch": torch_runner(spec, images, labels, steps, channels_last=False),
        "torch-cl": torch_runner(spec, images, labels, steps, channels_last=True),
    }
    for run in runners.values():
        run()
    rates: dict[str, list[float]] = {name: [] for name in runners}
    for round_index in range(rounds):
        for name, run in runners.items():
            if not name.startswith("jax-") or name == picked or round_index < OTHER_ROUNDS:
                rates[name].append(timed_rate(run, steps, settle))
    ratios = [
        jax_rate / max(torch_rate, cl_rate)
        for jax_rate, torch_rate, cl_rate in zip(
            rates[picked], rates["torch"], rates["torch-cl"], strict=True
        )
    ]
    forward_flops = sum(row.flops for row in layer_table(spec))
    median_rates = {name: round(statistics.median(values)) for name, values in rates.items()}
    return {
        "net": spec.name,
        "images_per_second": median_rates,
        "ratio_auto_jax_to_best_torch": round(statistics.median(ratios), 2),
        "ratio_per_round": [round(r, 2) for r in ratios],
        "forward_mflops_per_image": round(forward_flops / 1e6, 2),
        "achieved_training_gflops": {
            name: round(3 * forward_flops * rate / 1e9, 1) for name, rate in median_rates.items()
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument(
        "--settle", type=float, default=0.5, help="idle seconds before each timed call"
    )
    parser.add_argument("--nets", nargs="+", default=["tiny", "wide"], choices=["tiny", "wide"])
    args = parser.parse_args()

    data = load_dataset("mnist-5k")
    images, labels = data.train.images, data.train.labels.astype(np.int32)
    builders = {"tiny": partial(preset, "tiny"), "wide": wide_net}
    print(
        json.dumps(
            {
                "device": device_description(),
                "auto_layers": resolve_layer_impl("auto"),
                "torch": f"{torch.__version__} on {TORCH_DEVICE}, "
                f"{torch.get_num_threads()} CPU threads",
                "batch": BATCH,
                "steps_per_round": args.steps,
                "settle_seconds": args.settle,
            }
        )
    )
    for name in args.nets:
        spec = builders[name](data.input_shape, 10)
        print(json.dumps(benchmark(spec, images, labels, args.rounds, args.steps, args.settle)))


if __name__ == "__main__":
    main()

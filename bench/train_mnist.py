"""Benchmark: the default net ("tiny") on full MNIST, 3 epochs, on this machine.

Prints the training time until the test accuracy first reaches 99.0% (compilation
included, evaluation time excluded; test accuracy is checked every quarter epoch),
the final test accuracy after 3 epochs, and the training throughput in images/s
(median over calls after the first, which includes compilation).

Usage: python bench/train_mnist.py [--data-dir DIR] [--epochs 3] [--seed 0]
Full MNIST is read from ../shared/datasets/mnist relative to the repository root
unless --data-dir says otherwise.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import jax

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from explorer.data.registry import load_dataset  # noqa: E402
from explorer.model import count_params, preset  # noqa: E402
from explorer.train import TrainConfig, Trainer, device_description, state_variables  # noqa: E402

TARGET = 0.99
CHECKS_PER_EPOCH = 4


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "datasets"))
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    data = load_dataset("mnist", args.data_dir, seed=args.seed)
    spec = preset("tiny", data.input_shape, len(data.class_names))
    config = TrainConfig(epochs=args.epochs, seed=args.seed)
    steps_per_epoch = len(data.train) // config.batch_size
    trainer = Trainer(
        spec, config, len(data.train), steps_per_call=-(-steps_per_epoch // CHECKS_PER_EPOCH)
    )
    train, test = trainer.put(data.train), trainer.put(data.test)
    state = trainer.init_state()
    jax.block_until_ready(state)

    training_seconds, rates, reached_at, curve = 0.0, [], None, []
    for epoch in range(config.epochs):
        plan = trainer.epoch_plan(train, epoch)
        for call in range(trainer.calls_per_epoch):
            started = time.perf_counter()
            state, results = trainer.run_call(state, train, plan, call)
            steps = int(jax.device_get(results.applied).sum())
            elapsed = time.perf_counter() - started
            training_seconds += elapsed
            rates.append(steps * config.batch_size / elapsed)
            accuracy = trainer.evaluate(state_variables(state), test).accuracy
            curve.append((round(training_seconds, 2), round(accuracy, 4)))
            if reached_at is None and accuracy >= TARGET:
                reached_at = training_seconds
            print(
                f"epoch {epoch + 1} call {call + 1}: {training_seconds:6.1f} s  "
                f"test accuracy {accuracy:.4f}",
                file=sys.stderr,
            )

    report = {
        "device": device_description(),
        "architecture": spec.name,
        "params": count_params(state.params),
        "epochs": config.epochs,
        "batch_size": config.batch_size,
        "seconds_to_99.0%_test_accuracy": None if reached_at is None else round(reached_at, 1),
        "final_test_accuracy": curve[-1][1],
        "training_seconds": round(training_seconds, 1),
        "images_per_second": round(statistics.median(rates[1:] or rates)),
    }
    print(json.dumps(report, indent=2))
    print("curve (training seconds, test accuracy):", curve)


if __name__ == "__main__":
    main()

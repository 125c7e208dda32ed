"""Timing the project's training step: shared by the speed benchmarks (no PyTorch needed)."""

from __future__ import annotations

import time
from collections.abc import Callable

import jax
import numpy as np

from explorer.data.splits import Split
from explorer.model import ModelSpec
from explorer.train import TrainConfig, Trainer

BATCH = 128
LEARNING_RATE = 1e-3


def jax_runner(spec: ModelSpec, images: np.ndarray, labels: np.ndarray, steps: int) -> Callable:
    """A function that runs ``steps`` training steps of the project's Trainer and waits."""
    config = TrainConfig(learning_rate=LEARNING_RATE, schedule="constant", batch_size=BATCH)
    trainer = Trainer(spec, config, len(labels), steps_per_call=steps)
    data = trainer.put(Split(images, labels))
    state = trainer.init_state()
    plan = trainer.epoch_plan(data, 0)
    holder = {"state": state, "call": 0}

    def run() -> None:
        call = holder["call"] % trainer.calls_per_epoch
        holder["state"], results = trainer.run_call(holder["state"], data, plan, call)
        jax.block_until_ready((holder["state"], results))
        holder["call"] += 1

    return run


def timed_rate(run: Callable, steps: int, settle: float = 0.0) -> float:
    """Images per second of one call of ``run`` (``steps`` steps of ``BATCH`` images).

    Waits ``settle`` seconds first, untimed, so that the worker threads of the
    implementation timed before (OpenMP's for PyTorch, Eigen's for XLA), which keep
    spinning for a while after their work ends, do not compete for the cores.
    """
    time.sleep(settle)
    started = time.perf_counter()
    run()
    return steps * BATCH / (time.perf_counter() - started)

"""Training and evaluation with optax: jitted steps, epochs as one jitted loop, sharding.

Reading order: :class:`TrainConfig` → :func:`make_optimizer` → :func:`create_train_state`
→ :func:`train_step` → :func:`train_steps` (a ``lax.scan`` over device-resident
batches) → :func:`evaluate` → :func:`fit` (the epoch loop, a generator of progress
updates shared by the command line and the Train page) → :func:`main` (the CLI).

Data parallelism: a 1-D :class:`jax.sharding.Mesh` named ``"data"`` spans the devices.
The dataset and the model state are replicated; each batch is split along its first
axis across the devices, and XLA inserts the gradient all-reduce. The same code runs
on one CPU, one GPU or all TPU cores. The batch size must divide by the device count.

Several processes: after :func:`join_processes` (``jax.distributed.initialize``) the mesh
spans every process's devices. Each process loads the same dataset and runs the same
program on the same global batches; only process 0 writes the run (checkpoints,
``metrics.json``, progress).

Determinism: for a given seed, device count and platform, training is bitwise
repeatable: initialisation, the per-epoch shuffles, dropout and augmentation all
derive from ``jax.random.key(seed)``.

Divergence: a step whose loss or gradients are not finite is not applied; training
stops at the end of that call with :class:`TrainingDiverged`, which carries the last
good state. No host synchronisation happens inside an epoch.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax.training import train_state
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from explorer.checkpoints import RUN_FILES, save_checkpoint, write_atomically
from explorer.claims import LEARNED_SHARE, chance_accuracy, did_not_learn_note, learned
from explorer.data.augmentation import Augmentation, augment_batch
from explorer.data.registry import load_dataset
from explorer.data.splits import Dataset, Split, split_fingerprint
from explorer.errors import ExplorerError
from explorer.losses import DEFAULT_LOSS, LOSSES, batch_loss, check_loss, one_hot, per_image_loss
from explorer.model import PRESETS, ModelSpec, Network, count_params, init_variables, preset

OPTIMIZERS = ("sgd", "momentum", "adam", "adamw")
SCHEDULES = ("constant", "cosine", "one-cycle")
EVAL_BATCH = 1000
CLI_STEPS_PER_CALL = 50  # progress-bar granularity; one host sync per call, not per step


@dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters of one run (all plain values, JSON-friendly via :meth:`to_dict`)."""

    optimizer: str = "adam"
    loss: str = DEFAULT_LOSS
    learning_rate: float = 3e-3
    schedule: str = "one-cycle"
    weight_decay: float = 0.0
    momentum: float = 0.9
    label_smoothing: float = 0.0
    batch_size: int = 128
    epochs: int = 3
    seed: int = 0
    augmentation: Augmentation = field(default_factory=Augmentation)

    def to_dict(self) -> dict:
        """A JSON-serialisable dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        """Inverse of :meth:`to_dict`; a dict without ``loss`` (an older run) reads as
        cross-entropy."""
        data = dict(data)
        data["augmentation"] = Augmentation(**data.get("augmentation", {}))
        return cls(**data)


class TrainState(train_state.TrainState):
    """Flax's TrainState plus the batch-norm running statistics (empty without batch norm)."""

    batch_stats: Any = None


class TrainingDiverged(ExplorerError):
    """The loss or gradients became NaN/inf; ``state`` holds the last good weights."""

    def __init__(self, message: str, state: TrainState, epoch: int):
        super().__init__(message)
        self.state = state
        self.epoch = epoch


MAX_SEED = 2**32 - 1
"""Seeds are whole numbers from 0 to this (32 bits: every random generator here takes them)."""


def validate_config(config: TrainConfig, device_count: int = 1) -> None:
    """Raise :class:`ExplorerError`, naming the setting, for settings that cannot train.

    Every number must be finite: NaN compares false with everything, so each rule is
    written so that NaN fails it.
    """
    if config.optimizer not in OPTIMIZERS:
        raise ExplorerError(f"Unknown optimizer {config.optimizer!r}; use one of {OPTIMIZERS}.")
    check_loss(config.loss)
    if config.schedule not in SCHEDULES:
        raise ExplorerError(f"Unknown schedule {config.schedule!r}; use one of {SCHEDULES}.")
    if not (math.isfinite(config.learning_rate) and config.learning_rate > 0):
        raise ExplorerError(
            f"The learning rate must be a positive number; {config.learning_rate:g} is not."
        )
    if not (math.isfinite(config.weight_decay) and config.weight_decay >= 0):
        raise ExplorerError(
            f"Weight decay must be a number ≥ 0 (0 turns it off); {config.weight_decay:g} is not."
        )
    if not 0 <= config.momentum < 1:
        raise ExplorerError(f"Momentum must be in [0, 1); {config.momentum:g} is not.")
    if not 0 <= config.label_smoothing < 1:
        raise ExplorerError(
            f"Label smoothing must be in [0, 1); {config.label_smoothing:g} is not."
        )
    if config.epochs < 1 or config.batch_size < 1:
        raise ExplorerError("Epochs and batch size must be at least 1.")
    if not 0 <= config.seed <= MAX_SEED:
        raise ExplorerError(f"The seed must be a whole number from 0 to {MAX_SEED}.")
    if config.batch_size % device_count:
        raise ExplorerError(
            f"The batch size {config.batch_size} must be a multiple of the {device_count} "
            "devices it is split across."
        )


@dataclass(frozen=True)
class EpochCounts:
    """How a training set becomes optimisation steps (what the Train page spells out).

    An *epoch* is one pass over the training set in a new random order; it is cut into
    ``steps_per_epoch`` full batches of ``batch_size`` images, and each batch gives one
    *iteration* (one gradient step). The ``left_out`` images that do not fill a last batch
    wait for a later epoch (each epoch reshuffles, so a different few each time).
    """

    train_size: int
    batch_size: int
    epochs: int
    steps_per_epoch: int
    left_out: int
    total_steps: int
    images_seen: int


def epoch_counts(train_size: int, batch_size: int, epochs: int) -> EpochCounts:
    """The :class:`EpochCounts` of ``train_size`` images in batches of ``batch_size`` (≥ 1)
    for ``epochs`` epochs; the same arithmetic the :class:`Trainer` runs."""
    steps = train_size // batch_size
    return EpochCounts(
        train_size,
        batch_size,
        epochs,
        steps,
        train_size - steps * batch_size,
        steps * epochs,
        steps * epochs * batch_size,
    )


def learning_rate_schedule(config: TrainConfig, total_steps: int) -> optax.Schedule:
    """Constant, cosine decay to 0, or one-cycle (warm up to the rate over 30%, then anneal)."""
    if config.schedule == "cosine":
        return optax.cosine_decay_schedule(config.learning_rate, total_steps)
    if config.schedule == "one-cycle":
        return optax.cosine_onecycle_schedule(total_steps, config.learning_rate)
    return optax.constant_schedule(config.learning_rate)


def _decay_mask(params: Any) -> Any:
    """Weight decay applies to kernels (ndim ≥ 2), not to biases or batch-norm scales."""
    return jax.tree_util.tree_map(lambda p: p.ndim >= 2, params)


def make_optimizer(config: TrainConfig, total_steps: int) -> optax.GradientTransformation:
    """The optax optimizer for ``config``; weight decay is decoupled (AdamW-style) for
    ``adamw`` and added to the gradient (L2) for the others."""
    schedule = learning_rate_schedule(config, total_steps)
    if config.optimizer == "adamw":
        return optax.adamw(schedule, weight_decay=config.weight_decay, mask=_decay_mask)
    if config.optimizer == "adam":
        base = optax.adam(schedule)
    elif config.optimizer == "momentum":
        base = optax.sgd(schedule, momentum=config.momentum)
    else:
        base = optax.sgd(schedule)
    if not config.weight_decay:
        return base
    return optax.chain(optax.add_decayed_weights(config.weight_decay, _decay_mask), base)


def create_train_state(
    spec: ModelSpec, config: TrainConfig, steps_per_epoch: int, variables: dict | None = None
) -> TrainState:
    """A fresh state (seeded by ``config.seed``) or one that starts from ``variables``."""
    variables = variables if variables is not None else init_variables(spec, config.seed)
    return TrainState.create(
        apply_fn=Network(spec).apply,
        params=variables["params"],
        batch_stats=variables.get("batch_stats", {}),
        tx=make_optimizer(config, steps_per_epoch * config.epochs),
    )


def state_variables(state: TrainState) -> dict:
    """The model variables of a state, as host NumPy arrays ready to save."""
    variables = {"params": state.params}
    if state.batch_stats:
        variables["batch_stats"] = state.batch_stats
    return jax.device_get(variables)


def _model_variables(params: Any, batch_stats: Any) -> dict:
    return {"params": params, "batch_stats": batch_stats} if batch_stats else {"params": params}


def loss_and_accuracy(
    logits: jax.Array,
    labels: jax.Array,
    num_classes: int,
    smoothing: float = 0.0,
    loss: str = DEFAULT_LOSS,
) -> tuple[jax.Array, jax.Array]:
    """Mean ``loss`` (one of :data:`explorer.losses.LOSSES`, with optional label smoothing)
    and accuracy of a batch.

    Args:
        logits: (B, classes). labels: int (B,).
    """
    mean_loss = batch_loss(loss, logits, labels, num_classes, smoothing)
    return mean_loss, (logits.argmax(-1) == labels).mean()


def _as_float_images(images: jax.Array) -> jax.Array:
    """uint8 (B, H, W, C) in 0..255 → float32 in [0, 1]."""
    return images.astype(jnp.float32) / 255.0


def train_step(
    state: TrainState,
    images: jax.Array,
    labels: jax.Array,
    key: jax.Array,
    config: TrainConfig,
    num_classes: int,
) -> tuple[TrainState, jax.Array, jax.Array, jax.Array]:
    """One optimisation step on a batch.

    Args:
        images: uint8 (B, H, W, C). labels: int (B,). key: dropout/augmentation key.

    Returns:
        (new state, loss, accuracy, finite) where ``finite`` says the loss and the
        gradients were all finite (if not, the new state must be discarded).
    """
    aug_key, dropout_key = jax.random.split(key)
    images = augment_batch(aug_key, _as_float_images(images), config.augmentation)

    def loss_fn(params):
        logits, updates = state.apply_fn(
            _model_variables(params, state.batch_stats),
            images,
            train=True,
            rngs={"dropout": dropout_key},
            mutable=["batch_stats"],
        )
        loss, accuracy = loss_and_accuracy(
            logits, labels, num_classes, config.label_smoothing, config.loss
        )
        return loss, (accuracy, updates.get("batch_stats", state.batch_stats))

    (loss, (accuracy, batch_stats)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    finite = jnp.isfinite(loss) & jnp.isfinite(optax.tree.norm(grads))
    new_state = state.apply_gradients(grads=grads, batch_stats=batch_stats)
    return new_state, loss, accuracy, finite


@dataclass(frozen=True)
class StepsResult:
    """Per-step outputs of :func:`train_steps`, as device arrays of length ``steps``.

    ``applied`` is False for padding steps and for steps skipped after divergence;
    ``diverged`` is True for the first non-finite step (at most one).
    """

    loss: jax.Array
    accuracy: jax.Array
    applied: jax.Array
    diverged: jax.Array


jax.tree_util.register_dataclass(
    StepsResult, data_fields=["loss", "accuracy", "applied", "diverged"], meta_fields=[]
)


def train_steps(
    state: TrainState,
    images: jax.Array,
    labels: jax.Array,
    batch_indices: jax.Array,
    active: jax.Array,
    key: jax.Array,
    config: TrainConfig,
    num_classes: int,
    batch_sharding: NamedSharding | None = None,
) -> tuple[TrainState, StepsResult]:
    """Run many training steps as one ``lax.scan`` over device-resident data.

    Args:
        images: uint8 (N, H, W, C), the whole training split, on the device(s).
        labels: int32 (N,).
        batch_indices: int (steps, B), rows of ``images`` forming each batch.
        active: bool (steps,); False marks padding steps that must change nothing.
        key: this call's key; step ``i`` uses ``fold_in(key, i)``.
        batch_sharding: how to split a batch over the mesh (None on one device).

    Returns:
        The state after the last good step, and per-step :class:`StepsResult`.
    """

    def body(carry, step_inputs):
        state, healthy = carry
        index, rows, is_active = step_inputs
        batch_images, batch_labels = images[rows], labels[rows]
        if batch_sharding is not None:
            batch_images = jax.lax.with_sharding_constraint(batch_images, batch_sharding)
            batch_labels = jax.lax.with_sharding_constraint(batch_labels, batch_sharding)
        new_state, loss, accuracy, finite = train_step(
            state, batch_images, batch_labels, jax.random.fold_in(key, index), config, num_classes
        )
        apply = is_active & healthy & finite
        state = jax.tree_util.tree_map(partial(jnp.where, apply), new_state, state)
        diverged = is_active & healthy & ~finite
        return (state, healthy & ~diverged), StepsResult(loss, accuracy, apply, diverged)

    steps = jnp.arange(batch_indices.shape[0])
    (state, _), results = jax.lax.scan(
        body, (state, jnp.bool_(True)), (steps, batch_indices, active)
    )
    return state, results


def eval_batches(
    variables: dict,
    images: jax.Array,
    labels: jax.Array,
    batch_indices: jax.Array,
    valid: jax.Array,
    *,
    apply_fn: Any,
    loss: str = DEFAULT_LOSS,
    batch_sharding: NamedSharding | None = None,
) -> tuple[jax.Array, jax.Array]:
    """Summed ``loss`` over valid rows and per-row predictions, one ``lax.scan`` over batches.

    Args:
        batch_indices: int (batches, B) rows of ``images``; valid: bool (batches, B).

    Returns:
        (loss summed over valid rows, predictions int32 (batches, B)).
    """

    def body(total, inputs):
        rows, mask = inputs
        batch = _as_float_images(images[rows])
        if batch_sharding is not None:
            batch = jax.lax.with_sharding_constraint(batch, batch_sharding)
        logits = apply_fn(variables, batch, train=False)
        losses = per_image_loss(loss, logits, one_hot(labels[rows], logits.shape[-1]))
        return total + jnp.where(mask, losses, 0.0).sum(), logits.argmax(-1).astype(jnp.int32)

    return jax.lax.scan(body, jnp.float32(0.0), (batch_indices, valid))


@dataclass(frozen=True)
class Evaluation:
    """Mean loss, accuracy (a fraction) and int predictions (N,) on one split."""

    loss: float
    accuracy: float
    predictions: np.ndarray


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, num_classes: int) -> np.ndarray:
    """int64 (classes, classes): row = true class, column = predicted class."""
    return np.bincount(labels * num_classes + predictions, minlength=num_classes**2).reshape(
        num_classes, num_classes
    )


def per_class_accuracy(matrix: np.ndarray) -> np.ndarray:
    """Fraction of each true class predicted correctly (NaN for classes with no images)."""
    totals = matrix.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, np.diag(matrix) / totals, np.nan)


def make_mesh(devices: list | None = None) -> Mesh:
    """A 1-D mesh named ``"data"`` over ``devices`` (default: all of ``jax.devices()``)."""
    return Mesh(np.array(devices if devices is not None else jax.devices()), ("data",))


@dataclass
class DeviceSplit:
    """A split placed on the mesh (replicated): uint8 images and int32 labels."""

    images: jax.Array
    labels: jax.Array

    def __len__(self) -> int:
        return int(self.labels.shape[0])


class Trainer:
    """Compiled train/eval functions for one (spec, config, mesh), and the data on device.

    Create one per run; its jitted functions are compiled on first use and reused for
    every epoch (and on resume).
    """

    def __init__(
        self,
        spec: ModelSpec,
        config: TrainConfig,
        train_size: int,
        devices: list | None = None,
        steps_per_call: int | None = None,
    ):
        self.mesh = make_mesh(devices)
        validate_config(config, self.mesh.size)
        self.spec, self.config = spec, config
        self.steps_per_epoch = epoch_counts(
            train_size, config.batch_size, config.epochs
        ).steps_per_epoch
        if self.steps_per_epoch < 1:
            raise ExplorerError(
                f"The training split has {train_size} images, fewer than one batch of "
                f"{config.batch_size}: lower the batch size."
            )
        self.steps_per_call = min(steps_per_call or self.steps_per_epoch, self.steps_per_epoch)
        self.calls_per_epoch = math.ceil(self.steps_per_epoch / self.steps_per_call)
        self.replicated = NamedSharding(self.mesh, PartitionSpec())
        sharded = NamedSharding(self.mesh, PartitionSpec("data")) if self.mesh.size > 1 else None
        self.eval_batch = math.ceil(EVAL_BATCH / self.mesh.size) * self.mesh.size
        self._train_steps = jax.jit(
            partial(
                train_steps,
                config=config,
                num_classes=spec.num_classes,
                batch_sharding=sharded,
            ),
            donate_argnums=0,
            out_shardings=self.replicated,
        )
        self._eval = jax.jit(
            partial(
                eval_batches,
                apply_fn=Network(spec).apply,
                loss=config.loss,
                batch_sharding=sharded,
            ),
            out_shardings=self.replicated,
        )
        self._shuffle = jax.jit(self._epoch_indices, static_argnums=(1,))

    def put(self, split: Split) -> DeviceSplit:
        """Copy a split to the device(s), replicated (once per run)."""
        return DeviceSplit(
            jax.device_put(split.images, self.replicated),
            jax.device_put(split.labels.astype(np.int32), self.replicated),
        )

    def init_state(self, variables: dict | None = None) -> TrainState:
        """A fresh (or warm-started) state, replicated on the mesh."""
        state = create_train_state(self.spec, self.config, self.steps_per_epoch, variables)
        return jax.device_put(state, self.replicated)

    def _epoch_indices(self, key: jax.Array, size: int) -> tuple[jax.Array, jax.Array]:
        """Shuffled batch rows (calls, steps_per_call, B) and the active-step mask."""
        batch = self.config.batch_size
        used = self.steps_per_epoch * batch
        rows = jax.random.permutation(key, size)[:used].reshape(self.steps_per_epoch, batch)
        padded = self.calls_per_epoch * self.steps_per_call
        rows = jnp.pad(rows, ((0, padded - self.steps_per_epoch), (0, 0)))
        active = jnp.arange(padded) < self.steps_per_epoch
        shape = (self.calls_per_epoch, self.steps_per_call)
        return rows.reshape(*shape, batch), active.reshape(shape)

    def epoch_plan(self, data: DeviceSplit, epoch: int) -> tuple[jax.Array, jax.Array, jax.Array]:
        """Batch rows (calls, steps_per_call, B), active mask and step key of epoch ``epoch``.

        The shuffle is a pure function of the seed and the (0-based) epoch.
        """
        epoch_key = jax.random.fold_in(jax.random.key(self.config.seed), epoch)
        shuffle_key, step_key = jax.random.split(epoch_key)
        rows, active = self._shuffle(shuffle_key, len(data))
        return rows, active, step_key

    def run_call(
        self, state: TrainState, data: DeviceSplit, plan: tuple, call: int
    ) -> tuple[TrainState, StepsResult]:
        """Run call ``call`` of an epoch's :meth:`epoch_plan` (one jitted ``lax.scan``).

        Returns device arrays; nothing is synchronised unless the caller reads them.
        The input ``state`` is donated and must not be used afterwards.
        """
        rows, active, step_key = plan
        return self._train_steps(
            state,
            data.images,
            data.labels,
            rows[call],
            active[call],
            jax.random.fold_in(step_key, call),
        )

    def evaluate(self, variables: dict, data: DeviceSplit) -> Evaluation:
        """Loss, accuracy and predictions of ``variables`` on a device split.

        Raises:
            ExplorerError: the split is empty (there is nothing to measure).
        """
        size, batch = len(data), self.eval_batch
        if size == 0:
            raise ExplorerError("A split to evaluate on has no images, so there is no accuracy.")
        batches = max(1, math.ceil(size / batch))
        rows = np.arange(batches * batch)
        valid = (rows < size).reshape(batches, batch)
        rows = np.minimum(rows, size - 1).reshape(batches, batch)
        total, predictions = self._eval(variables, data.images, data.labels, rows, valid)
        predictions = np.asarray(predictions).reshape(-1)[:size]
        labels = np.asarray(data.labels)
        return Evaluation(float(total) / size, float(np.mean(predictions == labels)), predictions)


@dataclass(frozen=True)
class EpochRecord:
    """Metrics of one finished epoch (1-based ``epoch``)."""

    epoch: int
    train_loss: float
    train_accuracy: float
    val_loss: float
    val_accuracy: float
    seconds: float
    images_per_second: float


def best_epoch(val_accuracies: list[float]) -> int:
    """The 1-based epoch whose weights a run keeps: the first with the highest validation
    accuracy (as :func:`fit` marks ``is_best``). ``val_accuracies`` must not be empty."""
    return int(np.argmax(val_accuracies)) + 1


@dataclass(frozen=True)
class Progress:
    """A progress update from :func:`fit`.

    ``kind`` is "step" after each jitted call and "epoch" after each epoch (then
    ``record`` is set and ``is_best`` says whether it has the best validation accuracy
    so far). ``epoch`` is 1-based; ``call`` counts the jitted calls done in this epoch and
    ``step`` the optimisation steps. ``state`` is the current training state (on the
    device; read it before asking for the next update, which consumes it). ``loss`` is the
    mean training loss of the steps this call applied (kind "step"; NaN otherwise), so a
    live curve can grow within an epoch.
    """

    kind: str
    epoch: int
    call: int
    step: int
    steps_per_epoch: int
    images_per_second: float
    eta_seconds: float
    state: TrainState
    record: EpochRecord | None = None
    is_best: bool = False
    loss: float = math.nan


def _mean_or_nan(chunks: list[np.ndarray]) -> float:
    values = np.concatenate(chunks) if chunks else np.array([])
    return float(values.mean()) if values.size else float("nan")


def _divergence_message(config: TrainConfig, epoch: int, best_accuracy: float) -> str:
    kept = (
        f"The weights of the best finished epoch (validation accuracy {best_accuracy:.1%}) "
        "are kept."
        if best_accuracy >= 0
        else "No epoch had finished, so there are no trained weights to keep."
    )
    return (
        f"Training stopped in epoch {epoch}: the loss became NaN or infinite, so the "
        f"weights were diverging. The learning rate ({config.learning_rate:g}) is probably "
        f"too high for this model and optimizer: lower it (e.g. by 10×) or pick Adam. {kept}"
    )


def fit(
    trainer: Trainer,
    train: DeviceSplit,
    validation: DeviceSplit,
    state: TrainState | None = None,
    start_epoch: int = 0,
    start_call: int = 0,
    best_accuracy: float = -1.0,
) -> Iterator[Progress]:
    """Train for the remaining epochs, yielding :class:`Progress` as it goes.

    Stop early by not asking for the next update. Resume by calling again with the last
    ``state`` and the position after it: ``start_epoch`` (0-based epoch it was in) and
    ``start_call`` (calls of that epoch already run, i.e. ``Progress.call``), plus the best
    validation accuracy so far. Because each epoch's shuffle depends only on the seed and
    the epoch, a resumed run continues exactly as an uninterrupted one would; only the
    resumed epoch's train loss/accuracy average is over the calls run after resuming.

    Raises:
        TrainingDiverged: a non-finite loss or gradient; carries the last good state. Its
            message says that the best finished epoch's weights are kept: the callers
            (:func:`run_training`, :class:`explorer.training_session.TrainingSession`)
            keep the state of every epoch marked ``is_best``.
    """
    state = state if state is not None else trainer.init_state()
    config, per_epoch = trainer.config, trainer.steps_per_epoch
    total_steps = per_epoch * config.epochs
    for epoch in range(start_epoch, config.epochs):
        started = last = time.perf_counter()
        first_call = start_call if epoch == start_epoch else 0
        done = min(first_call * trainer.steps_per_call, per_epoch)
        losses, accuracies, rate = [], [], 0.0
        plan = trainer.epoch_plan(train, epoch)
        for call in range(first_call, trainer.calls_per_epoch):
            state, results = trainer.run_call(state, train, plan, call)
            host = jax.device_get(results)
            if host.diverged.any():
                message = _divergence_message(config, epoch + 1, best_accuracy)
                raise TrainingDiverged(message, state, epoch)
            applied = host.applied
            losses.append(host.loss[applied])
            accuracies.append(host.accuracy[applied])
            now, steps = time.perf_counter(), int(applied.sum())
            done += steps
            rate = steps * config.batch_size / max(now - last, 1e-9)
            last = now
            remaining = total_steps - epoch * per_epoch - done
            eta = remaining * config.batch_size / rate
            loss = _mean_or_nan([losses[-1]])
            yield Progress(
                "step", epoch + 1, call + 1, done, per_epoch, rate, eta, state, loss=loss
            )
        val = trainer.evaluate(_model_variables(state.params, state.batch_stats), validation)
        seconds = time.perf_counter() - started
        record = EpochRecord(
            epoch + 1,
            _mean_or_nan(losses),
            _mean_or_nan(accuracies),
            val.loss,
            val.accuracy,
            seconds,
            per_epoch * config.batch_size / seconds,
        )
        is_best = val.accuracy > best_accuracy
        best_accuracy = max(best_accuracy, val.accuracy)
        remaining = (config.epochs - epoch - 1) * seconds
        yield Progress(
            "epoch",
            epoch + 1,
            trainer.calls_per_epoch,
            per_epoch,
            per_epoch,
            rate,
            remaining,
            state,
            record,
            is_best,
        )


def device_description(devices: list | None = None) -> str:
    """E.g. "cpu: 2 × cpu", or "gpu: 16 × NVIDIA H100 80GB HBM3 in 2 processes" — the
    backend and devices a run uses."""
    devices = devices if devices is not None else jax.devices()
    kinds = sorted({d.device_kind for d in devices})
    processes = len({d.process_index for d in devices})
    across = f" in {processes} processes" if processes > 1 else ""
    return f"{jax.default_backend()}: {len(devices)} × {', '.join(kinds)}{across}"


def join_processes(
    coordinator: str | None = None, num_processes: int | None = None, process_id: int | None = None
) -> None:
    """Join a run of several processes (``jax.distributed.initialize``); call before any
    other JAX work.

    Each value left None is taken from JAX's own detection: ``$JAX_COORDINATOR_ADDRESS``,
    and the environments of Slurm, Open MPI, Kubernetes and Cloud TPU.

    Raises:
        ExplorerError: the values are missing or wrong, or the processes could not meet.
    """
    try:
        jax.distributed.initialize(coordinator, num_processes, process_id)
    except (RuntimeError, ValueError, TypeError) as error:
        raise ExplorerError(
            f"Could not join the run of several processes ({error}). Give --coordinator, "
            "--num-processes and --process-id, or start it under Slurm, Open MPI or on a "
            "Cloud TPU slice, where JAX finds them."
        ) from None


# --- Command line -------------------------------------------------------------------------


def _progress_bar(update: Progress, width: int = 30) -> str:
    filled = round(width * update.step / update.steps_per_epoch)
    return (
        f"\repoch {update.epoch} [{'#' * filled}{'.' * (width - filled)}] "
        f"{update.step}/{update.steps_per_epoch}  {update.images_per_second:,.0f} img/s  "
        f"ETA {update.eta_seconds:,.0f} s"
    ).ljust(90)


EXIT_OK, EXIT_ERROR, EXIT_DID_NOT_LEARN, EXIT_INTERRUPTED = 0, 1, 3, 130
"""Exit statuses of the CLI (argparse exits with 2 for bad options); see :func:`parse_args`."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options of ``python -m explorer.train``.

    The numbers are checked by :func:`validate_config` (the same rules as the Train page)
    and a bad one stops here with argparse's usage message and exit status 2.
    """
    parser = argparse.ArgumentParser(
        prog="python -m explorer.train",
        description="Train a CNN; the best checkpoint so far is saved after every epoch.",
        epilog=(
            "exit status: 0 trained and learned; 1 error (one line on stderr); 2 bad "
            "options; 3 trained but did not learn (the best validation accuracy closed less "
            f"than {LEARNED_SHARE:.0%} of the gap between chance and 100%; the checkpoint "
            "and metrics.json are still written); 130 stopped by Ctrl-C (the best "
            "checkpoint saved so far is kept)."
        ),
    )
    parser.add_argument("--dataset", default="mnist-5k", help="registered name or zip/folder")
    parser.add_argument("--data-dir", default=None, help="data folder (else $CNN_EXPLORER_DATA)")
    parser.add_argument("--arch", default="tiny", help=", ".join(PRESETS))
    defaults = TrainConfig()
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--optimizer", default=defaults.optimizer, choices=OPTIMIZERS)
    parser.add_argument(
        "--loss", default=defaults.loss, choices=LOSSES, help="what training minimises"
    )
    parser.add_argument("--lr", type=float, default=defaults.learning_rate)
    parser.add_argument("--schedule", default=defaults.schedule, choices=SCHEDULES)
    parser.add_argument("--weight-decay", type=float, default=defaults.weight_decay)
    parser.add_argument("--label-smoothing", type=float, default=defaults.label_smoothing)
    parser.add_argument("--augment", action="store_true", help="shift ±2 px, rotate ±10°, zoom")
    parser.add_argument("--seed", type=int, default=defaults.seed, help=f"0 to {MAX_SEED}")
    parser.add_argument("--out", required=True, help="run folder for checkpoint + metrics.json")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace the run already in --out, if any"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    several = parser.add_argument_group(
        "several processes (jax.distributed)",
        "Run as one of several processes, data-parallel over all their devices; every "
        "process gets the same options and only process 0 writes --out. Values not given "
        "are detected by JAX ($JAX_COORDINATOR_ADDRESS; Slurm, Open MPI, Kubernetes, Cloud "
        "TPU).",
    )
    several.add_argument(
        "--distributed", action="store_true", help="join with the values JAX detects"
    )
    several.add_argument(
        "--coordinator", metavar="HOST:PORT", help="process 0's host and a free port"
    )
    several.add_argument(
        "--num-processes", type=int, metavar="N", help="how many processes take part"
    )
    several.add_argument("--process-id", type=int, metavar="I", help="this process: 0 to N-1")
    args = parser.parse_args(argv)
    if not args.out.strip():
        parser.error("--out is empty: name a folder for the run (it is created if missing).")
    try:
        validate_config(config_from_args(args, flip_ok=False))
    except ExplorerError as error:
        parser.error(str(error))
    if args.num_processes is not None and args.num_processes < 1:
        parser.error("--num-processes must be at least 1.")
    if None not in (args.num_processes, args.process_id) and not (
        0 <= args.process_id < args.num_processes
    ):
        parser.error(f"--process-id must be from 0 to {args.num_processes - 1}.")
    args.distributed = args.distributed or any(
        value is not None for value in (args.coordinator, args.num_processes, args.process_id)
    )
    return args


def config_from_args(args: argparse.Namespace, flip_ok: bool) -> TrainConfig:
    """The :class:`TrainConfig` the CLI options describe."""
    augmentation = (
        Augmentation(2.0, 10.0, 0.1, horizontal_flip=flip_ok) if args.augment else Augmentation()
    )
    return TrainConfig(
        optimizer=args.optimizer,
        loss=args.loss,
        learning_rate=args.lr,
        schedule=args.schedule,
        weight_decay=args.weight_decay,
        label_smoothing=args.label_smoothing,
        batch_size=args.batch_size,
        epochs=args.epochs,
        seed=args.seed,
        augmentation=augmentation,
    )


def run_metrics(config: TrainConfig, history: list[EpochRecord], best_variables: dict) -> dict:
    """What a checkpoint records about its run so far: the epochs, the best validation
    accuracy, the settings and the parameter count. Shared by the CLI and the Train page."""
    return {
        "best_val_accuracy": max(record.val_accuracy for record in history),
        "epochs": [dataclasses.asdict(record) for record in history],
        "config": config.to_dict(),
        "params": count_params(best_variables["params"]),
    }


class TrainingInterrupted(ExplorerError):
    """Ctrl-C stopped :func:`run_training`; the message says what was kept."""


def run_training(
    dataset: Dataset,
    spec: ModelSpec,
    config: TrainConfig,
    out: Path,
    show_progress: bool = True,
) -> dict:
    """Train, saving the best-validation checkpoint in ``out`` after every epoch that
    improves it; then test it and write the final checkpoint and metrics.json.

    ``out`` must be ready (see :func:`prepare_run_folder`). A divergence or Ctrl-C leaves
    the best checkpoint saved so far in place. In a run of several processes every one
    calls this and only process 0 writes.

    Returns:
        The metrics dict written to ``out/metrics.json``; ``learned`` says whether the
        best validation accuracy is clearly above ``chance_accuracy`` (:func:`learned`).

    Raises:
        TrainingInterrupted: Ctrl-C, with a message naming the checkpoint kept.
        TrainingDiverged: see :func:`fit`.
    """
    trainer = Trainer(spec, config, len(dataset.train), steps_per_call=CLI_STEPS_PER_CALL)
    writes = jax.process_index() == 0
    history: list[EpochRecord] = []
    best_variables, saved, started = None, None, time.perf_counter()
    metadata = dataset_metadata(dataset)
    try:
        train, validation = trainer.put(dataset.train), trainer.put(dataset.validation)
        for update in fit(trainer, train, validation):
            if update.kind != "epoch":
                if show_progress:
                    print(_progress_bar(update), end="", file=sys.stderr, flush=True)
                continue
            history.append(update.record)
            if show_progress:
                print(
                    f"\nepoch {update.epoch}: train loss {update.record.train_loss:.4f}, "
                    f"val accuracy {update.record.val_accuracy:.4f}",
                    file=sys.stderr,
                )
            if update.is_best:
                best_variables = state_variables(update.state)
                progress = run_metrics(config, history, best_variables)
                if writes:
                    save_checkpoint(out, best_variables, spec, metadata, progress)
                saved = update.record
        test = trainer.evaluate(best_variables, trainer.put(dataset.test))
    except KeyboardInterrupt:
        if show_progress:
            print(file=sys.stderr)
        kept = (
            f"the best checkpoint so far (epoch {saved.epoch}, validation accuracy "
            f"{saved.val_accuracy:.1%}) is kept in {out}."
            if saved is not None
            else "no epoch had finished, so nothing was saved."
        )
        message = f"Ctrl-C after {len(history)} finished epoch(s): {kept}"
        raise TrainingInterrupted(message) from None
    progress = run_metrics(config, history, best_variables)
    chance = chance_accuracy(dataset.validation.labels)
    metrics = {
        "dataset": dataset.name,
        "architecture": spec.name,
        **progress,
        "test_accuracy": test.accuracy,
        "test_loss": test.loss,
        "chance_accuracy": chance,
        "learned": learned(progress["best_val_accuracy"], chance),
        "images_per_second": float(np.median([r.images_per_second for r in history])),
        "train_seconds": time.perf_counter() - started,
        "device": device_description(),
    }
    if writes:
        save_checkpoint(out, best_variables, spec, metadata, metrics)
        write_atomically(out / "metrics.json", json.dumps(metrics, indent=2).encode())
    return metrics


def prepare_run_folder(out: Path, overwrite: bool) -> None:
    """Make sure a run can be saved in ``out`` before any training starts.

    Creates the folder if needed and writes (and deletes) a test file in it. With
    ``overwrite``, the files of a run already there are deleted; without it such a run
    is refused.

    Raises:
        ExplorerError: ``out`` is a file, holds a run (without ``overwrite``), or cannot
            be created or written to.
    """
    if out.exists() and not out.is_dir():
        raise ExplorerError(f"--out {out} is a file, not a folder: name a folder for the run.")
    existing = [name for name in RUN_FILES if (out / name).exists()]
    if existing and not overwrite:
        raise ExplorerError(
            f"{out} already holds a run ({', '.join(existing)}): name another --out, or add "
            "--overwrite to replace it."
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
        handle, probe = tempfile.mkstemp(dir=out, prefix=".write-test.", suffix=".tmp")
        os.close(handle)
        os.unlink(probe)
        for name in existing:
            (out / name).unlink()
    except OSError as error:
        raise ExplorerError(
            f"Cannot save the run in {out} ({error.strerror or error}): name a folder you "
            "can write to."
        ) from None


def dataset_metadata(dataset: Dataset) -> dict:
    """What a checkpoint records about its dataset: for prediction and display, and how
    its splits were made and from which data folder (for datasets read from files), so
    they can be made again (``registry.reload_dataset``)."""
    folder = {} if dataset.folder is None else {"data_folder": dataset.folder}
    return {
        "name": dataset.name,
        "class_names": list(dataset.class_names),
        "input_shape": list(dataset.input_shape),
        "preprocessing": dataset.preprocessing,
        "train_size": len(dataset.train),
        "split_seed": dataset.split_seed,
        "test_fingerprint": split_fingerprint(dataset.test),
        **folder,
    }


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; returns the exit status (see :data:`EXIT_OK` and ``--help``)."""
    args = parse_args(argv)
    out = Path(args.out).expanduser()
    try:
        if args.distributed:
            join_processes(args.coordinator, args.num_processes, args.process_id)
        writes = jax.process_index() == 0
        if writes:
            prepare_run_folder(out, args.overwrite)
        dataset = load_dataset(args.dataset, args.data_dir, args.seed)
        spec = preset(args.arch, dataset.input_shape, len(dataset.class_names))
        config = config_from_args(args, dataset.flip_makes_sense)
        print(
            f"{dataset.name}: {len(dataset.train)} train / {len(dataset.validation)} val / "
            f"{len(dataset.test)} test; {spec.name}; {device_description()}",
            file=sys.stderr,
        )
        metrics = run_training(dataset, spec, config, out, writes and not args.quiet)
    except TrainingInterrupted as stopped:
        print(f"interrupted: {stopped}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        print("interrupted: stopped by Ctrl-C before training; nothing was saved.", file=sys.stderr)
        return EXIT_INTERRUPTED
    except ExplorerError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERROR
    note = did_not_learn_note(
        metrics["best_val_accuracy"],
        metrics["chance_accuracy"],
        config.optimizer,
        config.learning_rate,
        [epoch["train_loss"] for epoch in metrics["epochs"]],
    )
    if note is not None:
        print(f"error: {note} Saved anyway to {out}.", file=sys.stderr)
        return EXIT_DID_NOT_LEARN
    saved = f"saved to {out}" if writes else f"process {jax.process_index()} saved nothing"
    print(f"test accuracy {metrics['test_accuracy']:.4f}; {saved}", file=sys.stderr)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())

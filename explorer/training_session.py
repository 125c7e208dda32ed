"""Background training for the Train page, free of Streamlit.

A :class:`TrainingSession` trains one model on one dataset in a daemon thread.
The page keeps one instance per browser session (e.g. in ``st.session_state``),
calls :meth:`~TrainingSession.start`, :meth:`~TrainingSession.stop` and
:meth:`~TrainingSession.resume`, and polls :meth:`~TrainingSession.snapshot` from an
``st.fragment(run_every=...)``. Snapshots are immutable copies taken under a lock,
so reading one never races with the training thread.

The thread runs :func:`explorer.train.fit` in jitted calls of ``steps_per_call``
steps (by default about :data:`UPDATES_PER_EPOCH` calls per epoch), updating the
snapshot after each call and checking for a stop request between calls. Each call
adds a point to the live loss curve. After every epoch the best-validation weights
are kept (and saved atomically to ``checkpoint_dir`` when one is given), and a host
copy of the first conv layer's kernels is kept for the "filters over training" film
strip (one more copy is taken before the first step).
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from explorer.checkpoints import save_checkpoint
from explorer.datasets import Dataset
from explorer.errors import ExplorerError
from explorer.model import ModelSpec, count_params
from explorer.train import (
    EpochRecord,
    Evaluation,
    Progress,
    TrainConfig,
    Trainer,
    TrainingDiverged,
    dataset_metadata,
    device_description,
    fit,
    run_metrics,
    state_variables,
)

IDLE, RUNNING, STOPPING, STOPPED, FINISHED, FAILED = (
    "idle", "running", "stopping", "stopped", "finished", "failed",
)  # fmt: skip
DEFAULT_STEPS_PER_CALL = 32
UPDATES_PER_EPOCH = 10


def live_steps_per_call(steps_per_epoch: int, updates: int = UPDATES_PER_EPOCH) -> int:
    """Steps per jitted call giving about ``updates`` progress updates per epoch.

    At most :data:`DEFAULT_STEPS_PER_CALL` (so large datasets still update often) and at
    least 1 step; e.g. 18 steps per epoch → 2, 468 → 32.
    """
    return max(1, min(DEFAULT_STEPS_PER_CALL, math.ceil(steps_per_epoch / updates)))


def first_layer_copy(params: dict) -> np.ndarray | None:
    """Host copy of the first conv layer's kernels, float32 (k, k, C, F), read-only.

    None for a model without conv layers (an MLP). The copy is independent of the
    device buffers, which later training steps donate and overwrite.
    """
    conv = params.get("conv1")
    if conv is None:
        return None
    kernel = np.array(conv["kernel"], dtype=np.float32)
    kernel.setflags(write=False)
    return kernel


@dataclass(frozen=True)
class Snapshot:
    """What the page shows, copied at one instant.

    ``status`` is one of "idle", "running", "stopping", "stopped", "finished",
    "failed". ``epoch`` is 1-based (0 before the first call); ``step`` counts steps
    done in that epoch. ``history`` has one :class:`EpochRecord` per finished epoch
    (train/validation loss and accuracy: the curves). ``loss_points`` has one
    (epochs done, training loss) pair per jitted call: the epochs done as a fraction
    (e.g. 1.5 halfway through epoch 2) and the mean loss of that call's steps.
    ``filters`` holds the first conv layer's kernels (k, k, C, F) at initialisation
    (index 0) and after each finished epoch (index e); empty for a model without conv
    layers. ``error`` explains a failure.
    """

    status: str
    epoch: int = 0
    epochs: int = 0
    step: int = 0
    steps_per_epoch: int = 0
    images_per_second: float = 0.0
    eta_seconds: float = math.nan
    elapsed_seconds: float = 0.0
    history: tuple[EpochRecord, ...] = ()
    loss_points: tuple[tuple[float, float], ...] = ()
    filters: tuple[np.ndarray, ...] = ()
    best_val_accuracy: float | None = None
    error: str | None = None
    device: str = ""
    params: int = 0

    @property
    def fraction_done(self) -> float:
        """Progress over the whole run, in [0, 1]."""
        if not self.epochs or not self.steps_per_epoch:
            return 0.0
        done = (max(self.epoch, 1) - 1) * self.steps_per_epoch + self.step
        return min(1.0, done / (self.epochs * self.steps_per_epoch))

    @property
    def active(self) -> bool:
        """True while the thread runs (running or stopping)."""
        return self.status in (RUNNING, STOPPING)


@dataclass
class _Position:
    """Where to continue (epoch index, 0-based, and calls already run in it), and the
    curves and filter snapshots so far."""

    epoch: int = 0
    call: int = 0
    best_accuracy: float = -1.0
    history: list[EpochRecord] = field(default_factory=list)
    loss_points: list[tuple[float, float]] = field(default_factory=list)
    filters: list[np.ndarray] = field(default_factory=list)


class TrainingSession:
    """One training run in a background thread, with start/stop/resume and snapshots.

    Args:
        dataset: the loaded dataset (its train/validation/test splits are used).
        spec: the model to train.
        config: hyperparameters (epochs, batch size, optimizer, seed, ...).
        checkpoint_dir: if given, the best-validation checkpoint is saved there.
        steps_per_call: optimisation steps per jitted call (snapshot granularity);
            default :func:`live_steps_per_call` of the epoch's steps.
        devices: devices to shard over (default: all of ``jax.devices()``).

    Raises:
        ExplorerError: the settings cannot train (e.g. batch size vs. device count).
    """

    def __init__(
        self,
        dataset: Dataset,
        spec: ModelSpec,
        config: TrainConfig,
        checkpoint_dir: str | Path | None = None,
        steps_per_call: int | None = None,
        devices: list | None = None,
    ):
        self.dataset, self.spec, self.config = dataset, spec, config
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir else None
        if steps_per_call is None:
            steps_per_call = live_steps_per_call(len(dataset.train) // config.batch_size)
        self._trainer = Trainer(spec, config, len(dataset.train), devices, steps_per_call)
        self._lock = threading.Lock()
        self._stop_requested = threading.Event()
        self._thread: threading.Thread | None = None
        self._state = None
        self._best_variables: dict | None = None
        self._position = _Position()
        self._elapsed_before = 0.0
        self._snapshot = Snapshot(
            IDLE,
            epochs=config.epochs,
            steps_per_epoch=self._trainer.steps_per_epoch,
            device=device_description(devices),
        )
        self._device_data = None

    # --- control ----------------------------------------------------------------------

    def start(self) -> None:
        """Start training from scratch in a background thread (only once per session)."""
        with self._lock:
            if self._snapshot.status != IDLE:
                raise ExplorerError("This run has already been started; use resume or a new run.")
            self._launch()

    def resume(self) -> None:
        """Continue a stopped run exactly where it stopped."""
        with self._lock:
            if self._snapshot.status != STOPPED:
                raise ExplorerError("Only a stopped run can be resumed.")
            self._launch()

    def stop(self) -> None:
        """Ask the thread to stop after the current jitted call; returns at once."""
        with self._lock:
            if self._snapshot.status == RUNNING:
                self._stop_requested.set()
                self._snapshot = replace(self._snapshot, status=STOPPING)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the thread ends (or ``timeout`` seconds); True if it has ended."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return thread is None or not thread.is_alive()

    # --- reading ----------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        """The current progress (an immutable copy, safe from any thread)."""
        with self._lock:
            return self._snapshot

    @property
    def best_variables(self) -> dict | None:
        """Host copy of the best-validation weights so far (None before the first epoch)."""
        with self._lock:
            return self._best_variables

    def evaluate_test(self) -> Evaluation:
        """Test-split loss, accuracy and predictions of the best weights.

        Raises:
            ExplorerError: no epoch has finished yet.
        """
        variables = self.best_variables
        if variables is None:
            raise ExplorerError("No epoch has finished yet, so there is no model to test.")
        return self._trainer.evaluate(variables, self._trainer.put(self.dataset.test))

    # --- the thread -------------------------------------------------------------------

    def _launch(self) -> None:
        self._stop_requested.clear()
        self._snapshot = replace(self._snapshot, status=RUNNING, error=None)
        self._thread = threading.Thread(target=self._run, name="cnn-explorer-training", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        started = time.perf_counter()
        try:
            status = self._train(started)
        except TrainingDiverged as error:
            self._state = error.state
            self._finish(FAILED, started, str(error))
        except ExplorerError as error:
            self._finish(FAILED, started, str(error))
        except Exception as error:  # shown to the user rather than lost in the thread
            self._finish(FAILED, started, f"Training failed unexpectedly: {error!r}")
        else:
            self._finish(status, started, None)

    def _train(self, started: float) -> str:
        if self._device_data is None:
            self._device_data = (
                self._trainer.put(self.dataset.train),
                self._trainer.put(self.dataset.validation),
            )
        train, validation = self._device_data
        position = self._position
        if self._state is None:
            self._state = self._trainer.init_state()
            self._record_filters(self._state.params)
        updates = fit(
            self._trainer,
            train,
            validation,
            self._state,
            position.epoch,
            position.call,
            position.best_accuracy,
        )
        for update in updates:
            self._state = update.state
            if update.kind == "epoch":
                self._record_epoch(update)
            else:
                position.epoch, position.call = update.epoch - 1, update.call
                done = update.epoch - 1 + update.step / update.steps_per_epoch
                position.loss_points.append((done, update.loss))
            self._publish(update, started)
            if self._stop_requested.is_set():
                return STOPPED
        return FINISHED

    def _record_epoch(self, update: Progress) -> None:
        position = self._position
        position.epoch, position.call = update.epoch, 0
        position.history.append(update.record)
        self._record_filters(update.state.params)
        if update.is_best:
            position.best_accuracy = update.record.val_accuracy
            variables = state_variables(update.state)
            with self._lock:
                self._best_variables = variables
            if self.checkpoint_dir is not None:
                save_checkpoint(
                    self.checkpoint_dir,
                    variables,
                    self.spec,
                    dataset_metadata(self.dataset),
                    run_metrics(self.config, position.history, variables),
                )

    def _record_filters(self, params: dict) -> None:
        kernels = first_layer_copy(params)
        if kernels is None:
            return
        self._position.filters.append(kernels)
        with self._lock:
            self._snapshot = replace(self._snapshot, filters=tuple(self._position.filters))

    def _publish(self, update: Progress, started: float) -> None:
        best = self._position.best_accuracy
        with self._lock:
            self._snapshot = replace(
                self._snapshot,
                epoch=update.epoch,
                step=update.step,
                images_per_second=update.images_per_second,
                eta_seconds=update.eta_seconds,
                elapsed_seconds=self._elapsed_before + time.perf_counter() - started,
                history=tuple(self._position.history),
                loss_points=tuple(self._position.loss_points),
                best_val_accuracy=best if best >= 0 else None,
                params=self._snapshot.params or count_params(update.state.params),
            )

    def _finish(self, status: str, started: float, error: str | None) -> None:
        with self._lock:
            self._elapsed_before += time.perf_counter() - started
            eta = 0.0 if status == FINISHED else math.nan
            self._snapshot = replace(
                self._snapshot,
                status=status,
                error=error,
                eta_seconds=eta,
                elapsed_seconds=self._elapsed_before,
            )

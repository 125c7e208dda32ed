"""Background training for the Train page, free of Streamlit.

A :class:`TrainingSession` trains one model on one dataset in a **separate worker
process** of lower priority, so that the server's interactive work (every session's
control changes) keeps the CPU while someone trains. The page keeps one instance per
browser session (e.g. in ``st.session_state``), calls :meth:`~TrainingSession.start`,
:meth:`~TrainingSession.stop` and :meth:`~TrainingSession.resume`, and polls
:meth:`~TrainingSession.snapshot` from an ``st.fragment(run_every=...)``. Snapshots are
immutable copies taken under a lock: a cheap local read that never races with the
thread that receives the worker's progress.

The worker is a fresh Python interpreter (``sys.executable``; not a fork of the
threaded server, and not :mod:`multiprocessing`'s "spawn", which would re-import the
Streamlit page that ``__main__`` names there). Its first statements raise its nice
value by :data:`WORKER_NICENESS` and (on Linux) move it to the ``SCHED_IDLE`` policy,
before it imports NumPy or JAX, so every thread it later starts (XLA's compute threads
included) runs only on CPU time that the server's interactive work leaves. It runs
:func:`explorer.train.fit` in jitted calls of ``steps_per_call`` steps (by default
about :data:`UPDATES_PER_EPOCH` calls per epoch), sends a progress message after each
call, and checks for a stop request between calls. Each call adds a point to the live
loss curve. After every epoch it sends a copy of the first conv layer's kernels for
the "filters over training" film strip (one more copy is sent before the first step),
and the weights of each epoch with the best validation accuracy so far, which it also
saves atomically to ``checkpoint_dir`` when one is given.

Messages cross plain pipes: the server sends the run (its settings, and the training
and validation images as raw bytes), the worker answers with tuples of numbers,
strings and NumPy arrays only, read back with an unpickler that builds nothing else.
On a stop, the worker sends its whole training state (as arrays) and exits; resume
starts a new worker from that state and position, which continues exactly as an
uninterrupted run would. A worker that dies (a crash, a kill, memory) makes the run
"failed" with a message saying so. No worker outlives its run or the server: it exits
when its run ends, it is killed when its session is garbage-collected or the server
exits, and it exits by itself when the server's end of its pipes closes (the server
was killed).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import math
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
import weakref
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection
from pathlib import Path

import numpy as np

from explorer.checkpoints import save_checkpoint
from explorer.data.splits import Dataset, Split, split_fingerprint
from explorer.errors import ExplorerError
from explorer.model import ModelSpec, count_params
from explorer.train import (
    EpochRecord,
    Evaluation,
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
    "idle",
    "running",
    "stopping",
    "stopped",
    "finished",
    "failed",
)
DEFAULT_STEPS_PER_CALL = 32
UPDATES_PER_EPOCH = 10
WORKER_NICENESS = 10
"""How much the worker process raises its nice value (lowers its priority) at start."""
WORKER_EXIT_GRACE_S = 10.0
"""How long a worker may take to exit after its last message before it is killed."""
_ROOT = Path(__file__).resolve().parents[1]
_ignored = contextlib.suppress(OSError, subprocess.TimeoutExpired)
_WORKER_BOOT = (
    "import os, signal, sys\n"
    "os.nice(int(sys.argv[5]))\n"  # first: every thread started from here on inherits it
    "try:\n"  # Linux: run only on CPU time that no normal process wants
    "    os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))\n"
    "except (AttributeError, OSError):\n"
    "    pass\n"
    "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"  # the server decides when it ends
    "sys.path.insert(0, sys.argv[1])\n"
    "from explorer.training_session import _worker_main\n"
    "_worker_main(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))\n"
)


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
        """True while the worker runs (running or stopping)."""
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
    """One training run in a low-priority worker process, with start/stop/resume and
    snapshots.

    Args:
        dataset: the loaded dataset (its train/validation/test splits are used).
        spec: the model to train.
        config: hyperparameters (epochs, batch size, optimizer, seed, ...).
        checkpoint_dir: if given, the best-validation checkpoint is saved there.
        steps_per_call: optimisation steps per jitted call (snapshot granularity);
            default :func:`live_steps_per_call` of the epoch's steps.
        devices: devices to shard over (default: all of ``jax.devices()``); the worker
            uses the devices of the same ids.

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
        self.test_fingerprint = split_fingerprint(dataset.test)
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir else None
        if steps_per_call is None:
            steps_per_call = live_steps_per_call(len(dataset.train) // config.batch_size)
        # Checks the settings here (an ExplorerError at once, not in the worker), and
        # evaluates the kept weights on the test split once the run has ended.
        self._trainer = Trainer(spec, config, len(dataset.train), devices, steps_per_call)
        self._device_ids = None if devices is None else [device.id for device in devices]
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._worker: _Worker | None = None
        self._state: list[np.ndarray] | None = None  # the training state's leaves, stopped
        self._best_variables: dict | None = None
        self._position = _Position()
        self._elapsed_before = 0.0
        self._started = 0.0
        self._snapshot = Snapshot(
            IDLE,
            epochs=config.epochs,
            steps_per_epoch=self._trainer.steps_per_epoch,
            device=device_description(devices),
        )

    # --- control ----------------------------------------------------------------------

    def start(self) -> None:
        """Start training from scratch in a worker process (only once per session)."""
        with self._lock:
            if self._snapshot.status != IDLE:
                raise ExplorerError("This run has already been started; use resume or a new run.")
            self._launch()

    def resume(self) -> None:
        """Continue a stopped run exactly where it stopped (in a new worker process)."""
        with self._lock:
            if self._snapshot.status != STOPPED:
                raise ExplorerError("Only a stopped run can be resumed.")
            self._launch()

    def stop(self) -> None:
        """Ask the worker to stop after the current jitted call; returns at once."""
        with self._lock:
            if self._snapshot.status == RUNNING:
                self._snapshot = replace(self._snapshot, status=STOPPING)
                if self._worker is not None:
                    self._worker.request_stop()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the run ends and its worker has exited (or ``timeout`` seconds);
        True if it has ended."""
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

    @property
    def worker_pid(self) -> int | None:
        """The process id of the worker while it runs, else None."""
        worker = self._worker
        return worker.pid if worker is not None and worker.alive() else None

    def evaluate_test(self) -> Evaluation:
        """Test-split loss, accuracy and predictions of the best weights.

        Raises:
            ExplorerError: no epoch has finished yet.
        """
        variables = self.best_variables
        if variables is None:
            raise ExplorerError("No epoch has finished yet, so there is no model to test.")
        return self._trainer.evaluate(variables, self._trainer.put(self.dataset.test))

    # --- the worker, seen from the server ----------------------------------------------

    def _launch(self) -> None:
        """Start a worker for the rest of the run (called with the lock held)."""
        position = self._position
        job = {
            "spec": self.spec,
            "config": self.config,
            "checkpoint_dir": str(self.checkpoint_dir) if self.checkpoint_dir else None,
            "metadata": dataset_metadata(self.dataset) if self.checkpoint_dir else None,
            "steps_per_call": self._trainer.steps_per_call,
            "device_ids": self._device_ids,
            "epoch": position.epoch,
            "call": position.call,
            "best_accuracy": position.best_accuracy,
            "history": [dataclasses.astuple(record) for record in position.history],
            "state": self._state,
        }
        splits = (self.dataset.train, self.dataset.validation)
        arrays = [array for split in splits for array in (split.images, split.labels)]
        self._started = time.perf_counter()
        try:
            worker = _Worker()
        except OSError as error:
            self._snapshot = replace(
                self._snapshot,
                status=FAILED,
                error=f"The training process could not be started: {error}",
            )
            return
        self._worker = worker
        self._snapshot = replace(self._snapshot, status=RUNNING, error=None)
        weakref.finalize(self, worker.kill)  # a session dropped mid-run ends its worker
        self._thread = threading.Thread(
            target=_receive,
            args=(weakref.ref(self), worker, job, arrays),
            name="cnn-explorer-training",
            daemon=True,
        )
        self._thread.start()

    def _apply(self, message: tuple) -> None:
        """Take in one progress message of the worker (called by the receiving thread)."""
        kind, *fields = message
        position = self._position
        if kind == "filters":
            (kernels,) = fields
            kernels.setflags(write=False)
            position.filters.append(kernels)
            with self._lock:
                self._snapshot = replace(self._snapshot, filters=tuple(position.filters))
        elif kind == "best":
            (variables,) = fields
            with self._lock:
                self._best_variables = variables
        elif kind in ("step", "epoch"):
            epoch, call, step, images_per_second, eta, loss, record, params = fields
            if kind == "epoch":
                record = EpochRecord(*record)
                position.epoch, position.call = epoch, 0
                position.history.append(record)
                if record.val_accuracy > position.best_accuracy:
                    position.best_accuracy = record.val_accuracy
            else:
                position.epoch, position.call = epoch - 1, call
                done = epoch - 1 + step / self._trainer.steps_per_epoch
                position.loss_points.append((done, loss))
            best = position.best_accuracy
            with self._lock:
                self._snapshot = replace(
                    self._snapshot,
                    epoch=epoch,
                    step=step,
                    images_per_second=images_per_second,
                    eta_seconds=eta,
                    elapsed_seconds=self._elapsed_before + time.perf_counter() - self._started,
                    history=tuple(position.history),
                    loss_points=tuple(position.loss_points),
                    best_val_accuracy=best if best >= 0 else None,
                    params=self._snapshot.params or params,
                )

    def _end(self, ending: tuple | None, exit_code: int | None) -> None:
        """The worker has exited: take its last word (or say that it died)."""
        if ending is None:
            status, error, state = FAILED, _died_message(exit_code), None
        else:
            _, status, error, state = ending
        if status == STOPPED:
            self._state = state
        with self._lock:
            self._elapsed_before += time.perf_counter() - self._started
            eta = 0.0 if status == FINISHED else math.nan
            self._snapshot = replace(
                self._snapshot,
                status=status,
                error=error,
                eta_seconds=eta,
                elapsed_seconds=self._elapsed_before,
            )


def _died_message(exit_code: int | None) -> str:
    if exit_code is not None and exit_code < 0:
        try:
            how = f"was killed by signal {signal.Signals(-exit_code).name}"
        except ValueError:
            how = f"was killed by signal {-exit_code}"
    else:
        how = f"ended with exit code {exit_code}"
    return (
        f"The training process {how} before the run ended (for example it ran out of "
        "memory, or crashed). The weights of the best finished epoch, if any, are kept."
    )


def _receive(session_ref: weakref.ref, worker: _Worker, job: dict, arrays: list) -> None:
    """The server's thread of one worker: send it the run, apply its messages, reap it."""
    ending = None
    try:
        worker.send_job(job, arrays)
        del job, arrays  # the images stay the dataset's; the state stays the session's
        while ending is None:
            message = worker.receive()
            session = session_ref()
            if session is None:  # nobody is watching this run any more
                break
            if message[0] == "end":
                ending = message
            else:
                session._apply(message)
            del session
    except (EOFError, OSError, pickle.UnpicklingError):
        pass  # the worker has gone: its exit code tells how
    exit_code = worker.reap(WORKER_EXIT_GRACE_S if ending is not None else 1.0)
    session = session_ref()
    if session is not None:
        session._end(ending, exit_code)


# --- the pipes ----------------------------------------------------------------------------

_SAFE_GLOBALS = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy._core.numeric", "_frombuffer"),
}


class _ArraysOnlyUnpickler(pickle.Unpickler):
    """Builds numbers, strings, tuples, lists, dicts and NumPy arrays; refuses any other
    class or function (what the worker sends needs nothing else)."""

    def find_class(self, module: str, name: str):
        if (module, name) in _SAFE_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refused {module}.{name} from the training process")


class _Worker:
    """A worker process and the server's ends of its three pipes: the run (server →
    worker, once), stop requests (server → worker; closing it ends the worker) and
    progress (worker → server)."""

    def __init__(self):
        job_read, job_write = os.pipe()
        stop_read, stop_write = os.pipe()
        result_read, result_write = os.pipe()
        theirs = (job_read, stop_read, result_write)
        env = dict(os.environ)
        env.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")  # share an accelerator
        try:
            self._process = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    _WORKER_BOOT,
                    str(_ROOT),
                    *map(str, theirs),
                    str(WORKER_NICENESS),
                ],
                pass_fds=theirs,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=str(_ROOT),
            )
        except BaseException:
            for fd in (*theirs, job_write, stop_write, result_read):
                os.close(fd)
            raise
        finally:
            for fd in theirs:
                with _ignored:
                    os.close(fd)
        self.pid = self._process.pid
        self._job = Connection(job_write, readable=False)
        self._stop = stop_write
        self._results = Connection(result_read, writable=False)
        self._closed = False

    def send_job(self, job: dict, arrays: list[np.ndarray]) -> None:
        """The run's settings (pickled: the worker trusts the server), then each array's
        raw bytes (no copy of the images in the server)."""
        header = [(array.dtype.str, array.shape) for array in arrays]
        self._job.send_bytes(pickle.dumps((job, header), protocol=5))
        for array in arrays:
            self._job.send_bytes(memoryview(np.ascontiguousarray(array)).cast("B"))
        self._job.close()

    def receive(self) -> tuple:
        """The worker's next message (EOFError once it has exited)."""
        return _ArraysOnlyUnpickler(io.BytesIO(self._results.recv_bytes())).load()

    def request_stop(self) -> None:
        with _ignored:
            os.write(self._stop, b"s")

    def alive(self) -> bool:
        return self._process.poll() is None

    def reap(self, grace: float) -> int | None:
        """Wait up to ``grace`` seconds for the worker to exit, else kill it; close the
        pipes; the exit code (negative: the signal that ended it)."""
        try:
            code = self._process.wait(grace)
        except subprocess.TimeoutExpired:
            self._process.kill()
            code = self._process.wait()
        self._close()
        return code

    def kill(self) -> None:
        """End the worker now (idempotent)."""
        if self._process.poll() is None:
            with _ignored:
                self._process.kill()
                self._process.wait(5)
        self._close()

    def _close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with _ignored:
            self._job.close()
        with _ignored:
            self._results.close()
        with _ignored:
            os.close(self._stop)


# --- the worker process -------------------------------------------------------------------


def _worker_main(job_fd: int, stop_fd: int, result_fd: int) -> None:
    """Entry point of the worker process (already at its lower priority)."""
    results = Connection(result_fd, readable=False)
    stop = threading.Event()

    def watch_stop() -> None:
        while True:
            try:
                data = os.read(stop_fd, 64)
            except OSError:
                data = b""
            if not data:  # the server has closed its end: it has gone, so must we
                os._exit(0)
            stop.set()

    threading.Thread(target=watch_stop, name="stop-requests", daemon=True).start()
    with Connection(job_fd, writable=False) as source:
        job, header = pickle.loads(source.recv_bytes())  # from the server, trusted
        arrays = [
            np.frombuffer(source.recv_bytes(), np.dtype(dtype)).reshape(shape)
            for dtype, shape in header
        ]

    def send(*message) -> None:
        results.send_bytes(pickle.dumps(message, protocol=5))

    try:
        status, error, state = _train_in_worker(job, arrays, stop, send)
    except TrainingDiverged as failure:
        status, error, state = FAILED, str(failure), None
    except ExplorerError as failure:
        status, error, state = FAILED, str(failure), None
    except Exception as failure:  # shown to the user rather than lost in the worker
        status, error, state = FAILED, f"Training failed unexpectedly: {failure!r}", None
    send("end", status, error, state)
    results.close()


def _train_in_worker(job: dict, arrays: list, stop: threading.Event, send) -> tuple:
    """Train from the job's position; (status, error, state leaves if stopped)."""
    import jax

    devices = None
    if job["device_ids"] is not None:
        devices = [d for d in jax.devices() if d.id in set(job["device_ids"])]
    spec, config = job["spec"], job["config"]
    train_images, train_labels, val_images, val_labels = arrays
    trainer = Trainer(spec, config, len(train_labels), devices, job["steps_per_call"])
    train = trainer.put(Split(train_images, train_labels))
    validation = trainer.put(Split(val_images, val_labels))
    history = [EpochRecord(*record) for record in job["history"]]
    fresh = trainer.init_state()
    if job["state"] is None:
        state = fresh
        kernels = first_layer_copy(state.params)
        if kernels is not None:
            send("filters", kernels)
    else:
        structure = jax.tree_util.tree_structure(fresh)
        state = jax.device_put(
            jax.tree_util.tree_unflatten(structure, job["state"]), trainer.replicated
        )
        del fresh
    if stop.is_set():
        return STOPPED, None, _host_leaves(state)
    params = int(count_params(state.params))
    updates = fit(
        trainer, train, validation, state, job["epoch"], job["call"], job["best_accuracy"]
    )
    for update in updates:
        state = update.state
        if update.kind == "epoch":
            history.append(update.record)
            kernels = first_layer_copy(update.state.params)
            if kernels is not None:
                send("filters", kernels)
            if update.is_best:
                variables = state_variables(update.state)
                send("best", variables)
                if job["checkpoint_dir"] is not None:
                    save_checkpoint(
                        job["checkpoint_dir"],
                        variables,
                        spec,
                        job["metadata"],
                        run_metrics(config, history, variables),
                    )
            record = dataclasses.astuple(update.record)
        else:
            record = None
        send(
            update.kind,
            update.epoch,
            update.call,
            update.step,
            float(update.images_per_second),
            float(update.eta_seconds),
            float(update.loss),
            record,
            params,
        )
        if stop.is_set():
            return STOPPED, None, _host_leaves(state)
    return FINISHED, None, None


def _host_leaves(state) -> list[np.ndarray]:
    """The training state's leaves as host arrays (rebuilt on resume from a fresh state's
    structure: same spec, config, hence same tree)."""
    import jax

    return [np.asarray(leaf) for leaf in jax.device_get(jax.tree_util.tree_leaves(state))]

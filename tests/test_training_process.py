"""The Train page's runs train in a separate, lower-priority worker process: interactive
work keeps the CPU, a crash is isolated and reported, and no worker outlives its run."""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import psutil
import pytest

from explorer.data.registry import load_shapes
from explorer.model import ConvBlock, ModelSpec
from explorer.train import TrainConfig
from explorer.training_session import FAILED, FINISHED, STOPPED, TrainingSession

ROOT = Path(__file__).resolve().parents[1]
SMALL_SPEC = ModelSpec((28, 28, 1), 6, (ConvBlock(8, pool_size=4),), name="small")
LONG = TrainConfig(batch_size=32, epochs=50, learning_rate=1e-2)


@pytest.fixture(scope="module")
def shapes():
    return load_shapes(seed=0, count=600)


def wait_for(condition, timeout: float = 120.0, what: str = "the condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def training_started(session: TrainingSession) -> None:
    """Wait until the worker has sent its first loss point (JAX imported, steps compiled)."""
    wait_for(lambda: session.snapshot().loss_points, what="the first training call")


def gone(pid: int) -> bool:
    """True when no process ``pid`` runs (an unreaped zombie counts as gone)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def thread_nice_values(pid: int) -> list[int]:
    """The nice value of every thread of ``pid`` (Linux keeps one per thread)."""
    values = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        values.append(int(fields[16]))  # field 19 of stat; fields[0] is field 3
    return values


def test_the_worker_and_all_its_threads_run_at_a_lower_priority(shapes):
    session = TrainingSession(shapes, SMALL_SPEC, LONG, steps_per_call=1)
    session.start()
    try:
        training_started(session)
        pid = session.worker_pid
        assert pid is not None and pid != os.getpid()
        server = os.getpriority(os.PRIO_PROCESS, 0)
        nice = thread_nice_values(pid)
        assert len(nice) > 1, "XLA's compute threads run in the worker"
        assert min(nice) >= min(server + 10, 19), (server, nice)
        assert psutil.Process(pid).ppid() == os.getpid()
        if hasattr(os, "SCHED_IDLE"):
            assert os.sched_getscheduler(pid) == os.SCHED_IDLE, "only idle CPU time"
    finally:
        session.stop()
        assert session.wait(60)
    assert session.snapshot().status == STOPPED
    assert session.worker_pid is None and gone(pid), "a stopped run leaves no process"


def test_a_finished_run_leaves_no_process(shapes, tmp_path):
    session = TrainingSession(shapes, SMALL_SPEC, TrainConfig(batch_size=32, epochs=1))
    session.start()
    wait_for(lambda: session.worker_pid is not None, what="the worker")
    pid = session.worker_pid
    assert session.wait(120)
    assert session.snapshot().status == FINISHED, session.snapshot().error
    assert session.worker_pid is None and gone(pid)
    assert pid not in [child.pid for child in psutil.Process().children(recursive=True)]


def test_a_crash_in_the_worker_is_a_readable_error_not_a_hang(shapes):
    session = TrainingSession(shapes, SMALL_SPEC, LONG, steps_per_call=1)
    session.start()
    training_started(session)
    os.kill(session.worker_pid, signal.SIGKILL)  # e.g. the kernel's out-of-memory killer
    assert session.wait(30), "the run ends when its worker dies"
    snapshot = session.snapshot()
    assert snapshot.status == FAILED and not snapshot.active
    assert "training process was killed by signal SIGKILL" in snapshot.error
    assert snapshot.loss_points, "the progress so far is still shown"
    with pytest.raises(Exception, match="Only a stopped run"):
        session.resume()


def test_stop_then_resume_continues_exactly_as_an_uninterrupted_run(shapes):
    config = TrainConfig(batch_size=32, epochs=2, learning_rate=1e-2, seed=3)
    whole = TrainingSession(shapes, SMALL_SPEC, config, steps_per_call=2)
    whole.start()
    assert whole.wait(120)
    split = TrainingSession(shapes, SMALL_SPEC, config, steps_per_call=2)
    split.start()
    wait_for(lambda: len(split.snapshot().loss_points) >= 2, what="two calls")
    split.stop()
    assert split.wait(60) and split.snapshot().status == STOPPED
    stopped_at = split.snapshot().fraction_done
    assert 0 < stopped_at < 1
    split.resume()
    assert split.wait(120)
    one, two = whole.snapshot(), split.snapshot()
    assert one.status == two.status == FINISHED, (one.error, two.error)
    assert [(r.val_loss, r.val_accuracy) for r in one.history] == [
        (r.val_loss, r.val_accuracy) for r in two.history
    ]
    assert len(two.filters) == len(one.filters) == 3
    for a, b in zip(one.filters, two.filters, strict=True):
        np.testing.assert_array_equal(a, b)
    for name in ("kernel", "bias"):
        np.testing.assert_array_equal(
            whole.best_variables["params"]["conv1"][name],
            split.best_variables["params"]["conv1"][name],
        )
    assert len(two.loss_points) == len(one.loss_points)


def test_a_session_dropped_mid_run_ends_its_worker(shapes):
    session = TrainingSession(shapes, SMALL_SPEC, LONG, steps_per_call=1)
    session.start()
    training_started(session)
    pid = session.worker_pid
    del session
    gc.collect()
    wait_for(lambda: gone(pid), timeout=15, what="the worker to end")


KILLED_SERVER = textwrap.dedent(
    """
    import os, signal, time
    from explorer.data.registry import load_shapes
    from explorer.model import ConvBlock, ModelSpec
    from explorer.train import TrainConfig
    from explorer.training_session import TrainingSession

    spec = ModelSpec((28, 28, 1), 6, (ConvBlock(8, pool_size=4),), name="small")
    config = TrainConfig(batch_size=32, epochs=50)
    session = TrainingSession(load_shapes(seed=0, count=600), spec, config, steps_per_call=1)
    session.start()
    while not session.snapshot().loss_points:
        time.sleep(0.05)
    print(session.worker_pid, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
    """
)


def test_a_worker_ends_when_the_server_is_killed():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    server = subprocess.run(
        [sys.executable, "-c", KILLED_SERVER],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert server.returncode == -signal.SIGKILL, server.stderr[-2000:]
    pid = int(server.stdout.split()[-1])
    wait_for(lambda: gone(pid), timeout=15, what="the orphaned worker to end")

"""Run folders after saves that were killed, and checkpoint paths that are not plain files
(issue 13, parts 3 and 4)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from explorer import checkpoints, files
from explorer.errors import ExplorerError
from explorer.model import init_variables, preset

ROOT = Path(__file__).resolve().parents[1]
SPEC = preset("mlp", (28, 28, 1), 10)
DATASET = {"name": "mnist-5k", "class_names": list("0123456789"), "preprocessing": "digit"}


def save(folder: Path) -> Path:
    return checkpoints.save_checkpoint(folder, init_variables(SPEC), SPEC, DATASET, {})


def orphan(folder: Path, name: str = ".checkpoint.msgpack.k1ll3d.tmp", age: float = 0.0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(b"half a checkpoint")
    then = time.time() - age
    os.utime(path, (then, then))
    return path


OLD = files.ORPHAN_AGE_SECONDS + 60


def test_listing_removes_old_orphans_in_every_run_folder(tmp_path):
    save(tmp_path / "good")
    beside_good = orphan(tmp_path / "good", age=OLD)
    only_orphan = orphan(tmp_path / "first-save-killed", age=OLD)
    young = orphan(tmp_path / "saving-now")
    summaries = checkpoints.list_checkpoints(tmp_path)
    assert [summary.name for summary in summaries] == ["good"]
    assert not beside_good.exists() and not only_orphan.exists()
    assert young.exists()  # may belong to a save in progress in another session


@pytest.mark.parametrize("action", ["load", "save", "delete", "import"])
def test_loading_saving_deleting_and_importing_remove_old_orphans(tmp_path, action):
    folder = tmp_path / "run"
    save(folder)
    stale = orphan(folder, ".metrics.json.x1.tmp", age=OLD)
    if action == "load":
        checkpoints.load_checkpoint(folder)
    elif action == "save":
        save(folder)
    elif action == "delete":
        checkpoints.delete_checkpoint(tmp_path, "run")
        assert not folder.exists()  # the orphan no longer keeps the folder alive
    else:
        data = (folder / checkpoints.CHECKPOINT_FILE).read_bytes()
        (folder / checkpoints.CHECKPOINT_FILE).unlink()  # an import never replaces a run
        checkpoints.import_checkpoint(tmp_path, "run", data)
    assert not stale.exists()


def test_a_save_killed_mid_write_leaves_an_orphan_that_the_next_listing_removes(tmp_path):
    """SIGKILL a process while it is writing a checkpoint (its write blocks on a pipe)."""
    script = textwrap.dedent(
        """
        import os, sys
        from explorer import checkpoints
        real_write = os.fdopen

        def stalled(fd, *args, **kwargs):
            file = real_write(fd, *args, **kwargs)
            file.write(b"first bytes")
            file.flush()
            print("writing", flush=True)
            sys.stdin.read()  # wait here until killed
            return file

        os.fdopen = stalled
        checkpoints.write_atomically(checkpoints.Path(sys.argv[1]), b"x" * 100)
        """
    )
    target = tmp_path / "run" / checkpoints.CHECKPOINT_FILE
    process = subprocess.Popen(
        [sys.executable, "-c", script, str(target)],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout.readline().strip() == "writing"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    left = list(target.parent.glob(checkpoints.TEMP_PATTERN))
    assert len(left) == 1 and not target.exists()
    old = time.time() - OLD
    os.utime(left[0], (old, old))
    assert checkpoints.list_checkpoints(tmp_path) == []
    assert list(target.parent.iterdir()) == []


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_named_like_a_checkpoint_is_refused_without_blocking(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    os.mkfifo(folder / checkpoints.CHECKPOINT_FILE)
    started = time.perf_counter()
    with pytest.raises(ExplorerError, match="not a file"):
        checkpoints.load_checkpoint(folder)
    (summary,) = checkpoints.list_checkpoints(tmp_path)
    assert summary.metadata is None and "not a file" in summary.error
    assert time.perf_counter() - started < 5


def test_a_missing_checkpoint_is_named_without_its_folders(tmp_path):
    with pytest.raises(ExplorerError, match="There is no checkpoint in “nothing”") as refused:
        checkpoints.load_checkpoint(tmp_path / "nothing")
    assert str(tmp_path) not in str(refused.value)

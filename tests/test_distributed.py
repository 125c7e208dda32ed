"""``python -m explorer.train`` as two processes (``jax.distributed`` on localhost, one CPU
device each) trains the same weights as one process on the same global batches, and only
process 0 writes the run."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest
from PIL import Image

from explorer import train
from explorer.checkpoints import load_checkpoint
from explorer.errors import ExplorerError

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def write_stripes(folder: Path, per_class: int = 40) -> Path:
    """Two classes of 16×16 grey pictures, "rows" and "columns" of random stripes."""
    rng = np.random.default_rng(0)
    for name, axis in (("rows", 0), ("columns", 1)):
        (folder / name).mkdir(parents=True)
        for index in range(per_class):
            stripes = rng.integers(0, 256, 16, dtype=np.uint8)
            picture = np.repeat(stripes[:, None] if axis == 0 else stripes[None], 16, 1 - axis)
            Image.fromarray(picture).save(folder / name / f"{index}.png")
    return folder


def test_two_processes_train_the_weights_of_one(tmp_path):
    data = write_stripes(tmp_path / "stripes")
    options = ["--dataset", str(data), "--arch", "tiny", "--batch-size", "16", "--epochs", "2"]
    options += ["--quiet"]
    port = free_port()
    env = dict(os.environ, JAX_PLATFORMS="cpu", JAX_COORDINATOR_BIND_ADDRESS=f"127.0.0.1:{port}")
    env.pop("XLA_FLAGS", None)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "explorer.train", *options, "--out", str(tmp_path / f"run{i}")]
            + ["--coordinator", f"127.0.0.1:{port}", "--num-processes", "2"]
            + ["--process-id", str(i)],
            env=env,
            cwd=ROOT,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    try:
        single_status = train.main([*options, "--out", str(tmp_path / "single")])
        errors = [process.communicate(timeout=180)[1] for process in processes]
    finally:
        for process in processes:
            process.kill()
    assert [process.returncode for process in processes] == [single_status] * 2, errors
    assert "cpu: 2 × cpu in 2 processes" in errors[0]
    assert not (tmp_path / "run1").exists(), "process 1 writes nothing"

    together, alone = load_checkpoint(tmp_path / "run0"), load_checkpoint(tmp_path / "single")
    leaves = jax.tree_util.tree_leaves
    for a, b in zip(leaves(together.variables), leaves(alone.variables), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    metrics = [
        json.loads((tmp_path / run / "metrics.json").read_text()) for run in ("run0", "single")
    ]
    assert metrics[0]["device"] == "cpu: 2 × cpu in 2 processes"
    curves = [[epoch["train_loss"] for epoch in run["epochs"]] for run in metrics]
    np.testing.assert_allclose(curves[0], curves[1], rtol=1e-4)


def test_a_process_number_outside_the_count_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as stopped:
        train.parse_args(["--out", "unused", "--num-processes", "2", "--process-id", "2"])
    assert stopped.value.code == 2
    assert "--process-id must be from 0 to 1" in capsys.readouterr().err


def test_any_process_flag_asks_for_a_distributed_run():
    assert not train.parse_args(["--out", "unused"]).distributed
    assert train.parse_args(["--out", "unused", "--coordinator", "node0:1234"]).distributed
    assert train.parse_args(["--out", "unused", "--distributed"]).distributed


def test_joining_without_a_coordinator_says_what_to_give(monkeypatch):
    monkeypatch.delenv("JAX_COORDINATOR_ADDRESS", raising=False)
    with pytest.raises(ExplorerError, match="Could not join .* Give --coordinator"):
        train.join_processes(None, 2, 0)

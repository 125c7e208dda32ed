"""``python -m explorer.train`` keeps its models and says plainly what happened (issue 13).

Part 4: the best checkpoint so far is saved after every epoch and survives Ctrl-C; ``--out``
is checked before any work; a run already in ``--out`` is replaced only with
``--overwrite``. Part 5: every number is validated with argparse's own error, a run that
did not learn says so (exit status 3), a divergence message promises only what is kept,
and a dataset of five images per class trains instead of failing after training.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from explorer import train
from explorer.checkpoints import CHECKPOINT_FILE, load_checkpoint
from explorer.errors import ExplorerError

ROOT = Path(__file__).resolve().parents[1]
QUICK = ["--dataset", "shapes", "--arch", "mlp", "--batch-size", "64", "--quiet"]


def error_lines(text: str) -> list[str]:
    return [line for line in text.strip().splitlines() if line]


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--seed", "-1"], "seed must be a whole number from 0 to 4294967295"),
        (["--seed", str(2**70)], "seed must be a whole number from 0 to 4294967295"),
        (["--seed", "2**70"], "invalid int value"),
        (["--lr", "nan"], "learning rate must be a positive number; nan is not"),
        (["--lr", "inf"], "learning rate must be a positive number; inf is not"),
        (["--lr", "1e400"], "learning rate must be a positive number; inf is not"),
        (["--lr", "0"], "learning rate must be a positive number"),
        (["--lr", "-0.1"], "learning rate must be a positive number"),
        (["--weight-decay", "nan"], "Weight decay must be a number ≥ 0 (0 turns it off); nan"),
        (["--weight-decay", "-1"], "Weight decay must be a number ≥ 0"),
        (["--weight-decay", "inf"], "Weight decay must be a number ≥ 0"),
        (["--label-smoothing", "1"], "Label smoothing must be in"),
        (["--label-smoothing", "nan"], "Label smoothing must be in"),
        (["--epochs", "0"], "Epochs and batch size must be at least 1"),
        (["--batch-size", "-5"], "Epochs and batch size must be at least 1"),
    ],
)
def test_every_number_is_checked_with_an_argparse_error(capsys, flags, message):
    with pytest.raises(SystemExit) as stopped:
        train.parse_args(["--out", "unused", *flags])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert message in err
    assert error_lines(err)[-1].startswith("python -m explorer.train: error: ")
    assert "Traceback" not in err


@pytest.mark.parametrize("out", ["", " ", "\t\n"])
def test_an_empty_out_is_an_argparse_error(tmp_path, capsys, monkeypatch, out):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as stopped:
        train.main(["--out", out, *QUICK])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert error_lines(err)[-1] == (
        "python -m explorer.train: error: --out is empty: name a folder for the run (it is "
        "created if missing)."
    )
    assert list(tmp_path.iterdir()) == []


def test_weight_decay_nan_is_not_blamed_on_the_learning_rate(capsys):
    with pytest.raises(SystemExit):
        train.parse_args(["--out", "unused", "--weight-decay", "nan"])
    assert "learning rate" not in capsys.readouterr().err.lower()


@pytest.fixture
def no_dataset_loading(monkeypatch):
    """Fail the test if the CLI gets as far as loading a dataset."""

    def refuse(*args, **kwargs):
        raise AssertionError("the dataset was loaded before --out was checked")

    monkeypatch.setattr(train, "load_dataset", refuse)


def test_an_out_that_is_a_file_is_refused_before_any_work(tmp_path, capsys, no_dataset_loading):
    file = tmp_path / "model.txt"
    file.write_text("not a folder")
    assert train.main(["--out", str(file)]) == 1
    err = error_lines(capsys.readouterr().err)
    assert len(err) == 1 and err[0].startswith("error: --out") and "is a file" in err[0]
    assert file.read_text() == "not a folder"


def test_an_out_inside_a_file_is_refused_before_any_work(tmp_path, capsys, no_dataset_loading):
    file = tmp_path / "model.txt"
    file.write_text("not a folder")
    assert train.main(["--out", str(file / "run")]) == 1
    err = error_lines(capsys.readouterr().err)
    assert len(err) == 1 and err[0].startswith("error: Cannot save the run in")


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write to a read-only folder")
def test_an_unwritable_out_is_refused_before_any_work(tmp_path, capsys, no_dataset_loading):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        assert train.main(["--out", str(locked / "run")]) == 1
    finally:
        locked.chmod(0o700)
    assert "Cannot save the run in" in capsys.readouterr().err


def test_an_existing_run_is_kept_unless_overwrite(tmp_path, capsys, monkeypatch):
    out = tmp_path / "run"
    out.mkdir()
    (out / CHECKPOINT_FILE).write_bytes(b"a 90.6% model")
    (out / "metrics.json").write_text('{"test_accuracy": 0.906}')
    (out / "notes.txt").write_text("mine")
    with monkeypatch.context() as patch:
        patch.setattr(train, "load_dataset", lambda *a: pytest.fail("dataset loaded"))
        assert train.main(["--out", str(out)]) == 1
    err = error_lines(capsys.readouterr().err)
    assert len(err) == 1 and "already holds a run" in err[0] and "--overwrite" in err[0]
    assert (out / CHECKPOINT_FILE).read_bytes() == b"a 90.6% model"

    assert train.main([*QUICK, "--epochs", "1", "--out", str(out), "--overwrite"]) in (0, 3)
    assert load_checkpoint(out).class_names[0] == "horizontal line"
    assert json.loads((out / "metrics.json").read_text())["dataset"] == "shapes"
    assert (out / "notes.txt").read_text() == "mine"
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def interrupt_after(epochs_done: int, monkeypatch, checkpoint: Path) -> list[bool]:
    """Make ``fit`` raise KeyboardInterrupt when the CLI asks for the next update after
    ``epochs_done`` finished epochs; the list returned records whether ``checkpoint`` was
    on disk at that moment."""
    seen: list[bool] = []
    real_fit = train.fit

    def fit(*args, **kwargs):
        finished = 0
        for update in real_fit(*args, **kwargs):
            if finished == epochs_done:
                seen.append(checkpoint.is_file())
                raise KeyboardInterrupt
            yield update
            finished += update.kind == "epoch"

    monkeypatch.setattr(train, "fit", fit)
    return seen


def test_ctrl_c_keeps_the_checkpoint_saved_after_each_epoch(tmp_path, capsys, monkeypatch):
    out = tmp_path / "run"
    seen = interrupt_after(2, monkeypatch, out / CHECKPOINT_FILE)
    assert train.main([*QUICK, "--epochs", "5", "--out", str(out)]) == 130
    assert seen == [True]  # saved while training went on, not at the end
    err = error_lines(capsys.readouterr().err)
    assert len(err) == 2 and err[-1].startswith("interrupted: Ctrl-C after 2 finished epoch(s)")
    assert f"is kept in {out}." in err[-1]
    history = load_checkpoint(out).metadata["metrics"]["epochs"]
    best = max(history, key=lambda record: record["val_accuracy"])
    assert len(history) in (1, 2) and f"(epoch {best['epoch']}, " in err[-1]
    assert not (out / "metrics.json").exists()


def test_ctrl_c_before_the_first_epoch_says_nothing_was_saved(tmp_path, capsys, monkeypatch):
    out = tmp_path / "run"
    assert interrupt_after(0, monkeypatch, out / CHECKPOINT_FILE) == []
    assert train.main([*QUICK, "--epochs", "5", "--out", str(out)]) == 130
    err = error_lines(capsys.readouterr().err)
    assert err[-1] == (
        "interrupted: Ctrl-C after 0 finished epoch(s): no epoch had finished, so nothing "
        "was saved."
    )
    assert not (out / CHECKPOINT_FILE).exists()


def test_a_real_sigint_stops_cleanly_and_keeps_the_best_checkpoint(tmp_path):
    out = tmp_path / "run"
    env = dict(os.environ, PYTHONPATH=str(ROOT), JAX_PLATFORMS="cpu")
    command = [sys.executable, "-m", "explorer.train", *QUICK, "--epochs", "500", "--out", str(out)]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while not (out / CHECKPOINT_FILE).exists() and process.poll() is None:
        assert time.monotonic() < deadline, "no checkpoint after the first epoch"
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err[-3000:]
    assert "Traceback" not in err
    assert error_lines(err)[-1].startswith("interrupted: Ctrl-C after")
    assert load_checkpoint(out).metadata["metrics"]["epochs"]


def test_the_loss_is_chosen_on_the_command_line_and_recorded_in_the_checkpoint(tmp_path):
    out = tmp_path / "run"
    assert train.main([*QUICK, "--epochs", "1", "--loss", "mse", "--out", str(out)]) in (0, 3)
    checkpoint = load_checkpoint(out)
    assert checkpoint.loss == "mse"
    assert checkpoint.metadata["metrics"]["config"]["loss"] == "mse"
    assert 0 <= json.loads((out / "metrics.json").read_text())["test_loss"] <= 1  # ½Σ(y − p)²
    with pytest.raises(SystemExit):
        train.parse_args(["--out", "unused", "--loss", "hinge"])


def test_a_run_that_did_not_learn_says_so_and_exits_3(tmp_path, capsys):
    out = tmp_path / "run"
    status = train.main([*QUICK, "--epochs", "2", "--lr", "1000", "--out", str(out)])
    err = error_lines(capsys.readouterr().err)
    assert status == 3
    assert err[-1].startswith("error: The run did not learn: its best validation accuracy, ")
    assert "The learning rate (1000) is at the high end for adam" in err[-1]
    assert err[-1].endswith(f"Saved anyway to {out}.")
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["learned"] is False
    assert metrics["chance_accuracy"] == pytest.approx(1 / 6)
    assert load_checkpoint(out).metadata["metrics"]["learned"] is False


def test_an_sgd_divergence_in_the_first_epoch_does_not_promise_weights(tmp_path, capsys):
    out = tmp_path / "run"
    flags = ["--optimizer", "sgd", "--lr", "1e30", "--schedule", "constant", "--epochs", "2"]
    assert train.main([*QUICK, *flags, "--out", str(out)]) == 1
    err = error_lines(capsys.readouterr().err)
    assert err[-1].startswith("error: Training stopped in epoch 1")
    assert "No epoch had finished, so there are no trained weights to keep." in err[-1]
    assert "last good weights were kept" not in err[-1]
    assert not (out / CHECKPOINT_FILE).exists()


def five_per_class_zip(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, value in (("dark", 20), ("bright", 230)):
            for index in range(5):
                buffer = io.BytesIO()
                Image.fromarray(np.full((12, 12), value, np.uint8)).save(buffer, "PNG")
                archive.writestr(f"{name}/{index}.png", buffer.getvalue())
    return path


def test_five_images_per_class_train_and_test_without_a_traceback(tmp_path, capsys):
    """Five images per class used to leave the validation and test splits empty, and the
    evaluation after training failed with JAX's TypeError "Slice size ..."."""
    data = five_per_class_zip(tmp_path / "five.zip")
    out = tmp_path / "run"
    flags = ["--dataset", str(data), "--arch", "mlp", "--batch-size", "2", "--epochs", "3"]
    status = train.main([*flags, "--lr", "0.01", "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert status in (0, 3), err
    assert "6 train / 2 val / 2 test" in err
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test_accuracy"] in (0.0, 0.5, 1.0)
    assert load_checkpoint(out).class_names == ("bright", "dark")


def test_fewer_than_three_images_in_a_class_is_a_one_line_error(tmp_path, capsys):
    path = tmp_path / "two.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for name, count in (("dark", 5), ("bright", 2)):
            for index in range(count):
                buffer = io.BytesIO()
                Image.new("L", (8, 8), 20 if name == "dark" else 230).save(buffer, "PNG")
                archive.writestr(f"{name}/{index}.png", buffer.getvalue())
    assert train.main(["--dataset", str(path), "--out", str(tmp_path / "run")]) == 1
    err = error_lines(capsys.readouterr().err)
    assert err == [
        "error: The class 'bright' has 2 image(s); every class needs at least 3: one each for "
        "training, validation and test."
    ]


def test_prepare_run_folder_leaves_a_usable_empty_folder(tmp_path):
    out = tmp_path / "a" / "b"
    train.prepare_run_folder(out, overwrite=False)
    assert out.is_dir() and list(out.iterdir()) == []
    with pytest.raises(ExplorerError, match="is a file"):
        (tmp_path / "f").write_text("x")
        train.prepare_run_folder(tmp_path / "f", overwrite=True)


def test_the_cli_defaults_are_the_train_config_defaults():
    args = train.parse_args(["--out", "unused"])
    assert train.config_from_args(args, flip_ok=True) == train.TrainConfig()

"""The starter models shipped in ``starter_models/``: valid, small, trained, reproducible,
and what Inspect opens when nobody has trained anything."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import jax
import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from explorer import checkpoints, model, robustness, runs, starter_models, train
from explorer.data.augmentation import Augmentation

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "tests" / "app_entry.py")


@pytest.mark.parametrize("starter", starter_models.STARTERS, ids=lambda s: s.name)
def test_a_shipped_starter_is_a_valid_small_trained_checkpoint(starter):
    folder = starter_models.STARTER_DIR / starter.name
    checkpoint = checkpoints.load_checkpoint(folder)
    assert checkpoint.metadata["dataset"]["name"] == starter.dataset
    assert checkpoint.spec.name == starter.arch + (f"-{starter.head}" if starter.head else "")
    assert checkpoint.spec.head == (
        starter.head or model.preset(starter.arch, (28, 28, 1), 10).head
    )
    assert checkpoints.training_augmentation(checkpoint.metadata) == Augmentation(starter.max_shift)
    assert (folder / checkpoints.CHECKPOINT_FILE).stat().st_size < 500_000, "a few hundred KB"
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["learned"] and len(metrics["epochs"]) == starter.epochs
    chance = 1 / len(checkpoint.class_names)
    assert metrics["test_accuracy"] > chance + 0.5, "well above chance"


def test_the_shift_study_pairs_each_network_with_and_without_shifts_all_else_equal():
    starters = {s.name: s for s in starter_models.STARTERS}
    rows = [[starters[name] for name in row] for row in starter_models.SHIFT_STUDY]
    assert [[s.max_shift for s in row] for row in rows] == [[0, starter_models.SHIFT]] * 3
    assert all(replace(row[0], name="") == replace(row[1], name="", max_shift=0) for row in rows), (
        "a pair differs in the shifts only"
    )
    kinds = [
        robustness.model_kind(
            checkpoints.load_checkpoint(starter_models.STARTER_DIR / row[0].name).spec
        )
        for row in rows
    ]
    assert kinds == list(robustness.NETWORK_KINDS)
    flat, pooled = rows[1][0], rows[2][0]
    assert replace(flat, name="", head=None) == replace(pooled, name=""), "only the head differs"
    assert set(starter_models.SHIFT_LESSON) <= {s.name for row in rows for s in row}


def test_the_shipped_weights_are_the_trained_ones_rounded_and_the_script_remakes_them(tmp_path):
    """Retrains the smallest one (shapes, about 20 s on 2 cores) in float32: every shipped
    weight, as loaded, is the trained one to within float16's rounding (half a step); then
    the script's own rounding of that run matches the shipped file."""
    (shapes,) = [s for s in starter_models.STARTERS if s.dataset == "shapes"]
    dataset, spec, config = starter_models.training_inputs(shapes)
    train.run_training(dataset, spec, config, tmp_path, show_progress=False)
    trained = checkpoints.load_checkpoint(tmp_path).variables
    shipped = checkpoints.load_checkpoint(starter_models.STARTER_DIR / shapes.name).variables
    for want, got in zip(jax.tree.leaves(trained), jax.tree.leaves(shipped), strict=True):
        assert got.dtype == np.float32
        half_step = np.spacing(np.abs(want).astype(np.float16)).astype(np.float32) / 2
        assert np.all(np.abs(got - want) <= half_step + starter_models.TOLERANCE)
    starter_models.ship(tmp_path, dataset)
    assert starter_models.differences(starter_models.STARTER_DIR / shapes.name, tmp_path) == []


@pytest.mark.parametrize("starter", starter_models.STARTERS, ids=lambda s: s.name)
def test_the_recorded_test_accuracy_is_that_of_the_shipped_weights(starter):
    folder = starter_models.STARTER_DIR / starter.name
    checkpoint = checkpoints.load_checkpoint(folder)
    dataset = starter_models.training_inputs(starter)[0]
    trainer = train.Trainer(checkpoint.spec, train.TrainConfig(), len(dataset.train))
    test = trainer.evaluate(checkpoint.variables, trainer.put(dataset.test))
    predictions = test.predictions
    hand_counted = float(np.mean(predictions == dataset.test.labels))
    recorded = json.loads((folder / "metrics.json").read_text())
    assert recorded["weights"] == "float16"
    assert recorded["test_accuracy"] == pytest.approx(hand_counted, abs=1e-9)
    assert checkpoint.metadata["metrics"]["test_accuracy"] == recorded["test_accuracy"]


def test_a_difference_beyond_the_tolerance_is_reported(tmp_path):
    shipped = starter_models.STARTER_DIR / "shapes-cnn"
    checkpoint = checkpoints.load_checkpoint(shipped)
    variables = checkpoint.variables
    kernel = variables["params"]["conv1"]["kernel"]
    variables["params"]["conv1"]["kernel"] = kernel + 2 * starter_models.TOLERANCE
    checkpoints.save_checkpoint(
        tmp_path, variables, checkpoint.spec, checkpoint.metadata["dataset"], {}
    )
    (line,) = starter_models.differences(shipped, tmp_path)
    assert "conv1" in line and "kernel" in line


def test_inspect_opens_on_a_starter_model_when_nothing_is_trained(tmp_path, monkeypatch):
    monkeypatch.setenv(runs.RUNS_ENV, str(tmp_path))
    monkeypatch.delenv(runs.CLASS_MODELS_ENV, raising=False)
    app = AppTest.from_file(APP, default_timeout=120).run()
    app.switch_page(str(ROOT / "pages" / "6_inspect.py")).run()
    assert not app.exception
    assert app.selectbox(key="inspect_model").value == "starter/digits-cnn"
    app.get("button_group")[0].set_value("Test-set mistakes").run()
    assert not app.exception
    assert [h.value for h in app.header] == ["Test-set mistakes"]

"""The starter models shipped in ``starter_models/``: valid, small, trained, reproducible,
and what Inspect opens when nobody has trained anything."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from explorer import checkpoints, runs, starter_models

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "tests" / "app_entry.py")


@pytest.mark.parametrize("starter", starter_models.STARTERS, ids=lambda s: s.name)
def test_a_shipped_starter_is_a_valid_small_trained_checkpoint(starter):
    folder = starter_models.STARTER_DIR / starter.name
    checkpoint = checkpoints.load_checkpoint(folder)
    assert checkpoint.metadata["dataset"]["name"] == starter.dataset
    assert checkpoint.spec.name == starter.arch
    assert (folder / checkpoints.CHECKPOINT_FILE).stat().st_size < 1_000_000
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["learned"] and len(metrics["epochs"]) == starter.epochs
    chance = 1 / len(checkpoint.class_names)
    assert metrics["test_accuracy"] > chance + 0.5, "well above chance"


def test_the_script_reproduces_a_shipped_starter(tmp_path):
    """Retrains the smallest one (shapes, about 20 s on 2 cores) and compares weights."""
    (shapes,) = [s for s in starter_models.STARTERS if s.dataset == "shapes"]
    assert starter_models.main(["--only", shapes.name, "--out", str(tmp_path)]) == 0
    shipped = starter_models.STARTER_DIR / shapes.name
    assert starter_models.differences(shipped, tmp_path / shapes.name) == []


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
    assert [h.value for h in app.header] == ["Prediction", "Test-set mistakes"]

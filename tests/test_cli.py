"""Command lines end to end: python -m explorer.train, then python -m explorer.predict."""

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from explorer.checkpoints import load_checkpoint, save_checkpoint
from explorer.data.registry import load_shapes
from explorer.errors import ExplorerError
from explorer.images import mnist_style_digit
from explorer.model import init_variables, preset
from explorer.predict import main as predict_main
from explorer.predict import prepare_image

ROOT = Path(__file__).resolve().parents[1]


def run_module(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def save_png(path: Path, array: np.ndarray) -> Path:
    Image.fromarray(array).save(path)
    return path


def test_train_then_predict_end_to_end(tmp_path):
    out = tmp_path / "runs" / "shapes"
    trained = run_module(
        "explorer.train",
        "--dataset",
        "shapes",
        "--arch",
        "lenet5",
        "--epochs",
        "2",
        "--batch-size",
        "64",
        "--lr",
        "0.01",
        "--out",
        str(out),
    )
    assert trained.returncode == 0, trained.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert 0.5 < metrics["test_accuracy"] <= 1.0  # six classes: chance is 1/6
    assert [epoch["epoch"] for epoch in metrics["epochs"]] == [1, 2]
    assert metrics["images_per_second"] > 0 and metrics["device"].startswith("cpu")
    assert load_checkpoint(out).class_names[0] == "horizontal line"

    test = load_shapes(seed=0).test
    good = [save_png(tmp_path / f"{i}.png", test.images[i, ..., 0]) for i in range(2)]
    not_image = tmp_path / "notes.png"
    not_image.write_text("this is text")
    missing = tmp_path / "missing.png"
    answered = run_module(
        "explorer.predict",
        "--checkpoint",
        str(out),
        str(good[0]),
        str(not_image),
        str(missing),
        str(good[1]),
    )
    assert answered.returncode == 1
    lines = [json.loads(line) for line in answered.stdout.splitlines()]
    assert [line["image"] for line in lines] == [str(good[0]), str(good[1])]
    for line in lines:
        assert set(line) == {"image", "predicted_class", "probabilities"}
        assert sum(line["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
        assert line["predicted_class"] == max(line["probabilities"], key=line["probabilities"].get)
    errors = answered.stderr.strip().splitlines()
    assert len(errors) == 2
    assert str(not_image) in errors[0] and str(missing) in errors[1]


def test_train_cli_reports_a_bad_dataset_in_one_line(tmp_path):
    failed = run_module("explorer.train", "--dataset", "nope", "--out", str(tmp_path / "x"))
    assert failed.returncode == 1
    assert failed.stderr.strip().startswith("error: Unknown dataset")


def dark_digit_on_white() -> np.ndarray:
    """A black stroke ("1") on a white page, off centre, larger than 28×28."""
    page = np.full((60, 40), 255, np.uint8)
    page[10:50, 8:13] = 0
    return page[..., None]


def test_digits_are_inverted_and_centred_like_mnist():
    image = dark_digit_on_white()
    prepared = prepare_image(image, (28, 28, 1), "digit")
    expected = mnist_style_digit(1.0 - image[..., 0] / 255.0)
    np.testing.assert_allclose(prepared[..., 0], expected, atol=1e-6)
    assert prepared[0, 0, 0] == 0.0 and prepared.max() > 0.9  # black background, white ink
    rows, cols = np.nonzero(prepared[..., 0] > 0.5)
    assert rows.max() - rows.min() + 1 == 20  # the longer side is scaled to 20 pixels


def test_colour_pictures_are_resized_for_colour_models():
    image = np.zeros((64, 48, 3), np.uint8)
    image[..., 0] = 255
    prepared = prepare_image(image, (32, 32, 3), "resize")
    assert prepared.shape == (32, 32, 3)
    np.testing.assert_allclose(prepared[..., 0], 1.0)
    gray = prepare_image(image, (28, 28, 1), "resize")
    np.testing.assert_allclose(gray, 0.299, atol=0.01)


def test_an_unknown_preprocessing_is_refused_instead_of_resizing():
    with pytest.raises(ExplorerError, match="Unknown preprocessing 'sharpen': use one of digit"):
        prepare_image(dark_digit_on_white(), (28, 28, 1), "sharpen")


def test_predict_main_in_process_and_a_refused_checkpoint(tmp_path, capsys):
    spec = preset("mlp", (28, 28, 1), 10)
    dataset = {"name": "mnist-5k", "class_names": list("0123456789"), "preprocessing": "digit"}
    save_checkpoint(tmp_path / "run", init_variables(spec), spec, dataset, {})
    buffer = io.BytesIO()
    Image.fromarray(dark_digit_on_white()[..., 0]).save(buffer, format="PNG")
    picture = tmp_path / "one.png"
    picture.write_bytes(buffer.getvalue())
    assert predict_main(["--checkpoint", str(tmp_path / "run"), str(picture)]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["predicted_class"] in dataset["class_names"] and "note" not in answer

    broken = tmp_path / "broken"
    broken.mkdir()
    data = (tmp_path / "run" / "checkpoint.msgpack").read_bytes()
    (broken / "checkpoint.msgpack").write_bytes(data[: len(data) // 3])
    assert predict_main(["--checkpoint", str(broken), str(picture)]) == 1
    assert "refused" in capsys.readouterr().err


@pytest.mark.parametrize("fill", [0, 255])
def test_predict_says_a_blank_one_pixel_picture_is_empty(tmp_path, capsys, fill):
    """The same sentence as the Inspect page's (predict.empty_input_note), in the JSON line
    and on stderr."""
    spec = preset("mlp", (28, 28, 1), 3)
    dataset = {"name": "shapes", "class_names": ["a", "b", "c"], "preprocessing": "resize"}
    save_checkpoint(tmp_path / "run", init_variables(spec), spec, dataset, {})
    picture = save_png(tmp_path / "dot.png", np.full((1, 1), fill, np.uint8))
    assert predict_main(["--checkpoint", str(tmp_path / "run"), str(picture)]) == 0
    captured = capsys.readouterr()
    answer = json.loads(captured.out)
    confidence = answer["probabilities"][answer["predicted_class"]]
    assert answer["note"] == (
        "The input is empty (it has a single pixel): there is nothing to recognise, so this "
        f"{confidence:.0%} for “{answer['predicted_class']}” means nothing."
    )
    assert captured.err == f"note: {picture}: {answer['note']}\n"

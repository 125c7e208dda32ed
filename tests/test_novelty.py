"""The "unlike the training images" remark: distances checked against a naive loop, and the
remark tried on real digits, drawings and photos."""

import math

import numpy as np
import pytest
from PIL import Image, ImageDraw

from explorer import novelty, predict, samples
from explorer.data import registry


@pytest.fixture(scope="module")
def mnist():
    return registry.load_dataset("mnist-5k", seed=0)


@pytest.fixture(scope="module")
def reference(mnist):
    return novelty.build_reference(mnist.train.images, mnist.validation.images)


def digit_input(picture: np.ndarray) -> np.ndarray:
    return predict.prepare_image(picture, (28, 28, 1), "digit")


def test_nearest_distances_match_a_naive_loop():
    rng = np.random.default_rng(3)
    train = rng.random((40, 12), dtype=np.float32)
    rows = rng.random((5, 12), dtype=np.float32)
    expected = [min(math.dist(row, other) for other in train) for row in rows]
    found = novelty.nearest_distances(train, (train**2).sum(axis=1), rows)
    np.testing.assert_allclose(found, expected, rtol=1e-4)


def test_the_threshold_is_the_99th_percentile_of_validation_distances(reference):
    below = np.mean(reference.validation_distances <= reference.threshold)
    assert 0.985 <= below <= 1.0
    assert len(reference.validation_distances) == 500
    assert len(reference.train_rows) == 4000


def test_colour_is_told_from_gray_stored_as_rgb():
    gray = np.repeat(np.arange(256, dtype=np.uint8).reshape(16, 16, 1), 3, axis=-1)
    assert not novelty.is_colour(gray)
    assert not novelty.is_colour(gray[..., :1])
    assert novelty.is_colour(samples.load_sample("cat (photo)"))


def test_test_digits_are_not_called_unusual(mnist, reference):
    flagged = [
        bool(novelty.unlike_training_reasons(image, image.astype(np.float32) / 255, reference))
        for image in mnist.test.images
    ]
    assert np.mean(flagged) <= 0.03


@pytest.mark.parametrize("width", [10, 16, 22])
def test_drawn_digits_are_not_called_unusual(reference, width):
    canvas = Image.new("L", (224, 224), 0)
    draw = ImageDraw.Draw(canvas)
    draw.line([(56, 45), (168, 45), (100, 190)], fill=255, width=width, joint="curve")  # a 7
    picture = np.asarray(canvas)[..., None]
    assert novelty.unlike_training_reasons(picture, digit_input(picture), reference) == []


@pytest.mark.parametrize("name", ["cat (photo)", "coffee (photo)"])
def test_colour_photos_are_called_colour(reference, name):
    picture = samples.load_sample(name)
    reasons = novelty.unlike_training_reasons(picture, digit_input(picture), reference)
    assert any("colour picture" in reason for reason in reasons)


@pytest.mark.parametrize(
    "name", ["cameraman (photo)", "gravel (texture)", "checkerboard (pattern)"]
)
def test_gray_photos_and_textures_are_far_from_every_training_digit(reference, name):
    picture = samples.load_sample(name)
    (reason,) = novelty.unlike_training_reasons(picture, digit_input(picture), reference)
    distance = float(reason.split(" is ")[1].split(" away")[0])
    assert distance > reference.threshold
    assert "99% are within" in reason


def test_without_a_reference_only_the_colour_check_runs():
    picture = samples.load_sample("cameraman (photo)")
    assert novelty.unlike_training_reasons(picture, digit_input(picture), None) == []

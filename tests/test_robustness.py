"""Transforms against hand-made cases, and accuracy under them against a direct count."""

import numpy as np
import pytest
from scipy import ndimage

from explorer import explain, model, robustness


def test_shift_moves_a_pixel_diagonally():
    images = np.zeros((2, 8, 8, 1), np.float32)
    images[:, 2, 3] = 1.0
    shifted = robustness.shift_batch(images, 3)
    assert shifted[0, 5, 6, 0] == 1.0 and shifted.sum() == 2.0


def test_rotation_by_ninety_degrees_matches_rot90():
    rng = np.random.default_rng(0)
    images = rng.random((3, 9, 9, 1)).astype(np.float32)
    rotated = robustness.rotate_batch(images, 90)
    np.testing.assert_allclose(rotated, np.rot90(images, k=1, axes=(1, 2)), atol=1e-5)


def test_zoom_of_one_is_the_identity_and_two_enlarges_about_the_centre():
    rng = np.random.default_rng(1)
    images = rng.random((2, 9, 9, 1)).astype(np.float32)
    np.testing.assert_allclose(robustness.scale_batch(images, 1.0), images, atol=1e-6)
    dot = np.zeros((1, 9, 9, 1), np.float32)
    dot[0, 4, 6] = 1.0  # two pixels right of the centre
    zoomed = robustness.scale_batch(dot, 2.0)
    assert zoomed[0, 4, 8, 0] == pytest.approx(1.0)  # now four pixels right of it


@pytest.mark.parametrize("degrees", [10, 30, 45, 90])
def test_rotation_matches_scipy(degrees):
    images = np.random.default_rng(3).random((2, 28, 20, 3)).astype(np.float32)
    expected = ndimage.rotate(images, degrees, axes=(2, 1), reshape=False, order=1)
    np.testing.assert_allclose(robustness.rotate_batch(images, degrees), expected, atol=1e-5)


@pytest.mark.parametrize("factor", [0.6, 0.9, 1.2])
def test_zoom_matches_scipy(factor):
    images = np.random.default_rng(4).random((2, 28, 20, 3)).astype(np.float32)
    centre = (np.array(images.shape[1:3]) - 1) / 2
    expected = ndimage.affine_transform(
        images,
        np.diag([1.0, 1 / factor, 1 / factor, 1.0]),
        offset=[0.0, *(centre - centre / factor), 0.0],
        order=1,
    )
    np.testing.assert_allclose(robustness.scale_batch(images, factor), expected, atol=1e-5)


def test_accuracy_under_shift_counts_correct_predictions():
    spec = model.ModelSpec((8, 8, 1), 2, name="linear")
    variables = model.init_variables(spec, seed=0)
    images = np.random.default_rng(2).random((20, 8, 8, 1)).astype(np.float32)
    labels = np.arange(20) % 2
    amounts, accuracies = robustness.accuracy_under(
        spec, variables, images, labels, "shift", [0, 2]
    )
    assert amounts == [0, 2]
    moved = robustness.shift_batch(images, 2)
    expected = (explain.probabilities(spec, variables, moved).argmax(1) == labels).mean()
    assert accuracies[1] == pytest.approx(expected)


def test_fixed_subset_is_repeatable_scaled_and_keeps_labels_with_their_images():
    images = np.zeros((50, 4, 4, 1), np.uint8)
    images[:, 0, 0, 0] = np.arange(50) * 5  # each image carries its index
    labels = np.arange(50) % 7
    subset, subset_labels = robustness.fixed_subset(images, labels, size=20)
    again, _ = robustness.fixed_subset(images, labels, size=20)
    np.testing.assert_array_equal(subset, again)
    assert subset.shape == (20, 4, 4, 1) and subset.dtype == np.float32
    rows = np.round(subset[:, 0, 0, 0] * 255 / 5).astype(int)
    assert len(set(rows)) == 20 and list(rows) == sorted(rows)
    np.testing.assert_array_equal(subset_labels, rows % 7)
    assert subset.max() <= 1.0
    whole, _ = robustness.fixed_subset(images, labels, size=1000)
    assert len(whole) == 50


def test_comparison_problem_explains_what_cannot_be_compared():
    mnist = (28, 28, 1)
    same = ["a" * 32, "a" * 32]
    assert robustness.comparison_problem([mnist, mnist], ["mnist", "mnist"], same) is None
    assert robustness.comparison_problem([mnist], ["mnist"], same[:1]) is None
    shapes = robustness.comparison_problem([mnist, (32, 32, 3)], ["mnist", "cifar10"], same)
    assert "28×28×1 vs 32×32×3" in shapes
    data = robustness.comparison_problem([mnist, mnist], ["mnist", "fashion-mnist"], same)
    assert "mnist vs fashion-mnist" in data
    seeds = robustness.comparison_problem([mnist, mnist], ["mnist", "mnist"], ["a" * 32, "b" * 32])
    assert "each one's test images include the other's training images" in seeds


# The measurement on MNIST-5k after 3 epochs (tiny CNN vs MLP, 0-4 px).
TINY_CNN = [0.96, 0.90, 0.59, 0.20, 0.09]
MLP = [0.92, 0.72, 0.32, 0.10, 0.05]


def test_the_summary_reads_its_claims_off_the_curves():
    summary = robustness.degradation_summary(
        range(5), {"tiny CNN": TINY_CNN, "MLP": MLP}, 0.1, " px"
    )
    assert summary.startswith("From 0 px to 4 px: tiny CNN 96% → 9%; MLP 92% → 5%.")
    assert "tiny CNN stays ahead at every setting shown." in summary
    assert "tiny CNN falls below chance (10%) from 4 px." in summary
    assert "MLP falls below chance (10%) from 4 px." in summary
    assert "more gracefully" not in summary


def test_the_summary_says_when_the_curves_cross_and_names_the_leader_either_way():
    crossing = robustness.degradation_summary(
        range(3), {"A": [0.9, 0.5, 0.3], "B": [0.8, 0.6, 0.2]}, 0.1, " px"
    )
    assert "Neither model is ahead at every setting" in crossing
    assert "below chance" not in crossing
    second = robustness.degradation_summary(
        range(3), {"A": [0.5, 0.4, 0.3], "B": [0.8, 0.6, 0.5]}, 0.1, "°"
    )
    assert "B stays ahead at every setting shown." in second
    tied = robustness.degradation_summary(range(2), {"A": [0.5, 0.4], "B": [0.5, 0.3]}, 0.1, "")
    assert "Neither model is ahead" in tied


def test_legends_name_the_three_kinds_of_network():
    from explorer.model import preset
    from explorer.robustness import model_kind

    assert model_kind(preset("mlp", (28, 28, 1), 10)) == "MLP"
    assert model_kind(preset("tiny", (28, 28, 1), 10)) == "CNN that flattens"
    assert model_kind(preset("resnet", (28, 28, 1), 10)) == "CNN with global average pooling"


def test_a_legend_says_how_the_training_images_were_moved():
    from explorer.data.augmentation import Augmentation

    assert robustness.training_words(None) == ""
    assert robustness.training_words(Augmentation()) == "trained without augmentation"
    moved = Augmentation(max_shift=4.0, max_rotation=10.0)
    assert robustness.training_words(moved) == "trained with shift ±4 px, rotate ±10°"


def test_the_study_summary_reads_each_single_difference_off_the_means():
    mlp, flat, pooled = robustness.NETWORK_KINDS
    resnet = ("same blocks", "no dense")
    curves = [
        robustness.StudyCurve(mlp, False, ((), "dense"), [0.9, 0.1, 0.05]),  # mean 35%
        robustness.StudyCurve(mlp, True, ((), "dense"), [0.8, 0.5, 0.2]),  # mean 50%
        robustness.StudyCurve(flat, False, resnet, [0.9, 0.3, 0.0]),  # mean 40%
        robustness.StudyCurve(pooled, False, resnet, [0.9, 0.6, 0.3]),  # mean 60%
        robustness.StudyCurve(pooled, True, resnet, [0.9, 0.6, 0.3]),  # mean 60%
    ]
    assert robustness.study_summary(curves) == (
        "Shift augmentation raised the mean accuracy of the MLP from 35% to 50%. "
        "Shift augmentation left the mean accuracy of the CNN with global average pooling "
        "at 60%. With the same layers, global average pooling instead of flattening raised "
        "the mean accuracy of the CNN trained without augmentation from 40% to 60%."
    )
    other_layers = robustness.StudyCurve(flat, True, ("other",), [0.2, 0.1, 0.0])
    separate = robustness.study_summary([curves[1], curves[0], other_layers, curves[4]])
    assert separate == "Shift augmentation raised the mean accuracy of the MLP from 35% to 50%.", (
        "layers that differ are not compared"
    )
    assert "lowered the mean accuracy of the MLP from 50% to 35%" in robustness.study_summary(
        [curves[0]._replace(shifted=True), curves[1]._replace(shifted=False)]
    )

"""Explanation functions against cases with known answers."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from explorer import explain, layers, model
from explorer.errors import ExplorerError


@pytest.fixture(scope="module")
def linear():
    """Logistic regression: no conv, no hidden layer (logits = flatten(x) @ W + b)."""
    spec = model.ModelSpec(input_shape=(6, 5, 2), num_classes=3, name="linear")
    return spec, model.init_variables(spec, seed=1)


@pytest.fixture(scope="module")
def tiny():
    spec = model.preset("tiny", (28, 28, 1), 10)
    return spec, model.init_variables(spec, seed=0)


@pytest.fixture(scope="module")
def digit():
    return np.random.default_rng(0).random((28, 28, 1)).astype(np.float32)


def test_linear_model_input_gradient_is_its_weights(linear):
    spec, variables = linear
    image = np.random.default_rng(2).random(spec.input_shape).astype(np.float32)
    weights = np.asarray(variables["params"]["logits"]["kernel"])
    for class_index in range(3):
        gradient = np.asarray(explain.input_gradient(spec, variables, image, class_index))
        np.testing.assert_allclose(
            gradient, weights[:, class_index].reshape(spec.input_shape), rtol=1e-5, atol=1e-6
        )


def test_saliency_is_scaled_absolute_weights_for_a_linear_model(linear):
    spec, variables = linear
    image = np.zeros(spec.input_shape, np.float32)
    weights = np.abs(np.asarray(variables["params"]["logits"]["kernel"])[:, 1])
    expected = weights.reshape(spec.input_shape).max(axis=-1)
    saliency = explain.saliency_map(spec, variables, image, 1)
    np.testing.assert_allclose(saliency, expected / expected.max(), rtol=1e-5)


def test_stages_follow_the_forward_order_and_end_in_the_logits(tiny, digit):
    spec, variables = tiny
    stages = explain.forward_stages(spec, variables, digit)
    assert [stage.key for stage in stages] == [
        "conv1",
        "bn1",
        "act1",
        "pool1",
        "conv2",
        "bn2",
        "act2",
        "pool2",
        "flatten",
        "dense1",
        "logits",
    ]
    shapes = {row.name: row.output_shape for row in model.layer_table(spec)}
    for stage in stages:
        if stage.key in shapes:
            assert stage.values.shape == tuple(shapes[stage.key])
    logits = stages[-1].values
    expected = explain.probabilities(spec, variables, digit[None])[0]
    np.testing.assert_allclose(np.exp(logits) / np.exp(logits).sum(), expected, rtol=1e-4)
    np.testing.assert_allclose(stages[2].values, np.maximum(stages[1].values, 0), atol=1e-6)


def test_probabilities_in_fixed_batches_are_the_softmax_of_each_images_logits(tiny):
    spec, variables = tiny
    images = np.random.default_rng(0).uniform(0, 1, (5, 28, 28, 1)).astype(np.float32)
    logits = np.stack(
        [np.asarray(model.Network(spec).apply(variables, x[None], train=False))[0] for x in images]
    ).astype(np.float64)
    expected = np.exp(logits - logits.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    batched = explain.probabilities(spec, variables, images, batch=2)  # 2 + 2 + 1 and filling
    assert batched.shape == (5, 10)
    np.testing.assert_allclose(batched, expected, rtol=1e-4, atol=1e-6)


def test_grad_cam_has_the_input_size_is_non_negative_and_scaled(tiny, digit):
    spec, variables = tiny
    for block in (1, 2):
        cam = explain.grad_cam(spec, variables, digit, 3, block)
        assert cam.shape == (28, 28)
        assert cam.min() >= 0.0 and cam.max() <= 1.0 + 1e-6


def test_grad_cam_equals_the_definition(tiny, digit):
    spec, variables = tiny
    stages = {stage.key: stage.values for stage in explain.forward_stages(spec, variables, digit)}
    activation = stages["act2"]

    def score_of_activation(act):
        pooled = layers.block_pool(act[None], "max", 2)
        flat = pooled.reshape(1, -1)
        params = variables["params"]
        hidden = jax.nn.relu(flat @ params["dense1"]["kernel"] + params["dense1"]["bias"])
        return (hidden @ params["logits"]["kernel"] + params["logits"]["bias"])[0, 4]

    gradient = np.asarray(jax.grad(score_of_activation)(activation))
    cam = np.maximum((activation * gradient.mean(axis=(0, 1))).sum(axis=-1), 0)
    expected = np.asarray(jax.image.resize(cam, (28, 28), "bilinear"))
    expected = expected / expected.max() if expected.max() > 0 else expected
    np.testing.assert_allclose(explain.grad_cam(spec, variables, digit, 4, 2), expected, atol=1e-4)


def test_unknown_block_is_refused(tiny, digit):
    spec, variables = tiny
    with pytest.raises(ExplorerError, match="no block 3"):
        explain.grad_cam(spec, variables, digit, 0, 3)


@pytest.mark.parametrize("name", ["tiny", "lenet5", "vgg"])
def test_receptive_windows_match_the_layer_table(name):
    spec = model.preset(name, (28, 28, 1), 10)
    table = {row.name: row.receptive_field for row in model.layer_table(spec)}
    for index, block in enumerate(spec.conv_blocks, start=1):
        assert explain.receptive_window(spec, f"act{index}", 0, 0).size == table[f"conv{index}"]
        if block.pool != "none":
            assert (
                explain.receptive_window(spec, f"pool{index}", 0, 0).size == table[f"pool{index}"]
            )


def test_receptive_window_positions_by_hand():
    # Two 3x3 "same" convs at stride 1, then 2x2 pooling: a pooled cell (r, c) sees
    # input rows 2r-2 .. 2r+3 (6 pixels).
    blocks = (
        model.ConvBlock(filters=2, pool="none"),
        model.ConvBlock(filters=2, pool="max", pool_size=2),
    )
    spec = model.ModelSpec((12, 12, 1), 2, blocks)
    window = explain.receptive_window(spec, "pool2", 3, 1)
    assert (window.top, window.left, window.size) == (4.0, 0.0, 6)
    assert explain.receptive_window(spec, "act1", 5, 7) == explain.Window(4.0, 6.0, 3)


def test_effective_receptive_field_stays_inside_the_theoretical_window(tiny, digit):
    spec, variables = tiny
    activation = explain.forward_stages(spec, variables, digit)[6].values
    row, col, unit = (int(i) for i in np.unravel_index(np.argmax(activation), activation.shape))
    field = explain.effective_receptive_field(spec, variables, digit, "act2", unit, row, col)
    window = explain.receptive_window(spec, "act2", row, col)
    rows, cols = np.nonzero(field > 0)
    assert rows.size > 0
    assert rows.min() >= window.top and rows.max() < window.top + window.size
    assert cols.min() >= window.left and cols.max() < window.left + window.size


def test_occlusion_matches_a_hand_computed_drop(linear):
    spec, variables = linear
    image = np.random.default_rng(3).random(spec.input_shape).astype(np.float32)
    drops = explain.occlusion_map(spec, variables, image, 2, patch=5, stride=1)
    covered = image.copy()
    covered[0:5, 0:5] = 0.0
    probabilities = explain.probabilities(spec, variables, np.stack([image, covered]))
    # Pixel (0, 0) is covered by exactly one patch position: the one at (0, 0).
    assert drops[0, 0] == pytest.approx(probabilities[0, 2] - probabilities[1, 2], abs=1e-6)


def test_activation_maximisation_raises_the_unit(tiny):
    spec, variables = tiny
    start = np.asarray(jax.nn.sigmoid(0.1 * jax.random.normal(jax.random.key(0), spec.input_shape)))
    image = explain.maximise_activation(spec, variables, "act1", 3, steps=60)
    # The ascent drives the pre-activation (here batch norm's output) of the centre unit.
    assert image.shape == spec.input_shape and image.min() >= 0 and image.max() <= 1

    def unit(picture):
        return explain.forward_stages(spec, variables, picture)[1].values[14, 14, 3]

    assert unit(image) > unit(start) + 0.05


def test_top_activating_matches_brute_force(tiny):
    spec, variables = tiny
    images = np.random.default_rng(4).random((37, 28, 28, 1)).astype(np.float32)
    top = explain.top_activating(spec, variables, images, "act1", count=5, batch=16)
    maxima = np.stack(
        [
            explain.forward_stages(spec, variables, image)[2].values.max(axis=(0, 1))
            for image in images
        ]
    )
    assert top.shape == (spec.conv_blocks[0].filters, 5)
    np.testing.assert_array_equal(top, np.argsort(-maxima, axis=0)[:5].T)


def test_zeroed_first_layer_filter_leaves_only_its_bias(tiny, digit):
    spec, variables = tiny
    edited = explain.replace_first_layer_filter(variables, 7, np.zeros((3, 3)))
    conv = explain.forward_stages(spec, edited, digit)[0].values
    np.testing.assert_allclose(conv[..., 7], 0.0, atol=1e-7)  # tiny uses batch norm: no bias
    untouched = explain.forward_stages(spec, variables, digit)[0].values
    np.testing.assert_allclose(conv[..., :7], untouched[..., :7], atol=1e-6)
    assert np.asarray(variables["params"]["conv1"]["kernel"])[..., 7].any()


def test_mlp_has_no_first_layer_filters():
    spec = model.preset("mlp", (28, 28, 1), 10)
    with pytest.raises(ExplorerError, match="no convolution"):
        explain.first_layer_kernels(model.init_variables(spec))


def test_filter_film_shows_weights_or_change_with_how_far_they_moved():
    start = np.zeros((3, 3, 1, 2), np.float32)
    start[0, 0, 0] = [3.0, 4.0]  # ‖K_0‖ = 5
    later = start.copy()
    later[1, 1, 0, 0] = 1.0  # moved by 1: 20%
    last = start * 2  # moved by 5: 100%
    frames, labels = explain.filter_film([start, later, last])
    assert labels == ["init", "epoch 1 · moved 20%", "epoch 2 · moved 100%"]
    assert [frame.shape for frame in frames] == [(3, 3, 1, 2)] * 3
    np.testing.assert_array_equal(frames[1], later)
    changes, change_labels = explain.filter_film([start, later, last], change=True)
    assert change_labels == labels[1:]
    np.testing.assert_array_equal(changes[0], later - start)
    np.testing.assert_array_equal(changes[1], start)
    assert explain.filter_film([start], change=True) == ([], [])


def test_a_colour_film_shares_one_scale_across_its_frames():
    start = np.zeros((3, 3, 3, 2), np.float32)
    start[1, 1, 0, 0] = 1.0  # init: filter 1 a weak red centre
    later = start.copy()
    later[1, 1, 0, 0] = 4.0  # epoch 1: the same weight grown to the film's peak
    later[0, 0, 2, 1] = -2.0  # and filter 2 a negative blue corner
    pictures = explain.film_as_rgb([start, later])
    assert pictures.shape == (2, 2, 3, 3, 3), "(frames, filters, k, k, RGB)"
    np.testing.assert_allclose(pictures[0, 0, 1, 1], [0.5 + 1 / 8, 0.5, 0.5])  # 1 / (2 · 4)
    np.testing.assert_allclose(pictures[1, 0, 1, 1], [1.0, 0.5, 0.5])
    np.testing.assert_allclose(pictures[1, 1, 0, 0], [0.5, 0.5, 0.25])
    assert (pictures[0, 1] == 0.5).all(), "an all-zero filter is mid-grey"


def test_colour_kernels_become_rgb_pictures_on_one_scale():
    kernels = np.zeros((3, 3, 3, 2), np.float32)
    kernels[1, 1, 0, 0] = 2.0  # filter 1: a positive red centre
    kernels[0, 0, 2, 1] = -1.0  # filter 2: a negative blue corner
    pictures = explain.kernels_as_rgb(kernels)
    assert pictures.shape == (2, 3, 3, 3)
    np.testing.assert_allclose(pictures[0, 1, 1], [1.0, 0.5, 0.5])
    np.testing.assert_allclose(pictures[1, 0, 0], [0.5, 0.5, 0.25])
    assert pictures[0, 0, 0].tolist() == [0.5, 0.5, 0.5], "zero weights are mid-grey"

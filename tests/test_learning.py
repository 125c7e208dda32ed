"""The learning lab's maths against independent references: Flax's own layers with optax's
cross-entropy, central finite differences, an explicit SGD update and optax's SGD."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.flatten_util import ravel_pytree

from explorer import learning
from explorer.data import registry
from explorer.learning import LAB_SPEC
from explorer.model import Network, init_variables

REFERENCE_SPEC = dataclasses.replace(LAB_SPEC, layer_impl="flax")


@pytest.fixture(scope="module")
def batch():
    return learning.lesson_batch()


@pytest.fixture(scope="module")
def params():
    return jax.device_get(init_variables(LAB_SPEC, seed=0)["params"])


def reference_loss(params, images, labels, kind="cross-entropy"):
    """The batch loss through Flax's standard layers and optax (no explorer.losses)."""
    logits = Network(REFERENCE_SPEC).apply({"params": params}, jnp.asarray(images))
    if kind == "cross-entropy":
        return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
    probabilities = jax.nn.softmax(logits)
    return optax.l2_loss(probabilities, jax.nn.one_hot(labels, 10)).sum(-1).mean()


def test_the_lesson_batch_is_two_real_training_digits_of_each_class(batch):
    images, labels = batch
    assert images.shape == (20, 28, 28, 1) and images.dtype == np.float32
    assert labels.tolist() == list(range(10)) * 2
    train = registry.load_dataset("mnist-5k", seed=0).train
    first_three = np.flatnonzero(train.labels == 3)[0]
    np.testing.assert_allclose(images[3], train.images[first_three] / 255.0, rtol=1e-6)


@pytest.mark.parametrize("kind", ["cross-entropy", "mse"])
def test_one_step_matches_flax_optax_and_an_explicit_update(batch, params, kind):
    images, labels = batch
    rate = 0.1
    step = learning.gradient_step(LAB_SPEC, params, images, labels, kind, rate)
    loss, gradients = jax.value_and_grad(reference_loss)(params, images, labels, kind)
    assert step.loss_before == pytest.approx(float(loss), rel=1e-5)
    for got, want in zip(
        jax.tree_util.tree_leaves(step.gradients), jax.tree_util.tree_leaves(gradients), strict=True
    ):
        np.testing.assert_allclose(got, want, atol=1e-6, rtol=1e-4)
    explicit = {
        layer: {name: params[layer][name] - rate * step.gradients[layer][name] for name in arrays}
        for layer, arrays in params.items()
    }
    updates, _ = optax.sgd(rate).update(gradients, optax.sgd(rate).init(params))
    with_optax = optax.apply_updates(params, updates)
    for got, mine, theirs in zip(
        *(jax.tree_util.tree_leaves(tree) for tree in (step.new_params, explicit, with_optax)),
        strict=True,
    ):
        np.testing.assert_array_equal(got, mine)
        np.testing.assert_allclose(got, theirs, atol=1e-6)
    after = reference_loss(with_optax, images, labels, kind)
    assert step.loss_after == pytest.approx(float(after), rel=1e-4)
    assert step.loss_after < step.loss_before
    names = ["conv1", "conv2", "logits"]
    assert step.layers == names
    expected = [np.sqrt(sum(np.sum(np.square(a)) for a in gradients[n].values())) for n in names]
    np.testing.assert_allclose(step.gradient_norms, expected, rtol=1e-5)
    np.testing.assert_allclose(step.targets, np.eye(10)[labels])
    np.testing.assert_allclose(step.probabilities.sum(-1), 1.0, rtol=1e-6)


def test_gradients_match_central_finite_differences(batch, params):
    images, labels = batch
    step = learning.gradient_step(LAB_SPEC, params, images, labels, "cross-entropy", 0.1)
    flat, unravel = ravel_pytree(params)
    gradient = np.asarray(ravel_pytree(step.gradients)[0], np.float64)

    def loss_at(vector):
        return float(
            learning.batch_loss_of(
                LAB_SPEC, unravel(vector), *map(jnp.asarray, batch), "cross-entropy"
            )
        )

    direction = gradient / np.linalg.norm(gradient)
    h = 1e-2
    slope = (loss_at(flat + h * direction) - loss_at(flat - h * direction)) / (2 * h)
    assert slope == pytest.approx(np.linalg.norm(gradient), rel=2e-2)
    for index in np.argsort(-np.abs(gradient))[:8]:
        bump = np.zeros_like(flat)
        bump[index] = 1e-2
        numeric = (loss_at(flat + bump) - loss_at(flat - bump)) / 2e-2
        assert numeric == pytest.approx(gradient[index], rel=5e-2, abs=1e-3)


def test_the_slice_the_paths_and_the_plane_agree_with_one_step(batch, params):
    images, labels = batch
    rates = [0.01, 0.1, 1e30]
    step = learning.gradient_step(LAB_SPEC, params, images, labels, "cross-entropy", 0.1)
    slice_losses, norm = learning.loss_along_gradient(
        LAB_SPEC, params, images, labels, "cross-entropy", np.array([0.0, 0.1])
    )
    np.testing.assert_allclose(slice_losses, [step.loss_before, step.loss_after], rtol=1e-5)
    assert norm == pytest.approx(np.linalg.norm(ravel_pytree(step.gradients)[0]), rel=1e-5)
    vectors, losses = learning.descent_paths(
        LAB_SPEC, params, images, labels, "cross-entropy", rates, 3
    )
    assert vectors.shape[:2] == (3, 4) and losses.shape == (3, 4)
    np.testing.assert_allclose(vectors[1, 1], ravel_pytree(step.new_params)[0], atol=1e-6)
    assert losses[1, 1] == pytest.approx(step.loss_after, rel=1e-5)
    assert losses[0, -1] < losses[0, 0] and losses[1, -1] < losses[0, -1]
    assert learning.first_divergence(losses[0]) is None
    assert learning.first_divergence(losses[2]) == 1
    assert not np.isfinite(losses[2, 1:]).any()

    land = learning.loss_landscape(LAB_SPEC, params, images, labels, "cross-entropy", rates, 3)
    assert land.divergence == [None, None, 1]
    first, second = learning.plane_directions(
        np.asarray(ravel_pytree(step.gradients)[0]), vectors[1, -1] - vectors[1, 0]
    )
    assert float(first @ second) == pytest.approx(0.0, abs=1e-5)
    assert np.linalg.norm(first) == pytest.approx(1.0) == np.linalg.norm(second)
    middle = len(land.alphas) // 2
    assert land.alphas[middle] == 0 and land.surface[middle, middle] == pytest.approx(
        step.loss_before, rel=1e-5
    )
    # along the first axis the plane is the 1-D slice: α = η‖g‖
    alpha = land.alphas[middle + 3]
    along, _ = learning.loss_along_gradient(
        LAB_SPEC, params, images, labels, "cross-entropy", np.array([alpha / norm])
    )
    assert land.surface[middle, middle + 3] == pytest.approx(along[0], rel=1e-4)
    # the path of the reference rate ends in the plane: its projection keeps its length
    end = vectors[1, -1].astype(np.float64) - vectors[1, 0]
    assert np.hypot(*land.path_points[1, -1]) == pytest.approx(np.linalg.norm(end), rel=1e-4)


def _network_variables(params: dict, batch_norm: bool, depth: int) -> dict:
    """The deep stack's weights in :class:`Network`'s own layout for its spec."""
    layers = {"logits": params["logits"]}
    stats = {}
    for index in range(1, depth + 1):
        conv = params[f"conv{index}"]
        layers[f"conv{index}"] = {"kernel": conv["kernel"]} if batch_norm else conv
        if batch_norm:
            layers[f"bn{index}"] = params[f"bn{index}"]
            stats[f"bn{index}"] = {"mean": jnp.zeros(8), "var": jnp.ones(8)}
    return {"params": layers, "batch_stats": stats} if batch_norm else {"params": layers}


def test_deep_stack_gradients_match_the_network_and_vanish_through_sigmoids(batch):
    images, labels = batch
    depth = 6
    norms = learning.deep_stack_gradient_norms(images, labels, depth)
    assert norms.shape == (3, 2, depth)
    params = learning.deep_stack_params(depth)
    for activation_index, activation in enumerate(learning.DEPTH_ACTIVATIONS):
        for batch_norm in (False, True):
            spec = learning.deep_stack_spec(depth, activation, batch_norm)
            spec = dataclasses.replace(spec, layer_impl="flax")
            variables = _network_variables(params, batch_norm, depth)

            def loss(weights, spec=spec, variables=variables):
                logits, _ = Network(spec).apply(
                    {**variables, "params": weights}, images, train=True, mutable=["batch_stats"]
                )
                return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()

            gradients = jax.grad(loss)(variables["params"])
            expected = [
                np.linalg.norm(gradients[f"conv{index}"]["kernel"]) for index in range(1, depth + 1)
            ]
            np.testing.assert_allclose(
                norms[activation_index, int(batch_norm)], expected, rtol=2e-3, atol=1e-9
            )
    sigmoid_plain, sigmoid_normalised = norms[0]
    assert sigmoid_plain[0] < 1e-3 * sigmoid_plain[-1]
    assert sigmoid_normalised[0] > 0.1 * sigmoid_normalised[-1]


@pytest.mark.parametrize("gradient", [np.zeros(50), np.full(50, np.nan)])
def test_plane_directions_without_a_downhill_are_still_orthonormal(gradient):
    towards = np.arange(50.0)
    first, second = learning.plane_directions(gradient, towards)
    assert np.isfinite(first).all() and np.isfinite(second).all()
    assert float(first @ second) == pytest.approx(0.0, abs=1e-5)
    assert np.linalg.norm(first) == pytest.approx(1.0) == np.linalg.norm(second)

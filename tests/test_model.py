"""Model spec: shapes, parameter counts, FLOPs and receptive fields against hand values."""

import dataclasses
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from explorer.errors import ExplorerError
from explorer.model import (
    PRESETS,
    ConvBlock,
    DenseLayer,
    InceptionBlock,
    ModelSpec,
    Network,
    PoolBlock,
    ResidualBlock,
    count_params,
    init_variables,
    layer_table,
    preset,
    resolve_layer_impl,
    spec_from_dict,
    variable_shapes,
)

# LeNet-5 by hand: C1 6·(5·5·1)+6, C3 16·(5·5·6)+16, F5 120·400+120, F6 84·120+84, out 10·84+10.
LENET5_PARAMS = [156, 2416, 48120, 10164, 850]


def test_lenet5_parameter_counts_match_the_paper():
    rows = {row.name: row for row in layer_table(preset("lenet5", (28, 28, 1), 10))}
    assert [rows[n].params for n in ("conv1", "conv2", "dense1", "dense2", "logits")] == (
        LENET5_PARAMS
    )
    assert rows["conv1"].output_shape == (28, 28, 6)
    assert rows["pool1"].output_shape == (14, 14, 6)
    assert rows["conv2"].output_shape == (10, 10, 16)
    assert rows["flatten"].output_shape == (400,)
    assert count_params(variable_shapes(preset("lenet5", (28, 28, 1), 10))["params"]) == 61706


def test_lenet5_flops_by_hand():
    rows = {row.name: row for row in layer_table(preset("lenet5", (28, 28, 1), 10))}
    assert rows["conv1"].flops == 2 * 5 * 5 * 1 * 6 * 28 * 28
    assert rows["conv2"].flops == 2 * 5 * 5 * 6 * 16 * 10 * 10
    assert rows["dense1"].flops == 2 * 400 * 120


def test_mlp_baseline_parameter_count():
    spec = preset("mlp", (28, 28, 1), 10)
    expected = (784 * 256 + 256) + (256 * 128 + 128) + (128 * 10 + 10)
    assert sum(row.params for row in layer_table(spec)) == expected
    assert count_params(variable_shapes(spec)["params"]) == expected


def test_receptive_field_of_conv_pool_conv_pool():
    spec = ModelSpec((28, 28, 1), 10, (ConvBlock(4), ConvBlock(8)))
    fields = {row.name: row.receptive_field for row in layer_table(spec)}
    # 3×3 conv: 3; 2×2 pool: 3 + 1 = 4 (jump 2); 3×3 conv: 4 + 2·2 = 8; pool: 8 + 1·2 = 10.
    assert (fields["conv1"], fields["pool1"], fields["conv2"], fields["pool2"]) == (3, 4, 8, 10)


def test_batch_norm_replaces_the_conv_bias():
    spec = ModelSpec((8, 8, 3), 2, (ConvBlock(5, batch_norm=True, pool="none"),))
    rows = {row.name: row for row in layer_table(spec)}
    assert rows["conv1"].params == 3 * 3 * 3 * 5
    assert rows["bn1"].params == 2 * 5
    variables = variable_shapes(spec)
    assert set(variables) == {"params", "batch_stats"}
    assert "bias" not in variables["params"]["conv1"]


@pytest.mark.parametrize("name", sorted(PRESETS))
@pytest.mark.parametrize("input_shape", [(28, 28, 1), (32, 32, 3)])
def test_table_matches_the_built_model(name, input_shape):
    spec = preset(name, input_shape, 10)
    table = layer_table(spec)
    variables = variable_shapes(spec)
    assert sum(row.params for row in table) == count_params(variables["params"])
    logits = jax.eval_shape(
        lambda v, x: Network(spec).apply(v, x), variables, jnp.zeros((2, *input_shape))
    )
    assert logits.shape == (2, 10)
    assert table[-1].output_shape == (10,)


@pytest.mark.parametrize(
    ("kernel", "stride", "padding", "size"),
    [(3, 1, "same", 9), (5, 2, "same", 10), (4, 3, 1, 11)],
    ids=["3x3-same", "5x5-stride2", "4x4-stride3-pad1"],
)
def test_im2col_and_flax_layers_compute_the_same_network(kernel, stride, padding, size):
    block = ConvBlock(4, kernel_size=kernel, stride=stride, padding=padding, pool="max")
    fast = ModelSpec((size, size, 2), 3, (block,), (DenseLayer(5),), layer_impl="im2col")
    flax_spec = ModelSpec((size, size, 2), 3, (block,), (DenseLayer(5),), layer_impl="flax")
    params = init_variables(fast, seed=1)["params"]
    x = jax.random.uniform(jax.random.key(2), (3, size, size, 2))

    @jax.jit
    def outputs_and_gradients(params):
        def loss(params, spec):
            return Network(spec).apply({"params": params}, x).sum()

        return [
            (Network(spec).apply({"params": params}, x), jax.grad(loss)(params, spec))
            for spec in (fast, flax_spec)
        ]

    (out_fast, grads_fast), (out_flax, grads_flax) = outputs_and_gradients(params)
    np.testing.assert_allclose(out_fast, out_flax, atol=1e-5)
    jax.tree_util.tree_map(partial(np.testing.assert_allclose, atol=1e-4), grads_fast, grads_flax)


def test_im2col_and_flax_batch_norm_train_the_same_way():
    """Same training logits, gradients and running statistics; same evaluation with them."""
    blocks = (ConvBlock(4, batch_norm=True, pool="max"), ConvBlock(6, batch_norm=True))
    fast = ModelSpec((12, 12, 1), 3, blocks, (DenseLayer(5),), layer_impl="im2col")
    flax_spec = dataclasses.replace(fast, layer_impl="flax")
    variables = init_variables(fast, seed=3)
    assert jax.tree_util.tree_structure(variables) == jax.tree_util.tree_structure(
        init_variables(flax_spec, seed=3)
    )
    bn1 = variables["params"]["bn1"]
    variables["params"]["bn1"] = {**bn1, "bias": bn1["bias"] + 0.5}
    # A blank left half, as around a digit: batch norm maps it to one positive value,
    # so its pooling windows tie.
    x = jax.random.uniform(jax.random.key(4), (8, 12, 12, 1)).at[:, :, :6].set(0.0)

    def loss(params, spec):
        logits, updates = Network(spec).apply(
            {**variables, "params": params}, x, train=True, mutable=["batch_stats"]
        )
        return (logits**2).sum(), (logits, updates["batch_stats"])

    results = [
        jax.grad(loss, has_aux=True)(variables["params"], spec) for spec in (fast, flax_spec)
    ]
    (grads_fast, (logits_fast, stats_fast)), (grads_flax, (logits_flax, stats_flax)) = results
    np.testing.assert_allclose(logits_fast, logits_flax, rtol=1e-5, atol=1e-5)
    close = partial(np.testing.assert_allclose, rtol=1e-4, atol=1e-4)
    jax.tree_util.tree_map(close, grads_fast, grads_flax)
    jax.tree_util.tree_map(close, stats_fast, stats_flax)
    assert not np.allclose(stats_fast["bn1"]["mean"], 0.0)
    trained = {**variables, "batch_stats": stats_fast}
    np.testing.assert_allclose(
        Network(fast).apply(trained, x), Network(flax_spec).apply(trained, x), rtol=1e-5, atol=1e-5
    )


def test_spec_round_trips_through_a_dict():
    spec = preset("vgg", (32, 32, 3), 7)
    assert spec_from_dict(spec.to_dict()) == spec


@pytest.mark.parametrize(
    "spec",
    [
        ModelSpec((8, 8, 1), 10, (ConvBlock(4, pool="max", pool_size=4),) * 2),
        ModelSpec((8, 8, 1), 10, (ConvBlock(4, kernel_size=9, padding="valid"),)),
        ModelSpec((8, 8, 1), 1),
        ModelSpec((8, 8, 1), 10, (ConvBlock(4, activation="nope"),)),
        ModelSpec((8, 8, 1), 10, dense_layers=(DenseLayer(4, dropout=1.0),)),
    ],
)
def test_impossible_specs_are_refused_with_a_message(spec):
    with pytest.raises(ExplorerError):
        layer_table(spec)


def test_a_pooling_saved_as_avg_by_older_checkpoints_reads_as_average():
    saved = preset("lenet5", (28, 28, 1), 10).to_dict()
    for block in saved["conv_blocks"]:
        block["pool"] = "avg"
    assert {block.pool for block in spec_from_dict(saved).conv_blocks} == {"average"}


def test_unknown_preset_and_malformed_dict_are_refused():
    with pytest.raises(ExplorerError, match="architecture"):
        preset("capsnet", (28, 28, 1), 10)
    with pytest.raises(ExplorerError):
        spec_from_dict({"input_shape": [28, 28]})


def test_auto_layers_are_the_hand_written_ones_on_cpu_and_the_native_ones_elsewhere():
    assert jax.default_backend() == "cpu", "the suite runs on the CPU backend"
    assert resolve_layer_impl("auto") == "im2col"
    assert resolve_layer_impl("auto", "cpu") == "im2col"
    assert resolve_layer_impl("auto", "gpu") == "flax"
    assert resolve_layer_impl("auto", "tpu") == "flax"
    assert resolve_layer_impl("im2col", "gpu") == "im2col"
    assert resolve_layer_impl("flax", "cpu") == "flax"
    assert ModelSpec((8, 8, 1), 3).layer_impl == "auto"


def traced_primitives(spec: ModelSpec) -> set[str]:
    """Names of the top-level operations of ``spec``'s forward pass on a batch of two."""
    forward = partial(Network(spec).apply, train=False)
    images = jnp.zeros((2, *spec.input_shape))
    return {
        eqn.primitive.name for eqn in jax.make_jaxpr(forward)(init_variables(spec), images).eqns
    }


def test_auto_traces_the_layers_its_backend_resolves_to(monkeypatch):
    blocks = (ConvBlock(4, batch_norm=True, pool="max"),)
    auto = ModelSpec((8, 8, 1), 3, blocks, (DenseLayer(5),))
    hand_written = traced_primitives(dataclasses.replace(auto, layer_impl="im2col"))
    native = traced_primitives(dataclasses.replace(auto, layer_impl="flax"))
    assert {"conv_general_dilated", "reduce_window_max"} <= native - hand_written
    assert traced_primitives(auto) == hand_written
    monkeypatch.setattr(jax, "default_backend", lambda: "gpu")
    assert traced_primitives(auto) == native


NEW_KIND_SPECS = {
    "residual": ModelSpec(
        (12, 12, 3),
        3,
        (ConvBlock(4, batch_norm=True, pool="none"), ResidualBlock(4), ResidualBlock(6, stride=2)),
        head="gap",
    ),
    "bottleneck": ModelSpec(
        (9, 9, 2), 3, (ResidualBlock(2, bottleneck=True), ResidualBlock(2, 2, True)), head="gap"
    ),
    "inception-and-pool": ModelSpec(
        (11, 11, 1),
        3,
        (
            ConvBlock(4, pool="none"),
            PoolBlock("max", 3, 2, "same"),
            InceptionBlock(2, 2, 3, 1, 2, 2),
        ),
        (DenseLayer(5),),
    ),
    "avg-pool-padded": ModelSpec((10, 10, 2), 3, (PoolBlock("average", 3, 2, 1), ConvBlock(3))),
}


@pytest.mark.parametrize("name", sorted(NEW_KIND_SPECS))
def test_fast_path_trains_the_new_kinds_exactly_as_flax(name):
    """Training-mode logits, gradients of every parameter (jax.grad through the Flax
    reference layers) and batch statistics agree; the table counts the built parameters."""
    fast = NEW_KIND_SPECS[name]
    flax_spec = dataclasses.replace(fast, layer_impl="flax")
    variables = init_variables(fast, seed=5)
    assert jax.tree_util.tree_structure(variables) == jax.tree_util.tree_structure(
        init_variables(flax_spec, seed=5)
    )
    assert sum(row.params for row in layer_table(fast)) == count_params(variables["params"])
    # A blank quarter: after ReLU and batch norm many pooling windows tie.
    x = jax.random.uniform(jax.random.key(6), (6, *fast.input_shape)).at[:, :4, :4].set(0.0)

    def loss(params, spec):
        logits, updates = Network(spec).apply(
            {**variables, "params": params}, x, train=True, mutable=["batch_stats"]
        )
        return (logits**2).sum(), (logits, updates.get("batch_stats", {}))

    results = [
        jax.grad(loss, has_aux=True)(variables["params"], spec) for spec in (fast, flax_spec)
    ]
    (grads_fast, (logits_fast, stats_fast)), (grads_flax, (logits_flax, stats_flax)) = results
    np.testing.assert_allclose(logits_fast, logits_flax, rtol=1e-5, atol=1e-5)
    close = partial(np.testing.assert_allclose, rtol=1e-4, atol=1e-4)
    jax.tree_util.tree_map(close, grads_fast, grads_flax)
    jax.tree_util.tree_map(close, stats_fast, stats_flax)
    assert all(np.any(np.asarray(g) != 0) for g in jax.tree_util.tree_leaves(grads_fast))


def test_residual_block_adds_the_identity_and_projects_only_when_the_shape_changes():
    identity = ModelSpec((6, 6, 4), 2, (ResidualBlock(4),), head="gap")
    projected = ModelSpec((6, 6, 4), 2, (ResidualBlock(4, stride=2),), head="gap")
    assert "res1_proj" not in variable_shapes(identity)["params"]
    assert variable_shapes(projected)["params"]["res1_proj"]["kernel"].shape == (1, 1, 4, 4)
    # With the path's last batch norm scaled to zero, the block is ReLU(identity).
    variables = init_variables(identity)
    bn2 = variables["params"]["res1_bn2"]
    variables["params"]["res1_bn2"] = {**bn2, "scale": jnp.zeros_like(bn2["scale"])}
    x = jax.random.normal(jax.random.key(0), (1, 6, 6, 4))
    _, state = Network(identity).apply(variables, x, mutable=["intermediates"])
    np.testing.assert_allclose(state["intermediates"]["act1_out"][0], jax.nn.relu(x), atol=1e-6)
    # Basic block by hand: 3·3·4·4 twice plus two batch norms of 4 channels.
    assert layer_table(identity)[1].params == 2 * (3 * 3 * 4 * 4 + 2 * 4)


def test_inception_concatenates_its_branches_and_keeps_the_size():
    spec = ModelSpec((7, 7, 3), 2, (InceptionBlock(2, 3, 4, 1, 5, 6, batch_norm=False),))
    row = layer_table(spec)[1]
    assert row.output_shape == (7, 7, 2 + 4 + 5 + 6)
    by_hand = (3 * 2 + 2) + (3 * 3 + 3) + (9 * 3 * 4 + 4) + (3 * 1 + 1) + (25 * 1 * 5 + 5)
    assert row.params == by_hand + (3 * 6 + 6)
    assert row.macs == 7 * 7 * (3 * 2 + 3 * 3 + 9 * 3 * 4 + 3 * 1 + 25 * 5 + 3 * 6)
    assert row.receptive_field == 5


def test_global_average_pooling_is_the_mean_of_each_map():
    spec = ModelSpec((5, 5, 2), 3, (ConvBlock(4, pool="none"),), head="gap")
    variables = init_variables(spec)
    x = jax.random.uniform(jax.random.key(1), (2, 5, 5, 2))
    _, state = Network(spec).apply(variables, x, mutable=["intermediates"])
    maps = state["intermediates"]["act1_out"][0]
    np.testing.assert_allclose(
        state["intermediates"]["gap_out"][0], maps.mean(axis=(1, 2)), rtol=1e-6
    )
    assert [row.name for row in layer_table(spec)][-2:] == ["gap", "logits"]
    with pytest.raises(ExplorerError, match="at least one block"):
        layer_table(ModelSpec((5, 5, 2), 3, head="gap"))

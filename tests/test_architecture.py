"""Layer kinds as data: the size arithmetic, the editor's cells and deep networks."""

import dataclasses

import jax.numpy as jnp
import numpy as np
import pytest

from explorer import architecture, explain, model, ops
from explorer.architecture import (
    KINDS,
    ConvBlock,
    InceptionBlock,
    PoolBlock,
    ResidualBlock,
    block_from_cells,
    output_size,
    padding_pair,
    receptive_fields,
)
from explorer.errors import ExplorerError


@pytest.mark.parametrize("size", [5, 12, 28, 31])
@pytest.mark.parametrize("kernel", [1, 2, 3, 5])
@pytest.mark.parametrize("stride", [1, 2, 3])
def test_same_padding_gives_ceil_of_size_over_stride(size, kernel, stride):
    before, after = padding_pair("same", size, kernel, stride)
    assert output_size(size, kernel, stride, before + after) == -(-size // stride)
    assert 0 <= after - before <= 1


def test_output_size_by_hand():
    # AlexNet's first layer: 224 + 2·2 padding, 11×11 kernel, stride 4 → 55.
    assert output_size(224, 11, 4, 4) == 55
    # A 3×3 kernel dilated by 2 spans 5 pixels: 7 − 5 + 1 = 3.
    assert output_size(7, 3, 1, 0, dilation=2) == 3


def deep_spec(blocks: int) -> model.ModelSpec:
    return model.ModelSpec((12, 12, 1), 3, (ConvBlock(2, pool="none"),) * blocks)


def test_blocks_ten_and_above_are_stages_with_maps_and_windows():
    spec = deep_spec(11)
    keys = explain.spatial_stage_keys(spec)
    assert keys[-3:] == ["act10", "conv11", "act11"]
    assert len(keys) == 22
    # Eleven 3×3 convolutions at stride 1: 1 + 11·2 = 23 pixels.
    assert explain.receptive_window(spec, "act11", 0, 0).size == 23
    assert explain.receptive_window(spec, "conv10", 0, 0).size == 21
    assert sorted(explain.feature_blocks(spec)) == list(range(1, 12))
    table = {row.name: row for row in model.layer_table(spec)}
    assert table["conv11"].receptive_field == 23
    assert table["conv11"].params == 3 * 3 * 2 * 2 + 2


def test_deep_network_records_every_listed_stage():
    spec = deep_spec(12)
    variables = model.init_variables(spec)
    stages = explain.forward_stages(spec, variables, np.zeros((12, 12, 1), np.float32))
    assert [stage.key for stage in stages] == explain.stage_keys(spec)
    assert stages[-1].key == "logits"
    assert "block 12 · activation" in [stage.title for stage in stages]
    cam = explain.grad_cam(spec, variables, np.ones((12, 12, 1), np.float32), 0, 12)
    assert cam.shape == (12, 12)


def test_receptive_field_walk_by_hand():
    steps = model.steps(model.ModelSpec((16, 16, 1), 2, (ConvBlock(2, kernel_size=5),)))
    fields = dict(zip([s.key for s in steps], receptive_fields(steps), strict=True))
    # 5×5 "same" conv (2 pixels before): size 5, first centre at 2 − 2 = 0.
    assert fields["conv1"] == (5.0, 1.0, 0.0)
    # 2×2 pooling: size 5 + 1 = 6, jump 2, centre moves by 0.5.
    assert fields["pool1"] == (6.0, 2.0, 0.5)


EXAMPLE_BLOCKS = [
    ConvBlock(8, 5, 2, 1, "tanh", "average", 3, batch_norm=True, dropout=0.25),
    PoolBlock("average", 2, 1, "same"),
    ResidualBlock(3, 2, True, "elu"),
    InceptionBlock(1, 2, 3, 4, 5, 6, 3, False, "tanh"),
]


def test_every_kind_has_an_example():
    assert {type(block) for block in EXAMPLE_BLOCKS} == set(KINDS.values())


@pytest.mark.parametrize("block", EXAMPLE_BLOCKS, ids=lambda block: block.KIND)
def test_every_kind_round_trips_through_the_editor_cells(block):
    cells = {name: getattr(block, name) for name in block.EDITOR_COLUMNS}
    assert block_from_cells(block.KIND, cells, "Block 1") == block
    spec = model.ModelSpec((16, 16, 3), 4, (block,))
    assert model.spec_from_dict(spec.to_dict()) == spec


def test_blank_cells_take_defaults_and_bad_cells_are_explained():
    block = block_from_cells("conv", {"filters": 8.0, "padding": "2", "kernel_size": None}, "B")
    assert block == ConvBlock(8, padding=2)
    with pytest.raises(ExplorerError, match="Block 2: fill in"):
        block_from_cells("conv", {"filters": "many"}, "Block 2")
    with pytest.raises(ExplorerError, match="unknown kind"):
        block_from_cells("capsule", {}, "Block 1")


def test_saved_descriptions_name_each_block_kind_and_old_ones_still_load():
    spec = model.preset("vgg", (28, 28, 1), 10)
    data = spec.to_dict()
    assert {block["kind"] for block in data["conv_blocks"]} == {"conv"}
    old = {**data, "conv_blocks": [dataclasses.asdict(b) for b in spec.conv_blocks]}
    assert model.spec_from_dict(old) == spec
    with pytest.raises(ExplorerError, match="Unknown kind"):
        model.spec_from_dict({**data, "conv_blocks": [{"kind": "capsule", "filters": 3}]})


def test_flax_and_fast_path_share_the_padding_arithmetic():
    spec = model.ModelSpec((9, 9, 1), 2, (ConvBlock(2, stride=2, pool="none"),))
    variables = model.init_variables(spec)
    x = jnp.linspace(0, 1, 81).reshape(1, 9, 9, 1)
    flax_spec = dataclasses.replace(spec, layer_impl="flax")
    np.testing.assert_allclose(
        model.Network(spec).apply(variables, x),
        model.Network(flax_spec).apply(variables, x),
        rtol=1e-5,
        atol=1e-6,
    )


def test_every_activation_of_the_labs_and_of_training_has_a_word_for_people():
    for name in (*ops.ACTIVATIONS, *architecture.ACTIVATIONS):
        assert name in architecture.WORDS and "_" not in architecture.word(name)
    assert architecture.word("leaky_relu") == "leaky ReLU"
    assert set(ops.ACTIVATIONS) <= set(architecture.ACTIVATIONS)

"""One model budget, counted from the description alone: a hostile checkpoint is refused
before any weight is decoded, every shipped network fits, and the figures are right."""

from __future__ import annotations

import dataclasses
import json
import math
import subprocess
import sys
import textwrap
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from explorer import budget, checkpoints, gallery, learning, model
from explorer.architecture import ConvBlock, DenseLayer, InceptionBlock, PoolBlock, ResidualBlock
from explorer.budget import BUDGET, INSPECT_BATCH, check_budget, figures
from explorer.checkpoints import MAX_CLASSES, MAX_SIDE, MAX_UNITS, checkpoint_bytes
from explorer.data.user_folders import MAX_FOLDER_CLASSES
from explorer.errors import ExplorerError
from explorer.starter_models import STARTER_DIR
from explorer.text import escape_markdown

CRAFTED = model.ModelSpec(
    (1024, 1024, 3), 10, (ConvBlock(256, kernel_size=11, pool="none"),), head="gap", name="x"
)
"""Issue 22's 375 KB checkpoint: one conv of 256 filters 11×11 on 1024×1024×3 pictures."""
DATASET = {"name": "mnist-5k", "class_names": [str(d) for d in range(10)]}


def crafted_bytes() -> bytes:
    """The crafted checkpoint, its weights written by hand (nothing builds the model)."""
    variables = {
        "params": {
            "conv1": {"kernel": np.zeros((11, 11, 3, 256), np.float32), "bias": np.zeros(256)},
            "logits": {"kernel": np.zeros((256, 10), np.float32), "bias": np.zeros(10)},
        }
    }
    variables = jax.tree_util.tree_map(lambda a: a.astype(np.float32), variables)
    return checkpoint_bytes(variables, CRAFTED, DATASET, {})


def test_the_crafted_checkpoint_is_small_and_names_every_figure_over_its_limit():
    data = crafted_bytes()
    assert len(data) < 400_000
    with pytest.raises(ExplorerError) as caught:
        checkpoints.load_checkpoint_bytes(data)
    message = str(caught.value)
    assert "too large" in message
    assert "97 billion multiply-adds per image; the limit is 500 million" in message
    assert "1.0 GB of activations per image" in message and "the limit is 4.0 MB" in message
    assert f"over {INSPECT_BATCH} images" in message


def test_the_crafted_checkpoint_is_refused_at_load_and_import_and_nothing_is_stored(tmp_path):
    data = crafted_bytes()
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / checkpoints.CHECKPOINT_FILE).write_bytes(data)
    with pytest.raises(ExplorerError, match="the limit is"):
        checkpoints.load_checkpoint(tmp_path / "run")
    with pytest.raises(ExplorerError, match="the limit is"):
        checkpoints.import_checkpoint(tmp_path / "root", "crafted", data)
    assert not (tmp_path / "root" / "crafted").exists()
    [listed] = checkpoints.list_checkpoints(tmp_path)
    assert listed.metadata is None and "the limit is" in listed.error


def test_refusing_the_crafted_checkpoint_is_quick_and_leaves_memory_unchanged(tmp_path):
    path = tmp_path / "crafted.msgpack"
    path.write_bytes(crafted_bytes())
    probe = textwrap.dedent(
        f"""
        import resource, time
        from explorer import checkpoints
        from explorer.errors import ExplorerError
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        start = time.perf_counter()
        try:
            checkpoints.load_checkpoint({str(path)!r})
            refused = False
        except ExplorerError:
            refused = True
        seconds = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(refused, seconds, (after - before) * 1024)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=300
    )
    refused, seconds, grown = result.stdout.split()
    assert refused == "True"
    assert float(seconds) < 0.5
    assert int(grown) < 50 * 2**20


def test_the_figures_of_a_small_network_by_hand():
    spec = model.ModelSpec((8, 8, 2), 3, (ConvBlock(4, kernel_size=3),))
    numbers = figures(spec)
    # conv 3×3, 2 → 4 channels, "same" on 8×8: 3·3·2·4 weights + 4 biases; 8·8 positions.
    # Then 2×2 max pooling → 4×4×4, flattened to 64, and the classifier 64 → 3.
    assert numbers.params == (3 * 3 * 2 * 4 + 4) + (64 * 3 + 3)
    assert numbers.macs == 8 * 8 * (3 * 3 * 2 * 4) + 64 * 3
    assert numbers.activation_bytes == 8 * 8 * 4 * 4 and numbers.largest == "block 1 · convolution"
    # Input 8·8·2, conv and activation 8·8·4 each, pool and flatten 4·4·4 each, logits 3.
    stages = 8 * 8 * 2 + 2 * (8 * 8 * 4) + 2 * (4 * 4 * 4) + 3
    assert numbers.batch_activation_bytes == stages * 4 * INSPECT_BATCH


def test_the_figures_of_the_crafted_model_by_hand():
    numbers = figures(CRAFTED)
    weights = 11 * 11 * 3 * 256
    assert numbers.params == weights + 256 + 256 * 10 + 10
    assert numbers.macs == 1024 * 1024 * weights + 256 * 10
    assert numbers.activation_bytes == 1024 * 1024 * 256 * 4


def test_an_mlp_s_largest_activation_is_its_input():
    numbers = figures(model.mlp((28, 28, 1), 10))
    assert numbers.params == (784 * 256 + 256) + (256 * 128 + 128) + (128 * 10 + 10) == 235_146
    assert numbers.activation_bytes == 784 * 4 and numbers.largest == "input"


def _registered_shapes():
    return [((28, 28, 1), 10), ((32, 32, 3), 10), ((32, 32, 3), MAX_FOLDER_CLASSES)]


@pytest.mark.parametrize("name", list(model.PRESETS))
@pytest.mark.parametrize(("shape", "classes"), _registered_shapes())
def test_every_preset_fits_the_budget_on_every_dataset_shape(name, shape, classes):
    numbers = check_budget(model.preset(name, shape, classes))
    assert not budget.over_budget(numbers)


@pytest.mark.parametrize("folder", sorted(p.name for p in STARTER_DIR.iterdir() if p.is_dir()))
def test_every_starter_model_loads_within_the_budget(folder):
    assert not budget.over_budget(figures(checkpoints.load_checkpoint(STARTER_DIR / folder).spec))


def test_the_learning_lab_s_network_fits():
    check_budget(learning.LAB_SPEC)


@pytest.mark.parametrize("entry", gallery.ARCHITECTURES, ids=lambda entry: entry.spec.name)
def test_the_gallery_s_imagenet_networks_are_over_the_budget_so_none_is_ever_built(entry):
    assert budget.over_budget(figures(entry.spec))
    with pytest.raises(ExplorerError, match="the limit is"):
        model.init_variables(entry.spec)


def test_creating_variables_for_an_oversized_description_is_refused_before_any_array():
    with pytest.raises(ExplorerError, match="multiply-adds per image; the limit is"):
        model.init_variables(CRAFTED)
    with pytest.raises(ExplorerError, match="the limit is"):
        model.variable_shapes(CRAFTED)


def test_the_message_names_parameters_over_the_limit():
    wide = model.ModelSpec((64, 64, 3), 10, dense_layers=(DenseLayer(4096), DenseLayer(4096)))
    with pytest.raises(ExplorerError, match="parameters; the limit is 20 million"):
        check_budget(wide)


def test_counting_a_description_at_today_s_field_limits_is_instant():
    blocks = (ConvBlock(MAX_UNITS, MAX_UNITS, pool="none"),) * 50
    spec = model.ModelSpec((MAX_SIDE, MAX_SIDE, MAX_SIDE), MAX_CLASSES, blocks, head="gap")
    start = time.perf_counter()
    assert len(budget.over_budget(figures(spec))) == 4
    assert time.perf_counter() - start < 0.1


def _reference_figures(spec: model.ModelSpec) -> tuple[int, int, int]:
    """(parameters, largest stage, sum of stages) of the real model, from the shapes JAX
    traces for its variables and recorded stages (nothing is allocated)."""
    variables = model.variable_shapes(spec)
    image = jax.ShapeDtypeStruct((1, *spec.input_shape), jnp.float32)
    _, state = jax.eval_shape(
        lambda v, x: model.Network(spec).apply(v, x, mutable=["intermediates"]), variables, image
    )
    stages = [math.prod(leaf.shape) for leaf in jax.tree_util.tree_leaves(state["intermediates"])]
    stages.append(math.prod(spec.input_shape))
    return model.count_params(variables["params"]), max(stages), sum(stages)


def _small_block():
    small = st.integers(1, 5)
    return st.one_of(
        st.builds(
            ConvBlock,
            small,
            st.integers(1, 4),
            st.integers(1, 2),
            st.sampled_from(["same", "valid", 1]),
            pool=st.sampled_from(["none", "max", "average"]),
            batch_norm=st.booleans(),
        ),
        st.builds(PoolBlock, st.sampled_from(["max", "average"]), st.integers(1, 3), small),
        st.builds(ResidualBlock, small, st.integers(1, 2), st.booleans()),
        st.builds(
            InceptionBlock, small, small, small, small, small, small, st.sampled_from([3, 5])
        ),
    )


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    side=st.integers(4, 20),
    channels=st.integers(1, 3),
    blocks=st.lists(_small_block(), max_size=3),
    dense=st.lists(st.builds(DenseLayer, st.integers(1, 20)), max_size=2),
    gap=st.booleans(),
)
def test_the_figures_match_the_real_model_s_variables_and_stages(
    side, channels, blocks, dense, gap
):
    spec = model.ModelSpec(
        (side, side, channels),
        3,
        tuple(blocks),
        tuple(dense),
        head="gap" if gap and blocks else "flatten",
    )
    try:
        model.validate_spec(spec)
    except ExplorerError:
        return
    params, largest, total = _reference_figures(spec)
    numbers = figures(spec)
    assert numbers.params == params
    assert numbers.activation_bytes == 4 * largest
    assert numbers.batch_activation_bytes == 4 * total * INSPECT_BATCH


def _any_side():
    return st.one_of(st.integers(1, 40), st.integers(1, MAX_SIDE))


def _any_count():
    return st.one_of(st.integers(1, 64), st.integers(1, MAX_UNITS))


def _any_block():
    count = _any_count()
    return st.one_of(
        st.fixed_dictionaries(
            {
                "kind": st.just("conv"),
                "filters": count,
                "kernel_size": st.one_of(st.integers(1, 11), count),
                "stride": st.one_of(st.integers(1, 4), count),
                "padding": st.sampled_from(["same", "valid", 2]),
                "pool": st.sampled_from(["none", "max"]),
                "pool_size": st.integers(1, 4),
            }
        ),
        st.fixed_dictionaries(
            {"kind": st.just("pool"), "pool_size": st.integers(1, 5), "stride": count}
        ),
        st.fixed_dictionaries(
            {"kind": st.just("residual"), "filters": count, "stride": st.integers(1, 4)}
        ),
        st.fixed_dictionaries(
            {
                "kind": st.just("inception"),
                **{
                    name: count
                    for name in ("ones", "reduce3", "threes", "reduce5", "fives", "pool_proj")
                },
            }
        ),
    )


@settings(max_examples=300, deadline=None)
@given(
    shape=st.tuples(_any_side(), _any_side(), st.one_of(st.integers(1, 3), _any_side())),
    classes=st.integers(2, 50),
    blocks=st.lists(_any_block(), max_size=4),
    units=st.lists(_any_count(), max_size=2),
    head=st.sampled_from(["flatten", "gap"]),
)
def test_a_checkpoint_description_is_accepted_only_within_the_budget(
    shape, classes, blocks, units, head
):
    spec = {
        "input_shape": list(shape),
        "num_classes": classes,
        "conv_blocks": blocks,
        "dense_layers": [{"units": u} for u in units],
        "head": head,
    }
    metadata = json.loads(
        json.dumps(
            {
                "spec": spec,
                "dataset": {"name": "shapes", "class_names": [f"c{i}" for i in range(classes)]},
            }
        )
    )
    try:
        built = model.spec_from_dict(spec)
    except ExplorerError:
        event("not buildable")
        with pytest.raises(ExplorerError, match="no buildable model"):
            checkpoints.validate_metadata(metadata)
        return
    numbers = figures(built)
    start = time.perf_counter()
    try:
        accepted = checkpoints.validate_metadata(metadata)
    except ExplorerError as error:
        event("refused by the budget")
        message = str(error)
        assert time.perf_counter() - start < 1.0
        expected = {
            "parameters; the limit is": numbers.params > BUDGET.params,
            "multiply-adds per image; the limit is": numbers.macs > BUDGET.macs,
            "of activations per image": numbers.activation_bytes > BUDGET.activation_bytes,
            f"over {INSPECT_BATCH} images": numbers.batch_activation_bytes
            > BUDGET.batch_activation_bytes,
        }
        assert any(expected.values()), message
        for phrase, over in expected.items():
            assert (phrase in message) == over, message
        return
    event("accepted")
    assert accepted == built
    assert numbers.params <= BUDGET.params and numbers.macs <= BUDGET.macs
    assert numbers.activation_bytes <= BUDGET.activation_bytes
    assert numbers.batch_activation_bytes <= BUDGET.batch_activation_bytes


def test_a_budget_is_a_frozen_record_of_four_limits():
    assert [field.name for field in dataclasses.fields(BUDGET)] == [
        "params",
        "macs",
        "activation_bytes",
        "batch_activation_bytes",
    ]
    with pytest.raises(dataclasses.FrozenInstanceError):
        BUDGET.params = 1


def _editor_page() -> None:
    """The Train page's architecture editor on two pictures of $EDITOR_SIDE² × 3 pixels."""
    import os

    import numpy as np

    from explorer.data.splits import Dataset, Split
    from explorer.ui import train_page

    side = int(os.environ["EDITOR_SIDE"])
    split = Split(np.zeros((2, side, side, 3), np.uint8), np.array([0, 1], np.int32))
    train_page.architecture_editor(Dataset("own", ("a", "b"), split, split, split, "resize", 0))


@pytest.mark.parametrize(("side", "refused"), [(28, False), (512, True)])
def test_the_train_page_s_editor_refuses_an_architecture_over_the_budget(
    side, refused, monkeypatch
):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("EDITOR_SIDE", str(side))
    app = AppTest.from_function(_editor_page, default_timeout=120).run()
    assert not app.exception
    errors = [error.value for error in app.error]
    assert bool(errors) == refused
    if refused:
        problems = budget.over_budget(figures(model.preset("tiny", (side, side, 3), 2)))
        assert errors == [escape_markdown(" ".join(problems))]
        assert "of activations per image at its largest" in errors[0]

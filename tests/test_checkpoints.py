"""Checkpoints: round trip, atomic replacement, refusal of damaged files, list/delete/import."""

import json
import os

import jax
import msgpack
import numpy as np
import pytest

from explorer import checkpoints
from explorer.checkpoints import (
    checkpoint_bytes,
    delete_checkpoint,
    import_checkpoint,
    list_checkpoints,
    load_checkpoint,
    load_checkpoint_bytes,
    save_checkpoint,
)
from explorer.errors import ExplorerError
from explorer.model import (
    ConvBlock,
    DenseLayer,
    InceptionBlock,
    ModelSpec,
    PoolBlock,
    ResidualBlock,
    init_variables,
)

SPEC = ModelSpec((12, 12, 1), 3, (ConvBlock(4, batch_norm=True),), (DenseLayer(5),), name="t")
DATASET = {"name": "shapes", "class_names": ["a", "b", "c"], "preprocessing": "resize"}


@pytest.fixture(scope="module")
def variables():
    return jax.device_get(init_variables(SPEC, seed=4))


def assert_same_tree(a, b):
    assert jax.tree_util.tree_structure(a) == jax.tree_util.tree_structure(b)
    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b), strict=True):
        np.testing.assert_array_equal(x, y)


def test_round_trip_keeps_weights_spec_and_metadata(tmp_path, variables):
    path = save_checkpoint(tmp_path / "run", variables, SPEC, DATASET, {"test_accuracy": 0.5})
    assert path == tmp_path / "run" / "checkpoint.msgpack"
    loaded = load_checkpoint(tmp_path / "run")
    assert_same_tree(loaded.variables, variables)
    assert loaded.spec == SPEC
    assert loaded.class_names == ("a", "b", "c") and loaded.preprocessing == "resize"
    assert loaded.metadata["metrics"] == {"test_accuracy": 0.5}
    assert_same_tree(load_checkpoint(path).variables, variables)


def test_a_model_with_every_new_kind_round_trips(tmp_path):
    spec = ModelSpec(
        (12, 12, 3),
        3,
        (
            ConvBlock(4, batch_norm=True, pool="none"),
            PoolBlock("max", 3, 2, "same"),
            ResidualBlock(4, stride=2),
            ResidualBlock(2, bottleneck=True),
            InceptionBlock(2, 2, 3, 1, 2, 2, wide_kernel=3),
        ),
        head="gap",
        name="kinds",
    )
    variables = jax.device_get(init_variables(spec, seed=1))
    save_checkpoint(tmp_path / "kinds", variables, spec, DATASET, {"test_accuracy": 0.5})
    loaded = load_checkpoint(tmp_path / "kinds")
    assert loaded.spec == spec
    assert_same_tree(loaded.variables, variables)


@pytest.mark.parametrize("keep", [0.0, 0.5, 0.99])
def test_truncated_checkpoint_is_refused(variables, keep):
    data = checkpoint_bytes(variables, SPEC, DATASET, {})
    with pytest.raises(ExplorerError, match="refused"):
        load_checkpoint_bytes(data[: int(len(data) * keep)])


def test_altered_byte_is_caught_by_the_checksum(variables):
    data = bytearray(checkpoint_bytes(variables, SPEC, DATASET, {}))
    data[len(data) // 2] ^= 0x01
    with pytest.raises(ExplorerError, match="checksum|damaged"):
        load_checkpoint_bytes(bytes(data))


def test_foreign_files_are_refused():
    with pytest.raises(ExplorerError, match="not a CNN Explorer checkpoint"):
        load_checkpoint_bytes(msgpack.packb({"hello": "world"}))
    with pytest.raises(ExplorerError, match="refused"):
        load_checkpoint_bytes(b"\x80\x04\x95 this looks like a pickle")


def test_weights_that_do_not_fit_the_spec_are_refused():
    other = ModelSpec((12, 12, 1), 3, (ConvBlock(6, batch_norm=True),), (DenseLayer(5),))
    data = checkpoint_bytes(init_variables(other), SPEC, DATASET, {})
    with pytest.raises(ExplorerError, match="shape|layers"):
        load_checkpoint_bytes(data)
    wrong_classes = dict(DATASET, class_names=["a", "b"])
    with pytest.raises(ExplorerError, match="class names"):
        load_checkpoint_bytes(checkpoint_bytes(init_variables(SPEC), SPEC, wrong_classes, {}))


def test_float16_weights_load_as_float32_rounded_and_the_file_is_half_the_size(variables):
    full = checkpoint_bytes(variables, SPEC, DATASET, {})
    half = checkpoint_bytes(checkpoints.half_precision(variables), SPEC, DATASET, {})
    loaded = load_checkpoint_bytes(half).variables
    for original, got in zip(jax.tree.leaves(variables), jax.tree.leaves(loaded), strict=True):
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, np.float16(original).astype(np.float32))
        assert np.all(np.abs(got - original) <= np.abs(original) * 2.0**-11 + 2.0**-25)
    weights = sum(leaf.size for leaf in jax.tree.leaves(variables))
    assert len(full) - len(half) == pytest.approx(2 * weights, abs=300)


def test_weights_of_other_types_and_values_beyond_float16_are_refused(variables):
    as_int = jax.tree.map(lambda leaf: leaf.astype(np.int16), variables)
    with pytest.raises(ExplorerError, match="wrong shape or type"):
        load_checkpoint_bytes(checkpoint_bytes(as_int, SPEC, DATASET, {}))
    as_double = jax.tree.map(lambda leaf: leaf.astype(np.float64), variables)
    with pytest.raises(ExplorerError, match="wrong shape or type"):
        load_checkpoint_bytes(checkpoint_bytes(as_double, SPEC, DATASET, {}))
    huge = jax.tree.map(lambda leaf: leaf + 7e4, variables)
    with pytest.raises(ExplorerError, match="too large for float16"):
        checkpoints.half_precision(huge)


def test_a_crash_while_saving_leaves_the_old_checkpoint_whole(tmp_path, variables, monkeypatch):
    save_checkpoint(tmp_path, variables, SPEC, DATASET, {"version": "old"})

    def crash(*args):
        raise OSError("disk pulled out")

    monkeypatch.setattr(checkpoints.os, "replace", crash)
    with pytest.raises(ExplorerError, match="Could not save checkpoint.msgpack"):
        save_checkpoint(tmp_path, variables, SPEC, DATASET, {"version": "new"})
    monkeypatch.undo()
    assert load_checkpoint(tmp_path).metadata["metrics"] == {"version": "old"}
    assert os.listdir(tmp_path) == ["checkpoint.msgpack"]


def test_list_delete_and_import(tmp_path, variables):
    save_checkpoint(tmp_path / "first", variables, SPEC, DATASET, {})
    data = checkpoint_bytes(variables, SPEC, DATASET, {"uploaded": True})
    import_checkpoint(tmp_path, "uploaded", data)
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "checkpoint.msgpack").write_bytes(data[:100])
    (tmp_path / "first" / "metrics.json").write_text("{}")

    listed = {entry.name: entry for entry in list_checkpoints(tmp_path)}
    assert set(listed) == {"first", "uploaded", "broken"}
    assert listed["broken"].error and listed["broken"].metadata is None
    assert listed["uploaded"].metadata["metrics"] == {"uploaded": True}

    delete_checkpoint(tmp_path, "first")
    assert not (tmp_path / "first").exists()
    with pytest.raises(ExplorerError):
        delete_checkpoint(tmp_path, "../outside")
    with pytest.raises(ExplorerError):
        delete_checkpoint(tmp_path, "first")
    with pytest.raises(ExplorerError, match="refused"):
        import_checkpoint(tmp_path, "bad", data[:-10])
    assert not (tmp_path / "bad").exists()
    assert list_checkpoints(tmp_path / "missing") == []


def test_fingerprint_tells_weights_apart_and_survives_a_round_trip(tmp_path, variables):
    key = checkpoints.fingerprint(variables)
    assert checkpoints.fingerprint(jax.tree_util.tree_map(np.copy, variables)) == key
    saved = save_checkpoint(tmp_path / "run", variables, SPEC, DATASET, {})
    assert checkpoints.fingerprint(checkpoints.load_checkpoint(saved).variables) == key
    nudged = jax.tree_util.tree_map(np.copy, variables)
    nudged["params"]["conv1"]["kernel"][0, 0, 0, 0] += 1e-6
    assert checkpoints.fingerprint(nudged) != key
    reshaped = jax.tree_util.tree_map(np.ravel, variables)  # same bytes, other shapes
    assert checkpoints.fingerprint(reshaped) != key
    without_stats = {"params": variables["params"]}
    assert checkpoints.fingerprint(without_stats) != key


def crafted(variables, change) -> bytes:
    """A checkpoint with a valid envelope and checksum whose description ``change`` edits."""
    envelope = msgpack.unpackb(checkpoint_bytes(variables, SPEC, DATASET, {}), raw=False)
    metadata = json.loads(envelope["metadata"])
    change(metadata)
    envelope["metadata"] = raw = json.dumps(metadata).encode()
    envelope["sha256"] = checkpoints._digest(raw, envelope["variables"])
    return msgpack.packb(envelope, use_bin_type=True)


def _set(path: str, value):
    def change(metadata):
        *parents, last = path.split(".")
        target = metadata
        for key in parents:
            target = target[key]
        target[last] = value

    return change


CRAFTED = [
    ("metrics", [], "metrics is a list; expected a map"),
    ("metrics.best_val_accuracy", 7, r"metrics.best_val_accuracy is 7; expected a number from 0"),
    ("metrics.best_val_accuracy", "high", "metrics.best_val_accuracy is a string"),
    ("metrics.test_accuracy", float("nan"), "metrics.test_accuracy is nan"),
    ("metrics.epochs", [3], r"metrics.epochs\[0\] is a number; expected a map"),
    ("dataset.name", ["mnist"], "dataset.name is a list; expected a string"),
    ("dataset.name", "", "dataset.name must have 1 to 200 characters"),
    ("dataset.class_names", [{"a": 1}, "b", "c"], r"class_names\[0\] is a map; expected a str"),
    ("dataset.class_names", ["a", "a", "b"], "class_names name 'a' more than once"),
    ("dataset.class_names", ["a", "b", 3], r"class_names\[2\] is a number"),
    ("dataset.class_names", "abc", "class_names is a string; expected a list of strings"),
    ("dataset.class_names", ["a", "b", "x" * 201], r"class_names\[2\] must have 1 to 200"),
    ("dataset.preprocessing", "sharpen", "dataset.preprocessing must be one of"),
    ("dataset.preprocessing", None, "dataset.preprocessing must be one of"),
    ("dataset.input_shape", [28, 28, 1], "input_shape differs from the model"),
    ("dataset.split_seed", -1, "dataset.split_seed is -1; expected a number from 0"),
    ("dataset.split_seed", 1.5, "dataset.split_seed is a number; expected a whole number"),
    ("dataset.test_fingerprint", "../../etc", "dataset.test_fingerprint must be 32 hexadecimal"),
    ("dataset.test_fingerprint", 12, "dataset.test_fingerprint is a number; expected a string"),
    ("dataset.data_folder", ["/data"], "dataset.data_folder is a list; expected a folder name"),
    ("dataset.data_folder", "", "dataset.data_folder must be 1 to 4096 characters"),
    ("dataset", "shapes", "dataset is a string; expected a map"),
    ("spec", [1, 2], "spec is a list; expected a map"),
    ("spec.num_classes", "three", "spec describes no buildable model"),
    ("spec.conv_blocks", [{"filters": "4"}], "spec is malformed|spec describes no buildable"),
    ("spec.input_shape", [12, 12, 10**9], r"spec.input_shape\[2\] is 1000000000"),
    (
        "spec.conv_blocks",
        [{"kind": "residual", "filters": True}],
        r"spec.conv_blocks\[0\].filters is true/false; expected a whole number",
    ),
    (
        "spec.conv_blocks",
        [
            {
                "kind": "inception",
                "ones": 1,
                "reduce3": 1,
                "threes": 1,
                "reduce5": 1,
                "fives": 1,
                "pool_proj": 1,
                "wide_kernel": 2.5,
            }
        ],
        r"spec.conv_blocks\[0\].wide_kernel is a number; expected a whole number",
    ),
    ("spec.conv_blocks", [{"kind": "capsule", "filters": 4}], "Unknown kind of block 'capsule'"),
    ("spec.head", "attention", "Unknown head 'attention'"),
    ("created", 5, "created is a number; expected a string"),
    ("versions", "jax", "versions is a string; expected a map"),
    ("metrics.config", {"loss": "hinge"}, "metrics.config.loss must be one of"),
]


@pytest.mark.parametrize(("field", "value", "message"), CRAFTED)
def test_each_field_of_the_description_is_checked_with_one_clear_message(
    variables, field, value, message
):
    data = crafted(variables, _set(field, value))
    with pytest.raises(ExplorerError, match=f"^This checkpoint was refused: .*({message})"):
        load_checkpoint_bytes(data)


def test_the_loss_is_recorded_and_an_older_checkpoint_reads_as_cross_entropy(variables):
    recorded = crafted(variables, _set("metrics", {"config": {"loss": "mse"}}))
    assert load_checkpoint_bytes(recorded).loss == "mse"
    assert load_checkpoint_bytes(crafted(variables, lambda m: None)).loss == "cross-entropy"
    older = crafted(variables, _set("metrics", {"config": {"optimizer": "adam"}}))
    assert load_checkpoint_bytes(older).loss == "cross-entropy"


def test_the_training_augmentation_is_read_back_and_an_odd_record_is_only_ignored(variables):
    from explorer.data.augmentation import Augmentation

    def augmentation(record):
        metadata = {"metrics": {"config": {"augmentation": record}}}
        return checkpoints.training_augmentation(metadata)

    assert augmentation({"max_shift": 4.0, "max_rotation": 0}) == Augmentation(max_shift=4.0)
    assert augmentation({}) == Augmentation(), "recorded, all off"
    for odd in (
        [4],
        {"max_shift": "4"},
        {"max_shift": True},
        {"max_shift": float("nan")},
        {"max_shift": -1},
        {"colour": 1},
        {"horizontal_flip": 1},
    ):
        assert augmentation(odd) is None, odd
    assert checkpoints.training_augmentation({"metrics": {}}) is None, "not recorded"


def test_a_description_that_is_not_a_map_or_lacks_the_dataset_is_refused(variables):
    with pytest.raises(ExplorerError, match="the description is a list; expected a map"):
        load_checkpoint_bytes(_rewrap([1]))
    with pytest.raises(ExplorerError, match="dataset is missing; expected a map"):
        load_checkpoint_bytes(crafted(variables, lambda m: m.pop("dataset")))


def _rewrap(metadata) -> bytes:
    raw = json.dumps(metadata).encode()
    payload = b""
    return msgpack.packb(
        {
            "format": checkpoints.FORMAT,
            "version": checkpoints.VERSION,
            "metadata": raw,
            "variables": payload,
            "sha256": checkpoints._digest(raw, payload),
        },
        use_bin_type=True,
    )


def test_a_refused_checkpoint_is_listed_with_its_reason_and_can_be_deleted(tmp_path, variables):
    save_checkpoint(tmp_path / "good", variables, SPEC, DATASET, {"best_val_accuracy": 0.5})
    for name, change in [
        ("bad-metrics", _set("metrics", [])),
        ("bad-names", _set("dataset.class_names", ["a", "a", "b"])),
    ]:
        (tmp_path / name).mkdir()
        (tmp_path / name / "checkpoint.msgpack").write_bytes(crafted(variables, change))
    listed = {entry.name: entry for entry in list_checkpoints(tmp_path)}
    assert listed["good"].error is None and listed["good"].metadata["metrics"]
    for name in ("bad-metrics", "bad-names"):
        assert listed[name].metadata is None, "no unchecked description reaches a page"
        assert listed[name].error.startswith("This checkpoint was refused")
        with pytest.raises(ExplorerError, match="refused"):
            load_checkpoint(tmp_path / name)
        delete_checkpoint(tmp_path, name)
        assert not (tmp_path / name).exists()
    with pytest.raises(ExplorerError, match="refused"):
        import_checkpoint(tmp_path, "imported", crafted(variables, _set("metrics", [])))
    assert not (tmp_path / "imported").exists()

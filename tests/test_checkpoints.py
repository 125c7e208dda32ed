"""Checkpoints: round trip, atomic replacement, refusal of damaged files, list/delete/import."""

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
from explorer.model import ConvBlock, DenseLayer, ModelSpec, init_variables

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


def test_a_crash_while_saving_leaves_the_old_checkpoint_whole(tmp_path, variables, monkeypatch):
    save_checkpoint(tmp_path, variables, SPEC, DATASET, {"version": "old"})

    def crash(*args):
        raise OSError("disk pulled out")

    monkeypatch.setattr(checkpoints.os, "replace", crash)
    with pytest.raises(OSError):
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

"""A model is tested only on its own test split: the split is recorded and made again exactly."""

import hashlib

import numpy as np
import pytest

from explorer import checkpoints, train
from explorer.data import registry, splits
from explorer.errors import ExplorerError


def image_digests(images: np.ndarray) -> set[str]:
    """One digest per image (N, H, W, C), to compare splits as sets of images."""
    return {hashlib.blake2b(image.tobytes(), digest_size=16).hexdigest() for image in images}


@pytest.fixture(scope="module")
def seed_7_run(tmp_path_factory):
    """A model trained by the CLI on MNIST-5k with the non-default split seed 7."""
    out = tmp_path_factory.mktemp("runs") / "seed7"
    flags = ["--dataset", "mnist-5k", "--arch", "mlp", "--epochs", "1", "--seed", "7"]
    status = train.main([*flags, "--batch-size", "256", "--quiet", "--out", str(out)])
    assert status in (train.EXIT_OK, train.EXIT_DID_NOT_LEARN)  # saved either way
    return checkpoints.load_checkpoint(out)


def test_the_split_is_recorded_and_made_again_without_training_images(seed_7_run):
    record = seed_7_run.metadata["dataset"]
    assert record["split_seed"] == 7
    test = registry.reload_dataset(record).test
    trained_on = registry.load_dataset("mnist-5k", seed=7).train
    assert not image_digests(test.images) & image_digests(trained_on.images)
    assert len(test) == 500


def test_the_old_way_of_reloading_would_have_tested_on_training_images(seed_7_run):
    """Control: seed 0's test split (what Inspect used to load) overlaps seed 7's training."""
    seed_0_test = registry.load_dataset("mnist-5k", seed=0).test.images
    trained_on = registry.load_dataset("mnist-5k", seed=7).train.images
    shared = image_digests(seed_0_test) & image_digests(trained_on)
    assert len(shared) > 300  # about 80% of 500


def test_a_checkpoint_without_a_recorded_split_is_refused_with_advice():
    with pytest.raises(ExplorerError, match="does not record how its test split was made"):
        registry.reload_dataset({"name": "mnist-5k"})


def test_a_split_that_comes_out_different_is_refused(seed_7_run):
    record = dict(seed_7_run.metadata["dataset"], test_fingerprint="0" * 32)
    with pytest.raises(ExplorerError, match="is not the one this model was tested on"):
        registry.reload_dataset(record)


def test_the_fingerprint_sees_order_labels_and_pixels():
    split = registry.load_shapes(0).test
    same = splits.Split(split.images.copy(), split.labels.copy())
    assert splits.split_fingerprint(same) == splits.split_fingerprint(split)
    changes = [
        splits.Split(split.images[::-1], split.labels[::-1]),
        splits.Split(split.images, np.roll(split.labels, 1)),
        splits.Split(split.images ^ np.uint8(1), split.labels),
    ]
    fingerprints = {splits.split_fingerprint(other) for other in changes}
    assert splits.split_fingerprint(split) not in fingerprints
    assert len(fingerprints) == 3

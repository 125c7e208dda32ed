"""A checkpoint's dataset name never opens a folder, and a folder dataset's walk stops at the
file limit instead of listing the whole tree first."""

from __future__ import annotations

import io
import os
import zipfile

import jax
import numpy as np
import pytest
from PIL import Image

from explorer import checkpoints
from explorer.architecture import ConvBlock
from explorer.checkpoints import checkpoint_bytes, load_checkpoint, load_checkpoint_bytes
from explorer.data import registry, user_folders
from explorer.errors import ExplorerError
from explorer.model import ModelSpec, variable_shapes
from explorer.train import dataset_metadata

SPEC = ModelSpec((8, 8, 1), 2, (ConvBlock(2),), name="t")


def checkpoint_naming(name: str) -> bytes:
    """A valid checkpoint of a tiny model whose dataset is called ``name``."""
    variables = jax.tree_util.tree_map(
        lambda leaf: np.zeros(leaf.shape, leaf.dtype), variable_shapes(SPEC)
    )
    dataset = {
        "name": name,
        "class_names": ["a", "b"],
        "split_seed": 0,
        "test_fingerprint": "0" * 32,
    }
    return checkpoint_bytes(variables, SPEC, dataset, {})


@pytest.mark.parametrize(
    "name", ["/usr", "../x", "/etc/passwd", "a/b", "x\\y", "..", ".", "~", "~/data", "C:x", "/"]
)
def test_a_dataset_name_that_is_a_path_is_refused_at_load(name):
    with pytest.raises(ExplorerError, match="is a path"):
        load_checkpoint_bytes(checkpoint_naming(name))


def test_a_path_to_an_existing_folder_is_refused_at_load_and_import(tmp_path):
    folder = tmp_path / "pictures"
    (folder / "cats").mkdir(parents=True)
    data = checkpoint_naming(str(folder))
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / checkpoints.CHECKPOINT_FILE).write_bytes(data)
    with pytest.raises(ExplorerError, match="is a path"):
        load_checkpoint(tmp_path / "run")
    with pytest.raises(ExplorerError, match="is a path"):
        checkpoints.import_checkpoint(tmp_path / "root", "imported", data)
    assert not (tmp_path / "root" / "imported").exists()


@pytest.mark.parametrize("name", [*registry.DATASETS, user_folders.UPLOAD_NAME, "pets", "my.data"])
def test_registered_names_and_upload_labels_load(name):
    assert load_checkpoint_bytes(checkpoint_naming(name)).metadata["dataset"]["name"] == name


def _png(value: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((6, 6), value, np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_zip_uploaded_on_the_train_page_gets_a_name_checkpoints_accept():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for folder, value in (("red", 200), ("blue", 30)):
            for number in range(3):
                archive.writestr(f"{folder}/{number}.png", _png(value + number))
    dataset = user_folders.load_image_folder(buffer.getvalue(), seed=0)
    assert dataset.name == user_folders.UPLOAD_NAME
    registry.check_recorded_name(dataset_metadata(dataset)["name"])


def test_a_label_that_names_a_folder_here_is_never_opened(tmp_path, monkeypatch):
    (tmp_path / "pets" / "cats").mkdir(parents=True)
    (tmp_path / "pets" / "dogs").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)

    def refuse_to_open(*args, **kwargs):
        raise AssertionError(f"a checkpoint's dataset name opened {args}")

    monkeypatch.setattr(registry, "load_image_folder", refuse_to_open)
    record = load_checkpoint_bytes(checkpoint_naming("pets")).metadata["dataset"]
    with pytest.raises(ExplorerError, match="your own pictures"):
        registry.reload_dataset(record)


class CountingScandir:
    """``os.scandir`` that counts every entry handed out."""

    def __init__(self, real):
        self.real, self.entries = real, 0

    def __call__(self, *args, **kwargs):
        counter, listing = self, self.real(*args, **kwargs)

        class Listing:
            def __enter__(self):
                return self

            def __exit__(self, *exc):
                listing.close()

            def __iter__(self):
                return self

            def __next__(self):
                entry = next(listing)
                counter.entries += 1
                return entry

            def close(self):
                listing.close()

        return Listing()


def _tree(root, folders: int, files: int, prefix: str = "") -> None:
    for folder in range(folders):
        (root / f"class{folder}").mkdir(parents=True)
        for number in range(files):
            (root / f"class{folder}" / f"{prefix}{number}.png").write_bytes(b"")


def test_a_folder_walk_stops_at_the_first_file_over_the_limit(tmp_path, monkeypatch):
    _tree(tmp_path / "set", folders=3, files=100)
    monkeypatch.setattr(user_folders, "MAX_ARCHIVE_IMAGES", 50)
    counting = CountingScandir(os.scandir)
    monkeypatch.setattr(os, "scandir", counting)
    with pytest.raises(ExplorerError, match="more than 50 files; the limit is 50"):
        user_folders.load_image_folder(tmp_path / "set", seed=0)
    # The three class folders, then the first 51 files of one of them: not all 303 entries.
    assert counting.entries <= 3 + 51


def test_hidden_entries_count_toward_the_walk_s_limit(tmp_path, monkeypatch):
    _tree(tmp_path / "set", folders=2, files=40, prefix=".")
    monkeypatch.setattr(user_folders, "MAX_FOLDER_ENTRIES", 30)
    counting = CountingScandir(os.scandir)
    monkeypatch.setattr(os, "scandir", counting)
    with pytest.raises(ExplorerError, match="more than 30 files and folders"):
        user_folders.load_image_folder(tmp_path / "set", seed=0)
    assert counting.entries <= 31


def test_a_folder_within_the_limits_still_loads(tmp_path):
    for folder, value in (("red", 200), ("blue", 30)):
        (tmp_path / "set" / folder).mkdir(parents=True)
        for number in range(4):
            (tmp_path / "set" / folder / f"{number}.png").write_bytes(_png(value + number))
    (tmp_path / "set" / ".hidden").write_bytes(b"")
    data = user_folders.load_image_folder(tmp_path / "set", seed=0)
    assert data.class_names == ("blue", "red") and data.name == "set"
    assert len(data.train) + len(data.validation) + len(data.test) == 8


def test_a_folder_that_cannot_be_read_is_passed_over(tmp_path, monkeypatch):
    for folder, value in (("red", 200), ("blue", 30), ("locked", 90)):
        (tmp_path / "set" / folder).mkdir(parents=True)
        for number in range(3):
            (tmp_path / "set" / folder / f"{number}.png").write_bytes(_png(value + number))
    real = os.scandir

    def scandir(path="."):
        if str(path).endswith("locked"):
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    assert user_folders.load_image_folder(tmp_path / "set", seed=0).class_names == ("blue", "red")

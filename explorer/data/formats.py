"""The published dataset file formats, read from bytes.

- IDX (MNIST, Fashion-MNIST, KMNIST): a magic number, big-endian sizes, then the values.
- CIFAR-10: the "python version" batches (``cifar-10-batches-py``), read with
  :mod:`explorer.pickle_reader`, which interprets the pickle's data without executing it,
  or the "binary version" (``cifar-10-batches-bin``), which needs no pickle at all.
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np

from explorer.data.splits import Split, concatenate
from explorer.errors import ExplorerError
from explorer.pickle_reader import read_pickled_data

IDX_FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
"""The four files of an MNIST-format dataset, as published."""
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


def read_cifar10(root: Path) -> tuple[Split, Split]:
    """CIFAR-10's (training, test) splits from ``root`` (see :func:`find_cifar_batches`)."""
    folder, train_files, test_file, parse = find_cifar_batches(root)
    train = concatenate([parse((folder / f).read_bytes()) for f in train_files])
    return train, parse((folder / test_file).read_bytes())

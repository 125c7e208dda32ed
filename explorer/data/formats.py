"""The published dataset file formats, read from bytes.

- IDX (MNIST, Fashion-MNIST, KMNIST): a magic number, big-endian sizes, then the values.
- CIFAR-10: the "binary version" batches (``cifar-10-batches-bin``): records of one label
  byte and 3,072 pixel bytes.

CIFAR-10 is also published as a "python version", pickles of a dict holding a NumPy
array. Reading those safely needs a pickle interpreter of our own (``pickle.load`` runs
whatever code a crafted file names): this project had one, 252 lines that walked the opcode
stream and rebuilt NumPy's array description by hand. The binary version holds the same
images and labels, and its reader is a few lines of ``np.frombuffer`` and ``reshape`` that
can be checked by eye and can run nothing, so it is the one kept; a folder holding only the
python version is answered with where to get the binary one.
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np

from explorer.data.splits import Split, concatenate
from explorer.errors import ExplorerError

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


_CIFAR_FOLDER = "cifar-10-batches-bin"
_CIFAR_TRAIN = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
_CIFAR_TEST = "test_batch.bin"
_CIFAR_RECORD = 1 + 32 * 32 * 3
CIFAR_BINARY_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"


def parse_cifar_binary_batch(data: bytes) -> Split:
    """One "binary version" CIFAR-10 batch: records of 1 label byte + 3072 pixel bytes.

    Returns:
        Split of uint8 (N, 32, 32, 3) images (stored as channel-major 3×32×32 records).
    """
    if not data or len(data) % _CIFAR_RECORD:
        raise ExplorerError("The CIFAR-10 binary batch is truncated (not whole records).")
    records = np.frombuffer(data, np.uint8).reshape(-1, _CIFAR_RECORD)
    if records[:, 0].max() >= 10:
        raise ExplorerError("The CIFAR-10 binary batch has labels outside 0–9.")
    images = records[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return Split(np.ascontiguousarray(images), records[:, 0].astype(np.int32))


def find_cifar_batches(root: Path) -> Path:
    """The folder of the CIFAR-10 binary batches under ``root``: ``root/cifar10/``
    ``cifar-10-batches-bin``, ``root/cifar-10-batches-bin``, ``root/cifar10`` or ``root``.

    Raises:
        ExplorerError: none holds them (the message says whether the python version was
            found instead, and where to get the binary one).
    """
    candidates = (root / "cifar10" / _CIFAR_FOLDER, root / _CIFAR_FOLDER, root / "cifar10", root)
    for folder in candidates:
        if all((folder / f).is_file() for f in (*_CIFAR_TRAIN, _CIFAR_TEST)):
            return folder
    python_version = any(
        (folder / "cifar-10-batches-py").is_dir() for folder in (root, root / "cifar10")
    )
    found = (
        "Only CIFAR-10's python version (pickles, which this app does not read) is there. "
        if python_version
        else ""
    )
    raise ExplorerError(
        f"The CIFAR-10 binary batches are not in {root}. {found}Download the binary version "
        f"({CIFAR_BINARY_URL}) and unpack it so that {_CIFAR_FOLDER}/ lies in the data folder."
    )


def read_cifar10(root: Path) -> tuple[Split, Split]:
    """CIFAR-10's (training, test) splits from ``root`` (see :func:`find_cifar_batches`)."""
    folder = find_cifar_batches(root)
    train = concatenate([parse_cifar_binary_batch((folder / f).read_bytes()) for f in _CIFAR_TRAIN])
    return train, parse_cifar_binary_batch((folder / _CIFAR_TEST).read_bytes())

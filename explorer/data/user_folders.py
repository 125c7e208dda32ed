"""A dataset from a zip file or folder of class-named folders of images, with limits.

Nothing is extracted to disk: each file is read through a size cap, decoded toward the
working size and resized, one at a time.
"""

from __future__ import annotations

import io
import os
import zipfile
import zlib
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path, PurePosixPath, PureWindowsPath

import numpy as np
from PIL import Image

from explorer.data.splits import Dataset, split_three_ways
from explorer.errors import ExplorerError
from explorer.files import read_regular_file, too_large
from explorer.images import decode_image, decoded_size, to_rgb

MAX_ARCHIVE_IMAGES = 20_000
MAX_ARCHIVE_BYTES = 500 * 2**20
MAX_IMAGE_FILE_BYTES = 10 * 2**20
MAX_FOLDER_CLASSES = 100
MAX_DATASET_PIXELS = 1_000_000_000
"""Decoded pixels a folder or zip dataset may cost in all (JPEGs count at the reduced
scale they are decoded at): e.g. 20,000 pictures of 220×220, forty PNGs of 5000×5000, or
thousands of phone photos. Bounds the time spent decoding a small but hostile zip."""
MAX_FOLDER_ENTRIES = 4 * MAX_ARCHIVE_IMAGES
"""Entries (files, folders, hidden ones) a folder dataset's walk looks at before giving up."""
UPLOAD_NAME = "uploaded zip"
"""The dataset name of a zip uploaded on the Train page (a folder or zip given by path is
named after its last part, e.g. "pets")."""
MIN_IMAGES_PER_CLASS = 3
"""So that every class has an image for training, validation and test."""


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


def _walk_files(root: Path) -> Iterator[Path]:
    """Every file below ``root``, one directory entry at a time, without hidden files and
    folders and ``__MACOSX`` (not descended into); links to folders are not followed and
    folders that cannot be read are passed over.

    Raises:
        ExplorerError: more than :data:`MAX_FOLDER_ENTRIES` entries were looked at.
    """
    folders, seen = [root], 0
    while folders:
        try:
            listing = os.scandir(folders.pop())
        except OSError:
            continue
        with listing:
            for entry in listing:
                seen += 1
                if seen > MAX_FOLDER_ENTRIES:
                    raise ExplorerError(
                        f"The folder holds more than {MAX_FOLDER_ENTRIES:,} files and folders; "
                        f"the limit is {MAX_FOLDER_ENTRIES:,}."
                    )
                if _is_noise(PurePosixPath(entry.name)):
                    continue
                if not entry.is_dir():
                    yield Path(entry.path)
                elif not entry.is_symlink():
                    folders.append(Path(entry.path))


def _folder_entries(root: Path) -> list[Entry]:
    """The files of a folder dataset in path order, counted as the walk finds them: it stops
    at the first file over :data:`MAX_ARCHIVE_IMAGES`."""
    files = []
    for path in _walk_files(root):
        files.append(path)
        if len(files) > MAX_ARCHIVE_IMAGES:
            raise ExplorerError(
                f"The folder has more than {MAX_ARCHIVE_IMAGES:,} files; "
                f"the limit is {MAX_ARCHIVE_IMAGES:,}."
            )
    entries = [(PurePosixPath(p.relative_to(root).as_posix()), p) for p in sorted(files)]
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
        name, loaded = UPLOAD_NAME, _images_from_zip(io.BytesIO(source), side)
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

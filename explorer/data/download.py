"""Downloading MNIST and Fashion-MNIST into the data folder, only when the user asks."""

from __future__ import annotations

import hashlib
import os
import socket
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from explorer.data.registry import DATASETS, data_dir
from explorer.errors import ExplorerError
from explorer.files import atomic_file, remove_orphans


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
    digest = hashlib.md5(usedforsecurity=False)
    try:
        with (
            atomic_file(destination, ".part") as out,
            urllib.request.urlopen(url, timeout=timeout) as response,
        ):
            for chunk in iter(lambda: response.read(2**20), b""):
                digest.update(chunk)
                out.write(chunk)
            if digest.hexdigest() != md5:
                raise ExplorerError(
                    f"{destination.name} downloaded from {url} has the wrong checksum; it was "
                    "deleted. Try again later or copy the file in by hand."
                )
    except (urllib.error.URLError, OSError) as error:
        raise ExplorerError(f"Could not download {url}: {error}.") from None


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

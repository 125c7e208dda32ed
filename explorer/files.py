"""Reading files a user names or uploads, writing files atomically, and tidying after
saves that were killed.

:func:`read_regular_file` reads a path as data only if it is a plain file of bounded
size: a device (``/dev/zero``), a FIFO, a socket or a folder is refused before it is
opened for reading, and even a plain file is read through a cap, so a file that grows
(or lies about its size) cannot make the server read without limit or wait forever.

:func:`os_errors_as_messages` turns an operating-system error into a message for people
that names no path.

:func:`atomic_file` writes a file beside its destination and renames it into place only
when the writing succeeded, so a reader sees the old file or the whole new one.
:func:`remove_orphans` deletes such temporary files (of
:func:`explorer.checkpoints.write_atomically`, :func:`explorer.data.download.download_file`)
whose writer was killed before it could rename or delete them.
"""

from __future__ import annotations

import os
import stat
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from explorer.errors import ExplorerError

ORPHAN_AGE_SECONDS = 600.0
"""A temporary file untouched for this long belongs to a writer that died: a live save
writes its file within seconds, a live download at least once a minute."""


def too_large(size: int, limit: int) -> ExplorerError:
    """The error for a file of ``size`` bytes over a ``limit`` in bytes."""
    return ExplorerError(f"The file is {size / 2**20:.0f} MB; the limit is {limit / 2**20:.0f} MB.")


def _refuse_unless_regular(mode: int) -> None:
    if not stat.S_ISREG(mode):
        kind = "a folder" if stat.S_ISDIR(mode) else "a device, pipe or socket"
        raise ExplorerError(f"This is {kind}, not a file: only plain files can be read.")


def read_regular_file(path: str | os.PathLike, limit: int) -> bytes:
    """The bytes of the plain file at ``path``, at most ``limit`` of them.

    The path is checked with ``os.stat`` before it is opened (so opening has no effect
    on a device and cannot block on a FIFO), opened non-blocking, checked again on the
    open descriptor, and read through a cap of ``limit + 1`` bytes.

    Raises:
        ExplorerError: missing or unreadable, not a plain file, or larger than ``limit``.
    """
    try:
        _refuse_unless_regular(os.stat(path).st_mode)
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(descriptor, "rb") as file:
            info = os.fstat(file.fileno())
            _refuse_unless_regular(info.st_mode)
            if info.st_size > limit:
                raise too_large(info.st_size, limit)
            data = file.read(limit + 1)
    except FileNotFoundError:
        raise ExplorerError("There is no such file.") from None
    except OSError as error:
        raise ExplorerError(f"The file cannot be read ({os_error_reason(error)}).") from None
    if len(data) > limit:
        raise too_large(len(data), limit)
    return data


def os_error_reason(error: OSError) -> str:
    """What went wrong, in the system's words for the error number: never the error's own
    text, which names the paths involved (the server's folders, a workspace's secret id)."""
    return os.strerror(error.errno) if error.errno else "the operating system refused"


@contextmanager
def os_errors_as_messages(action: str) -> Iterator[None]:
    """Turn an :class:`OSError` raised in the block into :class:`ExplorerError`
    ``"Could not ACTION (REASON)."``, naming no path (see :func:`os_error_reason`)."""
    try:
        yield
    except OSError as error:
        raise ExplorerError(f"Could not {action} ({os_error_reason(error)}).") from None


@contextmanager
def atomic_file(path: Path, suffix: str) -> Iterator[BinaryIO]:
    """A new file to write ``path``'s contents into, put in its place when the block ends.

    The file is ``.NAME.RANDOM<suffix>`` in ``path``'s folder (created if missing). When the
    block ends normally it is flushed to disk and renamed over ``path`` (``os.replace``),
    and the folder is synced; when the block raises, it is deleted and ``path`` is left as
    it was.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    try:
        with os.fdopen(handle, "wb") as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp_name, path)
    finally:
        if os.path.exists(temp_name):
            os.unlink(temp_name)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def remove_orphans(folder: str | os.PathLike, pattern: str) -> list[Path]:
    """Delete files in ``folder`` matching the glob ``pattern`` that nobody has written
    for :data:`ORPHAN_AGE_SECONDS`; returns the paths deleted.

    Younger matches are left alone: they may belong to a save in progress. A folder
    that does not exist, or a file that vanishes or cannot be deleted, is skipped.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    cutoff = time.time() - ORPHAN_AGE_SECONDS
    removed = []
    for path in folder.glob(pattern):
        try:
            info = path.lstat()
            if stat.S_ISREG(info.st_mode) and info.st_mtime < cutoff:
                path.unlink()
                removed.append(path)
        except OSError:
            continue
    return removed

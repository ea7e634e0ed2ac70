"""Atomic file writes and checked reads.

Every result minievo writes (configs, records, networks, checkpoints) goes
through these helpers: the bytes are written to a temporary file in the same
folder, flushed to disk, then moved over the target with :func:`os.replace`,
which is atomic on POSIX and Windows. A run killed at any moment leaves either
the old file or the new one, never half of one.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

#: Temporary files of :func:`_atomic_write`: ``.{name}.{random}.tmp``.
TEMPORARY_PATTERN = ".*.tmp"


def _atomic_write(path, write) -> None:
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise _naming(err, path.parent) from None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as err:  # name the folder, not the random temporary name
        raise type(err)(err.errno, err.strerror, str(path.parent)) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes files private; results and caches are shared
        os.replace(tmp, path)
    except OSError as err:
        _discard(tmp)
        if err.filename == tmp:
            err = type(err)(err.errno, err.strerror, str(path))
        raise _naming(err, path) from None
    except BaseException:
        _discard(tmp)
        raise


def _discard(tmp) -> None:
    try:
        os.unlink(tmp)
    except FileNotFoundError:
        pass


def _naming(err: OSError, path: Path) -> OSError:
    """``err`` with ``path`` as its file name when it had none (a failed write: ENOSPC)."""
    if err.filename is not None or err.errno is None:
        return err
    return type(err)(err.errno, err.strerror, str(path))


def remove_stale_temporaries(folder) -> list[Path]:
    """Delete the temporary files interrupted atomic writes left in ``folder`` and its subfolders.

    A write killed between ``mkstemp`` and ``os.replace`` (a kill during a
    checkpoint) leaves a ``.{name}.{random}.tmp`` file that nothing reads.
    Call this only when no other process writes into ``folder``. Returns the
    removed paths.
    """
    folder = Path(folder)
    removed = []
    for tmp in list(folder.glob(TEMPORARY_PATTERN)) + list(folder.glob("*/" + TEMPORARY_PATTERN)):
        if tmp.is_file():
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
    return removed


def atomic_write_bytes(path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    _atomic_write(path, lambda handle: handle.write(data))


def atomic_write_json(path, obj) -> None:
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode())


def atomic_savez(path, **arrays) -> None:
    """``numpy.savez`` to ``path`` atomically (the name is kept as given)."""
    _atomic_write(path, lambda handle: np.savez(handle, **arrays))


def atomic_savez_compressed(path, **arrays) -> None:
    """``numpy.savez_compressed`` to ``path`` atomically (the name is kept as given)."""
    _atomic_write(path, lambda handle: np.savez_compressed(handle, **arrays))


class FileFormatError(ValueError):
    """A file minievo reads is not what it should be; the message names the file."""


def load_npz(path) -> dict:
    """Read every array of an ``.npz`` file into a dict.

    Raises
    ------
    FileNotFoundError, FileFormatError
        With a message naming the file: missing, truncated or not an npz.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {name: data[name] for name in data.files}
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as err:
        raise FileFormatError(
            f"{path}: not a readable .npz file (truncated or corrupt?): {err}"
        ) from None

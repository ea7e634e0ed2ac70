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


def _atomic_write(path, write) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes files private; results and caches are shared
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


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


def load_npz(path) -> dict:
    """Read every array of an ``.npz`` file into a dict.

    Raises
    ------
    FileNotFoundError, ValueError
        With a message naming the file: missing, truncated or not an npz.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {name: data[name] for name in data.files}
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as err:
        raise ValueError(f"{path}: not a readable .npz file (truncated or corrupt?): {err}") from None

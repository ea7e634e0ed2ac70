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
import threading
import time
import zipfile
import zlib
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
    problem = npz_problem(path)
    if problem:
        raise FileFormatError(f"{path}: {problem}")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {name: data[name] for name in data.files}
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, KeyError) as err:
        raise FileFormatError(
            f"{path}: not a readable .npz file (truncated or corrupt?): {reason_without_pickle(err)}"
        ) from None


#: The first bytes of a zip archive (an .npz), of an empty one, and of a single .npy array.
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_NPY_MAGIC = b"\x93NUMPY"


def npz_problem(path) -> str | None:
    """Why ``path`` cannot be an ``.npz`` archive judging by its first bytes, or None.

    A file that is not a zip archive is named for what it is (empty, a single
    ``.npy`` array, something else), never "load it with allow_pickle":
    minievo never unpickles.
    """
    try:
        with open(path, "rb") as handle:
            head = handle.read(8)
    except OSError:
        return None  # the caller's read names the error
    if head.startswith(_ZIP_MAGIC):
        return None
    if not head:
        return "an empty file, not an .npz archive (truncated?)"
    if head.startswith(_NPY_MAGIC):
        return "a single .npy array, not an .npz archive"
    return "not an .npz archive (it does not start as a zip file: damaged, or another kind of file)"


def reason_without_pickle(err: BaseException) -> str:
    """The error's text without NumPy's advice to unpickle (minievo never does)."""
    text = str(err)
    if "allow_pickle" in text or "pickled" in text:
        return "an array holds Python objects (pickled data), which minievo does not read"
    return text


# ---------------------------------------------------------------------------
# One writer per folder
# ---------------------------------------------------------------------------

#: The lock file of a run or sweep folder (:class:`FolderLock`).
LOCK_FILE = ".minievo.lock"


class FolderInUseError(OSError):
    """Another process holds the folder's lock; the message names the folder and its pid."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class FolderLock:
    """An advisory, exclusive lock on a folder: one writer at a time.

    ``fcntl.flock`` on ``FOLDER/.minievo.lock``, taken without waiting. The
    operating system releases it when its holder ends, however it ends
    (``kill -9`` included), so a lock is never stale; the file stays and
    holds the process id of its last holder (for the error message of a
    refused second writer). Readers (``minievo report``, ``inspect``) never
    take it: every file but ``stats.jsonl`` is replaced atomically, and
    ``stats.jsonl`` only grows by whole lines. Where ``fcntl`` is missing
    (Windows) the lock does nothing.

    Re-entrant within a thread (``resume`` calling ``run``); another thread
    of the same process is refused like another process.
    """

    _held: dict = {}

    def __init__(self, folder, what: str = "folder"):
        self.folder = Path(folder)
        self.what = what
        self._fd = None
        self._nested = False

    def _key(self):
        return os.path.realpath(self.folder), threading.get_ident()

    def acquire(self) -> FolderLock:
        key = self._key()
        if key in FolderLock._held:
            FolderLock._held[key][1] += 1
            self._nested = True
            return self
        try:
            import fcntl
        except ImportError:  # Windows: no advisory locks
            return self
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise _naming(err, self.folder) from None
        path = self.folder / LOCK_FILE
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as err:
            raise _naming(err, path) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = _wait_for_holder(fd)
            os.close(fd)
            by = f"process {holder}" if holder else "another process"
            raise FolderInUseError(
                f"{self.folder}: {self.what} in use by {by} (one writer at a time); "
                f"wait for it to end, or choose another --out"
            ) from None
        # one write replaces the last holder's id (then cut any longer old content), so a
        # refused writer reads the old or the new id, never an empty file
        text = f"{os.getpid()}\n".encode()
        os.pwrite(fd, text, 0)
        os.ftruncate(fd, len(text))
        self._fd = fd
        FolderLock._held[key] = [self, 1]
        return self

    def release(self) -> None:
        key = self._key()
        if self._nested:
            FolderLock._held[key][1] -= 1
            return
        if self._fd is None:
            return
        FolderLock._held.pop(key, None)
        os.close(self._fd)  # closing the descriptor releases the flock
        self._fd = None

    def __enter__(self) -> FolderLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def _wait_for_holder(fd, seconds: float = 1.0) -> int | None:
    """The process id of the lock's holder, which writes it right after taking the lock:
    a writer refused in that instant reads the last holder's id, so wait a moment for a
    live one. None when none appears."""
    deadline = time.monotonic() + seconds
    while True:
        pid = _read_pid(fd)
        if pid is not None and _alive(pid):
            return pid
        if time.monotonic() > deadline:
            return None
        time.sleep(0.02)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def _read_pid(fd) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        return int(text) if text else None
    except (OSError, ValueError):
        return None


def load_json(path, expected: type | None = dict):
    """The JSON document in ``path``, or :class:`FileFormatError` naming the file.

    ``expected``: the type the top level must have (``dict``, ``list``; None: any).
    """
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
        value = json.loads(text)
    except UnicodeDecodeError:
        raise FileFormatError(f"{path}: not a text file (damaged?)") from None
    except json.JSONDecodeError as err:
        raise FileFormatError(
            f"{path}: not valid JSON at line {err.lineno}, column {err.colno}: {err.msg} "
            "(damaged or half-written)"
        ) from None
    if expected is not None and not isinstance(value, expected):
        raise FileFormatError(
            f"{path}: a JSON {type(value).__name__}, expected a JSON "
            f"{'object' if expected is dict else expected.__name__} (damaged, or written by "
            "another version)"
        )
    return value

"""Checkpoints: everything needed to continue a run exactly where it stopped.

A checkpoint is one ``.npz`` file written atomically (temporary file, then
``os.replace``). It holds

* the networks (parameters, masks, Adam state) under ``{name}_`` prefixes,
* a JSON document ``state`` with the next epoch, learning rates, counters,
  the byte length of ``stats.jsonl`` at that moment and the state of every
  ``numpy.random.Generator`` of the run (``bit_generator.state``), so the
  random streams continue as if the run had never stopped.

Non-empty activation records are stored with their network
(``MLP.state_dict``): they span epochs in canonical training with the
VARIANCE operator and in ``epoch-node``/``all_vs_all`` (kept until the next
pruning, as published), so a resume continues bit for bit. So is each
network's pruned count at its last pruning event.

Cadence (:class:`CheckpointCadence`): after an epoch, a checkpoint is written
when ``checkpoint_seconds`` have passed since the last one (default 60 s, so
a short trial writes about one, ~10 MB, instead of one per epoch), or every
``checkpoint_every`` epochs when that is set (0: not by epoch count), and
always after the last epoch. While a run trains, SIGINT and SIGTERM
(:func:`stop_requests`) let the current epoch finish, write a checkpoint and
then stop the run (``KeyboardInterrupt``, or ``SystemExit(143)`` for
SIGTERM); a second signal stops at once. With the fresh Adam of the published
code (``optimizer_state="fresh"``) the moments are always zero, so they are
not stored (``moments=False``) and come back as zeros. A finished run may drop
its checkpoint (``keep_checkpoint=False``, :func:`drop_checkpoint`).
"""

from __future__ import annotations

import json
import signal
import threading
import time
import zipfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ..io import FileFormatError, atomic_savez, load_npz, npz_problem, reason_without_pickle
from ..network import MLP

CHECKPOINT_FILE = "checkpoint.npz"


def generator_state(rng: np.random.Generator) -> dict:
    """JSON-serialisable state of a generator."""
    return rng.bit_generator.state


def restore_generator(state: dict) -> np.random.Generator:
    """A generator continuing exactly from ``state`` (from :func:`generator_state`)."""
    bit_generator = getattr(np.random, state["bit_generator"])()
    bit_generator.state = state
    return np.random.Generator(bit_generator)


def _json_default(value):
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot store {type(value).__name__} in a checkpoint")


#: Arrays of a network's state that a fresh-Adam run does not store (always zero).
MOMENTS = ("adam_m", "adam_v")


def save_checkpoint(
    run_dir, state: dict, networks: dict[str, MLP], extra_arrays=None, *, moments: bool = True
) -> Path:
    """Write ``run_dir/checkpoint.npz`` atomically.

    Parameters
    ----------
    state : dict
        JSON-serialisable (generator states from :func:`generator_state`).
    networks : dict of name -> MLP
    extra_arrays : dict of name -> ndarray, optional
    moments : bool
        Store the Adam moments; False when they are zero by construction
        (fresh Adam), which halves the file. :func:`load_checkpoint` then
        restores them as zeros.
    """
    arrays = {"state": np.asarray(json.dumps(state, default=_json_default))}
    for name, net in networks.items():
        net_state = net.state_dict(f"{name}_")
        if not moments:
            for key in MOMENTS:
                del net_state[f"{name}_{key}"]
        arrays.update(net_state)
    for name, value in (extra_arrays or {}).items():
        arrays[f"extra_{name}"] = value
    path = Path(run_dir) / CHECKPOINT_FILE
    atomic_savez(path, **arrays)
    return path


def load_checkpoint(run_dir, record_rows: int = 0):
    """Read a checkpoint: ``(state, networks_by_name, extra_arrays)``.

    Raises ``FileNotFoundError``/``FileFormatError`` naming the file when it
    is missing or damaged.
    """
    path = Path(run_dir) / CHECKPOINT_FILE
    if not path.exists():
        raise FileNotFoundError(
            f"{path}: no checkpoint to resume from (was the run started "
            f"with checkpoints, and did it finish its first epoch?)"
        )
    data = load_npz(path)
    try:
        state = json.loads(str(data["state"]))
    except (KeyError, json.JSONDecodeError) as err:
        raise FileFormatError(f"{path}: checkpoint state unreadable: {err}") from None
    names = sorted({key[: -len("_params")] for key in data if key.endswith("_params")})
    for name in names:  # saved with moments=False: zero moments
        for key in MOMENTS:
            data.setdefault(f"{name}_{key}", np.zeros_like(data[f"{name}_params"]))
    try:
        networks = {
            name: MLP.from_state_dict(data, f"{name}_", record_rows, source=str(path))
            for name in names
        }
    except ValueError as err:  # messages name the file and the network
        raise FileFormatError(str(err)) from None
    extra = {key[len("extra_") :]: value for key, value in data.items() if key.startswith("extra_")}
    return state, networks, extra


def checkpoint_state(run_dir) -> dict:
    """The JSON ``state`` of a run folder's checkpoint, without reading its networks."""
    path = Path(run_dir) / CHECKPOINT_FILE
    problem = npz_problem(path) if path.exists() else None
    if problem:
        raise FileFormatError(f"{path}: {problem}")
    try:
        with np.load(path, allow_pickle=False) as data:
            return json.loads(str(data["state"]))
    except FileNotFoundError:
        raise
    except (KeyError, ValueError, OSError, EOFError, zipfile.BadZipFile) as err:  # damaged
        raise FileFormatError(
            f"{path}: checkpoint state unreadable: {reason_without_pickle(err)}"
        ) from None


#: Keys of a checkpoint's ``state`` that every training loop reads back.
REQUIRED_STATE = ("next_epoch", "stats_bytes")


def verify_checkpoint(run_dir) -> dict:
    """Read and check the whole of ``run_dir/checkpoint.npz``; returns its ``state``.

    Every array is read (so the zip's CRC-32 of each is checked), every
    network is rebuilt, and the state must hold a non-negative integer
    ``next_epoch`` and ``stats_bytes``. Nothing is written. Raises
    ``FileNotFoundError``/``FileFormatError`` with one line naming the file
    and what is wrong, so that ``--resume`` can refuse before it changes a byte.
    """
    path = Path(run_dir) / CHECKPOINT_FILE
    state, _, _ = load_checkpoint(run_dir)
    if not isinstance(state, dict):
        raise FileFormatError(f"{path}: checkpoint state is not a JSON object")
    for key in REQUIRED_STATE:
        _state_count(state, key, path)
    return state


def _state_count(state: dict, key: str, path) -> int:
    """``state[key]``, a count; ``FileFormatError`` naming the file when it is not one."""
    value = state.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise FileFormatError(
            f"{path}: checkpoint state has {key}={value!r}; expected an integer >= 0 "
            "(damaged, or written by another version)"
        )
    return value


def checkpoint_records(run_dir, state: dict, canonical: bool) -> int:
    """How many records ``stats.jsonl`` holds up to the checkpoint's ``stats_bytes``.

    Derived from what every checkpoint stores: canonical training writes one
    record per epoch (``next_epoch``, :func:`~minievo.training.runs.checkpoint_canonical`),
    the coevolution one per visit, a cell's or an ``all_vs_all`` pair's
    (``fe_cnt``, :func:`~minievo.training.population.checkpoint_population`);
    the GPU lockstep writes its checkpoints through the same two functions.
    Raises ``FileFormatError`` naming the file when the count is missing.
    """
    key = "next_epoch" if canonical else "fe_cnt"
    return _state_count(state, key, Path(run_dir) / CHECKPOINT_FILE)


def checkpoint_progress(run_dir) -> int:
    """The epochs a run folder's checkpoint has completed (its ``next_epoch``)."""
    return int(checkpoint_state(run_dir)["next_epoch"])


def drop_checkpoint(run_dir) -> None:
    """Delete ``run_dir/checkpoint.npz`` of a finished run (``keep_checkpoint=False``)."""
    path = Path(run_dir) / CHECKPOINT_FILE
    if path.exists():
        path.unlink()


class CheckpointCadence:
    """When to write a checkpoint: by elapsed time, by epoch count, at the end.

    Parameters
    ----------
    every : int
        Every this many epochs (0: not by epoch count).
    seconds : float
        When this many seconds have passed since the last checkpoint (or the
        start) at the end of an epoch (0: not by time).
    epochs : int
        Total epochs of the run: the last one is always followed by a checkpoint
        (unless both ``every`` and ``seconds`` are 0: no checkpoints at all).
    clock : callable
        Monotonic seconds (``time.monotonic``; tests pass a fake).
    """

    def __init__(self, every: int, seconds: float, epochs: int, clock=time.monotonic):
        self.every, self.seconds, self.epochs, self.clock = (
            int(every),
            float(seconds),
            epochs,
            clock,
        )
        self.last = clock()

    @classmethod
    def from_config(cls, config, clock=time.monotonic) -> CheckpointCadence:
        return cls(config.checkpoint_every, config.checkpoint_seconds, config.epochs, clock)

    @property
    def enabled(self) -> bool:
        return self.every > 0 or self.seconds > 0

    def due(self, next_epoch: int, stopping: bool = False) -> bool:
        """Whether to checkpoint now that epochs ``0 .. next_epoch - 1`` are done."""
        if not self.enabled:
            return False
        return (
            stopping
            or next_epoch >= self.epochs
            or (self.every > 0 and next_epoch % self.every == 0)
            or (self.seconds > 0 and self.clock() - self.last >= self.seconds)
        )

    def done(self) -> None:
        """A checkpoint was just written: the time cadence restarts."""
        self.last = self.clock()


class StopRequest:
    """Set by SIGINT/SIGTERM during :func:`stop_requests`; read at epoch boundaries."""

    def __init__(self):
        self.signum = None

    @property
    def requested(self) -> bool:
        return self.signum is not None

    def stop(self):
        """Raise what the signal would have raised (after the caller's checkpoint)."""
        if self.signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise SystemExit(128 + int(self.signum))


@contextmanager
def stop_requests():
    """Turn SIGINT and SIGTERM into a :class:`StopRequest` for the duration of a run.

    The training loop finishes its epoch, writes a checkpoint and calls
    :meth:`StopRequest.stop`. The first signal restores the previous handlers,
    so a second one stops at once. Outside the main thread (a thread-pool
    sweep) signals cannot be caught: nothing is installed.
    """
    request = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield request
        return
    names = (signal.SIGINT, signal.SIGTERM)
    previous = {signum: signal.getsignal(signum) for signum in names}

    def handler(signum, frame):
        request.signum = signum
        for other, old in previous.items():
            signal.signal(other, old)

    for signum in names:
        signal.signal(signum, handler)
    try:
        yield request
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)

"""Checkpoints: everything needed to continue a run exactly where it stopped.

A checkpoint is one ``.npz`` file written atomically (temporary file, then
``os.replace``). It holds

* the networks (parameters, masks, Adam state) under ``{name}_`` prefixes,
* a JSON document ``state`` with the next epoch, learning rates, counters,
  the byte length of ``stats.jsonl`` at that moment and the state of every
  ``numpy.random.Generator`` of the run (``bit_generator.state``), so the
  random streams continue as if the run had never stopped (DESIGN
  "Randomness": checkpoints store generator states).

Non-empty activation records are stored with their network
(``MLP.state_dict``): they span epochs in canonical training with the
VARIANCE operator and in ``epoch-node``/``all_vs_all`` (kept until the next
pruning, as published), so a resume continues bit for bit. So is each
network's pruned count at its last pruning event.
"""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np

from ..io import FileFormatError, atomic_savez, load_npz
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


def save_checkpoint(run_dir, state: dict, networks: dict[str, MLP], extra_arrays=None) -> Path:
    """Write ``run_dir/checkpoint.npz`` atomically.

    Parameters
    ----------
    state : dict
        JSON-serialisable (generator states from :func:`generator_state`).
    networks : dict of name -> MLP
    extra_arrays : dict of name -> ndarray, optional
    """
    arrays = {"state": np.asarray(json.dumps(state, default=_json_default))}
    for name, net in networks.items():
        arrays.update(net.state_dict(f"{name}_"))
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
        raise FileNotFoundError(f"{path}: no checkpoint to resume from (was the run started "
                                f"with checkpoints, and did it finish its first epoch?)")
    data = load_npz(path)
    try:
        state = json.loads(str(data["state"]))
    except (KeyError, json.JSONDecodeError) as err:
        raise FileFormatError(f"{path}: checkpoint state unreadable: {err}") from None
    names = sorted({key[:-len("_params")] for key in data if key.endswith("_params")})
    try:
        networks = {name: MLP.from_state_dict(data, f"{name}_", record_rows, source=str(path))
                    for name in names}
    except ValueError as err:  # messages name the file and the network
        raise FileFormatError(str(err)) from None
    extra = {key[len("extra_"):]: value for key, value in data.items() if key.startswith("extra_")}
    return state, networks, extra


def checkpoint_state(run_dir) -> dict:
    """The JSON ``state`` of a run folder's checkpoint, without reading its networks."""
    path = Path(run_dir) / CHECKPOINT_FILE
    try:
        with np.load(path, allow_pickle=False) as data:
            return json.loads(str(data["state"]))
    except FileNotFoundError:
        raise
    except (KeyError, ValueError, OSError, EOFError, zipfile.BadZipFile) as err:  # damaged
        raise FileFormatError(f"{path}: checkpoint state unreadable: {err}") from None


def checkpoint_progress(run_dir) -> int:
    """The epochs a run folder's checkpoint has completed (its ``next_epoch``)."""
    return int(checkpoint_state(run_dir)["next_epoch"])

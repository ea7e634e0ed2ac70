"""What a run records (docs/algorithm.md §6): one JSON object per line in ``stats.jsonl``.

Key names follow the published code where one exists (``iteration``,
``node_idx``, ``learning_rate``, ``min_selection_loss``,
``min_replacement_loss``, ``n_pruned_encoder``, ``n_pruned_decoder``,
``test_loss``, ``mean_L1``, ``std_L1``, ``fe_cnt``, ``timestamp``), so analysis
written for the published logs reads minievo's. minievo adds
``n_zero_encoder``/``n_zero_decoder``, ``n_active_encoder``/``n_active_decoder``,
the structural capacity ``live_units``, ``compact_params``, ``compact_flops``
(on the test-loss cadence, :func:`full_set_statistics`) and, for canonical
training, ``min_batch_loss`` and ``train_L1``.

Three pruning counts, one meaning each (:func:`pruned_counts`):

* ``n_pruned_*``, the published key: with ``mask_mode="regrow"`` (published)
  the network's exact zeros **at its last pruning event**, kept through
  copies and later records even after those zeros have regrown (what the
  published code reports and the papers' capacity figures are built from);
  with persistent masks, the masked entries (always zero, only grows);
* ``n_zero_*``: parameters exactly 0.0 at record time;
* ``n_active_*``: parameters non-zero at record time (``n_params - n_zero_*``).

``summary.json``, the figures and ``minievo inspect`` use the same names.

Crash safety
------------
Each record is one ``write`` of one complete line, flushed at once. A
checkpoint stores the byte length of ``stats.jsonl`` at the moment it was
taken; resuming truncates the file to that length, so records of the
interrupted epoch are written again exactly once. :func:`read_stats` ignores a
trailing partial line (the only damage a kill can do between checkpoints).
Flushing once per epoch instead would keep that guarantee too (the
checkpoint syncs first, and resume truncates), but it saves only about
12 µs a record (0.2% of a visit of the main setting) and would hold an
epoch's records back from anyone reading the file while the run goes on,
so each record is flushed on its own.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np

from ..io import FileFormatError
from ..pruning.compact import structural_capacity

STATS_FILE = "stats.jsonl"
#: The structural capacity's keys (:func:`full_set_statistics`).
STRUCTURAL_KEYS = ("live_units", "compact_params", "compact_flops")


def _plain(value):
    """JSON-friendly scalars: NumPy numbers to Python, non-finite floats to null."""
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, np.bool_):
        return bool(value)
    return value


#: What ``n_pruned_*`` counts, by mask mode (labels of the figures).
PRUNED_LABELS = {
    "regrow": "n_pruned (zeros at the last pruning event)",
    "persistent": "n_pruned (masked entries)",
    None: "n_pruned (published count)",
}


def pruned_counts(pair, mask_mode: str) -> dict:
    """The pruning counts of an autoencoder pair, as recorded (module docstring).

    ``n_pruned_*`` (published key)
        Persistent masks: entries whose mask is 0 (the count only grows).
        Regrow mode: the exact zeros of the network at its **last pruning
        event** (``MLP.n_pruned_at_last_prune``), carried through copies and
        reported even after the zeros have grown back, as the published
        ``n_pruned`` (0 before the first pruning).
    ``n_zero_*``
        Parameters exactly 0.0 right now.
    ``n_active_*``
        Parameters that are non-zero right now (``n_params - n_zero_*``).
    """
    from ..pruning.operators import n_pruned

    counts = {}
    for name, net in (("encoder", pair.encoder), ("decoder", pair.decoder)):
        zero = net.n_zero
        counts[f"n_pruned_{name}"] = n_pruned(net, mask_mode)
        counts[f"n_zero_{name}"] = zero
        counts[f"n_active_{name}"] = net.n_params - zero
    return counts


def due(epoch: int, every: int, epochs: int) -> bool:
    """Whether a record kept every ``every`` epochs is due at ``epoch`` (of ``0 … epochs-1``):
    at ``epoch % every == 0`` and always at the last epoch (docs/algorithm.md §6)."""
    return epoch % every == 0 or epoch == epochs - 1


def full_set_statistics(engine, pair, config, dataset, epoch: int) -> dict:
    """The records computed over a whole data set, each on its cadence (:func:`due`).

    ``test_loss``: L1 of ``pair`` on the whole test set, every
    ``config.test_loss_every`` epochs when ``config.calculate_test_loss``;
    ``live_units``, ``compact_params``, ``compact_flops``: the structural
    capacity of its current weights
    (:func:`~minievo.pruning.compact.structural_capacity`, well under a
    millisecond at paper size), on the same cadence whether or not the test
    loss is computed;
    ``mean_L1``/``std_L1``: mean and standard deviation of its L1 over the
    training batches, every ``config.stats_every`` epochs. Each is a forward
    pass over 1000 rows at paper size, about 40% of the arithmetic of 200
    training steps, hence the cadences. A key that is not due is absent.
    Used by canonical training (per epoch) and the coevolution (per visit).
    """
    stats = {}
    if config.calculate_test_loss and due(epoch, config.test_loss_every, config.epochs):
        stats["test_loss"] = engine.reconstruction_l1(pair, dataset.test)
    if due(epoch, config.test_loss_every, config.epochs):
        stats.update(structural_capacity(pair))
    if due(epoch, config.stats_every, config.epochs):
        batch_l1 = engine.batch_l1(pair, dataset.train, config.batch_size)  # (n_batches,)
        stats["mean_L1"] = float(batch_l1.mean())
        stats["std_L1"] = float(batch_l1.std())
    return stats


class StatsFileError(FileFormatError):
    """``stats.jsonl`` does not hold what the checkpoint says; the message names the file."""


def check_stats(run_dir, n_bytes: int, n_records: int | None = None) -> int:
    """Check that ``run_dir/stats.jsonl`` starts with ``n_bytes`` bytes of whole records.

    What a checkpoint recorded (its ``stats_bytes``) must be there: at least
    that many bytes, ending at a line break, each line one JSON object, and
    when ``n_records`` is given (what the checkpoint counted,
    :func:`~minievo.training.checkpoint.checkpoint_records`) exactly that many
    lines: a line lost or repeated is damage even when the byte length still
    matches. Bytes after it (records of an epoch the checkpoint does not hold)
    are not checked: resuming writes them again. Returns the number of
    records. Raises :class:`StatsFileError` (missing, shorter, or damaged)
    naming the file; a short file is damage, never padded.
    """
    path = Path(run_dir) / STATS_FILE
    if not path.is_file():
        raise StatsFileError(
            f"{path}: missing, but the checkpoint holds {n_bytes} bytes of records; cannot resume"
        )
    size = path.stat().st_size
    if size < n_bytes:
        raise StatsFileError(
            f"{path}: {size} bytes, but the checkpoint recorded {n_bytes} (truncated); "
            "cannot resume"
        )
    with open(path, "rb") as handle:
        head = handle.read(n_bytes)
    if n_bytes and not head.endswith(b"\n"):
        raise StatsFileError(
            f"{path}: byte {n_bytes}, where the checkpoint's records end, is not the end "
            "of a line (damaged); cannot resume"
        )
    lines = head.split(b"\n")[:-1] if n_bytes else []
    for number, line in enumerate(lines, 1):
        try:
            record = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            record = None
        if not isinstance(record, dict):
            raise StatsFileError(
                f"{path}: line {number} is not a JSON record (damaged); cannot resume"
            )
    if n_records is not None and len(lines) != n_records:
        raise StatsFileError(
            f"{path}: {len(lines)} records in its first {n_bytes} bytes, but the checkpoint "
            f"counted {n_records} (a record lost or repeated: damaged); cannot resume"
        )
    return len(lines)


class StatsWriter:
    """Append records to ``DIR/stats.jsonl``, one flushed line each.

    Parameters
    ----------
    run_dir : path
    truncate_to : int, optional
        Cut the file to this many bytes first (resume from a checkpoint);
        ``None`` starts a new, empty file.
    """

    def __init__(self, run_dir, truncate_to: int | None = None):
        self.path = Path(run_dir) / STATS_FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if truncate_to is None:
            self._handle = open(self.path, "wb")
        else:
            check_stats(run_dir, truncate_to)  # never pad a short file with NUL bytes
            self._handle = open(self.path, "r+b")
            self._handle.truncate(truncate_to)
            self._handle.seek(truncate_to)

    def write(self, record: dict) -> None:
        line = json.dumps({k: _plain(v) for k, v in record.items()}) + "\n"
        self._handle.write(line.encode())
        self._handle.flush()

    @property
    def n_bytes(self) -> int:
        """Bytes written so far (what a checkpoint stores)."""
        return self._handle.tell()

    def sync(self) -> None:
        """Force the records to disk (called before each checkpoint)."""
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def close(self) -> None:
        if not self._handle.closed:
            self._handle.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def read_stats(path) -> list[dict]:
    """Read ``stats.jsonl`` (a file or a run folder); a partial last line is skipped.

    Any other line that is not a JSON object is damage: :class:`StatsFileError`
    naming the file and the line.
    """
    path = Path(path)
    if path.is_dir():
        path = path / STATS_FILE
    records = []
    with open(path, "rb") as handle:
        lines = handle.read().split(b"\n")
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            record = None
        if not isinstance(record, dict):
            if number == len(lines):  # unterminated last line: an interrupted write
                break
            raise StatsFileError(f"{path}: line {number} is not a JSON record (damaged)")
        records.append(record)
    return records

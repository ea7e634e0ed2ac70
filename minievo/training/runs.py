"""What every training loop shares: the run's result, its checks and the canonical run's state.

:func:`~minievo.training.canonical.train_canonical`,
:func:`~minievo.training.coevolution.train_coevolution` and the GPU lockstep
driver (:mod:`~minievo.training.lockstep`) all return a :class:`RunResult`,
stop on a non-finite loss with :func:`check_finite` and record activations
only when :func:`records_activations` says the run's operator reads them
(docs/algorithm.md §5). A canonical run (and each canonical lockstep trial)
draws from the named generators of :func:`make_streams`, whose states its
checkpoint stores (:func:`checkpoint_canonical`); a coevolution run needs no
generator state (:mod:`~minievo.training.streams`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..engine import NonFiniteLossError
from ..network import Autoencoder
from ..pruning import get_operator
from .checkpoint import generator_state, save_checkpoint

#: Names of the random streams of a canonical run, each its own child generator.
CANONICAL_STREAMS = ("init", "shuffle", "noise", "prune")


@dataclass
class RunResult:
    """What a finished run returns (the same for every training variant)."""

    best: Autoencoder  # the returned network (canonical: the only one)
    test_loss: float  # its L1 on the whole test set
    out_dir: Path | None
    wall_time: float  # seconds spent training in this process
    epochs: int


def make_streams(seed: int, names=CANONICAL_STREAMS) -> dict[str, np.random.Generator]:
    """Independent child generators of one seed (``SeedSequence.spawn``), by name."""
    children = np.random.SeedSequence(seed).spawn(len(names))
    return {name: np.random.default_rng(child) for name, child in zip(names, children)}


def check_finite(losses: np.ndarray, epoch: int, where: str, stats_path=None) -> None:
    """Stop with :class:`NonFiniteLossError` naming the epoch if a loss is NaN/inf."""
    bad = ~np.isfinite(losses)
    if bad.any():
        first = int(np.argmax(bad))
        kept = f"; records up to the previous epoch are in {stats_path}" if stats_path else ""
        raise NonFiniteLossError(
            f"epoch {epoch}: {where} loss became {losses[first]} at batch {first} "
            f"(try a smaller learning_rate){kept}"
        )


def records_activations(config) -> bool:
    """True when forward passes must be recorded: the run's operator reads them (VARIANCE).

    Read from the operator's registration (``needs_records``,
    :func:`~minievo.pruning.registry.register_operator`).
    """
    return config.prune_method is not None and get_operator(config.prune_method).needs_records


def checkpoint_canonical(
    out_dir, writer, pair, streams, next_epoch, elapsed, keep_records, extra_arrays=None
):
    """Save a canonical run's pair (with Adam moments), its generators' states and counters.

    ``streams`` are the run's named generators (:func:`make_streams`); their
    bit-generator states are stored, so a resumed run draws what an
    uninterrupted one would. With ``keep_records`` (VARIANCE) the activation
    records of both networks are stored too; ``extra_arrays`` (the lottery
    ticket's rewind point, :mod:`~minievo.training.lottery`) are stored as given.
    """
    writer.sync()
    state = {
        "next_epoch": next_epoch,
        "elapsed": elapsed,
        "stats_bytes": writer.n_bytes,
        "rngs": {name: generator_state(g) for name, g in streams.items()},
    }
    extra = dict(extra_arrays or {})
    if keep_records:
        for name, net in (("encoder", pair.encoder), ("decoder", pair.decoder)):
            extra.update(
                {
                    f"{name}_rec_count": net.rec_count,
                    f"{name}_rec_sum": net.rec_sum,
                    f"{name}_rec_sumsq": net.rec_sumsq,
                }
            )
    save_checkpoint(out_dir, state, {"encoder": pair.encoder, "decoder": pair.decoder}, extra)

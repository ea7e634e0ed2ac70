"""Canonical training: one autoencoder, one Adam optimizer (docs/algorithm.md §3, ``ann_canonical``).

The baseline the papers compare the coevolution against. For every epoch
``t = 0 … epochs-1``:

1. the learning rate follows a step schedule,
   :math:`\\eta_t = \\eta_0 \\cdot 0.1^{\\lfloor t / s \\rfloor}` with
   :math:`s = \\max(1, \\lfloor epochs / 4 \\rfloor)` (PyTorch ``StepLR``);
2. one pass over the shuffled training batches, one Adam step per batch
   (moments persist over the whole run);
3. if pruning is on, prune the encoder and the decoder with the schedule's
   probability :math:`p(t, T = epochs, n = 1)` (docs/algorithm.md §5). With ``T = epochs``
   the ``prune_after`` schedule never fires, as in the published code. A
   sparsity schedule prunes to its target at epoch ``t`` instead, and
   ``lottery_ticket`` then rewinds the survivors and replays the learning
   rate from its rewind epoch (docs/baselines.md, :mod:`~minievo.training.lottery`);
4. one record: minimum batch loss and pruned counts
   (:func:`~minievo.training.records.pruned_counts`) every epoch; the
   training L1 (mean and std over the training batches, ``mean_L1``,
   ``std_L1``, and ``train_L1``, the same value as ``mean_L1``) every
   ``stats_every`` epochs, and the test L1 over the whole test set every
   ``test_loss_every`` epochs, both also at the last epoch
   (:func:`~minievo.training.records.full_set_statistics`: each is a pass
   over a whole data set, which every epoch would cost about 40% of the
   epoch's training). The published canonical training computes its
   training L1 on the same cadence and no test loss. As in the published
   canonical records, ``min_selection_loss`` and ``min_replacement_loss`` are
   both the epoch's minimum batch loss (each loss taken before its step;
   canonical training has no selection or replacement), so analysis written
   for the published records reads canonical runs too.

Activation records (for VARIANCE) are kept only when that operator is used,
and cleared after each pruning, as the published code does.
"""

from __future__ import annotations

import time
from pathlib import Path

from ..data import Dataset, batch_order
from ..engine import Engine
from ..network import Autoencoder, make_autoencoder
from ..paper.lipi_ae import step_learning_rate  # noqa: F401 (§3 step 1, re-exported)
from .checkpoint import CheckpointCadence, load_checkpoint, restore_generator, stop_requests
from .lottery import LotteryTicket
from .progress import progress_bar
from .prune_step import prune_step
from .records import STRUCTURAL_KEYS, StatsWriter, full_set_statistics, pruned_counts
from .runs import RunResult, check_finite, checkpoint_canonical, make_streams, records_activations


def train_canonical(config, dataset: Dataset, out_dir=None, *, resume: bool = False) -> RunResult:
    """Train one autoencoder as docs/algorithm.md §3; write records and checkpoints to ``out_dir``.

    Parameters
    ----------
    config : minievo.experiments.config.Config
    dataset : Dataset
    out_dir : path, optional
        Run folder (``stats.jsonl``, ``checkpoint.npz``); ``None`` keeps
        nothing on disk.
    resume : bool
        Continue from ``out_dir/checkpoint.npz``.
    """
    rows = config.batch_size
    variance = records_activations(config)
    record_rows = rows if variance else 0
    streams = make_streams(config.seed)
    pair = make_autoencoder(
        config.environment, dataset.n_dim, streams["init"], record_rows, config.activation_signal
    )
    engine = Engine(
        pair,
        max_rows=rows,
        backend=config.backend,
        betas=config.adam_betas,
        eps=config.adam_eps,
        noise_std=config.denoising_noise_std,
    )
    start, elapsed, stats_bytes = 0, 0.0, None
    lottery = LotteryTicket(config)
    if resume:
        state, nets, extra = load_checkpoint(out_dir, record_rows)
        pair = Autoencoder(nets["encoder"], nets["decoder"], pair.kind)
        for name, net in nets.items():
            if variance and f"{name}_rec_sum" in extra:
                net.rec_count[:] = extra[f"{name}_rec_count"]
                net.rec_sum[:] = extra[f"{name}_rec_sum"]
                net.rec_sumsq[:] = extra[f"{name}_rec_sumsq"]
        lottery.restore(extra)
        streams = {name: restore_generator(s) for name, s in state["rngs"].items()}
        start, elapsed, stats_bytes = state["next_epoch"], state["elapsed"], state["stats_bytes"]

    writer = StatsWriter(out_dir, truncate_to=stats_bytes) if out_dir is not None else None
    t0 = time.perf_counter() - elapsed
    with stop_requests() as stop:
        _run_epochs(
            config, dataset, pair, engine, streams, writer, out_dir, start, t0, stop, lottery
        )
    wall = time.perf_counter() - t0
    test_loss = engine.reconstruction_l1(pair, dataset.test)
    return RunResult(
        pair, test_loss, Path(out_dir) if out_dir is not None else None, wall, config.epochs
    )


def canonical_l1(stats: dict) -> dict:
    """``train_L1`` (minievo's name in canonical records, the same value as ``mean_L1``),
    ``mean_L1`` and ``std_L1`` from :func:`~minievo.training.records.full_set_statistics`,
    or nothing at an epoch where they are not due."""
    if "mean_L1" not in stats:
        return {}
    return {"train_L1": stats["mean_L1"], "mean_L1": stats["mean_L1"], "std_L1": stats["std_L1"]}


def _run_epochs(
    config, dataset, pair, engine, streams, writer, out_dir, start, t0, stop, lottery
) -> None:
    """The epoch loop of :func:`train_canonical` from epoch ``start``; checkpoints on the
    configuration's cadence and at a SIGINT/SIGTERM (``stop``,
    :func:`~minievo.training.checkpoint.stop_requests`)."""
    variance = records_activations(config)
    cadence = CheckpointCadence.from_config(config)
    rows, train, n_rows = config.batch_size, dataset.train, dataset.train.shape[0]
    try:
        bar = progress_bar(
            range(start, config.epochs),
            total=config.epochs,
            initial=start,
            desc="canonical",
            enabled=config.progress,
        )
        for epoch in bar:
            lottery.remember(pair, epoch)
            lr = lottery.learning_rate(config, epoch)
            order = batch_order(n_rows, streams["shuffle"], shuffle=config.shuffle_data)
            noise = engine.draw_noise(streams["noise"], n_rows)
            losses = engine.train_epoch(
                pair, train, order, rows, lr, fresh=False, record=variance, noise=noise
            )
            check_finite(losses, epoch, "training", writer and writer.path)
            # T = epochs: prune_after never fires here (docs/algorithm.md §3, quirk kept)
            pruned = prune_step(
                pair, config, epoch, config.epochs, 1, streams["prune"], dataset.test
            )
            if pruned:
                pair.encoder.clear_records()
                pair.decoder.clear_records()
                if lottery.enabled:
                    lottery.rewind(pair)
            min_loss = float(losses.min())
            # test_loss, mean_L1/std_L1, each on its cadence (absent when not due)
            stats = full_set_statistics(engine, pair, config, dataset, epoch)
            record = {
                "iteration": epoch,
                "node_idx": 0,
                "learning_rate": lr,
                "min_batch_loss": min_loss,
                # the published canonical records set both to the epoch's minimum batch loss
                "min_selection_loss": min_loss,
                "min_replacement_loss": min_loss,
                **canonical_l1(stats),
                "pruned": pruned,
                **pruned_counts(pair, config.mask_mode),
                "fe_cnt": epoch + 1,
                "timestamp": time.time(),
                "wall_time": time.perf_counter() - t0,
                **({"test_loss": stats["test_loss"]} if "test_loss" in stats else {}),
                **{k: stats[k] for k in STRUCTURAL_KEYS if k in stats},
            }
            if writer:
                writer.write(record)
            bar.set_postfix(min_batch_loss=f"{min_loss:.4f}", refresh=False)
            if writer and cadence.due(epoch + 1, stop.requested):
                checkpoint_canonical(
                    out_dir,
                    writer,
                    pair,
                    streams,
                    epoch + 1,
                    time.perf_counter() - t0,
                    variance,
                    lottery.checkpoint_arrays(),
                )
                cadence.done()
            if stop.requested:
                stop.stop()
    finally:
        if writer:
            writer.close()

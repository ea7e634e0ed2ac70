"""Spatial coevolution of autoencoders on a ring: Lipi-AE (docs/algorithm.md §4), the run.

``population_size`` cells sit on a ring; each holds a *center* (an encoder and
a decoder) and its own learning rate :math:`\\eta_i`. An epoch visits every
cell once, in an order reshuffled every epoch (index order in epoch 0).
:func:`train_coevolution` runs the epochs, with checkpoints, a progress bar
and SIGINT/SIGTERM handling, and returns the best final center. The parts of
the algorithm live in modules of their own:

- :mod:`~minievo.training.visit`: the steps of one cell visit (steps 1-8 of
  docs/algorithm.md §4), the variants' visit bodies and the records they write;
- :mod:`~minievo.training.epochs`: the epoch drivers (asynchronous,
  synchronous on a thread pool, ``all_vs_all``) and the update modes;
- :mod:`~minievo.training.population`: the centers, learning rates, engines
  and the population's checkpoint;
- :mod:`~minievo.training.streams`: the randomness, a function of
  ``(seed, epoch, cell)`` only;
- :mod:`~minievo.training.variants`: what each variant
  (``config.cell_evaluation``) does differently; ``ann_canonical`` is
  delegated to :func:`minievo.training.canonical.train_canonical`.

Records (docs/algorithm.md §6)
-----------------
One JSON line per visit: ``iteration`` (epoch), ``node_idx``,
``learning_rate`` (used in this visit, before mutation),
``min_selection_loss`` (:math:`\\min_{kj} L_{kj}`), ``min_replacement_loss``,
``selected_cell`` (cell whose center was selected), ``pruned``,
``n_pruned_encoder``/``n_pruned_decoder`` (mask zeros with persistent masks;
with ``mask_mode="regrow"`` the exact zeros at the network's last pruning
event, carried by copies, as published), ``n_zero_encoder``/``n_zero_decoder``
(exact zeros now), ``n_active_encoder``/``n_active_decoder`` (non-zero now),
``test_loss`` (L1 of the new center on the **whole** test set; the published
code uses the first test batch only; every ``test_loss_every`` epochs, default
every visit, and at the last epoch), ``mean_L1``/``std_L1`` over the training
batches at every epoch ``t`` with ``t % stats_every == 0`` and at the last
epoch (the published cadence: its ``iteration`` is the epoch), ``fe_cnt``
(visits so far, this one included; the published count starts at 0),
``timestamp`` and ``wall_time`` (seconds since the run started, over resumes);
the last three are added by :class:`~minievo.training.epochs.VisitLog`.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ..data import Dataset
from ..network import Autoencoder
from .canonical import train_canonical
from .checkpoint import CheckpointCadence, stop_requests
from .epochs import VisitLog, run_all_vs_all_epoch, run_asynchronous_epoch, run_synchronous_epoch
from .population import (
    EnginePool,
    Population,
    checkpoint_population,
    initial_population,
    restore_population,
)
from .progress import progress_bar
from .records import StatsWriter
from .runs import RunResult
from .variants import VARIANTS, variant_of


def candidate_pairs(population: Population, variant: str) -> list:
    """Pairs that may be returned: the centers, or every combination for ``all_vs_all``.

    ``variant`` is the name of a cell evaluation (:data:`~minievo.training.variants.VARIANTS`).
    """
    centers = population.centers
    if not VARIANTS[variant].all_pairs:
        return list(centers)
    return [Autoencoder(e.encoder, d.decoder, e.kind) for e in centers for d in centers]


def save_centers(out_dir, centers) -> list[Path]:
    """Write every center to ``out_dir/centers/cell_{i:03d}.npz`` (atomic)."""
    folder = Path(out_dir) / "centers"
    paths = []
    for cell, center in enumerate(centers):
        path = folder / f"cell_{cell:03d}.npz"
        center.save(path)
        paths.append(path)
    return paths


def train_coevolution(
    config, dataset: Dataset, out_dir=None, *, resume: bool = False, workers: int = 1
) -> RunResult:
    """Run spatial coevolution (or one of its variants) as docs/algorithm.md §4.

    Parameters
    ----------
    config : minievo.experiments.config.Config
        ``cell_evaluation`` picks the variant (:mod:`~minievo.training.variants`);
        ``ann_canonical`` is handed to
        :func:`~minievo.training.canonical.train_canonical`.
    dataset : Dataset
    out_dir : path, optional
        Run folder: ``stats.jsonl`` (one record per visit), ``checkpoint.npz``
        (every ``config.checkpoint_seconds`` and/or ``checkpoint_every`` epochs,
        at the end and on SIGINT/SIGTERM, see
        :class:`~minievo.training.checkpoint.CheckpointCadence`) and, with
        ``config.save_all_centers``, ``centers/cell_{i:03d}.npz``. ``None``
        writes nothing.
    resume : bool
        Continue from ``out_dir/checkpoint.npz``; the records after the
        checkpoint are dropped and written again, and the final numbers equal
        those of an uninterrupted run.
    workers : int
        Threads for ``update="synchronous"`` (ignored otherwise: asynchronous
        visits depend on each other, and ``all_vs_all`` trains shared networks).

    Returns
    -------
    RunResult
        ``best``: the final center with the lowest L1 on the whole test set
        (all combinations for ``all_vs_all``); ``test_loss``: that L1.
    """
    if variant_of(config).canonical:
        return train_canonical(config, dataset, out_dir, resume=resume)
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if resume and out_dir is None:
        raise ValueError("resume=True needs the out_dir of the run to resume")
    population = initial_population(config, dataset.n_dim)
    kind = population.centers[0].kind
    stats_bytes = None
    if resume:
        population, stats_bytes = restore_population(out_dir, config, kind)

    parallel = config.update == "synchronous" and not variant_of(config).all_pairs
    n_threads = min(workers, config.population_size) if parallel else 1
    engines = EnginePool(config, population.centers[0], n_threads)
    writer = StatsWriter(out_dir, truncate_to=stats_bytes) if out_dir is not None else None
    start = time.perf_counter() - population.elapsed
    log = VisitLog(writer, population, start)
    executor = ThreadPoolExecutor(n_threads) if n_threads > 1 else None
    with stop_requests() as stop:
        _run_epochs(config, dataset, engines, log, executor, parallel, out_dir, stop)
    wall = time.perf_counter() - start

    candidates = candidate_pairs(population, config.cell_evaluation)
    with engines.borrow() as engine:
        test_losses = [engine.reconstruction_l1(pair, dataset.test) for pair in candidates]
    best = int(np.argmin(test_losses))
    if out_dir is not None and config.save_all_centers:
        save_centers(out_dir, population.centers)
    return RunResult(
        candidates[best],
        float(test_losses[best]),
        Path(out_dir) if out_dir is not None else None,
        wall,
        config.epochs,
    )


def _run_epochs(config, dataset, engines, log, executor, parallel, out_dir, stop) -> None:
    """The epoch loop of :func:`train_coevolution`, with checkpoints on the configuration's
    cadence and at a SIGINT/SIGTERM (``stop``, :func:`~minievo.training.checkpoint.stop_requests`).
    ``log`` (:class:`VisitLog`) holds the population, the records' writer and the start time."""
    population, writer, start = log.population, log.writer, log.start
    cadence = CheckpointCadence.from_config(config)
    try:
        bar = progress_bar(
            range(population.next_epoch, config.epochs),
            total=config.epochs,
            initial=population.next_epoch,
            desc=config.cell_evaluation,
            enabled=config.progress,
            visits_per_epoch=config.population_size,
        )
        for epoch in bar:
            if variant_of(config).all_pairs:
                with engines.borrow() as engine:
                    run_all_vs_all_epoch(config, dataset, population, epoch, engine, log)
            elif parallel:
                run_synchronous_epoch(config, dataset, population, epoch, engines, log, executor)
            else:
                with engines.borrow() as engine:
                    run_asynchronous_epoch(config, dataset, population, epoch, engine, log)
            population.next_epoch = epoch + 1
            bar.set_postfix(best_loss=f"{log.best_loss:.4f}", refresh=False)
            if writer and cadence.due(epoch + 1, stop.requested):
                checkpoint_population(
                    out_dir, writer, population, config, time.perf_counter() - start
                )
                cadence.done()
            if stop.requested:
                stop.stop()
    finally:
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
        if writer is not None:
            writer.close()

"""Spatial coevolution of autoencoders on a ring: Lipi-AE (docs/algorithm.md §4).

``population_size`` cells sit on a ring; each holds a *center* (an encoder and
a decoder) and its own learning rate :math:`\\eta_i`. An epoch visits every
cell once, in an order reshuffled every epoch (index order in epoch 0). A
visit of cell :math:`i` (``lipi_simple``, the papers' main variant) is:

1. **gather_neighbourhood**: copies of the centers of
   :math:`N(i) = (i, i+1, i-1, \\dots, i+r, i-r) \\bmod n`
   (:func:`~minievo.training.ring.neighbourhood_indices`), ``K = 2r + 1``
   encoders :math:`E_k` and decoders :math:`D_k`;
2. **evaluate_neighbourhood**: on one batch :math:`B` (the first batch of a
   fresh shuffle), :math:`L_{kj} = \\mathrm{L1}(D_j(E_k(B)), B)` for every
   combination; fitness :math:`f^E_k = \\min_j L_{kj}` ("best case");
3. **select_by_tournament**: size 2 on :math:`f^E`, giving index :math:`s`
   and the pair :math:`(E_s, D_s)`;
4. **train_pair**: one Adam step per batch of a fresh shuffle of the training
   data at :math:`\\eta_i` (a fresh Adam state per step by default, as the
   published code; ``optimizer_state="persistent"`` keeps one per network);
5. **evaluate_replacement**: the trained pair's loss on one new batch;
6. **prune_cell**: with probability :math:`p(t, T = epochs - 1, n = K)`
   (docs/algorithm.md §5) apply the prune operator to the pair;
7. **replace_center**: the trained pair becomes cell :math:`i`'s center,
   always, even when it is worse than before;
8. **mutate_learning_rate**:
   :math:`\\eta_i \\leftarrow \\operatorname{clip}(\\eta_i + \\mathcal N(0, \\sigma^2),
   \\eta_{min}, \\eta_{max})`, :math:`\\sigma = 10^{-5}`, range :math:`[10^{-9}, 10]`.

Activation records (for the VARIANCE operator) are kept during steps 2-5, as
every forward pass of the published code is recorded, and cleared at the end
of the visit. A center therefore starts every visit with empty records.
``epoch-node`` and ``all_vs_all`` clear them only when the pair is pruned, as
the published code does: the cell's own center (``epoch-node``) or the
population's networks (``all_vs_all``) keep accumulating records over visits
and epochs until their next pruning (records are saved in checkpoints).

Variants (``config.cell_evaluation``)
-------------------------------------
``lipi_simple_pte``
    Steps 5 and 6 swapped: the pair is pruned before its replacement
    evaluation.
``epoch-node`` (GECCO 2024)
    Step 4 becomes: for every batch, one Adam step on
    :math:`(E_s, D_{\\rho})` and one on :math:`(E_{\\rho'}, D_s)` with
    :math:`\\rho, \\rho'` uniform over the neighbourhood (drawn anew per
    batch). Each step updates *both* networks of its pair, as in the published
    code, so the random partners are trained too, and the selected networks
    get one step from each other when :math:`\\rho = s` or :math:`\\rho' = s`.
    Only :math:`(E_s, D_s)` is kept; the trained partners (copies) are
    discarded. ``min_replacement_loss`` is the loss of :math:`(E_s, D_s)`.
``all_vs_all`` (non-spatial baseline)
    What the published ``evaluate_cells_all_vs_all`` does: no ring, no
    neighbourhood, no selection. Each epoch, for every ordered pair
    :math:`(a, b)` of ``order x order`` (``order`` reshuffled every epoch),
    encoder :math:`E_a` and decoder :math:`D_b` of the population are
    evaluated on one batch, trained *in place* for one pass, evaluated again
    and pruned (``n_solutions = 1``). The published code reuses the
    ``epoch-node`` cell evaluation on a one-pair neighbourhood, whose two
    "random partners" are the pair itself: every batch gives **two** Adam
    steps on :math:`(E_a, D_b)`; minievo keeps that. One learning rate is
    shared by the whole population and mutated once per epoch. One record per
    pair visit, ``node_idx`` = encoder index, plus ``encoder_idx`` and
    ``decoder_idx``. The published run returns its last trained pair; minievo
    returns the best of all :math:`n^2` (encoder, decoder) combinations on the
    test set (the stored "centers" are the pairs :math:`(E_a, D_a)`).
``ann_canonical``
    Delegated to :func:`minievo.training.canonical.train_canonical`.

Update modes
------------
``asynchronous`` (default, docs/algorithm.md §4): a cell visited later in an epoch reads
the centers already replaced earlier in that epoch. ``synchronous``: every
cell reads the centers as they were at the start of the epoch; the visits are
then independent and run on ``workers`` threads (the Numba kernels release the
GIL; every thread has its own :class:`~minievo.engine.Engine`). Records are
written in visit order either way.

Randomness
----------
Every random draw of a visit comes from generators that depend only on
``(seed, epoch, cell)``: :func:`visit_streams` builds them from
``SeedSequence(seed)`` with a ``spawn_key`` of the epoch and the cell. The
results therefore do not depend on thread scheduling (synchronous serial and
parallel runs are identical) and a resumed run needs no generator state, only
the epoch it stopped at. Within a visit, separate streams serve the data
order, the tournament, the partners, the input noise, pruning and the
learning-rate mutation, so switching one operator off leaves the others' draws
unchanged.

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
``timestamp`` and ``wall_time`` (seconds since the run started, over resumes).
"""

from __future__ import annotations

import itertools
import math
import queue
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data import Dataset, batch_order
from ..engine import Engine
from ..network import Autoencoder, make_autoencoder
from ..pruning import prune_pair, should_prune
from .canonical import RunResult, check_finite, records_activations, train_canonical
from .checkpoint import (
    CheckpointCadence,
    load_checkpoint,
    save_checkpoint,
    stop_requests,
)
from .progress import progress_bar
from .records import StatsWriter, full_set_statistics, pruned_counts
from .ring import best_case_fitness, neighbourhood_indices, select_by_tournament
from .variants import CANONICAL

#: Random streams of one cell visit, each its own child generator (module docstring).
VISIT_STREAMS = ("data", "select", "partners", "noise", "prune", "mutate")
#: Random streams of one epoch.
EPOCH_STREAMS = ("order", "mutate")
#: First element of the ``spawn_key`` of each kind of generator.
_INIT, _EPOCH, _VISIT = 0, 1, 2


# ---------------------------------------------------------------------------
# Randomness: generators that depend only on (seed, epoch, cell)
# ---------------------------------------------------------------------------


class Streams(dict):
    """Named generators of one key, each built on its first use.

    Stream ``names[i]`` is the generator of ``SeedSequence(seed,
    spawn_key=key + (i,))``, exactly the ``i``-th child that
    ``SeedSequence(seed, spawn_key=key).spawn(len(names))`` gives, so
    building only the streams a visit reads (a ``lipi_simple`` visit never
    reads ``partners``) draws the same numbers as building them all.
    """

    def __init__(self, seed: int, key: tuple, names):
        super().__init__()
        self._seed, self._key = seed, tuple(key)
        self._index = {name: i for i, name in enumerate(names)}

    def __missing__(self, name: str) -> np.random.Generator:
        child = np.random.SeedSequence(self._seed, spawn_key=self._key + (self._index[name],))
        generator = self[name] = np.random.default_rng(child)
        return generator


def _generators(seed: int, key: tuple, names) -> Streams:
    return Streams(seed, key, names)


def init_generator(seed: int) -> np.random.Generator:
    """Generator that draws the initial networks of every cell, in cell order."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_INIT,)))


def visit_streams(seed: int, epoch: int, cell: int) -> Streams:
    """The generators of one cell visit (:data:`VISIT_STREAMS`), a function of its key only.

    For ``all_vs_all`` ``cell`` is ``a * population_size + b`` for the pair
    (encoder ``a``, decoder ``b``).
    """
    return _generators(seed, (_VISIT, epoch, cell), VISIT_STREAMS)


def epoch_streams(seed: int, epoch: int) -> Streams:
    """The generators of one epoch (:data:`EPOCH_STREAMS`)."""
    return _generators(seed, (_EPOCH, epoch), EPOCH_STREAMS)


def visit_order(seed: int, epoch: int, population_size: int) -> np.ndarray:
    """Order of the cell visits of ``epoch``: ``0 … n-1`` in epoch 0, a fresh permutation after.

    Returns
    -------
    numpy.ndarray of int64, shape (population_size,)
    """
    if epoch == 0:
        return np.arange(population_size, dtype=np.int64)
    return epoch_streams(seed, epoch)["order"].permutation(population_size)


# ---------------------------------------------------------------------------
# The population
# ---------------------------------------------------------------------------


@dataclass
class Population:
    """The state of a coevolution run between epochs.

    ``centers[i]`` is cell ``i``'s (encoder, decoder) pair and
    ``learning_rates[i]`` its learning rate (``all_vs_all``: all entries hold
    the one shared rate).
    """

    centers: list
    learning_rates: list
    next_epoch: int = 0
    fe_cnt: int = 0
    elapsed: float = 0.0


def initial_population(config, n_dim: int) -> Population:
    """``population_size`` freshly initialised centers, all at ``config.learning_rate``."""
    rng = init_generator(config.seed)
    record_rows = config.batch_size if records_activations(config) else 0
    centers = [
        make_autoencoder(config.environment, n_dim, rng, record_rows, config.activation_signal)
        for _ in range(config.population_size)
    ]
    return Population(centers, [float(config.learning_rate)] * config.population_size)


def make_engine(config, pair: Autoencoder) -> Engine:
    """An engine (kernels + workspace) for pairs of ``pair``'s shape.

    Its training workspace holds one batch; whole-set evaluations use the
    engine's own chunked workspace (:data:`minievo.engine.EVAL_CHUNK`).
    """
    return Engine(
        pair,
        max_rows=config.batch_size,
        backend=config.backend,
        betas=config.adam_betas,
        eps=config.adam_eps,
        noise_std=config.denoising_noise_std,
    )


class EnginePool:
    """One engine per worker thread: a thread borrows one for a whole visit."""

    def __init__(self, config, pair: Autoencoder, n_engines: int):
        self._free = queue.SimpleQueue()
        for _ in range(n_engines):
            self._free.put(make_engine(config, pair))

    @contextmanager
    def borrow(self):
        engine = self._free.get()
        try:
            yield engine
        finally:
            self._free.put(engine)


# ---------------------------------------------------------------------------
# The steps of one cell visit (docs/algorithm.md §4)
# ---------------------------------------------------------------------------


def gather_neighbourhood(
    centers, cell: int, radius: int, keep_own_records: bool = False, *, copy: bool = True
) -> list:
    """Step 1: independent copies of the centers of cell ``cell``'s neighbourhood.

    ``copy=False`` returns the centers themselves, for a caller that only
    reads them (``lipi_simple`` without activation records copies just the
    selected pair).

    Returns ``K = 2·radius + 1`` :class:`Autoencoder` copies in the order of
    :func:`~minievo.training.ring.neighbourhood_indices` (the cell's own
    center first). Copies carry parameters, masks, Adam state and the pruned
    count; their activation records start empty, except the cell's own
    center's with ``keep_own_records`` (``epoch-node``: the published visit
    works on the center object itself, not a clone). The centers themselves
    are only read, which is what lets synchronous visits run in parallel.
    """
    cells = neighbourhood_indices(cell, len(centers), radius)
    if not copy:
        return [centers[c] for c in cells]
    # only the first entry is the center itself; repeats of the cell (population 1
    # or 2) are clones, as the published get_neighbors makes them
    return [centers[c].copy(keep_records=keep_own_records and k == 0) for k, c in enumerate(cells)]


def evaluation_batch(
    data: np.ndarray, batch_size: int, rng: np.random.Generator, shuffle: bool
) -> np.ndarray:
    """ "One batch" (docs/algorithm.md §1): the first batch of a fresh shuffle, ``(B, n_dim)``.

    Without shuffling it is always the first ``batch_size`` rows, as the
    published data loader gives.
    """
    order = batch_order(data.shape[0], rng, shuffle)  # (N,)
    return data[order[:batch_size]]  # (B, n_dim) copy


def evaluate_neighbourhood(
    engine: Engine, neighbourhood, batch: np.ndarray, *, record: bool
) -> np.ndarray:
    """Step 2: loss of every (encoder, decoder) combination on one batch.

    .. math:: L_{kj} = \\frac{1}{B\\,d} \\sum |D_j(E_k(x)) - x|

    Returns
    -------
    numpy.ndarray of float64, shape (K, K)
        Rows are encoders, columns decoders. With ``record`` every pass is
        added to both networks' activation records.
    """
    return engine.evaluate_all_pairs(
        [p.encoder for p in neighbourhood],  # (K_enc, K_dec)
        [p.decoder for p in neighbourhood],
        batch,
        record=record,
    )


def train_pair(
    engine: Engine,
    pair: Autoencoder,
    data: np.ndarray,
    order: np.ndarray,
    batch_size: int,
    learning_rate: float,
    *,
    fresh: bool,
    record: bool,
    noise=None,
) -> np.ndarray:
    """Step 4: one Adam step on every batch of ``data[order]``, in one compiled call.

    Returns the loss of each batch before its step, ``(n_batches,)``.
    """
    return engine.train_epoch(
        pair, data, order, batch_size, learning_rate, fresh=fresh, record=record, noise=noise
    )


def train_with_partners(
    engine: Engine,
    neighbourhood,
    selected: int,
    data: np.ndarray,
    order: np.ndarray,
    batch_size: int,
    learning_rate: float,
    rng: np.random.Generator,
    *,
    fresh: bool,
    record: bool,
    noise=None,
) -> np.ndarray:
    """Step 4 of ``epoch-node``: per batch, a step with a random decoder, then with a random encoder.

    For batch :math:`b`, draw :math:`\\rho_b, \\rho'_b \\sim U\\{0..K-1\\}` and take
    one Adam step on :math:`(E_s, D_{\\rho_b})`, then one on
    :math:`(E_{\\rho'_b}, D_s)`; each step updates both networks of its pair.
    The whole pass is one call of the kernels' ``partner_epoch`` (with Numba,
    every network stays in the fast epoch layout for the pass).

    Returns
    -------
    numpy.ndarray of float64, shape (2 * n_batches,)
        Losses before each step, in step order.
    """
    K, n_rows = len(neighbourhood), order.shape[0]
    n_batches = -(-n_rows // batch_size)
    partners = rng.integers(0, K, size=(n_batches, 2))  # (n_batches, [decoder, encoder])
    losses = np.empty(2 * n_batches, dtype=np.float64)
    if engine.kind == "plain":
        noise = engine.draw_noise(rng, n_rows)  # the empty "no noise" array
    elif noise is None or noise.shape[0] != data.shape[0]:
        raise ValueError(
            f"the {engine.kind} autoencoder needs noise for every row of data "
            f"(Engine.draw_noise(rng, {data.shape[0]}))"
        )
    engine.kernels.partner_epoch(
        tuple(p.encoder.arrays for p in neighbourhood),
        tuple(p.decoder.arrays for p in neighbourhood),
        selected,
        partners,
        data,
        order,
        batch_size,
        noise,
        engine.kind_code,
        engine.work,
        engine.adam(learning_rate, fresh),
        record,
        losses,
    )
    return losses


def train_pair_twice_per_batch(
    engine: Engine,
    pair: Autoencoder,
    data: np.ndarray,
    order: np.ndarray,
    batch_size: int,
    learning_rate: float,
    *,
    fresh: bool,
    record: bool,
    noise=None,
) -> np.ndarray:
    """Two Adam steps on every batch, one after the other (``all_vs_all``, module docstring).

    Equal to :func:`train_with_partners` on a one-pair neighbourhood, but the
    whole pass is one compiled call over an order that lists every full batch
    twice; a short last batch is trained twice after it.
    """
    n_full = order.shape[0] // batch_size * batch_size
    head = order[:n_full].reshape(-1, batch_size)  # (n_full_batches, B)
    doubled = np.repeat(head, 2, axis=0).ravel()  # (2 * n_full,)
    losses = [
        train_pair(
            engine,
            pair,
            data,
            doubled,
            batch_size,
            learning_rate,
            fresh=fresh,
            record=record,
            noise=noise,
        )
    ]
    tail = order[n_full:]
    for _ in range(2 if tail.shape[0] else 0):
        losses.append(
            train_pair(
                engine,
                pair,
                data,
                tail,
                batch_size,
                learning_rate,
                fresh=fresh,
                record=record,
                noise=noise,
            )
        )
    return np.concatenate(losses)


def evaluate_replacement(
    engine: Engine, pair: Autoencoder, batch: np.ndarray, *, record: bool
) -> float:
    """Step 5: the trained pair's loss on one batch (``min_replacement_loss``)."""
    return engine.evaluate(pair, batch, record=record)


def prune_cell(
    pair: Autoencoder,
    config,
    epoch: int,
    n_solutions: int,
    rng: np.random.Generator,
    test_data: np.ndarray,
) -> bool:
    """Step 6: prune ``pair`` in place with the schedule's probability; True if it was pruned.

    The probability is :math:`p(t, T, n)` of docs/algorithm.md §5 with ``T = epochs - 1``
    and ``n = n_solutions`` (``2·radius + 1``); one uniform number is drawn
    whenever pruning is on, so the stream does not depend on the schedule.
    """
    if not config.pruning_enabled:
        return False
    if not should_prune(
        config.prune_schedule, config.prune_probability, epoch, config.epochs - 1, n_solutions, rng
    ):
        return False
    prune_pair(
        pair,
        config.prune_method,
        rng,
        amount=config.prune_amount,
        lexi_threshold=config.lexi_threshold,
        test_data=test_data,
        lexi_rows=config.lexi_rows,
        mask_mode=config.mask_mode,
        signal=config.activation_signal,
        report=False,
    )
    return True


def replace_center(
    population: Population, cell: int, center: Autoencoder, learning_rate: float
) -> None:
    """Step 7: the trained pair becomes the cell's center, always (even when worse)."""
    population.centers[cell] = center
    population.learning_rates[cell] = learning_rate


def mutate_learning_rate(
    learning_rate: float, rng: np.random.Generator, std: float, lr_min: float, lr_max: float
) -> float:
    """Step 8: :math:`\\operatorname{clip}(\\eta + \\mathcal N(0, \\sigma^2), \\eta_{min}, \\eta_{max})`."""
    return float(min(lr_max, max(lr_min, learning_rate + rng.normal(0.0, std))))


def clear_records(pair: Autoencoder) -> None:
    """End of a visit: forget the recorded activations of both networks."""
    pair.encoder.clear_records()
    pair.decoder.clear_records()


# ---------------------------------------------------------------------------
# One visit, put together
# ---------------------------------------------------------------------------


@dataclass
class CellVisit:
    """The outcome of one visit: the new center, the next learning rate, one record."""

    cell: int
    center: Autoencoder
    learning_rate: float
    record: dict


def visit_cell(
    config,
    dataset: Dataset,
    centers,
    cell: int,
    learning_rate: float,
    epoch: int,
    engine: Engine,
    streams: dict,
) -> CellVisit:
    """Visit cell ``cell`` once (steps 1-8 of the module docstring), without changing ``centers``.

    Handles ``lipi_simple``, ``lipi_simple_pte`` and ``epoch-node``. The
    caller puts :attr:`CellVisit.center` in place (:func:`replace_center`).

    Raises
    ------
    NonFiniteLossError
        When a loss is NaN or infinite; the message names epoch and cell.
    """
    variant = config.cell_evaluation
    record = records_activations(config)
    fresh = config.optimizer_state == "fresh"
    train, rows, shuffle = dataset.train, config.batch_size, config.shuffle_data

    # 1-2: neighbourhood and its loss matrix on one batch
    cells = neighbourhood_indices(cell, len(centers), config.radius)  # (K,)
    # Without activation records lipi_simple only reads the neighbours: it evaluates
    # the centers themselves and copies just the selected pair (step 3).
    read_only = variant != "epoch-node" and not record
    neighbourhood = gather_neighbourhood(
        centers, cell, config.radius, keep_own_records=variant == "epoch-node", copy=not read_only
    )
    batch = evaluation_batch(train, rows, streams["data"], shuffle)  # (B, n_dim)
    losses = evaluate_neighbourhood(engine, neighbourhood, batch, record=record)  # (K, K)
    check_finite(losses.ravel(), epoch, f"cell {cell} selection")
    encoder_fitness, _ = best_case_fitness(losses)  # (K,)

    # 3: tournament
    selected = select_by_tournament(encoder_fitness, streams["select"])
    pair = neighbourhood[selected].copy() if read_only else neighbourhood[selected]

    # 4: train on every batch
    order = batch_order(train.shape[0], streams["data"], shuffle)  # (N,)
    noise = engine.draw_noise(streams["noise"], train.shape[0])
    if variant == "epoch-node":
        batch_losses = train_with_partners(
            engine,
            neighbourhood,
            selected,
            train,
            order,
            rows,
            learning_rate,
            streams["partners"],
            fresh=fresh,
            record=record,
            noise=noise,
        )
    else:
        batch_losses = train_pair(
            engine, pair, train, order, rows, learning_rate, fresh=fresh, record=record, noise=noise
        )
    check_finite(batch_losses, epoch, f"cell {cell} training")

    # 5-6: replacement evaluation and pruning (swapped for lipi_simple_pte)
    replacement_batch = evaluation_batch(train, rows, streams["data"], shuffle)
    n_solutions = len(neighbourhood)
    if variant == "lipi_simple_pte":
        pruned = prune_cell(pair, config, epoch, n_solutions, streams["prune"], dataset.test)
        replacement = evaluate_replacement(engine, pair, replacement_batch, record=record)
    else:
        replacement = evaluate_replacement(engine, pair, replacement_batch, record=record)
        pruned = prune_cell(pair, config, epoch, n_solutions, streams["prune"], dataset.test)
    check_finite(np.array([replacement]), epoch, f"cell {cell} replacement")
    if pruned or variant != "epoch-node":
        clear_records(pair)

    # 8: the learning rate of the cell's next visit
    next_lr = mutate_learning_rate(
        learning_rate, streams["mutate"], config.lr_mutation_std, config.lr_min, config.lr_max
    )
    stat = {
        "iteration": epoch,
        "node_idx": cell,
        "learning_rate": learning_rate,
        "min_selection_loss": float(losses.min()),
        "min_replacement_loss": replacement,
        "selected_cell": int(cells[selected]),
        "pruned": pruned,
        **pruned_counts(pair, config.mask_mode),
        **full_set_statistics(engine, pair, config, dataset, epoch),
    }
    return CellVisit(cell, pair, next_lr, stat)


def visit_all_vs_all_pair(
    config,
    dataset: Dataset,
    population: Population,
    a: int,
    b: int,
    learning_rate: float,
    epoch: int,
    engine: Engine,
    streams: dict,
) -> dict:
    """One ``all_vs_all`` visit: train encoder ``a`` with decoder ``b`` in place; returns the record."""
    record = records_activations(config)
    fresh = config.optimizer_state == "fresh"
    train, rows, shuffle = dataset.train, config.batch_size, config.shuffle_data
    pair = Autoencoder(
        population.centers[a].encoder, population.centers[b].decoder, population.centers[a].kind
    )
    batch = evaluation_batch(train, rows, streams["data"], shuffle)
    selection = evaluate_replacement(engine, pair, batch, record=record)
    check_finite(np.array([selection]), epoch, f"pair ({a}, {b}) selection")
    order = batch_order(train.shape[0], streams["data"], shuffle)
    noise = engine.draw_noise(streams["noise"], train.shape[0])
    batch_losses = train_pair_twice_per_batch(
        engine, pair, train, order, rows, learning_rate, fresh=fresh, record=record, noise=noise
    )
    check_finite(batch_losses, epoch, f"pair ({a}, {b}) training")
    replacement = evaluate_replacement(
        engine, pair, evaluation_batch(train, rows, streams["data"], shuffle), record=record
    )
    check_finite(np.array([replacement]), epoch, f"pair ({a}, {b}) replacement")
    pruned = prune_cell(pair, config, epoch, 1, streams["prune"], dataset.test)
    if pruned:
        clear_records(pair)
    return {
        "iteration": epoch,
        "node_idx": a,
        "encoder_idx": a,
        "decoder_idx": b,
        "learning_rate": learning_rate,
        "min_selection_loss": selection,
        "min_replacement_loss": replacement,
        "pruned": pruned,
        **pruned_counts(pair, config.mask_mode),
        **full_set_statistics(engine, pair, config, dataset, epoch),
    }


# ---------------------------------------------------------------------------
# Epochs
# ---------------------------------------------------------------------------


class VisitLog:
    """Writes one record per visit, adding ``fe_cnt``, ``timestamp`` and ``wall_time``."""

    def __init__(self, writer, population: Population, start: float):
        self.writer, self.population, self.start = writer, population, start
        self.best_loss = math.inf  # lowest min_replacement_loss so far (progress display)

    def write(self, record: dict) -> None:
        self.population.fe_cnt += 1
        record["fe_cnt"] = self.population.fe_cnt
        record["timestamp"] = time.time()
        record["wall_time"] = time.perf_counter() - self.start
        self.best_loss = min(self.best_loss, record.get("min_replacement_loss", math.inf))
        if self.writer is not None:
            self.writer.write(record)


def run_asynchronous_epoch(
    config, dataset, population: Population, epoch: int, engine: Engine, log: VisitLog
) -> None:
    """Visit every cell; each visit sees the centers replaced before it in this epoch."""
    for cell in visit_order(config.seed, epoch, config.population_size):
        cell = int(cell)
        visit = visit_cell(
            config,
            dataset,
            population.centers,
            cell,
            population.learning_rates[cell],
            epoch,
            engine,
            visit_streams(config.seed, epoch, cell),
        )
        replace_center(population, cell, visit.center, visit.learning_rate)
        log.write(visit.record)


def run_synchronous_epoch(
    config,
    dataset,
    population: Population,
    epoch: int,
    engines: EnginePool,
    log: VisitLog,
    executor=None,
) -> None:
    """Visit every cell against the centers of the start of the epoch, then replace them all.

    With an ``executor`` the visits run concurrently; the outcome is the same
    as serially (the generators depend on (epoch, cell) only). If a visit
    fails, the records of the visits before it (in visit order) are written
    and its error is raised.
    """
    snapshot = list(population.centers)
    learning_rates = list(population.learning_rates)

    def visit(cell):
        with engines.borrow() as engine:
            return visit_cell(
                config,
                dataset,
                snapshot,
                cell,
                learning_rates[cell],
                epoch,
                engine,
                visit_streams(config.seed, epoch, cell),
            )

    cells = [int(c) for c in visit_order(config.seed, epoch, config.population_size)]
    if executor is None:
        outcomes = (_call(visit, cell) for cell in cells)
    else:
        futures = [executor.submit(visit, cell) for cell in cells]
        outcomes = (_result(f) for f in futures)
    visits = []
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            for done in visits:
                log.write(done.record)
            raise outcome
        visits.append(outcome)
    for done in visits:
        replace_center(population, done.cell, done.center, done.learning_rate)
        log.write(done.record)


def _call(fn, arg):
    try:
        return fn(arg)
    except Exception as err:  # handed back to keep the records before it
        return err


def _result(future):
    try:
        return future.result()
    except Exception as err:
        return err


def run_all_vs_all_epoch(
    config, dataset, population: Population, epoch: int, engine: Engine, log: VisitLog
) -> None:
    """Train every encoder with every decoder once (``order x order``), then mutate the shared rate."""
    n = config.population_size
    order = [int(c) for c in visit_order(config.seed, epoch, n)]
    learning_rate = population.learning_rates[0]
    for a, b in itertools.product(order, order):
        log.write(
            visit_all_vs_all_pair(
                config,
                dataset,
                population,
                a,
                b,
                learning_rate,
                epoch,
                engine,
                visit_streams(config.seed, epoch, a * n + b),
            )
        )
    new_rate = mutate_learning_rate(
        learning_rate,
        epoch_streams(config.seed, epoch)["mutate"],
        config.lr_mutation_std,
        config.lr_min,
        config.lr_max,
    )
    population.learning_rates = [new_rate] * n


# ---------------------------------------------------------------------------
# Checkpoints
# ---------------------------------------------------------------------------


def _network_name(cell: int, part: str) -> str:
    return f"cell{cell:03d}_{part}"


def checkpoint_population(
    out_dir, writer: StatsWriter, population: Population, config, elapsed: float
) -> None:
    """Save every center (with Adam state), the learning rates and counters, atomically.

    Activation records are empty at epoch boundaries in ``lipi_simple``;
    in ``epoch-node`` and ``all_vs_all`` they persist until the next pruning
    and are stored with the networks (``MLP.state_dict``). No generator state is needed: every draw is a
    function of (seed, epoch, cell), module docstring "Randomness".
    """
    writer.sync()
    state = {
        "variant": config.cell_evaluation,
        "seed": config.seed,
        "population_size": config.population_size,
        "next_epoch": population.next_epoch,
        "fe_cnt": population.fe_cnt,
        "elapsed": elapsed,
        "stats_bytes": writer.n_bytes,
        "learning_rates": [float(lr) for lr in population.learning_rates],
        "rngs": "counter-based: SeedSequence(seed, spawn_key=(kind, epoch, cell))",
    }
    networks = {}
    for cell, center in enumerate(population.centers):
        networks[_network_name(cell, "encoder")] = center.encoder
        networks[_network_name(cell, "decoder")] = center.decoder
    save_checkpoint(out_dir, state, networks, moments=config.optimizer_state != "fresh")


def restore_population(out_dir, config, kind: str) -> tuple[Population, int]:
    """The population saved by :func:`checkpoint_population`, and the stats byte count.

    Raises
    ------
    ValueError
        When the checkpoint belongs to a run with another variant, seed or
        population size.
    """
    record_rows = config.batch_size if records_activations(config) else 0
    state, networks, _ = load_checkpoint(out_dir, record_rows)
    path = Path(out_dir) / "checkpoint.npz"
    for key, expected in (
        ("variant", config.cell_evaluation),
        ("seed", config.seed),
        ("population_size", config.population_size),
    ):
        if state.get(key) != expected:
            raise ValueError(
                f"{path}: checkpoint has {key}={state.get(key)!r} but the "
                f"configuration has {expected!r}; cannot resume"
            )
    try:
        centers = [
            Autoencoder(
                networks[_network_name(c, "encoder")], networks[_network_name(c, "decoder")], kind
            )
            for c in range(config.population_size)
        ]
    except KeyError as err:
        raise ValueError(f"{path}: checkpoint lacks network {err.args[0]!r}") from None
    population = Population(
        centers,
        [float(lr) for lr in state["learning_rates"]],
        int(state["next_epoch"]),
        int(state["fe_cnt"]),
        float(state["elapsed"]),
    )
    return population, int(state["stats_bytes"])


# ---------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------


def candidate_pairs(population: Population, variant: str) -> list:
    """Pairs that may be returned: the centers, or every combination for ``all_vs_all``."""
    centers = population.centers
    if variant != "all_vs_all":
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
        ``cell_evaluation`` picks the variant (module docstring);
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
    if config.cell_evaluation == CANONICAL:
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

    parallel = config.update == "synchronous" and config.cell_evaluation != "all_vs_all"
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
            if config.cell_evaluation == "all_vs_all":
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

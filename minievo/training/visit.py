"""One cell visit of Lipi-AE, as named steps (docs/algorithm.md §4 "A cell visit, step by step").

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
7. **replace_center** (:func:`~minievo.training.population.replace_center`,
   done by the epoch driver): the trained pair becomes cell :math:`i`'s center,
   always, even when it is worse than before;
8. **mutate_learning_rate** (defined in :mod:`minievo.paper.lipi_ae`):
   :math:`\\eta_i \\leftarrow \\operatorname{clip}(\\eta_i + \\mathcal N(0, \\sigma^2),
   \\eta_{min}, \\eta_{max})`, :math:`\\sigma = 10^{-5}`, range :math:`[10^{-9}, 10]`.

Activation records (for the VARIANCE operator) are kept during steps 2-5, as
every forward pass of the published code is recorded, and cleared at the end
of the visit. A center therefore starts every visit with empty records.
``epoch-node`` and ``all_vs_all`` clear them only when the pair is pruned, as
the published code does: the cell's own center (``epoch-node``) or the
population's networks (``all_vs_all``) keep accumulating records over visits
and epochs until their next pruning (records are saved in checkpoints).

The variants' differences (``lipi_simple_pte``, ``epoch-node``, ``all_vs_all``)
are described in :mod:`~minievo.training.variants`; the record each visit
writes in :mod:`~minievo.training.coevolution` ("Records").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..data import Dataset, batch_order
from ..engine import Engine
from ..network import Autoencoder
from ..paper.lipi_ae import mutate_learning_rate  # noqa: F401 (step 8, re-exported)
from .population import Population
from .prune_step import prune_step
from .records import full_set_statistics, pruned_counts
from .ring import best_case_fitness, neighbourhood_indices, select_by_tournament
from .runs import check_finite, records_activations
from .variants import variant_of

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
    """Two Adam steps on every batch, one after the other (``all_vs_all``, :mod:`~minievo.training.variants`).

    Equal to :func:`train_with_partners` on a one-pair neighbourhood, but the
    whole pass is one compiled call over an order that lists every full batch
    twice; a short last batch is trained twice after it.
    """
    n_full = order.shape[0] // batch_size * batch_size
    head = order[:n_full].reshape(-1, batch_size)  # (n_full_batches, B)
    doubled = np.repeat(head, 2, axis=0).ravel()  # (2 * n_full,)

    def one_pass(rows: np.ndarray) -> np.ndarray:
        return train_pair(
            engine,
            pair,
            data,
            rows,
            batch_size,
            learning_rate,
            fresh=fresh,
            record=record,
            noise=noise,
        )

    losses = [one_pass(doubled)]
    tail = order[n_full:]
    for _ in range(2 if tail.shape[0] else 0):
        losses.append(one_pass(tail))
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
    """Step 6: prune ``pair`` in place as the schedule says; True if it was pruned.

    A probability schedule: :math:`p(t, T, n)` of docs/algorithm.md §5 with
    ``T = epochs - 1`` and ``n = n_solutions`` (``2·radius + 1``); one uniform
    number is drawn whenever pruning is on, so the stream does not depend on
    the schedule. A sparsity schedule (docs/baselines.md): the pair is pruned
    to the schedule's target at epoch ``t``, the coevolution's epoch, at this
    visit of the cell (:func:`~minievo.training.prune_step.prune_step`).
    """
    return prune_step(pair, config, epoch, config.epochs - 1, n_solutions, rng, test_data)


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
    caller puts :attr:`CellVisit.center` in place
    (:func:`~minievo.training.population.replace_center`).

    Raises
    ------
    NonFiniteLossError
        When a loss is NaN or infinite; the message names epoch and cell.
    """
    variant = variant_of(config)
    record = records_activations(config)
    train, rows, shuffle = dataset.train, config.batch_size, config.shuffle_data

    # 1-2: neighbourhood and its loss matrix on one batch
    cells = neighbourhood_indices(cell, len(centers), config.radius)  # (K,)
    # Without activation records lipi_simple only reads the neighbours: it evaluates
    # the centers themselves and copies just the selected pair (step 3).
    read_only = not variant.trains_with_partners and not record
    neighbourhood = gather_neighbourhood(
        centers, cell, config.radius, keep_own_records=variant.keeps_own_records, copy=not read_only
    )
    batch = evaluation_batch(train, rows, streams["data"], shuffle)  # (B, n_dim)
    losses = evaluate_neighbourhood(engine, neighbourhood, batch, record=record)  # (K, K)
    check_finite(losses.ravel(), epoch, f"cell {cell} selection")
    encoder_fitness, _ = best_case_fitness(losses)  # (K,)

    # 3: tournament
    selected = select_by_tournament(encoder_fitness, streams["select"])
    pair = neighbourhood[selected].copy() if read_only else neighbourhood[selected]

    # 4: train on every batch
    batch_losses = train_selected(
        config, engine, neighbourhood, selected, pair, train, learning_rate, streams
    )
    check_finite(batch_losses, epoch, f"cell {cell} training")

    # 5-6: replacement evaluation and pruning (swapped for lipi_simple_pte)
    replacement, pruned = evaluate_and_prune(
        config, engine, pair, dataset, epoch, len(neighbourhood), streams
    )
    check_finite(np.array([replacement]), epoch, f"cell {cell} replacement")
    if pruned or variant.clears_records_each_visit:
        clear_records(pair)

    # 8: the learning rate of the cell's next visit
    next_lr = mutate_learning_rate(learning_rate, streams["mutate"], config)
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


def train_selected(
    config,
    engine: Engine,
    neighbourhood,
    selected: int,
    pair: Autoencoder,
    train: np.ndarray,
    learning_rate: float,
    streams: dict,
) -> np.ndarray:
    """Step 4 of a visit: one pass over a fresh shuffle of ``train``, by the variant's rule.

    ``epoch-node`` (:attr:`~minievo.training.variants.Variant.trains_with_partners`)
    trains the selected networks with random partners of ``neighbourhood``
    (:func:`train_with_partners`); the others train ``pair`` alone
    (:func:`train_pair`). Returns the loss of each step, before it.
    """
    record = records_activations(config)
    fresh = config.optimizer_state == "fresh"
    rows = config.batch_size
    order = batch_order(train.shape[0], streams["data"], config.shuffle_data)  # (N,)
    noise = engine.draw_noise(streams["noise"], train.shape[0])
    if variant_of(config).trains_with_partners:
        return train_with_partners(
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
    return train_pair(
        engine, pair, train, order, rows, learning_rate, fresh=fresh, record=record, noise=noise
    )


def evaluate_and_prune(
    config,
    engine: Engine,
    pair: Autoencoder,
    dataset: Dataset,
    epoch: int,
    n_solutions: int,
    streams: dict,
) -> tuple[float, bool]:
    """Steps 5-6 of a visit: ``(min_replacement_loss, pruned)``.

    The replacement batch is drawn first; ``lipi_simple_pte``
    (:attr:`~minievo.training.variants.Variant.prune_before_replacement_eval`)
    prunes before evaluating on it, the others after.
    """
    record = records_activations(config)
    rows, shuffle = config.batch_size, config.shuffle_data
    replacement_batch = evaluation_batch(dataset.train, rows, streams["data"], shuffle)
    if variant_of(config).prune_before_replacement_eval:
        pruned = prune_cell(pair, config, epoch, n_solutions, streams["prune"], dataset.test)
        replacement = evaluate_replacement(engine, pair, replacement_batch, record=record)
    else:
        replacement = evaluate_replacement(engine, pair, replacement_batch, record=record)
        pruned = prune_cell(pair, config, epoch, n_solutions, streams["prune"], dataset.test)
    return replacement, pruned


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

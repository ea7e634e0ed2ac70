"""The cell-evaluation variants the training loops run, and what each one does (docs/algorithm.md §4, §6).

``ann_canonical`` trains one autoencoder (:func:`~minievo.training.canonical.train_canonical`);
the other four are the Lipi-AE spatial coevolution variants of
:func:`~minievo.training.coevolution.train_coevolution`. The configuration
(:mod:`minievo.experiments.config`) imports these names; it does not copy them.

Each variant's behaviour is stated once, as the flags of its :class:`Variant`
(docs/algorithm.md §4 "Variants"); the training loops read the flags
(:func:`variant_of`) instead of comparing names. The steps named below are
those of a cell visit (:mod:`~minievo.training.visit`).

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
"""

from __future__ import annotations

from typing import NamedTuple

CANONICAL = "ann_canonical"

CELL_EVALUATIONS = ("lipi_simple", "lipi_simple_pte", "epoch-node", "all_vs_all", CANONICAL)

#: Other spellings accepted for a cell evaluation (published ones included).
CELL_EVALUATION_ALIASES = {
    "canonical": CANONICAL,
    "epoch_node": "epoch-node",
    "all-vs-all": "all_vs_all",
    "lipi_simple_prune_then_eval": "lipi_simple_pte",
}


class Variant(NamedTuple):
    """What one cell evaluation does differently from ``lipi_simple`` (docs/algorithm.md §4).

    ``lipi_simple``, the papers' main variant, keeps every default.
    """

    name: str
    #: One autoencoder, one Adam optimizer, no population (docs/algorithm.md §3).
    canonical: bool = False
    #: Step 4 pairs the selected encoder and decoder with random partners of the
    #: neighbourhood, one step each per batch (``epoch-node``).
    trains_with_partners: bool = False
    #: Steps 5 and 6 swapped: prune, then the replacement evaluation (``lipi_simple_pte``).
    prune_before_replacement_eval: bool = False
    #: The cell's own center is visited itself, not a clone: its activation
    #: records carry over from visit to visit (``epoch-node``).
    keeps_own_records: bool = False
    #: Activation records are forgotten at the end of every visit; otherwise
    #: only when the pair is pruned (``epoch-node``, ``all_vs_all``).
    clears_records_each_visit: bool = True
    #: No ring and no selection: every ordered (encoder, decoder) pair of the
    #: population is trained in place, one shared learning rate (``all_vs_all``).
    all_pairs: bool = False


#: Every variant by its name (the names of :data:`CELL_EVALUATIONS`).
VARIANTS = {
    "lipi_simple": Variant("lipi_simple"),
    "lipi_simple_pte": Variant("lipi_simple_pte", prune_before_replacement_eval=True),
    "epoch-node": Variant(
        "epoch-node",
        trains_with_partners=True,
        keeps_own_records=True,
        clears_records_each_visit=False,
    ),
    "all_vs_all": Variant("all_vs_all", clears_records_each_visit=False, all_pairs=True),
    CANONICAL: Variant(CANONICAL, canonical=True, clears_records_each_visit=False),
}


def variant_of(config) -> Variant:
    """The :class:`Variant` of ``config.cell_evaluation`` (a validated name, aliases resolved)."""
    return VARIANTS[config.cell_evaluation]

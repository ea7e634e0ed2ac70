"""Names of the cell-evaluation variants the training loops run (docs/algorithm.md §4, §6).

``ann_canonical`` trains one autoencoder (:func:`~minievo.training.canonical.train_canonical`);
the other four are the Lipi-AE spatial coevolution variants of
:func:`~minievo.training.coevolution.train_coevolution`. The configuration
(:mod:`minievo.experiments.config`) imports these names; it does not copy them.
"""

CANONICAL = "ann_canonical"

CELL_EVALUATIONS = ("lipi_simple", "lipi_simple_pte", "epoch-node", "all_vs_all", CANONICAL)

#: Other spellings accepted for a cell evaluation (published ones included).
CELL_EVALUATION_ALIASES = {
    "canonical": CANONICAL,
    "epoch_node": "epoch-node",
    "all-vs-all": "all_vs_all",
    "lipi_simple_prune_then_eval": "lipi_simple_pte",
}

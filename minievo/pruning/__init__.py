"""Pruning as a mutation operator (GECCO 2025, docs/algorithm.md §5).

* :mod:`~minievo.pruning.schedules`: *when* to prune (seven schedules).
* :mod:`~minievo.pruning.records`: VARIANCE scores from a network's running
  activation records.
* :mod:`~minievo.pruning.operators`: *what* to prune: ``random``,
  ``variance`` (published ``activation``) and ``conjunctive`` (published
  ``lexicase``), and :func:`prune_pair`, which applies one to an autoencoder.
* :mod:`~minievo.pruning.magnitude`: global magnitude pruning, the standard
  baseline (docs/baselines.md).
* :mod:`~minievo.pruning.targets`: schedules that set a sparsity target
  (``one_shot``, ``iterative``, ``gradual``, ``lottery_ticket``).
* :mod:`~minievo.pruning.sparsity`: what is left, and which nodes are dead.
* :mod:`~minievo.pruning.registry`: operators and schedules as plug-ins
  (:func:`register_operator`, :func:`register_schedule`); the configuration
  and the training loops look them up there.

A typical call, once per individual and epoch::

    if should_prune(schedule, p, t, T, n_solutions, rng):
        result = prune_pair(pair, "variance", rng, mask_mode="persistent")
"""

from .operators import (
    ALIASES,
    MASK_MODES,
    METHODS,
    PRUNE_METHODS,
    SIGNALS,
    PruneResult,
    apply_prune_mask,
    conjunctive_masks,
    lexicase_filter,
    n_pruned,
    passing_nodes,
    prune_pair,
    random_mask,
    resolve_method,
    variance_mask,
)
from .records import NoRecordsError, node_keep_probabilities, variance_scores
from .registry import (
    PruneSettings,
    SparsitySettings,
    get_operator,
    get_schedule,
    load_plugins,
    operator_aliases,
    operator_names,
    register_operator,
    register_schedule,
    schedule_names,
    sparsity_operator_names,
)
from .schedules import SCHEDULES, prune_probability, should_prune
from .sparsity import dead_nodes, format_report, sparsity_report, structurally_removable

# isort: split
# the baselines register after the papers' operators and schedules (the names' order)
from .magnitude import magnitude_pair_masks, magnitude_to_sparsity, masked_weight_fraction
from .targets import (
    SPARSITY_SCHEDULES,
    is_sparsity_schedule,
    prune_pair_to_sparsity,
    scheduled_sparsity,
    sparsity_settings,
)

__all__ = [
    "ALIASES",
    "MASK_MODES",
    "METHODS",
    "PRUNE_METHODS",
    "SIGNALS",
    "SCHEDULES",
    "NoRecordsError",
    "PruneResult",
    "PruneSettings",
    "SPARSITY_SCHEDULES",
    "SparsitySettings",
    "is_sparsity_schedule",
    "magnitude_pair_masks",
    "magnitude_to_sparsity",
    "masked_weight_fraction",
    "prune_pair_to_sparsity",
    "scheduled_sparsity",
    "sparsity_operator_names",
    "sparsity_settings",
    "get_operator",
    "get_schedule",
    "load_plugins",
    "operator_aliases",
    "operator_names",
    "register_operator",
    "register_schedule",
    "schedule_names",
    "apply_prune_mask",
    "conjunctive_masks",
    "dead_nodes",
    "format_report",
    "lexicase_filter",
    "n_pruned",
    "node_keep_probabilities",
    "passing_nodes",
    "prune_pair",
    "prune_probability",
    "random_mask",
    "resolve_method",
    "should_prune",
    "sparsity_report",
    "structurally_removable",
    "variance_mask",
    "variance_scores",
]

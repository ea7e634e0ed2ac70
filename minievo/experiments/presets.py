"""The experiment grids of the GECCO 2025 pruning study, as data (docs/algorithm.md §7).

Each preset is a dictionary with

- ``description``: one line, what the grid asks;
- ``settings``: values fixed for the whole grid;
- ``grid``: the axes varied, each a list of values; every combination is one
  variant (the Cartesian product, in the published axis order).

Every variant starts from :data:`PRESET_DEFAULTS` (400 epochs, learning rate
1e-5, batch size 5, 30 trials with seeds 1..30, radius 1, lexi_threshold 0.1,
test loss on, a fresh Adam per step, published ``regrow`` masks and hook signal), then the
preset's ``settings``, then the variant's grid values. Canonical variants
(``ann_canonical``) get population 1 and their single persistent Adam
optimizer, as the published runner forces.

:func:`expand_preset` turns a preset into one :class:`~minievo.experiments.config.Config`
per variant; each holds ``trials`` and the first ``seed``, and the sweep runs
seeds ``seed .. seed + trials - 1``.

Source: the ``rq_sensitivities`` grids and ``experiment_configuration_defaults``
of ALFA-group/lipizzaner-ae-prune, ``aes_lipi/utilities/gecco_25_experiments.py``
(the version that matches docs/algorithm.md §7). A later version of that file adds the
unpublished prune methods ``roulette`` (to several grids) and ``magnitude``,
and runs ``lex_final_n_small`` for 10 epochs; minievo follows docs/algorithm.md §7
(its own ``magnitude`` is the baseline of the ``baselines`` preset below).

Choices made here, beyond the table of docs/algorithm.md §7:

- Every preset reproduces the published code's behaviour where minievo's
  default differs (``semantics="published"``): ``mask_mode="regrow"``, a
  fresh Adam per step, ``activation_signal="hook_output"`` (the operators
  read what the published forward hook ends up holding: ReLU outputs on ReLU
  layers), and no input noise in the ``denoising`` environment
  (``denoising_noise_std=0``: the published denoising class adds none).
- ``data_seed`` is 1 for every variant and trial: the published experiments
  generate each dataset once and every trial and variant reads the same file.
- ``capacity`` runs 1 trial, as its published grid says (``"trials": [1]``).
- ``population_size`` includes populations 1 and 2 with radius 1. minievo
  admits them (radius <= population_size // 2, any radius for population 1)
  because the published ``get_neighbors`` wraps around the ring: population 1
  gives a neighbourhood of three copies of the cell's own centre, population 2
  gives the cell and the other cell twice.
- ``no_shuffle_data``'s published axis ``no_shuffle_data: [True, False]`` is the
  axis ``shuffle_data: [False, True]`` here.

``main_comparison``: which runs the papers' figures show
-------------------------------------------------------
No published grid is the main comparison; the published ``paper_plots.ipynb``
draws it from ``./paper_runs/best_of_lipi``, ``best_of_canonical`` and
``best_of_best``, folders filled with runs of the published grids. Each
variant of ``main_comparison`` is the grid run behind its curve
(:data:`MAIN_COMPARISON_PROVENANCE`; docs/studies.md gives the evidence):

- Lipi-AE RANDOM-exp and CONJUNCTIVE-final_n: ``lexi_prob``, **population 5**
  (the ``best_of_lipi`` curves coincide point for point with the
  schedule-sweep curves: RANDOM-exp 0.175 / 0.126 / 0.105 / 0.104 at epochs
  100-400 in both, CONJUNCTIVE-final_n 0.173 / 0.157 / 0.165 / 0.152);
- Lipi-AE VARIANCE-population: ``activation_sched``, population 10 (its
  schedule-sweep value 0.157 is the ``best_of_lipi`` one);
- Lipi-AE without pruning: **population 5**, the only unpruned Lipi-AE of the
  grids at the main setting (``cell_evaluations``, ``environment``); no grid
  has one at population 10;
- canonical training: unpruned from ``cell_evaluations``, VARIANCE-exp from
  ``best_base_activation``; RANDOM- and CONJUNCTIVE-exp ran 400 epochs too
  (the figure's data end at epoch 400 on an autoscaled axis), though the only
  grid with them, ``base_pruning``, lists 4000;
- the small autoencoder with RANDOM-exp: *inconclusive*. The only grid with
  it, ``lipi_small_4000``, runs population 10 on ``binary_clustering_10_100_4000``;
  but the notebook counts the small network's parameters for 1000-bit inputs
  (61,182) and its network-size figure, which subtracts the pruned counts from
  them, ends the decoder at about 7,500 of 31,090, a pruned count that a
  1000-bit run gives (minievo: 7,851 non-zero, published-count capacity
  0.561) and a 4000-bit decoder (124,090 parameters) would not; the figure
  also draws it among the 1000-bit small runs. ``main_comparison`` runs
  ``lipi_small_4000``'s settings on the 1000-bit data; the ``lipi_small_4000``
  preset is the other reading.

``main_comparison_pop10`` is the comparison as minievo ran it before (every
Lipi-AE variant at population 10), for comparison.

``baselines``: the standard pruning baselines beside the papers' best variants
-----------------------------------------------------------------------------
Four of the main comparison's variants, the same dictionaries
(:func:`_main_variants`): canonical CONJUNCTIVE-exponential p0.5, Lipi-AE
population 5 RANDOM-exponential p0.5 and CONJUNCTIVE-final_n p0.5, population
10 VARIANCE-population p0.1; beside them the baselines of docs/baselines.md,
global ``magnitude`` pruning with persistent masks on a sparsity schedule:
canonical ``one_shot``, ``iterative``, ``gradual`` and ``lottery_ticket``, and
Lipi-AE population 5 ``gradual``. Each baseline's ``target_sparsity`` is
matched to a papers' variant (:data:`BASELINES_MATCHED_TO`), from its median
final capacity (the report's *capacity*: the non-zero share of all parameters
at the end) over the 10 trials per variant of ``main_comparison`` that
minievo measured (``docs/results/main_comparison``):

- canonical CONJUNCTIVE-exp: median capacity 0.764, i.e. 23.6% of the
  parameters inactive. The targets count weights only (biases are never
  pruned); the default autoencoder has 60,600 weights and 1,070 biases, so
  ``target_sparsity`` 0.24 masks 14,544 weights, 23.6% of its 61,670
  parameters: capacity 0.764;
- Lipi-AE CONJUNCTIVE-final_n: median capacity 0.815; 0.19 of the weights is
  18.7% of the parameters, capacity 0.813.

Every variant runs 400 epochs (the default) and 10 trials (seeds 1-10, the
trials behind the matched capacities; ``--trials 30`` for the papers' count):
about 15 s per canonical trial and 100 s per population-5 trial.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

from ..errors import suggest
from .config import CANONICAL, Config, ConfigError, _normalise_keys, merge_with_defaults
from .paper_values import paper_value_for

#: The default job of ``minievo run`` and of :func:`default_job`: one trial of the
#: papers' main coevolutionary setting (docs/algorithm.md §7: lipi_simple, population
#: 10, radius 1, batch 5, 400 epochs, learning rate 1e-5, 1000 rows x 1000 bits,
#: random pruning with probability 0.5 and amount 0.1 on the exponential schedule,
#: published ``regrow`` masks and a fresh Adam per step; the test loss every 10th
#: epoch). Persistent masks would not do here: random pruning removes 10% of the
#: *remaining* weights at every event, and after the ~120 events of a trial almost
#: nothing is left. ``minievo run`` reads this dictionary (``minievo.cli.DEFAULT_JOB``
#: is the same object).
DEFAULT_JOB: dict[str, Any] = {
    "cell_evaluation": "lipi_simple",
    "population_size": 10,
    "radius": 1,
    "batch_size": 5,
    "dataset_name": "binary_clustering_10_100_1000",
    "prune_method": "random",
    "prune_schedule": "exponential",
    "prune_probability": 0.5,
    "prune_amount": 0.1,
    "epochs": 400,
    "learning_rate": 1e-5,
    "mask_mode": "regrow",
    "optimizer_state": "fresh",
    # the whole-test-set L1 every 10th epoch and at the last (docs/algorithm.md §6):
    # every visit it would cost ~40% of the visit's training arithmetic
    "test_loss_every": 10,
}


def default_job(**overrides: Any) -> Config:
    """The :class:`Config` of ``minievo run``: :data:`DEFAULT_JOB` with ``overrides``.

    ``default_job()`` is the configuration ``minievo run`` runs, and
    ``default_job(epochs=20, learning_rate=1e-3)`` the one of
    ``minievo run --epochs 20 --learning-rate 1e-3``: the overrides are merged as
    the command line merges its flags (any key of :class:`Config`, published
    names too), and the result records ``defaults="default job"``.
    ``Config()`` instead starts from the dataclass defaults (no pruning,
    persistent masks), which are not the papers' setting.
    """
    return merge_with_defaults(DEFAULT_JOB, overrides, "default job")


__all__ = [
    "BASELINES_MATCHED_TO",
    "DEFAULT_JOB",
    "MAIN_COMPARISON_PROVENANCE",
    "default_job",
    "PRESET_DEFAULTS",
    "PRESETS",
    "SIX_SCHEDULES",
    "expand_preset",
    "list_presets",
    "preset_variant_names",
    "PUBLISHED_MAIN_COMPARISON",
]

#: Settings shared by every preset (docs/algorithm.md §7 "Defaults of every experiment").
PRESET_DEFAULTS: dict[str, Any] = {
    "environment": "default",
    "dataset_name": "binary_clustering_10_100_1000",
    "epochs": 400,
    "learning_rate": 1e-5,
    "batch_size": 5,
    "trials": 30,
    "seed": 1,
    "data_seed": 1,
    "radius": 1,
    "lexi_threshold": 0.1,
    "calculate_test_loss": True,
    # the test L1 (whole test set) every 10th epoch and at the last, as the default job:
    # every visit it costs about 40% of the visit's training arithmetic (docs/algorithm.md §6)
    "test_loss_every": 10,
    "optimizer_state": "fresh",
    "mask_mode": "regrow",
    "activation_signal": "hook_output",
    "semantics": "published",  # also: the denoising environment adds no noise
}

#: The six schedules of the base_pruning study (all but prune_after), published order.
SIX_SCHEDULES = ["fixed", "increase", "population", "decrease", "exponential", "final_n"]

#: Where each variant of ``main_comparison`` comes from: variant -> the published grid
#: that ran it and how sure that is (module docstring; docs/studies.md).
MAIN_COMPARISON_PROVENANCE: dict[str, str] = {
    "ann_canonical-none": "cell_evaluations (canonical; population forced to 1)",
    "ann_canonical-conjunctive-exponential-p0.5": "400 epochs (the figure's data end at "
    "epoch 400), though its only grid, base_pruning, lists 4000",
    "ann_canonical-random-exponential-p0.5": "400 epochs (the figure's data end at "
    "epoch 400), though its only grid, base_pruning, lists 4000",
    "ann_canonical-variance-exponential-p0.1": "best_base_activation",
    "lipi_simple-pop5-none": "cell_evaluations / environment (population 5; "
    "no grid has an unpruned Lipi-AE at population 10)",
    "lipi_simple-pop5-random-exponential-p0.5": "lexi_prob (population 5): "
    "the figure's curve is the schedule sweep's",
    "lipi_simple-pop5-conjunctive-final_n-p0.5": "lexi_prob (population 5): "
    "the figure's curve is the schedule sweep's",
    "lipi_simple-pop10-variance-population-p0.1": "activation_sched (population 10)",
    "small-lipi_simple-pop10-random-exponential-p0.5": "inconclusive: the only grid with it, "
    "lipi_small_4000, runs the 4000-bit data; the notebook's network sizes are 1000-bit ones "
    "(run lipi_small_4000 for the other reading)",
}


def _canonical_variants() -> list[dict]:
    """The main comparison's four canonical variants (fresh dicts: each preset its own)."""
    published = [("conjunctive", 0.5), ("random", 0.5), ("variance", 0.1)]
    return [{"name": "ann_canonical-none", "cell_evaluation": CANONICAL, "prune_method": None}] + [
        {
            "name": f"ann_canonical-{method}-exponential-p{p}",
            "cell_evaluation": CANONICAL,
            "prune_method": method,
            "prune_schedule": "exponential",
            "prune_probability": p,
        }
        for method, p in published
    ]


def _main_lipi_variants() -> list[dict]:
    """The main comparison's five Lipi-AE variants (fresh dicts: each preset its own)."""
    return [
        {
            # cell_evaluations / environment grids: population 5
            "name": "lipi_simple-pop5-none",
            "cell_evaluation": "lipi_simple",
            "population_size": 5,
            "prune_method": None,
        },
        {
            # lexi_prob grid: population 5
            "name": "lipi_simple-pop5-random-exponential-p0.5",
            "cell_evaluation": "lipi_simple",
            "population_size": 5,
            "prune_method": "random",
            "prune_schedule": "exponential",
            "prune_probability": 0.5,
        },
        {
            # lexi_prob grid: population 5
            "name": "lipi_simple-pop5-conjunctive-final_n-p0.5",
            "cell_evaluation": "lipi_simple",
            "population_size": 5,
            "prune_method": "conjunctive",
            "prune_schedule": "final_n",
            "prune_probability": 0.5,
        },
        {
            # activation_sched grid: population 10
            "name": "lipi_simple-pop10-variance-population-p0.1",
            "cell_evaluation": "lipi_simple",
            "population_size": 10,
            "prune_method": "variance",
            "prune_schedule": "population",
            "prune_probability": 0.1,
        },
        {
            # lipi_small_4000's settings on the 1000-bit data, as the notebook's
            # parameter counts say (no grid lists it; lipi_small_4000 is the other reading)
            "name": "small-lipi_simple-pop10-random-exponential-p0.5",
            "cell_evaluation": "lipi_simple",
            "population_size": 10,
            "environment": "small",
            "prune_method": "random",
            "prune_schedule": "exponential",
            "prune_probability": 0.5,
        },
    ]


def _main_variants(*names: str) -> list[dict]:
    """The main comparison's variants called ``names``, in that order (fresh dicts)."""
    every = {v["name"]: v for v in [*_canonical_variants(), *_main_lipi_variants()]}
    return [every[name] for name in names]


#: The baselines' matched targets (``baselines`` preset, docs/baselines.md): the fraction of
#: weights masked, chosen so that the baseline ends with the capacity of the papers' variant.
BASELINE_TARGETS = {"canonical": 0.24, "lipi": 0.19}


def _baseline_variants() -> list[dict]:
    """The standard baselines of the ``baselines`` preset (docs/baselines.md)."""
    sparse = {"prune_method": "magnitude", "mask_mode": "persistent"}
    canonical = [
        {
            "name": f"ann_canonical-magnitude-{schedule}-s{BASELINE_TARGETS['canonical']}",
            "cell_evaluation": CANONICAL,
            "prune_schedule": schedule,
            "target_sparsity": BASELINE_TARGETS["canonical"],
            **sparse,
        }
        for schedule in ("one_shot", "iterative", "gradual", "lottery_ticket")
    ]
    lipi = {
        "name": f"lipi_simple-pop5-magnitude-gradual-s{BASELINE_TARGETS['lipi']}",
        "cell_evaluation": "lipi_simple",
        "population_size": 5,
        "prune_schedule": "gradual",
        "target_sparsity": BASELINE_TARGETS["lipi"],
        **sparse,
    }
    return [*canonical, lipi]


#: Which of the papers' variants each baseline of the ``baselines`` preset is matched to
#: (its target sparsity gives that variant's median final capacity; docs/baselines.md).
BASELINES_MATCHED_TO: dict[str, str] = {
    **{
        v["name"]: "ann_canonical-conjunctive-exponential-p0.5"
        for v in _baseline_variants()
        if v["cell_evaluation"] == CANONICAL
    },
    f"lipi_simple-pop5-magnitude-gradual-s{BASELINE_TARGETS['lipi']}": (
        "lipi_simple-pop5-conjunctive-final_n-p0.5"
    ),
}


PRESETS: dict[str, dict[str, Any]] = {
    "base_pruning": {
        "description": "canonical training, 4000 epochs: random vs conjunctive "
        "pruning under the six schedules",
        "settings": {
            "cell_evaluation": CANONICAL,
            "population_size": 1,
            "epochs": 4000,
            "prune_probability": 0.5,
            "prune_amount": 0.1,
        },
        "grid": {"prune_method": ["random", "conjunctive"], "prune_schedule": SIX_SCHEDULES},
    },
    "best_base_activation": {
        "description": "canonical training with variance pruning on the exponential schedule",
        "settings": {
            "cell_evaluation": CANONICAL,
            "population_size": 1,
            "prune_method": "variance",
            "prune_schedule": "exponential",
            "prune_probability": 0.1,
            "prune_amount": 0.1,
        },
        "grid": {},
    },
    "prune_after_base": {
        "description": "canonical training, each operator with the prune_after schedule",
        "settings": {
            "cell_evaluation": CANONICAL,
            "population_size": 1,
            "prune_schedule": "prune_after",
            "prune_probability": 1.0,
            "prune_amount": 0.1,
        },
        "grid": {"prune_method": ["random", "conjunctive", "variance"]},
    },
    "activation_sched": {
        "description": "Lipi-AE (population 10) with variance pruning under the six schedules",
        "settings": {
            "cell_evaluation": "lipi_simple",
            "population_size": 10,
            "prune_method": "variance",
            "prune_probability": 0.1,
            "prune_amount": 0.1,
        },
        "grid": {"prune_schedule": SIX_SCHEDULES},
    },
    "lexi_prob": {
        "description": "Lipi-AE (population 5): random vs conjunctive pruning under "
        "the six schedules",
        "settings": {
            "cell_evaluation": "lipi_simple",
            "population_size": 5,
            "prune_probability": 0.5,
            "prune_amount": 0.1,
        },
        "grid": {"prune_method": ["random", "conjunctive"], "prune_schedule": SIX_SCHEDULES},
    },
    "lexi_threshold": {
        "description": "Lipi-AE (population 5), each operator with the prune_after schedule",
        "settings": {
            "cell_evaluation": "lipi_simple",
            "population_size": 5,
            "prune_schedule": "prune_after",
            "prune_probability": 1.0,
            "prune_amount": 0.1,
        },
        "grid": {"prune_method": ["random", "conjunctive", "variance"]},
    },
    "prune_after": {
        "description": "Lipi-AE (population 10), conjunctive pruning in the final quarter, "
        "probability 0.1 vs 0.9",
        "settings": {
            "cell_evaluation": "lipi_simple",
            "population_size": 10,
            "prune_method": "conjunctive",
            "prune_schedule": "final_n",
            "prune_amount": 0.1,
        },
        "grid": {"prune_probability": [0.1, 0.9]},
    },
    "dataset_name": {
        "description": "Lipi-AE on the larger dataset 50_100_4000, conjunctive pruning, "
        "exponential vs final_n",
        "settings": {
            "cell_evaluation": "lipi_simple",
            "population_size": 10,
            "dataset_name": "binary_clustering_50_100_4000",
            "prune_method": "conjunctive",
            "prune_probability": 0.5,
            "prune_amount": 0.1,
        },
        "grid": {"prune_schedule": ["exponential", "final_n"]},
    },
    "lipi_small_4000": {
        "description": "Lipi-AE, small network on 10_100_4000, random pruning, exponential",
        "settings": {
            "cell_evaluation": "lipi_simple",
            "population_size": 10,
            "environment": "small",
            "dataset_name": "binary_clustering_10_100_4000",
            "prune_method": "random",
            "prune_schedule": "exponential",
            "prune_probability": 0.5,
            "prune_amount": 0.1,
        },
        "grid": {},
    },
    "act_pop_small": {
        "description": "Lipi-AE, small network, variance pruning on the population schedule",
        "settings": {
            "cell_evaluation": "lipi_simple",
            "population_size": 10,
            "environment": "small",
            "prune_method": "variance",
            "prune_schedule": "population",
            "prune_probability": 0.1,
            "prune_amount": 0.1,
        },
        "grid": {},
    },
    "lex_final_n_small": {
        "description": "Lipi-AE, small network, conjunctive pruning on the final_n schedule",
        "settings": {
            "cell_evaluation": "lipi_simple",
            "population_size": 10,
            "environment": "small",
            "prune_method": "conjunctive",
            "prune_schedule": "final_n",
            "prune_probability": 0.5,
            "prune_amount": 0.1,
        },
        "grid": {},
    },
    "capacity": {
        "description": "4-epoch, 1-trial smoke run of prune-then-evaluate Lipi-AE, "
        "random vs conjunctive",
        "settings": {
            "cell_evaluation": "lipi_simple_pte",
            "population_size": 10,
            "epochs": 4,
            "trials": 1,
            "prune_schedule": "exponential",
            "prune_probability": 0.5,
            "prune_amount": 0.1,
        },
        "grid": {"prune_method": ["random", "conjunctive"]},
    },
    "cell_evaluations": {
        "description": "no pruning: epoch-node vs canonical vs all_vs_all vs lipi_simple",
        "settings": {"population_size": 5},
        "grid": {"cell_evaluation": ["epoch-node", CANONICAL, "all_vs_all", "lipi_simple"]},
    },
    "population_size": {
        "description": "no pruning: Lipi-AE with populations 1, 2, 5 and 20",
        "settings": {"cell_evaluation": "lipi_simple"},
        "grid": {"population_size": [1, 2, 5, 20]},
    },
    "environment": {
        "description": "no pruning: Lipi-AE (population 5) with each network architecture",
        "settings": {"cell_evaluation": "lipi_simple", "population_size": 5},
        "grid": {"environment": ["default", "denoising", "variational", "small", "large"]},
    },
    "no_shuffle_data": {
        "description": "Lipi-AE (population 5), no pruning vs variance pruning, "
        "with and without shuffling",
        "settings": {
            "cell_evaluation": "lipi_simple",
            "population_size": 5,
            "prune_schedule": "fixed",
            "prune_probability": 0.5,
            "prune_amount": 0.1,
        },
        "grid": {"prune_method": [None, "variance"], "shuffle_data": [False, True]},
    },
    # not a published grid: the papers' main comparison, as one study, each variant
    # run as the published grid that the papers' figure took it from (MAIN_COMPARISON_PROVENANCE)
    "main_comparison": {
        "description": "the papers' main comparison, each variant as the published run behind "
        "the figures: canonical; Lipi-AE population 5 (none, RANDOM-exp, CONJUNCTIVE-final_n) "
        "and 10 (VARIANCE-population, small AE RANDOM-exp)",
        "settings": {"prune_amount": 0.1, "stats_every": 10, "test_loss_every": 10},
        # explicit variants (not a grid); "name" is the variant's folder
        "variants": [
            *_canonical_variants(),
            *_main_lipi_variants(),
        ],
    },
    # the main comparison as minievo ran it before issue 19: every Lipi-AE variant at
    # population 10 and the small AE on the 1000-dim data (no published grid ran these)
    "main_comparison_pop10": {
        "description": "the main comparison with every Lipi-AE variant at population 10 "
        "(as minievo ran it before issue 19; not the papers' runs, see main_comparison)",
        "settings": {"prune_amount": 0.1, "stats_every": 10, "test_loss_every": 10},
        # explicit variants (not a grid); "name" is the variant's folder
        "variants": [
            *_canonical_variants(),
            {
                "name": "lipi_simple-none",
                "cell_evaluation": "lipi_simple",
                "population_size": 10,
                "prune_method": None,
            },
            {
                "name": "lipi_simple-random-exponential-p0.5",
                "cell_evaluation": "lipi_simple",
                "population_size": 10,
                "prune_method": "random",
                "prune_schedule": "exponential",
                "prune_probability": 0.5,
            },
            {
                "name": "lipi_simple-conjunctive-final_n-p0.5",
                "cell_evaluation": "lipi_simple",
                "population_size": 10,
                "prune_method": "conjunctive",
                "prune_schedule": "final_n",
                "prune_probability": 0.5,
            },
            {
                "name": "lipi_simple-variance-population-p0.1",
                "cell_evaluation": "lipi_simple",
                "population_size": 10,
                "prune_method": "variance",
                "prune_schedule": "population",
                "prune_probability": 0.1,
            },
            {  # the main comparison's own small-AE variant, under its earlier name
                **_main_variants("small-lipi_simple-pop10-random-exponential-p0.5")[0],
                "name": "small-lipi_simple-random-exponential-p0.5",
            },
        ],
    },
    # not a published grid: the standard pruning baselines beside the papers' best variants
    "baselines": {
        "description": "standard pruning baselines (magnitude one-shot, iterative, gradual, "
        "lottery ticket; Lipi-AE magnitude gradual) at the sparsity of the papers' best "
        "variants, beside those variants",
        "settings": {
            "prune_amount": 0.1,
            "stats_every": 10,
            "test_loss_every": 10,
            "trials": 10,
        },
        # explicit variants (not a grid); "name" is the variant's folder
        "variants": [
            *_main_variants(
                "ann_canonical-conjunctive-exponential-p0.5",
                "lipi_simple-pop5-random-exponential-p0.5",
                "lipi_simple-pop5-conjunctive-final_n-p0.5",
                "lipi_simple-pop10-variance-population-p0.1",
            ),
            *_baseline_variants(),
        ],
    },
}


#: The main comparison on scikit-learn's handwritten digits (docs/datasets.md): the
#: same variants (shared with ``main_comparison``, not copied), 5 trials by default.
PRESETS["digits_comparison"] = {
    **PRESETS["main_comparison"],
    "description": "the papers' main comparison (main_comparison's variants) on "
    "scikit-learn's 8x8 handwritten digits, 5 trials",
    "settings": {**PRESETS["main_comparison"]["settings"], "dataset_name": "digits", "trials": 5},
}


def _published_by_variant(name: str) -> dict[str, dict[str, float | None]]:
    """The papers' values for each variant of the preset ``name`` that has a published run
    (:func:`~minievo.experiments.paper_values.paper_value_for`, exact matches only)."""
    out = {}
    variants = expand_preset(name, trials=1)
    for variant_name, config in zip(variant_names_of(name, variants), variants):
        match = paper_value_for(config.to_dict())
        if match is None or match[1]:
            continue
        value = match[0]
        out[variant_name] = {
            "final_L1": value.final_L1,
            "final_L1_median": None if value.pooled is None else value.pooled[0],
            "capacity_median": value.capacity_median,
        }
    return out


def variant_names_of(name: str, variants: list[Config]) -> list[str]:
    """The folder names a sweep gives the variants of preset ``name``."""
    from .sweep import variant_names

    return variant_names(variants, preset_variant_names(name, variants))


def preset_variant_names(name: str, variants: list[Config]) -> list[str] | None:
    """The preset's own variant folder names, or None (named from the grid)."""
    explicit = PRESETS[name].get("variants")
    if not explicit or len(variants) != len(explicit):
        return None
    return [variant["name"] for variant in explicit]


def list_presets() -> dict[str, str]:
    """Preset names with their one-line descriptions, in the order of docs/algorithm.md §7, then
    ``main_comparison``."""
    return {name: preset["description"] for name, preset in PRESETS.items()}


def expand_preset(
    name: str, *, trials: int | None = None, overrides: Mapping[str, Any] | None = None
) -> list[Config]:
    """Every variant of a preset, as validated configurations.

    Parameters
    ----------
    name : str
        A key of :data:`PRESETS`.
    trials : int, optional
        Trials per variant; default the preset's (30, or 1 for ``capacity``).
    overrides : mapping, optional
        Settings applied on top of every variant, canonical or published keys
        (e.g. ``{"epochs": 4, "backend": "numpy", "out_dir": "runs"}``). An
        override of a grid axis replaces that axis by its one value, so the
        grid shrinks; variants that become identical are kept once.

    Returns
    -------
    list of Config
        One per combination of the grid axes, in the published order.

    Raises
    ------
    ConfigError
        For an unknown preset name (with the closest names), an unknown
        override key or a bad value.
    """
    if name not in PRESETS:
        raise ConfigError(
            f"unknown preset {name!r}; allowed: " + ", ".join(PRESETS) + suggest(name, PRESETS)
        )
    preset = PRESETS[name]
    extra, notices = _normalise_keys(overrides or {})
    if trials is not None:
        extra["trials"] = trials

    if "variants" in preset:  # explicit variants, each with its own settings
        combinations = [
            {k: v for k, v in variant.items() if k != "name"} for variant in preset["variants"]
        ]
    else:
        grid = {
            axis: ([extra[axis]] if axis in extra else list(values))
            for axis, values in preset["grid"].items()
        }
        combinations = [
            dict(zip(grid.keys(), combination)) for combination in itertools.product(*grid.values())
        ]
    configs: list[Config] = []
    for combination in combinations:
        settings = {**PRESET_DEFAULTS, **preset["settings"], **combination, **extra}
        if settings.get("cell_evaluation") == CANONICAL:
            # the published runner forces population 1; canonical training
            # keeps one persistent Adam optimizer (docs/algorithm.md §3)
            settings["population_size"] = 1
            if "optimizer_state" not in extra:
                settings.pop("optimizer_state", None)
        if settings.get("environment") == "denoising":
            settings.setdefault("denoising_noise_std", 0.0)  # published: no noise
        try:
            config = Config(**settings, notices=tuple(notices))
        except ConfigError as error:
            raise ConfigError(f"preset {name!r}: {error}") from error
        if config not in configs:
            configs.append(config)
    return configs


#: The papers' values for the main comparison, by ``main_comparison`` variant:
#: ``final_L1`` (mean over every cell and trial at epoch 400), ``final_L1_median``
#: (median of the pooled cells, the papers' boxplots) and ``capacity_median``
#: (median published-count capacity). Built from
#: :data:`~minievo.experiments.paper_values.PAPER_VALUES`, which says where each
#: value was read; None: not given there.
PUBLISHED_MAIN_COMPARISON: dict[str, dict[str, float | None]] = _published_by_variant(
    "main_comparison"
)

#: Papers' values per preset and variant, for the presets whose variants are the
#: papers' runs (``minievo report`` matches any variant by its settings instead).
PUBLISHED_VALUES = {
    name: _published_by_variant(name)
    for name in ("main_comparison", "lexi_prob", "activation_sched")
}

"""One validated configuration for one run of minievo.

A run (canonical training or one of the spatial coevolution variants, docs/algorithm.md §3-§5)
is described completely by one frozen :class:`Config`. It is built from a
dictionary (:meth:`Config.from_dict`), a JSON or TOML file
(:meth:`Config.from_file`) or keyword arguments, validated field by field, and
saved as JSON beside every run (:meth:`Config.save`), so that a run can always be
repeated from its output folder.

Deliberate differences from the published code
----------------------------------------------
- ``calculate_test_loss`` defaults to True (the published CLI default is False;
  every published experiment sets it True).
- ``prune_probability`` defaults to 0.5 (published CLI default 0.0, which makes
  a chosen prune method do nothing).
- ``mask_mode`` defaults to ``persistent`` (pruned entries stay zero,
  docs/algorithm.md §5 "Mask semantics"), ``activation_signal`` to
  ``pre_activation`` and ``denoising_noise_std`` to 0.4, unless the
  configuration runs with ``semantics="published"`` (a configuration in the
  published format, or a preset): then ``regrow``, ``hook_output`` and no
  denoising noise, the published behaviour (see :func:`_resolve_semantics`).
- ``optimizer_state="persistent"`` (one Adam state per individual) is offered
  besides the published ``fresh`` (a new Adam for every step, docs/algorithm.md §4 step 4).
- ``checkpoint_every`` saves a resumable run state; the published
  ``checkpoint_interval`` saved network weights only and is not mapped.
- ``stats_every``, ``adam_betas``, ``adam_eps``, ``lr_mutation_std``,
  ``lr_min``, ``lr_max``, ``lexi_rows`` and ``p_one`` are constants in the
  published code (100, (0.5, 0.999), 1e-8, 1e-5, 1e-9, 10, 100, 0.75); minievo
  exposes them with those defaults.
- ``data_seed``, ``data_dir``, ``update``, ``backend``, ``progress`` are new.

Which published code was read
-----------------------------
Key names and values were taken from ALFA-group/lipizzaner-ae-prune
(``aes_lipi/lipi_ae.py`` argument parser and ``main``,
``aes_lipi/utilities/gecco_25_experiments.py`` defaults and grids,
``aes_lipi/utilities/utilities.py::get_autoencoder`` for environment class
names, ``aes_lipi/algorithms/*`` for the ``kwargs`` they read).

The published key names and values :meth:`Config.from_dict` also accepts are
listed and translated in :mod:`minievo.experiments.published`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..data import (
    DATASET_NAME_FORMAT,
    DEFAULT_NOISE_PROBABILITY,
    DEFAULT_P_ONE,
    dataset_sizes,
    parse_dataset_name,
)
from ..digits import DIGITS_NAMES, require_scikit_learn
from ..errors import ConfigError, suggest
from ..io import atomic_write_bytes
from ..kernels import RUN_BACKENDS
from ..network import ENVIRONMENTS as NETWORK_ENVIRONMENTS
from ..pruning import MASK_MODES, SIGNALS
from ..pruning import METHODS as BUILTIN_OPERATORS
from ..pruning import SCHEDULES as BUILTIN_SCHEDULES
from ..pruning.registry import (
    PluginError,
    load_plugins,
    operator_aliases,
    operator_names,
    schedule_names,
)
from ..training.variants import CANONICAL, CELL_EVALUATION_ALIASES, CELL_EVALUATIONS, variant_of
from .baseline_checks import check_baselines
from .published import (
    _ENVIRONMENT_ALIASES,
    _PUBLISHED_RENAMES,
    NOT_APPLICABLE_KEYS,
    PUBLISHED_ENVIRONMENT_NAMES,
    _detect_published_format,
    to_published_dict,
)
from .validation import Boolean, Choice, Custom, Integer, Number, OptionalPath

__all__ = [
    "ConfigError",
    "Config",
    "CELL_EVALUATIONS",
    "ENVIRONMENTS",
    "PRUNE_METHODS",
    "PRUNE_SCHEDULES",
    "OPTIMIZER_STATES",
    "UPDATES",
    "MASK_MODES",
    "ACTIVATION_SIGNALS",
    "BACKENDS",
    "SEMANTICS",
    "PUBLISHED_ENVIRONMENT_NAMES",
    "NOT_APPLICABLE_KEYS",
]


# ---------------------------------------------------------------------------
# Allowed values and their aliases (published spellings included)
# ---------------------------------------------------------------------------

# Each enumeration is imported from the layer that owns it, not copied.
_CELL_EVALUATION_ALIASES = CELL_EVALUATION_ALIASES

ENVIRONMENTS = tuple(NETWORK_ENVIRONMENTS)
#: The built-in operators; validation reads the registry
#: (:func:`minievo.pruning.registry.operator_names`), plug-ins included.
PRUNE_METHODS = BUILTIN_OPERATORS
_PRUNE_METHOD_NONE = ("none", "null", "")
_PRUNE_METHODS_NOT_IMPLEMENTED = ("roulette",)

#: The built-in schedules; validation reads the registry (plug-ins included).
PRUNE_SCHEDULES = BUILTIN_SCHEDULES
OPTIMIZER_STATES = ("fresh", "persistent")
UPDATES = ("asynchronous", "synchronous")
ACTIVATION_SIGNALS = SIGNALS
BACKENDS = RUN_BACKENDS  # cuda: minievo.training.lockstep (GPU extra)
#: The two semantics a configuration can run with (``Config.semantics``).
SEMANTICS = ("minievo", "published")
#: Which defaults filled the keys a run's configuration did not give: the
#: dataclass defaults of ``Config()`` (Python), or the ``minievo`` command's
#: default job (``minievo run``, with or without ``--config``; see
#: :data:`minievo.cli.DEFAULT_JOB`).
DEFAULTS_USED = ("Config()", "default job")
#: The fields of the standard pruning baselines' sparsity schedules and lottery
#: ticket (docs/baselines.md), in declaration order.
BASELINE_FIELDS = (
    "target_sparsity",
    "initial_sparsity",
    "prune_start",
    "prune_every",
    "prune_steps",
    "lottery_rounds",
    "rewind_epoch",
)
#: Fields that :meth:`Config.to_dict` writes only when they differ from their
#: default, so that a run that does not use them keeps its ``config.json`` (and a
#: sweep folder made before they existed stays comparable).
WRITTEN_WHEN_SET = ("plugins", *BASELINE_FIELDS)
#: Fields that describe how a configuration came to be, not what it runs:
#: saved in ``config.json``, never compared.
RUN_NOTES = ("notices", "defaults")

# ---------------------------------------------------------------------------
# Value checks: each returns the normalised value or raises ConfigError
# ---------------------------------------------------------------------------

_as_bool = Boolean()


def _as_prune_method(value: Any) -> str | None:
    if value is None or (isinstance(value, str) and value.strip().lower() in _PRUNE_METHOD_NONE):
        return None
    methods = operator_names()
    if (
        isinstance(value, str)
        and value.strip().lower() in _PRUNE_METHODS_NOT_IMPLEMENTED
        and value.strip().lower() not in methods
    ):
        raise ConfigError(
            f"prune_method: {value!r} (a later published method) is not "
            f"built into minievo; allowed: none, "
            + ", ".join(methods)
            + _OPERATOR_HINT.replace("adds one", "adds it")
        )
    return _PRUNE_METHOD_RULE("prune_method", value)


#: How to add an operator or a schedule, at the end of the message of an unknown one.
_OPERATOR_HINT = (
    "; a plug-in adds one: a module or .py file that calls register_operator, "
    "given with --plugin or the plugins key (docs/extending.md)"
)
_SCHEDULE_HINT = _OPERATOR_HINT.replace("register_operator", "register_schedule")

#: "none" is listed for the message only: _as_prune_method handles it first.
_PRUNE_METHOD_RULE = Choice(operator_names, operator_aliases, extra=("none",), hint=_OPERATOR_HINT)


def _parse_dataset_name(name: str) -> tuple[int, int, int]:
    try:
        return parse_dataset_name(name)
    except ValueError:
        raise ConfigError(
            f"dataset_name: {name!r} is not allowed; allowed: {DATASET_NAME_FORMAT}"
        ) from None


def _check_dataset_name(name: str) -> str:
    """A binary clustering name, or a digits name with scikit-learn importable."""
    if name in DIGITS_NAMES:
        require_scikit_learn(name)
    else:
        _parse_dataset_name(name)
    return name


def _as_plugins(value: Any) -> tuple[str, ...]:
    """Check ``plugins`` and import every entry, so that its registrations count."""
    if isinstance(value, (str, os.PathLike)):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(
        isinstance(v, (str, os.PathLike)) and os.fspath(v) for v in value
    ):
        raise ConfigError(
            f"plugins: {value!r} is not allowed; allowed: a list of module names or .py files"
        )
    names = tuple(os.fspath(v) for v in value)
    names = tuple(str(Path(n).expanduser().resolve()) if n.endswith(".py") else n for n in names)
    try:
        load_plugins(names)
    except PluginError as error:
        raise ConfigError(f"plugins: {error}") from None
    return names


# ---------------------------------------------------------------------------
# The rule of every field (validation.py); Config.__post_init__ applies them in
# field order, with the few fields that depend on others handled by name
# ---------------------------------------------------------------------------

_PROBABILITY = Number(0.0, 1.0)
_POSITIVE = Number(0.0, low_open=True)

FIELD_RULES = {
    "cell_evaluation": Choice(CELL_EVALUATIONS, CELL_EVALUATION_ALIASES),
    "environment": Choice(ENVIRONMENTS, _ENVIRONMENT_ALIASES),
    "dataset_name": Custom(_check_dataset_name, DATASET_NAME_FORMAT),
    "data_dir": OptionalPath(),
    "noise_probability": _PROBABILITY,
    "p_one": _PROBABILITY,
    "data_seed": Integer(0, optional=True),
    "population_size": Integer(1),
    "radius": Integer(1),
    "epochs": Integer(1),
    "learning_rate": _POSITIVE,
    "batch_size": Integer(1),
    "seed": Integer(0),
    "trials": Integer(1),
    "shuffle_data": Boolean(),
    "calculate_test_loss": Boolean(),
    "stats_every": Integer(1),
    "test_loss_every": Integer(1),
    "optimizer_state": Choice(OPTIMIZER_STATES),
    "adam_betas": Number(0.0, 1.0, high_open=True),  # each of the two
    "adam_eps": _POSITIVE,
    "lr_mutation_std": Number(0.0),
    "lr_min": _POSITIVE,
    "lr_max": _POSITIVE,
    "update": Choice(UPDATES),
    "prune_method": Custom(_as_prune_method, _PRUNE_METHOD_RULE.describe),
    "prune_schedule": Choice(schedule_names, hint=_SCHEDULE_HINT),
    "prune_probability": _PROBABILITY,
    "prune_amount": _PROBABILITY,
    "lexi_threshold": _PROBABILITY,
    "lexi_rows": Integer(1),
    # the baselines' sparsity schedules and lottery ticket (docs/baselines.md)
    "target_sparsity": Number(0.0, 1.0, high_open=True),
    "initial_sparsity": Number(0.0, 1.0, high_open=True),
    "prune_start": Integer(0, optional=True),
    "prune_every": Integer(1, optional=True),
    "prune_steps": Integer(1, optional=True),
    "lottery_rounds": Integer(2),
    "rewind_epoch": Integer(0),
    "mask_mode": Choice(MASK_MODES),
    "activation_signal": Choice(ACTIVATION_SIGNALS),
    "semantics": Choice(SEMANTICS),
    "denoising_noise_std": Number(0.0),
    "backend": Choice(BACKENDS),
    "out_dir": OptionalPath(),
    "checkpoint_every": Integer(0),
    "checkpoint_seconds": Number(0.0),
    "keep_checkpoint": Boolean(),
    "save_all_centers": Boolean(),
    "progress": Boolean(),
    "plugins": Custom(lambda v: _as_plugins(v), "module names or .py files"),
    "defaults": Choice(DEFAULTS_USED),
}


#: One line per field: what it means (the command line's help is made from it,
#: with the field's allowed values and default; the class docstring says more).
FIELD_HELP = {
    "cell_evaluation": "training algorithm: a coevolution variant or ann_canonical "
    "(one autoencoder)",
    "environment": "network architecture (docs/algorithm.md §2)",
    "dataset_name": "the dataset: generated binary clustering, or the digits (docs/datasets.md)",
    "data_dir": "folder of generated datasets (default: minievo's cache)",
    "noise_probability": "probability of flipping each bit of a noisy copy",
    "p_one": "probability that a centroid bit is 1",
    "data_seed": "seed of the dataset (null: the run's seed)",
    "population_size": "cells of the ring (1 for ann_canonical, else 10 by default)",
    "radius": "neighbourhood radius: 2*radius+1 cells",
    "epochs": "training epochs",
    "learning_rate": "initial learning rate of Adam",
    "batch_size": "rows per training step",
    "seed": "seed of the first trial (trial i uses seed + i)",
    "trials": "independent trials (sweeps)",
    "shuffle_data": "shuffle the training rows every epoch",
    "calculate_test_loss": "record the test L1 of every cell",
    "stats_every": "rows of the full-set losses every this many epochs",
    "test_loss_every": "compute the test L1 every this many epochs",
    "optimizer_state": "Adam state: a fresh one per step (published) or kept per "
    "individual (default: fresh, persistent for ann_canonical)",
    "adam_betas": "Adam's beta1 and beta2",
    "adam_eps": "Adam's epsilon",
    "lr_mutation_std": "standard deviation of the learning-rate mutation",
    "lr_min": "smallest learning rate the mutation may reach",
    "lr_max": "largest learning rate the mutation may reach",
    "update": "cells updated one after another (published) or all from one snapshot",
    "prune_method": "pruning operator (docs/algorithm.md §5; plug-ins add more)",
    "prune_schedule": "when to prune (docs/algorithm.md §5; plug-ins add more)",
    "prune_probability": "base probability p of the schedule",
    "prune_amount": "fraction pruned by the random and magnitude operators",
    "lexi_threshold": "threshold of the conjunctive operator's filter",
    "lexi_rows": "test rows drawn by the conjunctive operator",
    "target_sparsity": "s_f: fraction of weights masked at the end of a sparsity schedule "
    "(one_shot, iterative, gradual, lottery_ticket; docs/baselines.md)",
    "initial_sparsity": "s_i: the first target of iterative and gradual",
    "prune_start": "t_0: first pruning epoch of a sparsity schedule (default: epochs // 10)",
    "prune_every": "Delta t: epochs between pruning steps (default: fits the steps "
    "into the first half of training)",
    "prune_steps": "n: pruning steps of iterative and gradual (default: up to 10, "
    "ending by the middle of training)",
    "lottery_rounds": "R: training rounds of lottery_ticket (R - 1 prunings and rewinds)",
    "rewind_epoch": "k: lottery_ticket rewinds the surviving weights to their values "
    "at the start of this epoch",
    "mask_mode": "pruned entries stay zero (persistent) or may regrow (published) "
    "(default: from the semantics)",
    "activation_signal": "values the activation operators compare (default: from the semantics)",
    "semantics": "minievo's defaults or the published code's (default: minievo)",
    "denoising_noise_std": "input noise of the denoising environment (default: 0.4, "
    "0 under published semantics)",
    "backend": "kernels: numba (compiled), numpy (reference) or cuda (GPU trials)",
    "out_dir": "run folder",
    "checkpoint_every": "also checkpoint every this many epochs (0: by time only)",
    "checkpoint_seconds": "checkpoint at most this often, in seconds",
    "keep_checkpoint": "keep checkpoint.npz after the run ends (to extend it later)",
    "save_all_centers": "save every cell's final autoencoder",
    "progress": "show a progress bar",
    "plugins": "modules or .py files imported first; they register operators or schedules",
}


# ---------------------------------------------------------------------------
# The configuration
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    r"""The complete, validated description of one minievo run.

    Build it with keywords, :meth:`from_dict` (which also reads published key
    names and values) or :meth:`from_file`. Every field is checked when the
    object is made; a bad value raises :class:`ConfigError` naming the field,
    the value and what is allowed. Aliases are normalised, so a ``Config``
    always holds canonical values.

    Attributes
    ----------
    cell_evaluation : str
        Training algorithm. ``"lipi_simple"`` (default, docs/algorithm.md §4),
        ``"lipi_simple_pte"`` (prune before the replacement evaluation),
        ``"epoch-node"`` (GECCO 2024), ``"all_vs_all"`` (non-spatial baseline)
        or ``"ann_canonical"`` (one autoencoder, docs/algorithm.md §3; alias
        ``"canonical"``).
    environment : str
        Network architecture (docs/algorithm.md §2): ``"default"`` (x-30-10-30-x),
        ``"small"`` (x-30-2-30-x), ``"large"`` (x-60-30-10-30-60-x),
        ``"denoising"`` or ``"variational"``. The published class names
        (``AutoencoderBinaryClustering``, ``..._Small``, ``..._Large``,
        ``DenoisingAutoencoderBinaryClustering``,
        ``VariationalAutoencoderBinaryClustering``) are accepted. Default
        ``"default"``.
    dataset_name : str
        ``"binary_clustering_{n_clusters}_{n_examples_per_cluster}_{n_dim}"``,
        positive integers (docs/algorithm.md §1). Default ``"binary_clustering_10_100_1000"``.
    data_dir : str or None
        Folder for generated datasets; None uses minievo's default cache.
    noise_probability : float
        Probability of flipping each bit of a noisy copy, in [0, 1]. Default 0.05.
    p_one : float
        Probability that a centroid bit is 1, in [0, 1]. Default 0.75 (docs/algorithm.md §1).
    data_seed : int or None
        Seed of the dataset generator, >= 0; None uses ``seed``
        (see :attr:`effective_data_seed`).
    population_size : int
        Number of cells on the ring, >= 1. Given as None (the default), it is
        10 for the coevolution variants and 1 for ``ann_canonical``.
        ``ann_canonical`` always uses 1: another value is replaced by 1 and a
        notice is recorded.
    radius : int
        Ring neighbourhood radius, >= 1; default 1 (docs/algorithm.md §4 step 1). With
        ``population_size`` >= 3 the neighbourhood's 2·radius+1 cells must be
        distinct: radius <= (population_size - 1) // 2, else ConfigError.
        Populations 1 and 2 (the papers' ``population_size`` preset, radius 1)
        repeat cells as the published ``get_neighbors`` does (population 2:
        both neighbours are the other cell; population 1: copies of the cell's
        own centre), recorded as a notice. Ignored by ``ann_canonical``.
    epochs : int
        Number of epochs (generations), >= 1. Default 400 (docs/algorithm.md §7).
    learning_rate : float
        Initial learning rate, > 0. Default 1e-5.
    batch_size : int
        Rows per mini-batch, >= 1. Default 5.
    seed : int
        Seed of the run's random generator (published ``rng_seed``), >= 0.
        Default 1.
    trials : int
        Number of repetitions, >= 1; trial i uses seed ``seed + i``
        (:attr:`trial_seeds`). Default 1.
    shuffle_data : bool
        Reshuffle the training rows every pass (published ``no_shuffle_data``,
        negated). Default True.
    calculate_test_loss : bool
        Record the test loss (on the ``test_loss_every`` cadence, docs/algorithm.md §6).
        Default True.
    stats_every : int
        Cadence, in iterations (epochs), of the mean/std L1 over the training
        batches (``mean_L1``, ``std_L1``), >= 1; also recorded at the last
        iteration. Default 100.
    test_loss_every : int
        Cadence, in epochs, of the records' ``test_loss`` (coevolution and
        canonical training; the whole test set, about a sixth of a visit's
        time at paper size), >= 1; also recorded at the last epoch, absent in
        between. Default 1: every visit (epoch).
    optimizer_state : str
        ``"fresh"``: a new Adam state for every step, as the published
        coevolution (docs/algorithm.md §4 step 4); ``"persistent"``: Adam state kept per
        individual. Given as None (the default), it is ``"fresh"`` for the
        coevolution variants. ``ann_canonical`` always uses one persistent
        optimizer (docs/algorithm.md §3): the value is ``"persistent"`` there, and an
        explicit ``"fresh"`` is replaced with a notice.
    adam_betas : tuple of float
        Adam's (beta1, beta2), each in [0, 1). Default (0.5, 0.999).
    adam_eps : float
        Adam's epsilon, > 0. Default 1e-8.
    lr_mutation_std : float
        Std of the Normal learning-rate mutation (docs/algorithm.md §4 step 8), >= 0.
        Default 1e-5.
    lr_min, lr_max : float
        Clip range of the mutated learning rate, 0 < lr_min <= lr_max; the
        initial ``learning_rate`` must not exceed ``lr_max`` (it would be
        clamped after the first visit).
        Defaults 1e-9 and 10.
    update : str
        ``"asynchronous"`` (default; a later cell sees centres updated earlier
        in the epoch, docs/algorithm.md §4) or ``"synchronous"`` (all cells read the
        centres of the previous epoch).
    prune_method : str or None
        None (default, no pruning; ``"none"``/``"None"`` accepted),
        ``"random"``, ``"variance"`` (published ``activation``) or
        ``"conjunctive"`` (published ``lexicase``), docs/algorithm.md §5, or
        the baseline ``"magnitude"`` (global magnitude pruning, docs/baselines.md).
    prune_schedule : str
        ``"fixed"`` (default), ``"increase"``, ``"decrease"``,
        ``"population"``, ``"exponential"``, ``"final_n"`` or
        ``"prune_after"`` (docs/algorithm.md §5 "When"), or a schedule that
        sets a sparsity target, ``"one_shot"``, ``"iterative"``,
        ``"gradual"``, ``"lottery_ticket"`` (docs/baselines.md; needs
        ``magnitude`` and persistent masks).
    prune_probability : float
        Base pruning probability p of the schedule, in [0, 1]. Default 0.5.
    prune_amount : float
        Fraction of entries masked by ``random`` pruning (of the weights by
        ``magnitude`` on a probability schedule), in [0, 1]; no effect on
        ``variance`` and ``conjunctive``. Default 0.1.
    lexi_threshold : float
        CONJUNCTIVE pass threshold on min-max scaled pre-activations, in
        [0, 1]. Default 0.1.
    lexi_rows : int
        Test rows drawn (with replacement) by CONJUNCTIVE, >= 1. Default 100.
    target_sparsity, initial_sparsity : float
        :math:`s_f` and :math:`s_i` of a sparsity schedule (``one_shot``,
        ``iterative``, ``gradual``, ``lottery_ticket``; docs/baselines.md,
        :mod:`minievo.pruning.targets`): fractions of the autoencoder's
        weights (biases not counted) masked, each in [0, 1),
        :math:`s_i \le s_f`. Defaults 0.5 and 0.
    prune_start, prune_every, prune_steps : int or None
        :math:`t_0`, :math:`\Delta t` and :math:`n` of a sparsity schedule.
        None (default) follows ``epochs`` (:mod:`minievo.pruning.targets`:
        for 400 epochs 40, 16 and 10, pruning ends at epoch 200). The
        schedule must reach ``target_sparsity`` before the last epoch.
    lottery_rounds : int
        :math:`R \ge 2` rounds of ``lottery_ticket`` (canonical training
        only): ``epochs // R`` epochs each, the last one takes the rest; a
        pruning and a rewind at the end of each but the last. Default 4.
    rewind_epoch : int
        :math:`k`: the surviving weights go back to their values at the start
        of epoch ``k`` (0: the initialisation), ``0 <= k < epochs // R``.
        Default 1.
    mask_mode : str
        ``"persistent"`` (default; pruned entries stay zero and get no update)
        or ``"regrow"`` (published behaviour: entries are zeroed once and may
        grow back), docs/algorithm.md §5 "Mask semantics".
    activation_signal : str
        What VARIANCE's records and CONJUNCTIVE's rows read per layer:
        ``"pre_activation"`` (default, docs/algorithm.md §5) or ``"hook_output"``, what the
        published forward hook ends up holding (ReLU outputs on ReLU layers,
        because the hooked ``nn.Linear`` output is modified by the next
        in-place ``nn.ReLU``; the pre-activation elsewhere).
    backend : str
        Kernel backend: ``"numba"`` (default) or ``"numpy"`` (reference).
    out_dir : str or None
        Output folder of the run (published ``output_dir``); None writes
        nothing.
    checkpoint_every : int
        Also save a resumable checkpoint every this many epochs, >= 0
        (0, the default: not by epoch count).
    checkpoint_seconds : float
        Save a resumable checkpoint after the epoch in which this many seconds
        have passed since the last one, >= 0 (0: not by time). Default 60.
        A checkpoint is also written after the last epoch and on SIGINT/SIGTERM
        unless both cadences are 0 (no checkpoints at all); see
        :mod:`minievo.training.checkpoint`.
    keep_checkpoint : bool
        Keep ``checkpoint.npz`` once the run has finished (default True);
        False deletes it after the results are written (sweeps of many jobs).
    save_all_centers : bool
        Also save every cell's final centre, not only the best (published
        ``store_all_nodes``). Default False.
    progress : bool
        Show a progress bar. Default True.
    plugins : tuple of str
        Modules (dotted names) or ``.py`` files (stored as absolute paths)
        imported before every other field is checked: they register pruning
        operators and schedules (:mod:`minievo.pruning.registry`,
        docs/extending.md). Every job process of a sweep imports them too.
        Written by :meth:`to_dict` only when not empty. Default ``()``.
    semantics : {"minievo", "published"}, optional
        Whose defaults the unset fields below take (:data:`SEMANTICS`).
        ``"published"`` (a configuration in the published format, see
        :func:`_detect_published_format`, and every preset): ``mask_mode``
        ``"regrow"``, ``activation_signal`` ``"hook_output"`` and, for the
        ``denoising`` environment, ``denoising_noise_std`` 0 (the published
        denoising class adds no noise). ``"minievo"`` (default): persistent
        masks, pre-activation signals, noise std 0.4. A field given
        explicitly always wins.
    denoising_noise_std : float, optional
        Standard deviation of the Gaussian input noise the ``denoising``
        environment adds while training (docs/algorithm.md §2), >= 0;
        default 0.4 (0 under published semantics). A value other than 0.4
        with another environment is refused: it would be ignored.
    notices : tuple of str
        What validation changed or ignored (ignored published keys, forced
        values, repeated ring cells, a run extended on resume). Not part of
        equality or :meth:`to_dict`; :meth:`save` writes them, and reading the
        file back keeps them.
    defaults : str
        Which defaults filled the keys not given: ``"Config()"`` (these
        dataclass defaults) or ``"default job"`` (the ``minievo`` command's,
        :data:`minievo.cli.DEFAULT_JOB`; see :func:`merge_with_defaults`).
        Saved like ``notices``, not part of equality.
    """

    # training algorithm
    cell_evaluation: str = "lipi_simple"
    environment: str = "default"
    # data (docs/algorithm.md §1)
    dataset_name: str = "binary_clustering_10_100_1000"
    data_dir: str | None = None
    noise_probability: float = 0.05
    p_one: float = 0.75
    data_seed: int | None = None
    # population and training (docs/algorithm.md §3, §4)
    population_size: int | None = None
    radius: int = 1
    epochs: int = 400
    learning_rate: float = 1e-5
    batch_size: int = 5
    seed: int = 1
    trials: int = 1
    shuffle_data: bool = True
    calculate_test_loss: bool = True
    stats_every: int = 100
    test_loss_every: int = 1
    optimizer_state: str | None = None
    adam_betas: tuple[float, float] = (0.5, 0.999)
    adam_eps: float = 1e-8
    lr_mutation_std: float = 1e-5
    lr_min: float = 1e-9
    lr_max: float = 10.0
    update: str = "asynchronous"
    # pruning (docs/algorithm.md §5)
    prune_method: str | None = None
    prune_schedule: str = "fixed"
    prune_probability: float = 0.5
    prune_amount: float = 0.1
    lexi_threshold: float = 0.1
    lexi_rows: int = 100
    # the baselines (docs/baselines.md); written to config.json only when not at the default
    target_sparsity: float = 0.5
    initial_sparsity: float = 0.0
    prune_start: int | None = None
    prune_every: int | None = None
    prune_steps: int | None = None
    lottery_rounds: int = 4
    rewind_epoch: int = 1
    mask_mode: str | None = None
    activation_signal: str | None = None
    # semantics: minievo's or the published code's (see _resolve_semantics)
    semantics: str | None = None
    denoising_noise_std: float | None = None
    # run control
    backend: str = "numba"
    out_dir: str | None = None
    checkpoint_every: int = 0
    checkpoint_seconds: float = 60.0
    keep_checkpoint: bool = True
    save_all_centers: bool = False
    progress: bool = True
    # modules or .py files that register operators/schedules, imported first
    # (by every job of a sweep too); left out of to_dict() when empty
    plugins: tuple[str, ...] = ()
    # what validation changed or ignored; not part of the run's identity
    notices: tuple[str, ...] = field(default=(), compare=False, repr=False)
    # which defaults filled the keys not given (see DEFAULTS_USED); not part of the identity
    defaults: str = field(default="Config()", compare=False, repr=False)

    # -- validation --------------------------------------------------------

    def __post_init__(self) -> None:
        notices = list(self.notices)

        def put(name: str, value: Any) -> None:
            object.__setattr__(self, name, value)

        put("plugins", _as_plugins(self.plugins))  # first: they register operators, schedules
        for name in self.field_names():
            special = _DEPENDENT_FIELDS.get(name)
            if special is not None:
                special(self, put, notices)
            elif name != "plugins":
                put(name, FIELD_RULES[name](name, getattr(self, name)))
        _check_consistency(self, notices)
        put("defaults", FIELD_RULES["defaults"]("defaults", self.defaults))
        put("notices", tuple(dict.fromkeys(notices)))  # de-duplicated, in order

    # -- construction ------------------------------------------------------

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """The canonical keys, in declaration order (``notices`` excluded)."""
        return tuple(f.name for f in dataclasses.fields(cls) if f.name not in RUN_NOTES)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Config:
        """Build a validated ``Config`` from canonical or published keys.

        Parameters
        ----------
        d : mapping
            Keys are minievo field names or published ``params.json`` keys
            (see the module docstring). Values may use published spellings
            (``"True"``, ``"None"``, ``"lexicase"``, environment class names).

        Returns
        -------
        Config

        Raises
        ------
        ConfigError
            For an unknown key (with the closest valid keys), two keys that
            set one field to different values, or a bad value.
        """
        values, notices = _normalise_keys(d)
        _detect_published_format(d, values, notices)
        return cls(**values, notices=tuple(notices))

    @classmethod
    def from_file(
        cls,
        path: str | os.PathLike,
        defaults: Mapping[str, Any] | None = None,
        label: str = "default job",
    ) -> Config:
        """Read a ``Config`` from a ``.json`` or ``.toml`` file.

        Every error message starts with the file's path; a JSON syntax error
        gives its line and column. With ``defaults``, the file's keys override
        those (:func:`merge_with_defaults`, recorded as ``defaults=label``);
        without, missing keys take the dataclass defaults.
        """
        data = read_config_file(path)
        try:
            if defaults is not None:
                return merge_with_defaults(defaults, data, label)
            return cls.from_dict(data)
        except ConfigError as error:
            raise ConfigError(f"{Path(path)}: {error}") from error

    def replace(self, **changes: Any) -> Config:
        """A validated copy with ``changes`` applied (canonical or published keys).

        Values resolved from a default (``population_size``,
        ``optimizer_state``) are kept as resolved: when switching
        ``cell_evaluation`` between canonical and coevolution, give them too.
        """
        values, notices = _normalise_keys(changes)
        merged = _without_stale_semantic_fields({**self.to_dict(), **values}, values)
        merged["adam_betas"] = tuple(merged["adam_betas"])
        merged.setdefault("defaults", self.defaults)
        return type(self)(**merged, notices=tuple(self.notices) + tuple(notices))

    # -- output ------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Canonical keys and JSON-serialisable values (``notices`` excluded; the
        fields of :data:`WRITTEN_WHEN_SET` only when not at their default)."""
        out = {name: getattr(self, name) for name in self.field_names()}
        out["adam_betas"] = list(self.adam_betas)
        if self.plugins:
            out["plugins"] = list(self.plugins)
        # the records of a run without plug-ins or baselines stay as they were
        for name in WRITTEN_WHEN_SET:
            if out[name] == _FIELD_DEFAULTS[name]:
                del out[name]
        return out

    def to_published_dict(self) -> dict[str, Any]:
        """The settings under the published ``params.json`` key names and values.

        For analysis code written for the published records; minievo-only
        fields are left out (:func:`minievo.experiments.published.to_published_dict`).
        """
        return to_published_dict(self)

    def save(self, path: str | os.PathLike) -> Path:
        """Write :meth:`to_dict` as JSON, atomically (temporary file + ``os.replace``).

        Returns the path written. A reader never sees a half-written file, and
        no temporary file is left behind, even on error.
        """
        path = Path(path)
        document = {**self.to_dict(), "defaults": self.defaults, "notices": list(self.notices)}
        atomic_write_bytes(path, (json.dumps(document, indent=2) + "\n").encode())
        return path

    # -- derived -----------------------------------------------------------

    @property
    def dataset_shape(self) -> tuple[int, int, int]:
        """``(n_clusters, n_examples_per_cluster, n_dim)`` parsed from ``dataset_name``.

        Binary clustering only; :func:`minievo.data.dataset_sizes` gives the training
        rows and ``n_dim`` of every dataset, the digits included.
        """
        if self.dataset_name in DIGITS_NAMES:
            raise ConfigError(
                f"dataset_shape: {self.dataset_name!r} has no clusters of equal size; "
                "use minievo.data.dataset_sizes for its training rows and n_dim"
            )
        return _parse_dataset_name(self.dataset_name)

    @property
    def is_canonical(self) -> bool:
        """True for ``ann_canonical`` (one autoencoder, docs/algorithm.md §3)."""
        return variant_of(self).canonical

    @property
    def pruning_enabled(self) -> bool:
        """True when a prune method is set (the schedule may still give p = 0)."""
        return self.prune_method is not None

    @property
    def neighbourhood_size(self) -> int:
        """Entries of a cell's neighbourhood, 2·radius+1 (1 for ``ann_canonical``).

        This is ``n_solutions`` of the ``population`` schedule (docs/algorithm.md §5).
        """
        return 1 if self.is_canonical else 2 * self.radius + 1

    @property
    def effective_data_seed(self) -> int:
        """``data_seed``, or ``seed`` when ``data_seed`` is None."""
        return self.seed if self.data_seed is None else self.data_seed

    @property
    def trial_seeds(self) -> tuple[int, ...]:
        """The seeds of the trials: ``seed``, ``seed + 1``, ..., ``seed + trials - 1``."""
        return tuple(range(self.seed, self.seed + self.trials))


# ---------------------------------------------------------------------------
# Fields whose check depends on other fields (called by Config.__post_init__)
# ---------------------------------------------------------------------------


def _check_population(config: Config, put, notices: list) -> None:
    """``population_size``: 1 for ann_canonical, which trains one autoencoder (docs/algorithm.md §3)."""
    canonical = config.is_canonical  # cell_evaluation is checked before this field
    if config.population_size is None:
        put("population_size", 1 if canonical else 10)
    population = FIELD_RULES["population_size"]("population_size", config.population_size)
    if canonical and population != 1:
        notices.append(
            f"population_size={population} replaced by 1: ann_canonical trains one autoencoder"
        )
        population = 1
    put("population_size", population)


def _check_optimizer_state(config: Config, put, notices: list) -> None:
    """``optimizer_state``: canonical training keeps one Adam for the whole run (docs/algorithm.md §3)."""
    canonical = config.is_canonical  # cell_evaluation is checked before this field
    if config.optimizer_state is None:
        put("optimizer_state", "persistent" if canonical else "fresh")
    state = FIELD_RULES["optimizer_state"]("optimizer_state", config.optimizer_state)
    if canonical and state != "persistent":
        notices.append(
            f"optimizer_state={state!r} replaced by 'persistent': "
            "ann_canonical uses one Adam optimizer for the whole run"
        )
        state = "persistent"
    put("optimizer_state", state)


def _check_adam_betas(config: Config, put, notices: list) -> None:
    """``adam_betas``: two numbers, each checked by the field's rule."""
    betas = config.adam_betas
    if isinstance(betas, (str, bytes)) or not hasattr(betas, "__len__") or len(betas) != 2:
        raise ConfigError(
            f"adam_betas: {betas!r} is not allowed; allowed: "
            "two numbers (beta1, beta2), each in [0, 1)"
        )
    put("adam_betas", tuple(FIELD_RULES["adam_betas"]("adam_betas", b) for b in betas))


def _check_lr_max(config: Config, put, notices: list) -> None:
    """``lr_max``: its rule, then ``lr_min <= lr_max``."""
    put("lr_max", FIELD_RULES["lr_max"]("lr_max", config.lr_max))
    if config.lr_min > config.lr_max:
        raise ConfigError(
            f"lr_min: {config.lr_min!r} is out of range; allowed: "
            f"lr_min <= lr_max = {config.lr_max!r}"
        )


def _check_mask_mode(config: Config, put, notices: list) -> None:
    """The fields that follow the semantics are filled (:func:`_resolve_semantics`), then checked."""
    _resolve_semantics(config, put, notices)
    put("mask_mode", FIELD_RULES["mask_mode"]("mask_mode", config.mask_mode))


def _done_with_mask_mode(config: Config, put, notices: list) -> None:
    """``semantics`` and ``denoising_noise_std``: checked by :func:`_resolve_semantics`."""


_DEPENDENT_FIELDS = {
    "population_size": _check_population,
    "optimizer_state": _check_optimizer_state,
    "adam_betas": _check_adam_betas,
    "lr_max": _check_lr_max,
    "mask_mode": _check_mask_mode,
    "semantics": _done_with_mask_mode,
    "denoising_noise_std": _done_with_mask_mode,
}


# ---------------------------------------------------------------------------
# Checks between fields: nothing is clamped or repeated without a word
# ---------------------------------------------------------------------------


#: The generator's settings, which the digits (not generated) keep at their defaults.
_GENERATOR_DEFAULTS = {"noise_probability": DEFAULT_NOISE_PROBABILITY, "p_one": DEFAULT_P_ONE}


def _check_digits_settings(config: Config) -> None:
    """Refuse the generator's settings on the digits, which nothing generates."""
    if config.dataset_name not in DIGITS_NAMES:
        return
    for key in ("noise_probability", "p_one"):
        value, default = getattr(config, key), _GENERATOR_DEFAULTS[key]
        if value != default:
            raise ConfigError(
                f"{key}: {value!r} does not apply to dataset_name={config.dataset_name!r} "
                f"(scikit-learn's images, not generated); allowed: {default!r}"
            )


def _check_consistency(config: Config, notices: list[str]) -> None:
    """Refuse values that training would silently change; note the tolerated ones.

    - ``learning_rate`` above ``lr_max``: the coevolution's learning-rate
      mutation would clamp it after the first visit (docs/algorithm.md §4).
    - ``batch_size`` above the training rows (``n_clusters *
      n_examples_per_cluster``, read from ``dataset_name``; 1079 for the
      digits): it would silently become one full batch.
    - ``noise_probability`` or ``p_one`` other than the defaults on the
      digits: they shape the generated binary data only, and would be ignored.
    - ``2 * radius + 1 > population_size``: the neighbourhood holds some cell
      twice. Refused for population >= 3 (a smaller radius exists); for
      population 1 and 2 (the papers' ``population_size`` preset, radius 1)
      it is what the published ring does, and is recorded as a notice.
    """
    if config.learning_rate > config.lr_max:
        raise ConfigError(
            f"learning_rate: {config.learning_rate!r} is above lr_max = "
            f"{config.lr_max!r}; allowed: learning_rate <= lr_max (raise lr_max "
            "too, or lower learning_rate)"
        )
    n_train, _ = dataset_sizes(config.dataset_name)
    if config.batch_size > n_train:
        raise ConfigError(
            f"batch_size: {config.batch_size} is larger than the {n_train} "
            f"training rows of {config.dataset_name}; allowed: batch_size <= "
            f"{n_train}"
        )
    check_baselines(config)
    _check_digits_settings(config)
    if config.is_canonical:
        return
    population, radius = config.population_size, config.radius
    if 2 * radius + 1 <= population:
        return
    if population >= 3:
        raise ConfigError(
            f"radius: {radius} needs 2*radius+1 = {2 * radius + 1} cells but "
            f"population_size={population}; allowed: radius <= "
            f"(population_size - 1) // 2 = {(population - 1) // 2}"
        )
    notices.append(
        f"radius={radius} with population_size={population}: the neighbourhood "
        f"of 2*radius+1 = {2 * radius + 1} entries repeats cells, as the published "
        "ring does"
    )


def _as_notes(value: Any) -> list[str]:
    if (
        isinstance(value, str)
        or not isinstance(value, (list, tuple))
        or not all(isinstance(v, str) for v in value)
    ):
        raise ConfigError(f"notices: {value!r} is not allowed; allowed: a list of strings")
    return list(value)


def _refuse_duplicate_keys(path: Path):
    """A ``json`` ``object_pairs_hook`` that refuses a key given twice in one object
    (``json`` would keep the last value and say nothing)."""

    def pairs_to_dict(pairs):
        seen = {}
        for key, value in pairs:
            if key in seen:
                raise ConfigError(
                    f"{path}: key {key!r} is given twice ({seen[key]!r}, then {value!r}); "
                    "keep one of them"
                )
            seen[key] = value
        return seen

    return pairs_to_dict


def read_config_file(path: str | os.PathLike) -> dict:
    """The key/value pairs of a ``.json`` or ``.toml`` configuration file, not yet checked.

    Every error message starts with the file's path; a JSON syntax error
    gives its line and column.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".json", ".toml"):
        raise ConfigError(
            f"{path}: unknown configuration file type {path.suffix!r}; allowed: .json, .toml"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        reason = error.strerror or error
        raise ConfigError(f"{path}: cannot read the file: {reason}") from error
    except UnicodeDecodeError as error:
        raise ConfigError(
            f"{path}: not a text file (byte {error.start} is not UTF-8): damaged, or not "
            "a configuration"
        ) from error
    try:
        if suffix == ".json":
            data = json.loads(text, object_pairs_hook=_refuse_duplicate_keys(path))
        else:  # TOML refuses a key given twice itself
            data = tomllib.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError(
            f"{path}: invalid JSON at line {error.lineno}, column {error.colno}: {error.msg}"
        ) from error
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: invalid TOML: {error}") from error
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: the top level must be an object of key/value pairs, not {type(data).__name__}"
        )
    return data


def merge_with_defaults(
    defaults: Mapping[str, Any], given: Mapping[str, Any] | list[Mapping[str, Any]], label: str
) -> Config:
    """``given`` (canonical or published keys) on top of ``defaults``.

    ``given`` may be one mapping or a list of them, later ones winning (the
    command line: a configuration file, then flags). Only keys that were
    *given* are merged, never values a :class:`Config` resolved from others,
    so a flag that changes ``semantics`` or ``environment`` still resolves
    ``mask_mode``, ``activation_signal`` and ``denoising_noise_std`` afresh.
    The keys of ``given`` win, whatever their spelling (``keep_pruned_zero``
    replaces a default ``mask_mode``). When ``given`` switches between
    ``ann_canonical`` and a coevolution variant, the defaults' population size
    and optimizer state are dropped, so they resolve for the variant given.
    The result records ``defaults=label`` (one of :data:`DEFAULTS_USED`).
    """
    base, _ = _normalise_keys(defaults)
    values, notices = {}, []
    for layer in [given] if isinstance(given, Mapping) else given:
        layer_values, layer_notices = _normalise_keys(layer)
        _detect_published_format(layer, layer_values, layer_notices)
        values.update(layer_values)
        notices += layer_notices
    if "cell_evaluation" in values:
        given_canonical = (
            FIELD_RULES["cell_evaluation"]("cell_evaluation", values["cell_evaluation"])
            == CANONICAL
        )
        base_canonical = base.get("cell_evaluation", "lipi_simple") == CANONICAL
        if given_canonical != base_canonical:
            base.pop("population_size", None)
            base.pop("optimizer_state", None)
    merged = {**base, **values, "defaults": label}
    return Config(**merged, notices=tuple(notices))


# ---------------------------------------------------------------------------
# Key normalisation shared by from_dict and replace
# ---------------------------------------------------------------------------


def _normalise_keys(d: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Map canonical and published keys to canonical field names.

    Returns the values by field name (not yet validated) and the notices for
    ignored published keys. Raises ConfigError for unknown keys and conflicts.
    """
    if not isinstance(d, Mapping):
        raise ConfigError(
            f"a configuration must be a mapping of keys to values, not {type(d).__name__}"
        )
    fields = Config.field_names()
    known = list(fields) + list(_PUBLISHED_RENAMES) + list(NOT_APPLICABLE_KEYS) + list(RUN_NOTES)
    values: dict[str, Any] = {}
    given_as: dict[str, str] = {}
    notices: list[str] = []
    for key, value in d.items():
        if not isinstance(key, str):
            raise ConfigError(f"configuration keys must be strings, not {key!r}")
        if key == "notices":  # written by Config.save: what validation said then
            notices.extend(_as_notes(value))
            continue
        if key in fields or key == "defaults":
            target, converted = key, value
        elif key in _PUBLISHED_RENAMES:
            target, convert = _PUBLISHED_RENAMES[key]
            converted = convert(value)
        elif key in NOT_APPLICABLE_KEYS:
            reason, changes_algorithm = NOT_APPLICABLE_KEYS[key]
            if changes_algorithm is not None and changes_algorithm(value):
                raise ConfigError(f"{key}: {value!r} is not supported by minievo ({reason})")
            notices.append(f"published key {key!r} ignored: {reason}")
            continue
        else:
            raise ConfigError(f"unknown configuration key {key!r}" + suggest(key, known))
        if target in values and values[target] != converted:
            raise ConfigError(
                f"{key}: {value!r} conflicts with {given_as[target]}: "
                f"{d[given_as[target]]!r}; both set {target}"
            )
        values[target] = converted
        given_as[target] = key
    return values, notices


# ---------------------------------------------------------------------------
# Published semantics (docs/algorithm.md §2, §5): kept apart to ease merging
# ---------------------------------------------------------------------------

#: Field -> (minievo default, published default) when the field is not given.
_SEMANTIC_DEFAULTS = {
    "mask_mode": ("persistent", "regrow"),
    "activation_signal": ("pre_activation", "hook_output"),
}
#: minievo's input noise of the denoising environment (docs/algorithm.md §2).
DEFAULT_DENOISING_NOISE_STD = 0.4


def _resolve_semantics(config, put, notices: list) -> None:
    """Fill ``mask_mode``, ``activation_signal``, ``denoising_noise_std`` from the semantics.

    Under published semantics every field filled here is named in a notice.
    """
    semantics = "minievo" if config.semantics is None else config.semantics
    put("semantics", FIELD_RULES["semantics"]("semantics", semantics))
    published = config.semantics == "published"
    applied = []
    for name, defaults in _SEMANTIC_DEFAULTS.items():
        if getattr(config, name) is None:
            put(name, defaults[published])
            applied.append(f"{name}={defaults[published]!r}")
    denoising = config.environment == "denoising"
    std = config.denoising_noise_std
    if std is None:
        std = 0.0 if published and denoising else DEFAULT_DENOISING_NOISE_STD
        if published and denoising:
            applied.append("denoising_noise_std=0.0 (the published denoising class adds no noise)")
    std = FIELD_RULES["denoising_noise_std"]("denoising_noise_std", std)
    if std != DEFAULT_DENOISING_NOISE_STD and not denoising:
        raise ConfigError(
            f"denoising_noise_std: {std!r} applies only to environment "
            f"'denoising', not {config.environment!r}; leave it at "
            f"{DEFAULT_DENOISING_NOISE_STD} or use environment 'denoising'"
        )
    put("denoising_noise_std", std)
    if published and applied:
        notices.append("published semantics applied: " + ", ".join(applied))


def _without_stale_semantic_fields(merged: dict, changes: dict) -> dict:
    """For :meth:`Config.replace`: let the fields that follow the semantics re-resolve.

    A change of ``semantics`` re-resolves every such field not changed too, a
    change of ``environment`` the denoising noise.
    """
    stale = (
        list(_SEMANTIC_DEFAULTS) + ["denoising_noise_std"]
        if "semantics" in changes
        else (["denoising_noise_std"] if "environment" in changes else [])
    )
    return {k: v for k, v in merged.items() if k not in stale or k in changes}


#: Each field's dataclass default (:data:`WRITTEN_WHEN_SET`).
_FIELD_DEFAULTS = {f.name: f.default for f in dataclasses.fields(Config)}

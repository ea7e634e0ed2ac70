"""One validated configuration for one run of minievo.

A run (canonical training or one of the spatial coevolution variants, SPEC §3-§5)
is described completely by one frozen :class:`Config`. It is built from a
dictionary (:meth:`Config.from_dict`), a JSON or TOML file
(:meth:`Config.from_file`) or keyword arguments, validated field by field, and
saved as JSON beside every run (:meth:`Config.save`), so that a run can always be
repeated from its output folder.

Published key names
-------------------
The published PyTorch code (ALFA-group/lipizzaner-ae-prune, ``aes_lipi/lipi_ae.py``
and ``aes_lipi/utilities/gecco_25_experiments.py``) reads a flat ``params.json``.
minievo uses the same key names wherever the published code has one, and
:meth:`Config.from_dict` also accepts the published names and values that differ:

=======================  =========================  ===========================================
published key            minievo field              published value -> minievo value
=======================  =========================  ===========================================
``cell_evaluation``      ``cell_evaluation``        same values
``environment``          ``environment``            ``AutoencoderBinaryClustering`` -> ``default``,
                                                    ``..._Small`` -> ``small``,
                                                    ``..._Large`` -> ``large``,
                                                    ``Denoising...`` -> ``denoising``,
                                                    ``Variational...`` -> ``variational``
``dataset_name``         ``dataset_name``           same
``noise_probability``    ``noise_probability``      same (an argument of the data generator)
``population_size``      ``population_size``        same
``radius``               ``radius``                 same
``epochs``               ``epochs``                 same
``learning_rate``        ``learning_rate``          same
``batch_size``           ``batch_size``             same
``rng_seed``             ``seed``                   same
``trials``               ``trials``                 same (seeds seed .. seed+trials-1)
``calculate_test_loss``  ``calculate_test_loss``    ``"True"``/``"False"`` strings accepted
``no_shuffle_data``      ``shuffle_data``           negated
``prune_method``         ``prune_method``           ``"None"`` -> None,
                                                    ``activation`` -> ``variance``,
                                                    ``lexicase`` -> ``conjunctive``
``prune_schedule``       ``prune_schedule``         same
``prune_probability``    ``prune_probability``      same
``prune_amount``         ``prune_amount``           same
``lexi_threshold``       ``lexi_threshold``         same
``keep_pruned_zero``     ``mask_mode``              True -> ``persistent``, False -> ``regrow``
``output_dir``           ``out_dir``                same
``store_all_nodes``      ``save_all_centers``       same
=======================  =========================  ===========================================

Published keys that do not apply to minievo (``visualize``, ``log_level``,
``ae_quality_measures``, ``checkpoint_interval``, ``timestamp``, ...; see
:data:`NOT_APPLICABLE_KEYS`) are ignored and recorded in :attr:`Config.notices`.
Those among them that would change the algorithm (``sgd_optimizer=True``,
``data_subsample`` > 0, ``identical_initial_ann=True``, a non-empty
``ann_path``, ``constant_learning_rate=True``, a ``solution_concept`` other than
``best_case``) raise :class:`ConfigError` instead of being silently dropped.
The later published prune methods ``roulette`` and ``magnitude`` are not
implemented and raise :class:`ConfigError`.

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
  besides the published ``fresh`` (a new Adam for every step, SPEC §4 step 4).
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
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Optional

import numpy as np

from ..data import DATASET_NAME_FORMAT, parse_dataset_name
from ..errors import ConfigError, suggest
from ..io import atomic_write_bytes
from ..kernels import RUN_BACKENDS
from ..network import ENVIRONMENTS as NETWORK_ENVIRONMENTS
from ..pruning import MASK_MODES, SIGNALS
from ..pruning import METHODS as BUILTIN_OPERATORS
from ..pruning import SCHEDULES as BUILTIN_SCHEDULES
from ..pruning.registry import (
    PluginError,
    get_operator,
    load_plugins,
    operator_aliases,
    operator_names,
    schedule_names,
)
from ..training.variants import CANONICAL, CELL_EVALUATION_ALIASES, CELL_EVALUATIONS

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
#: minievo environment -> published environment class name (SPEC §2).
PUBLISHED_ENVIRONMENT_NAMES = {
    "default": "AutoencoderBinaryClustering",
    "small": "AutoencoderBinaryClustering_Small",
    "large": "AutoencoderBinaryClustering_Large",
    "denoising": "DenoisingAutoencoderBinaryClustering",
    "variational": "VariationalAutoencoderBinaryClustering",
}
_ENVIRONMENT_ALIASES = {v: k for k, v in PUBLISHED_ENVIRONMENT_NAMES.items()}

#: The built-in operators; validation reads the registry
#: (:func:`minievo.pruning.registry.operator_names`), plug-ins included.
PRUNE_METHODS = BUILTIN_OPERATORS
_PRUNE_METHOD_NONE = ("none", "null", "")
_PRUNE_METHODS_NOT_IMPLEMENTED = ("roulette", "magnitude")

#: The built-in schedules; validation reads the registry (plug-ins included).
PRUNE_SCHEDULES = BUILTIN_SCHEDULES
OPTIMIZER_STATES = ("fresh", "persistent")
UPDATES = ("asynchronous", "synchronous")
ACTIVATION_SIGNALS = SIGNALS
BACKENDS = RUN_BACKENDS  # cuda: minievo.training.lockstep (GPU extra)
#: Which defaults filled the keys a run's configuration did not give: the
#: dataclass defaults of ``Config()`` (Python), or the ``minievo`` command's
#: default job (``minievo run``, with or without ``--config``; see
#: :data:`minievo.cli.DEFAULT_JOB`).
DEFAULTS_USED = ("Config()", "default job")
#: Fields that describe how a configuration came to be, not what it runs:
#: saved in ``config.json``, never compared.
RUN_NOTES = ("notices", "defaults")

# ---------------------------------------------------------------------------
# Published keys: renamed ones, and ones that do not apply to minievo
# ---------------------------------------------------------------------------

def _identity(value: Any) -> Any:
    return value


def _negate_bool(value: Any) -> Any:
    return not _as_bool("no_shuffle_data", value)


def _keep_pruned_zero_to_mask_mode(value: Any) -> str:
    return "persistent" if _as_bool("keep_pruned_zero", value) else "regrow"


#: published key -> (minievo field, value conversion)
_PUBLISHED_RENAMES: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "rng_seed": ("seed", _identity),
    "output_dir": ("out_dir", _identity),
    "store_all_nodes": ("save_all_centers", _identity),
    "no_shuffle_data": ("shuffle_data", _negate_bool),
    "keep_pruned_zero": ("mask_mode", _keep_pruned_zero_to_mask_mode),
}


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in ("", "false", "0", "none", "0.0")
    return bool(value)


#: published key -> (why it is ignored, predicate: True when the value would
#: change the algorithm, which minievo then refuses instead of ignoring)
NOT_APPLICABLE_KEYS: dict[str, tuple[str, Optional[Callable[[Any], bool]]]] = {
    "visualize": ("plots are written by minievo.experiments.report", None),
    "log_level": ("minievo does not configure logging per run", None),
    "ae_quality_measures": ("minievo always records L1 (mean_L1, std_L1)", None),
    "checkpoint_interval": ("published weight snapshots; see checkpoint_every", None),
    "checkpoint_every_update": ("per-step weight snapshots are not written", None),
    "overwrite_checkpoint": ("checkpoints are always overwritten atomically", None),
    "do_not_overwrite_checkpoint": ("checkpoints are always overwritten atomically", None),
    "timestamp": ("records carry their own timestamps", None),
    "configuration_file": ("a path of the published CLI", None),
    "no_execution": ("a flag of the published CLI", None),
    "no_output_dir_timestamp": ("out_dir is used as given", None),
    "original_learning_rate": ("set internally by the published code", None),
    "solution_concept": ("minievo uses best_case only",
                         lambda v: str(v).strip().lower() != "best_case"),
    "sgd_optimizer": ("minievo uses Adam only", _truthy),
    "data_subsample": ("per-cell data subsampling is not implemented", _truthy),
    "identical_initial_ann": ("identical initial networks are not implemented", _truthy),
    "ann_path": ("loading initial networks is not implemented", _truthy),
    "constant_learning_rate": ("canonical training always uses the step schedule",
                               _truthy),
}


# ---------------------------------------------------------------------------
# Value checks: each returns the normalised value or raises ConfigError
# ---------------------------------------------------------------------------

def _as_bool(name: str, value: Any) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ConfigError(f"{name}: {value!r} is not a boolean; allowed: true or false")


def _as_int(name: str, value: Any, minimum: Optional[int] = None) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ConfigError(f"{name}: {value!r} is not an integer")
    if not isinstance(value, numbers.Integral):
        if not (math.isfinite(value) and float(value).is_integer()):
            raise ConfigError(f"{name}: {value!r} is not an integer")
    result = int(value)
    if minimum is not None and result < minimum:
        raise ConfigError(f"{name}: {value!r} is out of range; allowed: integers >= {minimum}")
    return result


def _as_float(name: str, value: Any, low: float, high: float = math.inf, *,
              low_open: bool = False, high_open: bool = False) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ConfigError(f"{name}: {value!r} is not a number")
    result = float(value)
    too_low = result <= low if low_open else result < low
    too_high = result >= high if high_open else result > high
    if not math.isfinite(result) or too_low or too_high:
        left = "(" if low_open else "["
        right = ")" if high_open or high == math.inf else "]"
        raise ConfigError(f"{name}: {value!r} is out of range; "
                          f"allowed: {left}{low:g}, {high:g}{right}")
    return result


def _as_choice(name: str, value: Any, choices, aliases: Optional[Mapping[str, str]] = None) -> str:
    aliases = aliases or {}
    allowed = ", ".join(choices)
    if aliases:
        allowed += " (aliases: " + ", ".join(f"{a} -> {c}" for a, c in aliases.items()) + ")"
    if not isinstance(value, str):
        raise ConfigError(f"{name}: {value!r} is not a string; allowed: {allowed}")
    lookup = {c.lower(): c for c in choices}
    lookup.update({a.lower(): c for a, c in aliases.items()})
    key = value.strip().lower()
    if key in lookup:
        return lookup[key]
    raise ConfigError(f"{name}: {value!r} is not allowed; allowed: {allowed}"
                      + suggest(value, list(choices) + list(aliases)))


def _as_optional_path(name: str, value: Any) -> Optional[str]:
    if value is None:
        return None
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{name}: {value!r} is not a path; allowed: a non-empty string or null")
    return value


def _as_prune_method(value: Any) -> Optional[str]:
    if value is None or (isinstance(value, str) and value.strip().lower() in _PRUNE_METHOD_NONE):
        return None
    methods, aliases = operator_names(), operator_aliases()
    if isinstance(value, str) and value.strip().lower() in _PRUNE_METHODS_NOT_IMPLEMENTED \
            and value.strip().lower() not in methods:
        raise ConfigError(f"prune_method: {value!r} (a later published method) is not "
                          f"implemented in minievo; allowed: none, " + ", ".join(methods))
    # "none" is listed for the message only: it was handled above
    return _as_choice("prune_method", value, ("none",) + methods, aliases)


def _parse_dataset_name(name: str) -> tuple[int, int, int]:
    try:
        return parse_dataset_name(name)
    except ValueError:
        raise ConfigError(f"dataset_name: {name!r} is not allowed; allowed: "
                          f"{DATASET_NAME_FORMAT}") from None


def _as_plugins(value: Any) -> tuple[str, ...]:
    """Check ``plugins`` and import every entry, so that its registrations count."""
    if isinstance(value, (str, os.PathLike)):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(
            isinstance(v, (str, os.PathLike)) and os.fspath(v) for v in value):
        raise ConfigError(f"plugins: {value!r} is not allowed; allowed: a list of module "
                          "names or .py files")
    names = tuple(os.fspath(v) for v in value)
    names = tuple(str(Path(n).expanduser().resolve()) if n.endswith(".py") else n for n in names)
    try:
        load_plugins(names)
    except PluginError as error:
        raise ConfigError(f"plugins: {error}") from None
    return names


# ---------------------------------------------------------------------------
# The configuration
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Config:
    """The complete, validated description of one minievo run.

    Build it with keywords, :meth:`from_dict` (which also reads published key
    names and values) or :meth:`from_file`. Every field is checked when the
    object is made; a bad value raises :class:`ConfigError` naming the field,
    the value and what is allowed. Aliases are normalised, so a ``Config``
    always holds canonical values.

    Attributes
    ----------
    cell_evaluation : str
        Training algorithm. ``"lipi_simple"`` (default, SPEC §4),
        ``"lipi_simple_pte"`` (prune before the replacement evaluation),
        ``"epoch-node"`` (GECCO 2024), ``"all_vs_all"`` (non-spatial baseline)
        or ``"ann_canonical"`` (one autoencoder, SPEC §3; alias
        ``"canonical"``).
    environment : str
        Network architecture (SPEC §2): ``"default"`` (x-30-10-30-x),
        ``"small"`` (x-30-2-30-x), ``"large"`` (x-60-30-10-30-60-x),
        ``"denoising"`` or ``"variational"``. The published class names
        (``AutoencoderBinaryClustering``, ``..._Small``, ``..._Large``,
        ``DenoisingAutoencoderBinaryClustering``,
        ``VariationalAutoencoderBinaryClustering``) are accepted. Default
        ``"default"``.
    dataset_name : str
        ``"binary_clustering_{n_clusters}_{n_examples_per_cluster}_{n_dim}"``,
        positive integers (SPEC §1). Default ``"binary_clustering_10_100_1000"``.
    data_dir : str or None
        Folder for generated datasets; None uses minievo's default cache.
    noise_probability : float
        Probability of flipping each bit of a noisy copy, in [0, 1]. Default 0.05.
    p_one : float
        Probability that a centroid bit is 1, in [0, 1]. Default 0.75 (SPEC §1).
    data_seed : int or None
        Seed of the dataset generator, >= 0; None uses ``seed``
        (see :attr:`effective_data_seed`).
    population_size : int
        Number of cells on the ring, >= 1. Given as None (the default), it is
        10 for the coevolution variants and 1 for ``ann_canonical``.
        ``ann_canonical`` always uses 1: another value is replaced by 1 and a
        notice is recorded.
    radius : int
        Ring neighbourhood radius, >= 1; default 1 (SPEC §4 step 1). With
        ``population_size`` >= 3 the neighbourhood's 2·radius+1 cells must be
        distinct: radius <= (population_size - 1) // 2, else ConfigError.
        Populations 1 and 2 (the papers' ``population_size`` preset, radius 1)
        repeat cells as the published ``get_neighbors`` does (population 2:
        both neighbours are the other cell; population 1: copies of the cell's
        own centre), recorded as a notice. Ignored by ``ann_canonical``.
    epochs : int
        Number of epochs (generations), >= 1. Default 400 (SPEC §7).
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
        Record the test loss after every cell visit / epoch (SPEC §6).
        Default True.
    stats_every : int
        Cadence, in iterations (epochs), of the mean/std L1 over the training
        batches (``mean_L1``, ``std_L1``), >= 1; also recorded at the last
        iteration. Default 100.
    test_loss_every : int
        Cadence, in epochs, of the coevolution records' ``test_loss`` (the
        whole test set, about a sixth of a visit's time at paper size), >= 1;
        also recorded at the last epoch, absent in between. Default 1: every
        visit.
    optimizer_state : str
        ``"fresh"``: a new Adam state for every step, as the published
        coevolution (SPEC §4 step 4); ``"persistent"``: Adam state kept per
        individual. Given as None (the default), it is ``"fresh"`` for the
        coevolution variants. ``ann_canonical`` always uses one persistent
        optimizer (SPEC §3): the value is ``"persistent"`` there, and an
        explicit ``"fresh"`` is replaced with a notice.
    adam_betas : tuple of float
        Adam's (beta1, beta2), each in [0, 1). Default (0.5, 0.999).
    adam_eps : float
        Adam's epsilon, > 0. Default 1e-8.
    lr_mutation_std : float
        Std of the Normal learning-rate mutation (SPEC §4 step 8), >= 0.
        Default 1e-5.
    lr_min, lr_max : float
        Clip range of the mutated learning rate, 0 < lr_min <= lr_max; the
        initial ``learning_rate`` must not exceed ``lr_max`` (it would be
        clamped after the first visit).
        Defaults 1e-9 and 10.
    update : str
        ``"asynchronous"`` (default; a later cell sees centres updated earlier
        in the epoch, SPEC §4) or ``"synchronous"`` (all cells read the
        centres of the previous epoch).
    prune_method : str or None
        None (default, no pruning; ``"none"``/``"None"`` accepted),
        ``"random"``, ``"variance"`` (published ``activation``) or
        ``"conjunctive"`` (published ``lexicase``), SPEC §5.
    prune_schedule : str
        ``"fixed"`` (default), ``"increase"``, ``"decrease"``,
        ``"population"``, ``"exponential"``, ``"final_n"`` or
        ``"prune_after"`` (SPEC §5 "When").
    prune_probability : float
        Base pruning probability p of the schedule, in [0, 1]. Default 0.5.
    prune_amount : float
        Fraction of entries masked by ``random`` pruning, in [0, 1]; no effect
        on ``variance`` and ``conjunctive``. Default 0.1.
    lexi_threshold : float
        CONJUNCTIVE pass threshold on min-max scaled pre-activations, in
        [0, 1]. Default 0.1.
    lexi_rows : int
        Test rows drawn (with replacement) by CONJUNCTIVE, >= 1. Default 100.
    mask_mode : str
        ``"persistent"`` (default; pruned entries stay zero and get no update)
        or ``"regrow"`` (published behaviour: entries are zeroed once and may
        grow back), SPEC §5 "Mask semantics".
    activation_signal : str
        What VARIANCE's records and CONJUNCTIVE's rows read per layer:
        ``"pre_activation"`` (default, SPEC §5) or ``"hook_output"``, what the
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
    # data (SPEC §1)
    dataset_name: str = "binary_clustering_10_100_1000"
    data_dir: Optional[str] = None
    noise_probability: float = 0.05
    p_one: float = 0.75
    data_seed: Optional[int] = None
    # population and training (SPEC §3, §4)
    population_size: Optional[int] = None
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
    optimizer_state: Optional[str] = None
    adam_betas: tuple[float, float] = (0.5, 0.999)
    adam_eps: float = 1e-8
    lr_mutation_std: float = 1e-5
    lr_min: float = 1e-9
    lr_max: float = 10.0
    update: str = "asynchronous"
    # pruning (SPEC §5)
    prune_method: Optional[str] = None
    prune_schedule: str = "fixed"
    prune_probability: float = 0.5
    prune_amount: float = 0.1
    lexi_threshold: float = 0.1
    lexi_rows: int = 100
    mask_mode: Optional[str] = None
    activation_signal: Optional[str] = None
    # semantics: minievo's or the published code's (see _resolve_semantics)
    semantics: Optional[str] = None
    denoising_noise_std: Optional[float] = None
    # run control
    backend: str = "numba"
    out_dir: Optional[str] = None
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
        put("cell_evaluation", _as_choice("cell_evaluation", self.cell_evaluation,
                                          CELL_EVALUATIONS, _CELL_EVALUATION_ALIASES))
        canonical = self.cell_evaluation == CANONICAL
        put("environment", _as_choice("environment", self.environment, ENVIRONMENTS,
                                      _ENVIRONMENT_ALIASES))

        # data
        _parse_dataset_name(self.dataset_name)
        put("data_dir", _as_optional_path("data_dir", self.data_dir))
        put("noise_probability", _as_float("noise_probability", self.noise_probability, 0.0, 1.0))
        put("p_one", _as_float("p_one", self.p_one, 0.0, 1.0))
        if self.data_seed is not None:
            put("data_seed", _as_int("data_seed", self.data_seed, 0))

        # population: ann_canonical trains one autoencoder (SPEC §3)
        if self.population_size is None:
            put("population_size", 1 if canonical else 10)
        population = _as_int("population_size", self.population_size, 1)
        if canonical and population != 1:
            notices.append(f"population_size={population} replaced by 1: ann_canonical "
                           "trains one autoencoder")
            population = 1
        put("population_size", population)
        put("radius", _as_int("radius", self.radius, 1))

        # training
        put("epochs", _as_int("epochs", self.epochs, 1))
        put("learning_rate", _as_float("learning_rate", self.learning_rate, 0.0, low_open=True))
        put("batch_size", _as_int("batch_size", self.batch_size, 1))
        put("seed", _as_int("seed", self.seed, 0))
        put("trials", _as_int("trials", self.trials, 1))
        put("shuffle_data", _as_bool("shuffle_data", self.shuffle_data))
        put("calculate_test_loss", _as_bool("calculate_test_loss", self.calculate_test_loss))
        put("stats_every", _as_int("stats_every", self.stats_every, 1))
        put("test_loss_every", _as_int("test_loss_every", self.test_loss_every, 1))

        # optimizer: canonical training keeps one Adam for the whole run (SPEC §3)
        if self.optimizer_state is None:
            put("optimizer_state", "persistent" if canonical else "fresh")
        state = _as_choice("optimizer_state", self.optimizer_state, OPTIMIZER_STATES)
        if canonical and state != "persistent":
            notices.append(f"optimizer_state={state!r} replaced by 'persistent': "
                           "ann_canonical uses one Adam optimizer for the whole run")
            state = "persistent"
        put("optimizer_state", state)
        betas = self.adam_betas
        if isinstance(betas, (str, bytes)) or not hasattr(betas, "__len__") or len(betas) != 2:
            raise ConfigError(f"adam_betas: {betas!r} is not allowed; allowed: "
                              "two numbers (beta1, beta2), each in [0, 1)")
        put("adam_betas", tuple(_as_float("adam_betas", b, 0.0, 1.0, high_open=True)
                                for b in betas))
        put("adam_eps", _as_float("adam_eps", self.adam_eps, 0.0, low_open=True))
        put("lr_mutation_std", _as_float("lr_mutation_std", self.lr_mutation_std, 0.0))
        put("lr_min", _as_float("lr_min", self.lr_min, 0.0, low_open=True))
        put("lr_max", _as_float("lr_max", self.lr_max, 0.0, low_open=True))
        if self.lr_min > self.lr_max:
            raise ConfigError(f"lr_min: {self.lr_min!r} is out of range; allowed: "
                              f"lr_min <= lr_max = {self.lr_max!r}")
        put("update", _as_choice("update", self.update, UPDATES))

        # pruning
        put("prune_method", _as_prune_method(self.prune_method))
        put("prune_schedule", _as_choice("prune_schedule", self.prune_schedule, schedule_names()))
        put("prune_probability", _as_float("prune_probability", self.prune_probability, 0.0, 1.0))
        put("prune_amount", _as_float("prune_amount", self.prune_amount, 0.0, 1.0))
        put("lexi_threshold", _as_float("lexi_threshold", self.lexi_threshold, 0.0, 1.0))
        put("lexi_rows", _as_int("lexi_rows", self.lexi_rows, 1))
        _resolve_semantics(self, put, notices)
        put("mask_mode", _as_choice("mask_mode", self.mask_mode, MASK_MODES))
        put("activation_signal", _as_choice("activation_signal", self.activation_signal,
                                            ACTIVATION_SIGNALS))

        # run control
        put("backend", _as_choice("backend", self.backend, BACKENDS))
        put("out_dir", _as_optional_path("out_dir", self.out_dir))
        put("checkpoint_every", _as_int("checkpoint_every", self.checkpoint_every, 0))
        put("checkpoint_seconds", _as_float("checkpoint_seconds", self.checkpoint_seconds, 0.0))
        put("keep_checkpoint", _as_bool("keep_checkpoint", self.keep_checkpoint))
        put("save_all_centers", _as_bool("save_all_centers", self.save_all_centers))
        put("progress", _as_bool("progress", self.progress))

        _check_consistency(self, notices)
        put("defaults", _as_choice("defaults", self.defaults, DEFAULTS_USED))
        put("notices", tuple(dict.fromkeys(notices)))  # de-duplicated, in order

    # -- construction ------------------------------------------------------

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """The canonical keys, in declaration order (``notices`` excluded)."""
        return tuple(f.name for f in dataclasses.fields(cls) if f.name not in RUN_NOTES)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Config":
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
    def from_file(cls, path: str | os.PathLike, defaults: Optional[Mapping[str, Any]] = None,
                  label: str = "default job") -> "Config":
        """Read a ``Config`` from a ``.json`` or ``.toml`` file.

        Every error message starts with the file's path; a JSON syntax error
        gives its line and column. With ``defaults``, the file's keys override
        those (:func:`merge_with_defaults`, recorded as ``defaults=label``);
        without, missing keys take the dataclass defaults.
        """
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix not in (".json", ".toml"):
            raise ConfigError(f"{path}: unknown configuration file type {path.suffix!r}; "
                              "allowed: .json, .toml")
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as error:
            reason = error.strerror or error
            raise ConfigError(f"{path}: cannot read the file: {reason}") from error
        try:
            if suffix == ".json":
                data = json.loads(text)
            else:
                data = tomllib.loads(text)
        except json.JSONDecodeError as error:
            raise ConfigError(f"{path}: invalid JSON at line {error.lineno}, column "
                              f"{error.colno}: {error.msg}") from error
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(f"{path}: invalid TOML: {error}") from error
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: the top level must be an object of key/value pairs, "
                              f"not {type(data).__name__}")
        try:
            if defaults is not None:
                return merge_with_defaults(defaults, data, label)
            return cls.from_dict(data)
        except ConfigError as error:
            raise ConfigError(f"{path}: {error}") from error

    def replace(self, **changes: Any) -> "Config":
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
        """Canonical keys and JSON-serialisable values (``notices`` excluded)."""
        out = {name: getattr(self, name) for name in self.field_names()}
        out["adam_betas"] = list(self.adam_betas)
        if self.plugins:
            out["plugins"] = list(self.plugins)
        else:  # the records of a run without plug-ins stay as they were
            del out["plugins"]
        return out

    def to_published_dict(self) -> dict[str, Any]:
        """The settings under the published ``params.json`` key names and values.

        For analysis code written for the published records; minievo-only
        fields are left out.
        """
        return {
            "cell_evaluation": self.cell_evaluation,
            "environment": PUBLISHED_ENVIRONMENT_NAMES[self.environment],
            "dataset_name": self.dataset_name,
            "population_size": self.population_size,
            "radius": self.radius,
            "epochs": self.epochs,
            "learning_rate": self.learning_rate,
            "batch_size": self.batch_size,
            "rng_seed": self.seed,
            "trials": self.trials,
            "calculate_test_loss": self.calculate_test_loss,
            "no_shuffle_data": not self.shuffle_data,
            "prune_method": (get_operator(self.prune_method).published_name
                             if self.prune_method else "None"),
            "prune_schedule": self.prune_schedule,
            "prune_probability": self.prune_probability,
            "prune_amount": self.prune_amount,
            "lexi_threshold": self.lexi_threshold,
            "keep_pruned_zero": self.mask_mode == "persistent",
            "output_dir": self.out_dir,
            "store_all_nodes": self.save_all_centers,
        }

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
        """``(n_clusters, n_examples_per_cluster, n_dim)`` parsed from ``dataset_name``."""
        return _parse_dataset_name(self.dataset_name)

    @property
    def is_canonical(self) -> bool:
        """True for ``ann_canonical`` (one autoencoder, SPEC §3)."""
        return self.cell_evaluation == CANONICAL

    @property
    def pruning_enabled(self) -> bool:
        """True when a prune method is set (the schedule may still give p = 0)."""
        return self.prune_method is not None

    @property
    def neighbourhood_size(self) -> int:
        """Entries of a cell's neighbourhood, 2·radius+1 (1 for ``ann_canonical``).

        This is ``n_solutions`` of the ``population`` schedule (SPEC §5).
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
# Checks between fields: nothing is clamped or repeated without a word
# ---------------------------------------------------------------------------

def _check_consistency(config: "Config", notices: list[str]) -> None:
    """Refuse values that training would silently change; note the tolerated ones.

    - ``learning_rate`` above ``lr_max``: the coevolution's learning-rate
      mutation would clamp it after the first visit (docs/algorithm.md §4).
    - ``batch_size`` above the training rows (``n_clusters *
      n_examples_per_cluster``, read from ``dataset_name``): it would silently
      become one full batch.
    - ``2 * radius + 1 > population_size``: the neighbourhood holds some cell
      twice. Refused for population >= 3 (a smaller radius exists); for
      population 1 and 2 (the papers' ``population_size`` preset, radius 1)
      it is what the published ring does, and is recorded as a notice.
    """
    if config.learning_rate > config.lr_max:
        raise ConfigError(f"learning_rate: {config.learning_rate!r} is above lr_max = "
                          f"{config.lr_max!r}; allowed: learning_rate <= lr_max (raise lr_max "
                          "too, or lower learning_rate)")
    n_clusters, per_cluster, _ = _parse_dataset_name(config.dataset_name)
    n_train = n_clusters * per_cluster
    if config.batch_size > n_train:
        raise ConfigError(f"batch_size: {config.batch_size} is larger than the {n_train} "
                          f"training rows of {config.dataset_name}; allowed: batch_size <= "
                          f"{n_train}")
    if config.cell_evaluation == CANONICAL:
        return
    population, radius = config.population_size, config.radius
    if 2 * radius + 1 <= population:
        return
    if population >= 3:
        raise ConfigError(f"radius: {radius} needs 2*radius+1 = {2 * radius + 1} cells but "
                          f"population_size={population}; allowed: radius <= "
                          f"(population_size - 1) // 2 = {(population - 1) // 2}")
    notices.append(f"radius={radius} with population_size={population}: the neighbourhood "
                   f"of 2*radius+1 = {2 * radius + 1} entries repeats cells, as the published "
                   "ring does")


def _as_notes(value: Any) -> list[str]:
    if isinstance(value, str) or not isinstance(value, (list, tuple)) or not all(
            isinstance(v, str) for v in value):
        raise ConfigError(f"notices: {value!r} is not allowed; allowed: a list of strings")
    return list(value)


def merge_with_defaults(defaults: Mapping[str, Any], given: Mapping[str, Any],
                        label: str) -> "Config":
    """``given`` (canonical or published keys) on top of ``defaults``.

    The keys of ``given`` win, whatever their spelling (``keep_pruned_zero``
    replaces a default ``mask_mode``). When ``given`` switches between
    ``ann_canonical`` and a coevolution variant, the defaults' population size
    and optimizer state are dropped, so they resolve for the variant given.
    The result records ``defaults=label`` (one of :data:`DEFAULTS_USED`).
    """
    base, _ = _normalise_keys(defaults)
    values, notices = _normalise_keys(given)
    _detect_published_format(given, values, notices)
    if "cell_evaluation" in values:
        given_canonical = _as_choice("cell_evaluation", values["cell_evaluation"],
                                     CELL_EVALUATIONS, _CELL_EVALUATION_ALIASES) == CANONICAL
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
        raise ConfigError(f"a configuration must be a mapping of keys to values, "
                          f"not {type(d).__name__}")
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
            raise ConfigError(f"{key}: {value!r} conflicts with {given_as[target]}: "
                              f"{d[given_as[target]]!r}; both set {target}")
        values[target] = converted
        given_as[target] = key
    return values, notices


# ---------------------------------------------------------------------------
# Published semantics (docs/algorithm.md §2, §5): kept apart to ease merging
# ---------------------------------------------------------------------------

#: The two semantics a configuration can run with (``Config.semantics``).
SEMANTICS = ("minievo", "published")
#: Field -> (minievo default, published default) when the field is not given.
_SEMANTIC_DEFAULTS = {"mask_mode": ("persistent", "regrow"),
                      "activation_signal": ("pre_activation", "hook_output")}
#: minievo's input noise of the denoising environment (docs/algorithm.md §2).
DEFAULT_DENOISING_NOISE_STD = 0.4


def _published_format_reason(d: Mapping[str, Any]) -> Optional[str]:
    """Why ``d`` is a configuration in the published format, or None.

    The rule: ``d`` holds a key that only the published ``params.json`` uses
    (a renamed key such as ``rng_seed``, ``no_shuffle_data`` or
    ``keep_pruned_zero``, or a published key minievo ignores such as
    ``visualize``), or names its environment by a published class name
    (``AutoencoderBinaryClustering``, ...).
    """
    keys = [k for k in d if k in _PUBLISHED_RENAMES or k in NOT_APPLICABLE_KEYS]
    if keys:
        return "published key(s) " + ", ".join(repr(k) for k in keys)
    environment = d.get("environment")
    if isinstance(environment, str) and environment in _ENVIRONMENT_ALIASES:
        return f"published environment class name {environment!r}"
    return None


def _detect_published_format(d: Mapping[str, Any], values: dict, notices: list) -> None:
    """Set ``semantics="published"`` in ``values`` for a published-format ``d``.

    An explicit ``semantics`` key wins over the detection.
    """
    reason = _published_format_reason(d)
    if reason is None or "semantics" in values:
        return
    values["semantics"] = "published"
    notices.append(f"published-format configuration ({reason}): it runs with the published "
                   "semantics; set semantics='minievo' or the fields themselves to override")


def _resolve_semantics(config, put, notices: list) -> None:
    """Fill ``mask_mode``, ``activation_signal``, ``denoising_noise_std`` from the semantics.

    Under published semantics every field filled here is named in a notice.
    """
    semantics = "minievo" if config.semantics is None else config.semantics
    put("semantics", _as_choice("semantics", semantics, SEMANTICS))
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
    std = _as_float("denoising_noise_std", std, 0.0)
    if std != DEFAULT_DENOISING_NOISE_STD and not denoising:
        raise ConfigError(f"denoising_noise_std: {std!r} applies only to environment "
                          f"'denoising', not {config.environment!r}; leave it at "
                          f"{DEFAULT_DENOISING_NOISE_STD} or use environment 'denoising'")
    put("denoising_noise_std", std)
    if published and applied:
        notices.append("published semantics applied: " + ", ".join(applied))


def _without_stale_semantic_fields(merged: dict, changes: dict) -> dict:
    """For :meth:`Config.replace`: let the fields that follow the semantics re-resolve.

    A change of ``semantics`` re-resolves every such field not changed too, a
    change of ``environment`` the denoising noise.
    """
    stale = list(_SEMANTIC_DEFAULTS) + ["denoising_noise_std"] if "semantics" in changes else (
        ["denoising_noise_std"] if "environment" in changes else [])
    return {k: v for k, v in merged.items() if k not in stale or k in changes}

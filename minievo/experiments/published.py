"""The published code's configuration keys and values, and their translation to minievo's.

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
The later published prune method ``roulette`` is not implemented (unless a
plug-in registers an operator by that name) and raises
:class:`~minievo.errors.ConfigError`. ``magnitude`` names minievo's own
baseline (global magnitude pruning, docs/baselines.md), not a reading of the
later published method.

A configuration holding a key only the published ``params.json`` uses, or a
published environment class name, is *in the published format*
(:func:`_published_format_reason`) and runs with the published semantics
unless it says otherwise (:class:`~minievo.experiments.config.Config`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..pruning.registry import get_operator
from .validation import Boolean

_BOOLEAN = Boolean()

#: minievo environment -> published environment class name (docs/algorithm.md §2).
PUBLISHED_ENVIRONMENT_NAMES = {
    "default": "AutoencoderBinaryClustering",
    "small": "AutoencoderBinaryClustering_Small",
    "large": "AutoencoderBinaryClustering_Large",
    "denoising": "DenoisingAutoencoderBinaryClustering",
    "variational": "VariationalAutoencoderBinaryClustering",
}
_ENVIRONMENT_ALIASES = {v: k for k, v in PUBLISHED_ENVIRONMENT_NAMES.items()}


# ---------------------------------------------------------------------------
# Published keys: renamed ones, and ones that do not apply to minievo
# ---------------------------------------------------------------------------


def _identity(value: Any) -> Any:
    return value


def _negate_bool(value: Any) -> Any:
    return not _BOOLEAN("no_shuffle_data", value)


def _keep_pruned_zero_to_mask_mode(value: Any) -> str:
    return "persistent" if _BOOLEAN("keep_pruned_zero", value) else "regrow"


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
NOT_APPLICABLE_KEYS: dict[str, tuple[str, Callable[[Any], bool] | None]] = {
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
    "solution_concept": (
        "minievo uses best_case only",
        lambda v: str(v).strip().lower() != "best_case",
    ),
    "sgd_optimizer": ("minievo uses Adam only", _truthy),
    "data_subsample": ("per-cell data subsampling is not implemented", _truthy),
    "identical_initial_ann": ("identical initial networks are not implemented", _truthy),
    "ann_path": ("loading initial networks is not implemented", _truthy),
    "constant_learning_rate": ("canonical training always uses the step schedule", _truthy),
}


def _published_format_reason(d: Mapping[str, Any]) -> str | None:
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
    notices.append(
        f"published-format configuration ({reason}): it runs with the published "
        "semantics; set semantics='minievo' or the fields themselves to override"
    )


def to_published_dict(config) -> dict[str, Any]:
    """The settings of ``config`` under the published ``params.json`` key names and values.

    minievo-only fields are left out; the prune method takes its published
    name (:func:`~minievo.pruning.registry.register_operator`'s ``published_name``).
    """
    return {
        "cell_evaluation": config.cell_evaluation,
        "environment": PUBLISHED_ENVIRONMENT_NAMES[config.environment],
        "dataset_name": config.dataset_name,
        "population_size": config.population_size,
        "radius": config.radius,
        "epochs": config.epochs,
        "learning_rate": config.learning_rate,
        "batch_size": config.batch_size,
        "rng_seed": config.seed,
        "trials": config.trials,
        "calculate_test_loss": config.calculate_test_loss,
        "no_shuffle_data": not config.shuffle_data,
        "prune_method": (
            get_operator(config.prune_method).published_name if config.prune_method else "None"
        ),
        "prune_schedule": config.prune_schedule,
        "prune_probability": config.prune_probability,
        "prune_amount": config.prune_amount,
        "lexi_threshold": config.lexi_threshold,
        "keep_pruned_zero": config.mask_mode == "persistent",
        "output_dir": config.out_dir,
        "store_all_nodes": config.save_all_centers,
    }

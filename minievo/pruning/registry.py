r"""Pruning operators and schedules as plug-ins: one signature each, one registry.

The configuration (:mod:`minievo.experiments.config`), the command line and
the training loops all look operators and schedules up here, at the moment
they need them, so an operator registered by a user's module after
``import minievo`` is accepted everywhere. See ``docs/extending.md``.

An operator (docs/algorithm.md §5 "What") takes an autoencoder, a random
generator and the run's :class:`PruneSettings`, and returns one 0/1 float32
mask per network, ``(encoder mask, decoder mask)``, each with the layout of
that network's ``params``: 0 where it prunes, 1 where it keeps. It must not
modify the networks; :func:`~minievo.pruning.operators.prune_pair` applies
the masks (with the run's mask mode) and counts what was pruned::

    @register_operator("wanda")  # |w| times the norm of its input (docs/extending.md)
    def wanda_masks(pair, rng, settings):
        code = forward(pair.encoder, settings.test_data)  # what the decoder reads
        return (wanda_mask(pair.encoder, settings.test_data, settings.amount),
                wanda_mask(pair.decoder, code, settings.amount))

A schedule (docs/algorithm.md §5 "When") maps the base probability ``p``, the
epoch ``t`` (from 0), the final epoch ``T`` and the neighbourhood size ``n``
to the probability of pruning an individual now::

    @register_schedule("halfway")
    def halfway(p, t, T, n_solutions):
        return p if 2 * t >= T else 0.0

A schedule of kind ``"sparsity"`` (docs/baselines.md) gives a *target*
instead: the fraction of the autoencoder's weights that must be masked after
epoch ``t``, or None when it does not prune at ``t``. It reads its timing from
:class:`SparsitySettings`; the operator must be able to prune to a target
(``register_operator(..., to_sparsity=...)``, as ``magnitude``)::

    @register_schedule("at_start", kind="sparsity")
    def at_start(t, s):
        return s.target if t == s.start else None

Jobs of a sweep run in their own processes: name the module (or ``.py``
file) that registers your operator in the configuration's ``plugins`` so
that every job imports it (:func:`load_plugins`).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..errors import suggest


class PruneSettings(NamedTuple):
    """What a pruning operator may read besides the network and the generator.

    Attributes
    ----------
    amount : float
        ``prune_amount`` in [0, 1] (the ``random`` operator's fraction).
    lexi_threshold : float
        ``lexi_threshold`` in [0, 1] (``conjunctive``).
    lexi_rows : int
        Test rows drawn by ``conjunctive``.
    test_data : ndarray, shape (N, n_dim), or None
        The test set (``conjunctive`` draws its cases from it).
    mask_mode : {"persistent", "regrow"}
        How the masks will be applied; an operator may look at ``net.mask``
        to draw only among active entries when ``"persistent"``.
    signal : {"pre_activation", "hook_output"}
        Which values activation-based operators compare.
    """

    amount: float = 0.1
    lexi_threshold: float = 0.1
    lexi_rows: int = 100
    test_data: np.ndarray | None = None
    mask_mode: str = "persistent"
    signal: str = "pre_activation"


class SparsitySettings(NamedTuple):
    """What a schedule of kind ``"sparsity"`` reads (docs/baselines.md, Zhu & Gupta 2017).

    Built from a configuration by
    :func:`~minievo.pruning.targets.sparsity_settings`, with the defaults
    that depend on ``epochs`` filled in.

    Attributes
    ----------
    target : float
        :math:`s_f`, ``target_sparsity`` in [0, 1): the fraction of weights
        masked at the end of pruning.
    initial : float
        :math:`s_i`, ``initial_sparsity`` in [0, s_f].
    start : int
        :math:`t_0`, ``prune_start``: the first pruning epoch.
    every : int
        :math:`\\Delta t`, ``prune_every``: epochs between two pruning steps.
    steps : int
        :math:`n`, ``prune_steps``.
    epochs : int
        The run's ``epochs`` :math:`E` (the last epoch is ``E - 1``).
    rounds : int
        ``lottery_rounds`` :math:`R` (``lottery_ticket`` only).
    """

    target: float
    initial: float
    start: int
    every: int
    steps: int
    epochs: int
    rounds: int


#: ``operator(pair, rng, settings) -> (encoder mask, decoder mask)``.
OperatorFunction = Callable[..., tuple]
#: ``to_sparsity(pair, target, settings) -> (encoder mask, decoder mask)``.
SparsityFunction = Callable[..., tuple]
#: ``schedule(p, t, T, n_solutions) -> probability`` (kind ``"probability"``) or
#: ``schedule(t, sparsity_settings) -> target or None`` (kind ``"sparsity"``).
ScheduleFunction = Callable[..., float | None]
#: The two kinds of schedule: a probability of pruning now, or a sparsity target.
SCHEDULE_KINDS = ("probability", "sparsity")


class Operator(NamedTuple):
    """A registered pruning operator.

    ``needs_records``: the training loop records activation statistics while
    this operator is on (the VARIANCE operator reads them). ``published_name``:
    the name written in a published-format configuration.
    """

    name: str
    function: OperatorFunction
    published_name: str
    aliases: tuple[str, ...]
    needs_records: bool
    to_sparsity: SparsityFunction | None = None


class Schedule(NamedTuple):
    """A registered pruning schedule.

    ``kind``: ``"probability"`` (the papers' seven) or ``"sparsity"`` (a target,
    docs/baselines.md). ``rewinds``: after each pruning the training loop
    rewinds the surviving weights to an early epoch (``lottery_ticket``;
    canonical training only).
    """

    name: str
    function: ScheduleFunction
    kind: str = "probability"
    rewinds: bool = False


_OPERATORS: dict[str, Operator] = {}
_SCHEDULES: dict[str, Schedule] = {}


def _same_function(a: Callable, b: Callable) -> bool:
    """True when ``a`` and ``b`` are one definition (same file and name), loaded twice.

    A script that registers an operator and names itself as a plug-in is
    imported a second time under another module name; that is not a clash.
    """
    code_a, code_b = getattr(a, "__code__", None), getattr(b, "__code__", None)
    return a is b or (
        code_a is not None
        and code_b is not None
        and code_a.co_filename == code_b.co_filename
        and a.__qualname__ == b.__qualname__
    )


def _check_new_name(kind: str, name: str, function: Callable, taken: dict) -> None:
    if not isinstance(name, str) or not name.strip() or name != name.strip().lower():
        raise ValueError(
            f"{kind} name {name!r} is not allowed; allowed: a non-empty lower-case string"
        )
    if name in taken and not _same_function(taken[name].function, function):
        raise ValueError(
            f"{kind} {name!r} is already registered "
            f"(by {taken[name].function.__module__}); choose another name"
        )


def _check_aliases(name: str, names: tuple[str, ...], function: Callable) -> None:
    """Refuse an operator name or alias that another operator already answers to.

    The configuration resolves aliases (``activation`` -> ``variance``): a
    plug-in named like another operator's alias, or with an alias that is
    another operator's name or alias, would be shadowed or shadow it.
    """
    taken = {
        spelling: op
        for op in _OPERATORS.values()
        if op.name != name and not _same_function(op.function, function)
        for spelling in (op.name, *op.aliases)
    }
    for spelling in (name, *names):
        if spelling in taken:
            owner = taken[spelling]
            what = "the name" if spelling == owner.name else "an alias"
            raise ValueError(
                f"prune operator {name!r}: {spelling!r} is already {what} of operator "
                f"{owner.name!r} (by {owner.function.__module__}); choose another name"
            )


def register_operator(
    name: str,
    *,
    published_name: str | None = None,
    aliases: tuple[str, ...] = (),
    needs_records: bool = False,
    to_sparsity: SparsityFunction | None = None,
):
    """Decorator: register ``function(pair, rng, settings) -> (enc_mask, dec_mask)`` as ``name``.

    Parameters
    ----------
    name : str
        The name used in configurations, on the command line and in records.
    published_name : str, optional
        The published code's name for it (default ``name``); also accepted as
        an alias.
    aliases : tuple of str
        Other accepted spellings.
    needs_records : bool, default False
        Record activation statistics while training (as VARIANCE needs).
    to_sparsity : callable, optional
        ``to_sparsity(pair, target, settings) -> (enc_mask, dec_mask)``: masks
        that bring the fraction of masked weights of the pair to ``target``
        (never un-pruning). An operator with it can serve the schedules of
        kind ``"sparsity"`` (``magnitude`` does, docs/baselines.md).

    Returns
    -------
    The decorator; it returns the function unchanged.
    """

    def decorator(function: OperatorFunction) -> OperatorFunction:
        _check_new_name("prune operator", name, function, _OPERATORS)
        published = published_name or name
        names = tuple(dict.fromkeys(a for a in (*aliases, published) if a != name))
        _check_aliases(name, names, function)
        _OPERATORS[name] = Operator(
            name, function, published, names, bool(needs_records), to_sparsity
        )
        return function

    return decorator


def register_schedule(name: str, *, kind: str = "probability", rewinds: bool = False):
    """Decorator: register a schedule ``name`` of one of the two :data:`SCHEDULE_KINDS`.

    ``kind="probability"`` (default): ``function(p, t, T, n_solutions) ->
    probability``. ``t`` counts epochs from 0 and ``T`` is the final epoch
    (``epochs`` in canonical training, ``epochs - 1`` in the coevolution;
    ``T`` may be 0); ``n_solutions`` is the neighbourhood size. Return a
    probability in [0, 1]; the training loop draws against it.

    ``kind="sparsity"``: ``function(t, settings) -> target or None`` with
    :class:`SparsitySettings`; return the fraction of weights that must be
    masked after epoch ``t`` (in [0, 1)), or None at an epoch without pruning.
    Nothing is drawn. ``rewinds=True`` (``lottery_ticket``): after each
    pruning, canonical training rewinds the surviving weights
    (docs/baselines.md).
    """
    if kind not in SCHEDULE_KINDS:
        raise ValueError(
            f"schedule kind {kind!r} is not allowed; allowed: {', '.join(SCHEDULE_KINDS)}"
        )

    def decorator(function: ScheduleFunction) -> ScheduleFunction:
        _check_new_name("prune schedule", name, function, _SCHEDULES)
        _SCHEDULES[name] = Schedule(name, function, kind, bool(rewinds))
        return function

    return decorator


def operator_names() -> tuple[str, ...]:
    """Names of the registered operators, in registration order."""
    return tuple(_OPERATORS)


def sparsity_operator_names() -> tuple[str, ...]:
    """Names of the operators that can prune to a sparsity target (``to_sparsity``)."""
    return tuple(name for name, op in _OPERATORS.items() if op.to_sparsity is not None)


def operator_aliases() -> dict[str, str]:
    """Every accepted other spelling (published names included) -> operator name."""
    return {alias: op.name for op in _OPERATORS.values() for alias in op.aliases}


def schedule_names() -> tuple[str, ...]:
    """Names of the registered schedules, in registration order."""
    return tuple(_SCHEDULES)


def resolve_operator(name) -> str:
    """The registered name of ``name`` (``activation`` -> ``variance``, ...).

    Raises
    ------
    ValueError
        Naming the value, every allowed name (aliases included) and the closest.
    """
    aliases = operator_aliases()
    if isinstance(name, str):
        if name in _OPERATORS:
            return name
        if name in aliases:
            return aliases[name]
    allowed = operator_names() + tuple(aliases)
    hint = suggest(name.lower(), allowed) if isinstance(name, str) else ""
    raise ValueError(f"unknown prune method {name!r}; allowed: {', '.join(allowed)}{hint}")


def get_operator(name) -> Operator:
    """The registered :class:`Operator` called ``name`` (or one of its aliases)."""
    return _OPERATORS[resolve_operator(name)]


def get_schedule(name) -> Schedule:
    """The registered :class:`Schedule` called ``name``; ValueError naming the allowed ones."""
    if isinstance(name, str) and name in _SCHEDULES:
        return _SCHEDULES[name]
    hint = suggest(name, schedule_names()) if isinstance(name, str) else ""
    raise ValueError(
        f"unknown prune schedule {name!r}; allowed: {', '.join(schedule_names())}{hint}"
    )


class PluginError(ValueError):
    """A plug-in module or file named in ``plugins`` cannot be imported."""


def load_plugin(name: str):
    """Import the module ``name`` (dotted name) or the Python file ``name`` (``*.py``).

    A file is imported under a module name made from its resolved path, once
    per process. Its registrations (:func:`register_operator`,
    :func:`register_schedule`) take effect on import.

    Raises
    ------
    PluginError
        The module or file cannot be found or raises while importing.
    """
    try:
        if name.endswith(".py"):
            path = Path(name).expanduser().resolve()
            if not path.is_file():
                raise PluginError(f"plugin file {name!r} does not exist")
            digest = hashlib.sha1(str(path).encode()).hexdigest()[:10]
            module_name = f"minievo_plugin_{path.stem.replace('-', '_')}_{digest}"
            if module_name in sys.modules:
                return sys.modules[module_name]
            spec = importlib.util.spec_from_file_location(module_name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = module
            try:
                spec.loader.exec_module(module)
            except BaseException:
                del sys.modules[module_name]
                raise
            return module
        return importlib.import_module(name)
    except PluginError:
        raise
    except Exception as error:  # the user's module: report, do not crash deep inside
        raise PluginError(
            f"plugin {name!r} cannot be imported: {type(error).__name__}: {error}"
        ) from error


def load_plugins(names) -> None:
    """:func:`load_plugin` every entry of ``names``, in order."""
    for name in names:
        load_plugin(name)

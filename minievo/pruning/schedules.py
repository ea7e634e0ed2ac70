r"""When to prune: the seven schedules of the GECCO 2025 paper (docs/algorithm.md §5 "When").

A schedule maps a base probability ``p``, the current epoch ``t`` (counted from
0), the final epoch ``T`` and the number of solutions ``n`` of the
neighbourhood to the probability of pruning an individual now:

=============== ==============================================================
schedule        probability
=============== ==============================================================
``fixed``       :math:`p`
``increase``    :math:`p\,t/T`
``decrease``    :math:`1 - p\,t/T`
``population``  :math:`p\,t/(T n)`
``exponential`` :math:`p\,(1 - e^{-2t/T})`
``final_n``     :math:`0` while :math:`t < T - 0.25\,T`, then :math:`p`
``prune_after`` :math:`0` while :math:`t < T`, then :math:`p`
=============== ==============================================================

Which ``T`` the callers pass (this is the published code's convention, kept):

* canonical training (docs/algorithm.md §3) passes ``T = epochs``. Its epochs run
  ``t = 0 .. epochs - 1 < T``, so **``prune_after`` never fires there**, and
  ``increase`` / ``exponential`` never quite reach ``p``;
* the coevolution (docs/algorithm.md §4 step 6) passes ``T = epochs - 1``, so the last
  epoch has ``t = T`` and ``prune_after`` prunes exactly then.

The values are returned as computed, not clipped: with ``t <= T`` every
schedule already lies in ``[0, 1]`` (``decrease`` gives :math:`1 - p\,t/T \in
[1 - p, 1]`), and :func:`should_prune` compares a uniform draw against the
value, so a value outside ``[0, 1]`` would act like its clipped value anyway.
Note that ``decrease`` starts at 1: it prunes at every epoch at first,
whatever ``p`` is (the published code does the same).

``T = 0`` (a one-epoch coevolution) is the one case where the table divides
by zero (the published code raises ``ZeroDivisionError``). minievo reads the
ratio :math:`t/T` as the fraction of training done and takes it as 1 when
``T = 0``: the single epoch is the final one.
"""

from __future__ import annotations

import numbers

import numpy as np

from ..paper import pruning as paper_pruning
from .registry import get_schedule, register_schedule

#: The seven built-in schedules, in the order of docs/algorithm.md §5. Their formulas are
#: defined once, in the reading edition's table (:data:`minievo.paper.pruning.SCHEDULES`),
#: and registered below; plug-ins may add more (:func:`minievo.pruning.registry.schedule_names`).
SCHEDULES = tuple(paper_pruning.SCHEDULES)
for _name, _function in paper_pruning.SCHEDULES.items():
    register_schedule(_name)(_function)


def check_schedule(schedule: str) -> str:
    """Return ``schedule`` if it is a registered schedule, else raise ValueError.

    The message names the value, the allowed names and the closest one.
    """
    return get_schedule(schedule).name


def _check_probability(p) -> float:
    if isinstance(p, (bool, np.bool_)) or not isinstance(p, numbers.Real) or not 0.0 <= p <= 1.0:
        raise ValueError(f"prune probability must be a number in [0, 1], got {p!r}")
    return float(p)


def _check_count(value, name: str, minimum: int) -> int:
    if (
        isinstance(value, (bool, np.bool_))
        or not isinstance(value, numbers.Integral)
        or value < minimum
    ):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def prune_probability(schedule: str, p: float, t: int, T: int, n_solutions: int = 1) -> float:
    r"""Probability of pruning an individual at epoch ``t`` (docs/algorithm.md §5 "When").

    Parameters
    ----------
    schedule : str
        One of :data:`SCHEDULES`, or a schedule registered with
        :func:`~minievo.pruning.registry.register_schedule`.
    p : float
        Base probability, in [0, 1].
    t : int
        Current epoch, counted from 0.
    T : int
        Final epoch: ``epochs`` in canonical training, ``epochs - 1`` in the
        coevolution (module docstring), >= 0.
    n_solutions : int, default 1
        Solutions in the neighbourhood (``2 * radius + 1``); only the
        ``population`` schedule uses it.

    Returns
    -------
    float
        The table of the module docstring, e.g. for ``exponential``

        .. math:: p \, \bigl(1 - e^{-2 t / T}\bigr)

    Raises
    ------
    ValueError
        Unknown schedule, ``p`` outside [0, 1], negative ``t`` or ``T``,
        ``n_solutions < 1``.

    Examples
    --------
    >>> prune_probability("increase", 0.5, t=50, T=100)
    0.25
    >>> prune_probability("prune_after", 1.0, t=99, T=100)   # canonical: never
    0.0
    """
    schedule = check_schedule(schedule)
    if get_schedule(schedule).kind != "probability":
        raise ValueError(
            f"prune schedule {schedule!r} sets a sparsity target, not a probability "
            "(minievo.pruning.targets.scheduled_sparsity reads it)"
        )
    p = _check_probability(p)
    t = _check_count(t, "epoch t", 0)
    T = _check_count(T, "final epoch T", 0)
    n = _check_count(n_solutions, "n_solutions", 1)
    return float(get_schedule(schedule).function(p, t, T, n))


def should_prune(
    schedule: str, p: float, t: int, T: int, n_solutions: int, rng: np.random.Generator
) -> bool:
    """Draw whether to prune now: ``rng.random() < prune_probability(...)``.

    One uniform number is drawn on every call, even when the probability is
    0 or 1, so that the generator's stream does not depend on the schedule.
    """
    probability = prune_probability(schedule, p, t, T, n_solutions)
    return bool(rng.random() < probability)

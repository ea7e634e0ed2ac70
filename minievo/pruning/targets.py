r"""Schedules that set a sparsity target (Zhu & Gupta 2017; docs/baselines.md).

Zhu and Gupta, *To prune, or not to prune: exploring the efficacy of pruning
for model compression*, 2017, https://arxiv.org/abs/1710.01878. A schedule
of kind ``"sparsity"`` (:func:`~minievo.pruning.registry.register_schedule`)
gives, at epoch :math:`t`, the fraction :math:`s_t` of the autoencoder's
weights (biases not counted) that must be masked after the epoch, or nothing.
An operator that can prune to a target (``magnitude``) then masks the
smallest active weights until the fraction reaches :math:`s_t`; it never
un-prunes. Nothing is drawn, and masks must be persistent.

With :math:`s_f` = ``target_sparsity``, :math:`s_i` = ``initial_sparsity``,
:math:`t_0` = ``prune_start``, :math:`\Delta t` = ``prune_every`` and
:math:`n` = ``prune_steps``:

================== ==================================================================
schedule           targets
================== ==================================================================
``one_shot``       :math:`s_f` at :math:`t = t_0`; the epochs after it fine-tune
``iterative``      :math:`s_i + (s_f - s_i)\,(k + 1)/n` at :math:`t = t_0 + k\Delta t`,
                   :math:`k = 0, \dots, n - 1` (linear steps)
``gradual``        :math:`s_f + (s_i - s_f)\,(1 - k/n)^3` at :math:`t = t_0 + k\Delta t`,
                   :math:`k = 0, \dots, n` (Zhu & Gupta's cubic, with
                   :math:`(t - t_0)/(n\Delta t) = k/n`)
``lottery_ticket`` :math:`1 - (1 - s_f)^{j/(R-1)}` at the last epoch of round :math:`j`,
                   :math:`j = 1, \dots, R - 1` (:mod:`minievo.training.lottery`)
================== ==================================================================

Defaults that follow ``epochs`` :math:`E` (when the field is not given), so
that pruning ends by the middle of training and the second half fine-tunes:
:math:`t_0 = \lfloor E/10 \rfloor`,
:math:`n = \min(10, \max(1, \lfloor E/2 \rfloor - t_0))`,
:math:`\Delta t = \max(1, \lfloor (\lfloor E/2 \rfloor - t_0)/n \rfloor)`.
For :math:`E = 400`: :math:`t_0 = 40`, :math:`n = 10`, :math:`\Delta t = 16`,
the last step at epoch 200.
"""

from __future__ import annotations

from .operators import apply_prune_mask
from .registry import (
    SparsitySettings,
    get_operator,
    get_schedule,
    register_schedule,
    sparsity_operator_names,
)

#: The built-in sparsity schedules, in the order of the module docstring.
SPARSITY_SCHEDULES = ("one_shot", "iterative", "gradual", "lottery_ticket")


def _step(t: int, s: SparsitySettings) -> int | None:
    """:math:`k` with :math:`t = t_0 + k\\Delta t`, or None when ``t`` is not a step epoch."""
    if t < s.start or (t - s.start) % s.every:
        return None
    return (t - s.start) // s.every


@register_schedule("one_shot", kind="sparsity")
def one_shot(t: int, s: SparsitySettings) -> float | None:
    """:math:`s_f` at :math:`t_0`, nothing else: prune once, then fine-tune."""
    return s.target if t == s.start else None


@register_schedule("iterative", kind="sparsity")
def iterative(t: int, s: SparsitySettings) -> float | None:
    """:math:`s_i + (s_f - s_i)(k + 1)/n` at :math:`t_0 + k\\Delta t`, :math:`k < n`."""
    k = _step(t, s)
    if k is None or k >= s.steps:
        return None
    return s.initial + (s.target - s.initial) * (k + 1) / s.steps


@register_schedule("gradual", kind="sparsity")
def gradual(t: int, s: SparsitySettings) -> float | None:
    """Zhu & Gupta: :math:`s_f + (s_i - s_f)(1 - (t - t_0)/(n\\Delta t))^3` at :math:`t_0 + k\\Delta t`, :math:`k \\le n`."""
    k = _step(t, s)
    if k is None or k > s.steps:
        return None
    return s.target + (s.initial - s.target) * (1.0 - (t - s.start) / (s.steps * s.every)) ** 3


def round_length(epochs: int, rounds: int) -> int:
    """:math:`L = \\lfloor E / R \\rfloor`: epochs of each lottery round (the last takes the rest)."""
    return epochs // rounds


@register_schedule("lottery_ticket", kind="sparsity", rewinds=True)
def lottery_ticket(t: int, s: SparsitySettings) -> float | None:
    """:math:`1 - (1 - s_f)^{j/(R-1)}` at the end of round :math:`j < R`: each prunes the same
    fraction :math:`1 - (1 - s_f)^{1/(R-1)}` of the surviving weights (Frankle & Carbin 2019)."""
    L = round_length(s.epochs, s.rounds)
    if L < 1 or (t + 1) % L or not 1 <= (t + 1) // L <= s.rounds - 1:
        return None
    return 1.0 - (1.0 - s.target) ** (((t + 1) // L) / (s.rounds - 1))


def sparsity_settings(config) -> SparsitySettings:
    """The :class:`SparsitySettings` of a configuration, defaults that follow ``epochs`` filled in."""
    E = config.epochs
    start = E // 10 if config.prune_start is None else config.prune_start
    room = E // 2 - start
    steps = min(10, max(1, room)) if config.prune_steps is None else config.prune_steps
    every = max(1, room // steps) if config.prune_every is None else config.prune_every
    return SparsitySettings(
        config.target_sparsity, config.initial_sparsity, start, every, steps, E,
        config.lottery_rounds,
    )  # fmt: skip


def is_sparsity_schedule(name: str) -> bool:
    """True when the schedule ``name`` gives sparsity targets, not probabilities."""
    return get_schedule(name).kind == "sparsity"


def scheduled_sparsity(config, epoch: int) -> float | None:
    """The schedule's target at ``epoch`` (the epoch the training loop is in), or None."""
    return get_schedule(config.prune_schedule).function(epoch, sparsity_settings(config))


def final_target_epoch(config) -> int | None:
    """The first epoch before ``epochs`` at which the target reaches ``target_sparsity``, or None."""
    settings = sparsity_settings(config)
    schedule = get_schedule(config.prune_schedule).function
    for t in range(config.epochs):
        target = schedule(t, settings)
        if target is not None and target >= settings.target - 1e-12:
            return t
    return None


def prune_pair_to_sparsity(pair, method: str, target: float) -> None:
    """Mask the pair (persistent masks) until ``target`` of its weights are masked; in place."""
    operator = get_operator(method)
    if operator.to_sparsity is None:
        raise ValueError(
            f"prune method {method!r} cannot prune to a sparsity target; allowed: "
            + ", ".join(sparsity_operator_names())
        )
    enc_mask, dec_mask = operator.to_sparsity(pair, target, None)
    apply_prune_mask(pair.encoder, enc_mask, "persistent")
    apply_prune_mask(pair.decoder, dec_mask, "persistent")

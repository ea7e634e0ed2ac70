"""One pruning decision of a training loop, for both kinds of schedule (docs/algorithm.md §5, docs/baselines.md).

Canonical training calls it after every epoch (docs/algorithm.md §3 step 3),
the coevolution at every cell visit (§4 step 6), with the epoch the loop is
in: in the coevolution the schedule's epoch is the coevolution's epoch, and
each visited pair is pruned on its own (per cell, at its visit).

- a **probability** schedule (the papers' seven): one uniform draw from
  ``rng`` against :math:`p(t, T, n)`; when it falls below, the operator
  prunes (``prune_amount`` for ``random`` and ``magnitude``);
- a **sparsity** schedule (``one_shot``, ``iterative``, ``gradual``,
  ``lottery_ticket``): at an epoch where it gives a target :math:`s_t`, the
  operator masks the smallest active weights until :math:`s_t` of the pair's
  weights are masked (a pair already sparser stays as it is). Nothing is
  drawn, so ``rng`` is left untouched.
"""

from __future__ import annotations

import numpy as np

from ..network import Autoencoder
from ..pruning import (
    is_sparsity_schedule,
    prune_pair,
    prune_pair_to_sparsity,
    scheduled_sparsity,
    should_prune,
)


def prune_step(
    pair: Autoencoder,
    config,
    epoch: int,
    T: int,
    n_solutions: int,
    rng: np.random.Generator,
    test_data: np.ndarray,
) -> bool:
    """Prune ``pair`` in place if the schedule says so at ``epoch``; True if it was a pruning event.

    ``T`` and ``n_solutions`` are the probability schedules' final epoch and
    neighbourhood size (canonical: ``epochs`` and 1; coevolution:
    ``epochs - 1`` and ``2 * radius + 1``); sparsity schedules do not read them.
    """
    if not config.pruning_enabled:
        return False
    if is_sparsity_schedule(config.prune_schedule):
        target = scheduled_sparsity(config, epoch)
        if target is None:
            return False
        prune_pair_to_sparsity(pair, config.prune_method, target)
        return True
    if not should_prune(
        config.prune_schedule, config.prune_probability, epoch, T, n_solutions, rng
    ):
        return False
    prune_pair(
        pair,
        config.prune_method,
        rng,
        amount=config.prune_amount,
        lexi_threshold=config.lexi_threshold,
        test_data=test_data,
        lexi_rows=config.lexi_rows,
        mask_mode=config.mask_mode,
        signal=config.activation_signal,
        report=False,
    )
    return True

"""Which settings the sparsity schedules and the lottery ticket accept (docs/baselines.md).

Called by :class:`~minievo.experiments.config.Config` once every field has
its own value. Each refusal is one :class:`~minievo.errors.ConfigError` line
naming the bad value and what is allowed (exit status 2 on the command line):

- a schedule of kind ``"sparsity"`` needs an operator that prunes to a target
  (``magnitude``), ``mask_mode="persistent"`` (a regrown weight would undo the
  target) and a CPU backend (the lockstep GPU driver draws its own pruning);
- ``initial_sparsity <= target_sparsity``, and the schedule must reach
  ``target_sparsity`` before the last epoch;
- ``lottery_ticket`` (a schedule that rewinds) runs in canonical training
  only: in the coevolution individuals migrate between cells, so "its values
  at epoch k" has no owner; its rounds must be at least ``rewind_epoch + 1``
  epochs long.
"""

from __future__ import annotations

from ..errors import ConfigError
from ..pruning import get_schedule, sparsity_operator_names, sparsity_settings
from ..pruning.targets import final_target_epoch, round_length


def check_baselines(config) -> None:
    """Refuse, in one line, a sparsity schedule or lottery ticket the run cannot honour."""
    if config.prune_method is None:
        return
    schedule = get_schedule(config.prune_schedule)
    if schedule.kind != "sparsity":
        return
    name = schedule.name
    if config.prune_method not in sparsity_operator_names():
        raise ConfigError(
            f"prune_method: {config.prune_method!r} cannot prune to the sparsity target of "
            f"schedule {name!r}; allowed: {', '.join(sparsity_operator_names())}"
        )
    if config.mask_mode != "persistent":
        raise ConfigError(
            f"mask_mode: {config.mask_mode!r} would let pruned weights regrow past the "
            f"sparsity target of schedule {name!r}; allowed: persistent"
        )
    if config.backend == "cuda":
        raise ConfigError(
            f"backend: 'cuda' does not run the sparsity schedule {name!r}; allowed: numba, numpy"
        )
    if config.initial_sparsity > config.target_sparsity:
        raise ConfigError(
            f"initial_sparsity: {config.initial_sparsity!r} is above target_sparsity "
            f"{config.target_sparsity!r}; allowed: initial_sparsity <= target_sparsity"
        )
    if schedule.rewinds:
        _check_lottery(config, name)
    if final_target_epoch(config) is None:
        s = sparsity_settings(config)
        raise ConfigError(
            f"prune_schedule: {name!r} with prune_start={s.start}, prune_every={s.every}, "
            f"prune_steps={s.steps} does not reach target_sparsity {s.target} by the last "
            f"epoch ({config.epochs - 1}); allowed: an earlier prune_start, fewer prune_steps "
            "or a smaller prune_every"
        )


def _check_lottery(config, name: str) -> None:
    if not config.is_canonical:
        raise ConfigError(
            f"prune_schedule: {name!r} rewinds each network to its values at epoch "
            f"rewind_epoch, which no cell owns in {config.cell_evaluation!r} (individuals "
            "migrate between cells); allowed: cell_evaluation 'ann_canonical', or the "
            "schedules one_shot, iterative, gradual"
        )
    L = round_length(config.epochs, config.lottery_rounds)
    if config.rewind_epoch >= L:
        raise ConfigError(
            f"rewind_epoch: {config.rewind_epoch} is not inside the first lottery round "
            f"(epochs {config.epochs} // lottery_rounds {config.lottery_rounds} = {L}); "
            f"allowed: 0 <= rewind_epoch < {L}"
        )

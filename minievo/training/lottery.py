r"""The lottery ticket with rewinding, in canonical training (docs/baselines.md).

Frankle & Carbin, *The Lottery Ticket Hypothesis*, ICLR 2019,
https://arxiv.org/abs/1803.03635; rewinding to an early epoch instead of the
initialisation: Frankle, Dziugaite, Roy & Carbin, *Linear Mode Connectivity
and the Lottery Ticket Hypothesis*, ICML 2020, https://arxiv.org/abs/1912.05671.

The run's ``epochs`` :math:`E` are split into :math:`R` = ``lottery_rounds``
rounds of :math:`L = \lfloor E/R \rfloor` epochs (the last round takes the
rest). With :math:`k` = ``rewind_epoch`` (:math:`0 \le k < L`):

1. at the start of epoch :math:`k` (after :math:`k` epochs of training;
   :math:`k = 0` is the initialisation) every parameter :math:`\theta_k` is
   remembered;
2. at the last epoch of rounds :math:`j = 1, \dots, R-1` the ``lottery_ticket``
   schedule (:mod:`minievo.pruning.targets`) prunes the smallest surviving
   weights by global magnitude, to sparsity :math:`1 - (1 - s_f)^{j/(R-1)}`:
   the same fraction :math:`1 - (1 - s_f)^{1/(R-1)}` of the survivors each
   time, :math:`s_f` after the last;
3. then **rewind**: :math:`\theta \leftarrow \theta_k \odot m` (pruned entries
   0, the survivors, biases included, exactly their epoch-:math:`k` values);
   Adam's moments and step count are reset to zero (a fresh optimizer, as
   retraining starts a new one);
4. the learning-rate schedule is **replayed from epoch k**: round 1 at
   position :math:`\tau = t`, a later round :math:`j` at
   :math:`\tau = k + (t - (j-1)L)`, and
   :math:`\eta = \eta_0 \cdot 0.1^{\lfloor \tau / s \rfloor}`,
   :math:`s = \max(1, \lfloor L/4 \rfloor)`: each round is the canonical
   step schedule of a run of :math:`L` epochs, continued from where the
   rewound weights were.

The last round trains the final ticket at :math:`s_f` and is what the run
returns. The remembered :math:`\theta_k` goes into every checkpoint taken
after epoch :math:`k` starts, so a resumed run rewinds to the same values.
"""

from __future__ import annotations

import numpy as np

from ..network import Autoencoder
from ..paper.lipi_ae import step_learning_rate
from ..pruning import get_schedule
from ..pruning.targets import round_length

#: Checkpoint extra arrays holding :math:`\theta_k`, by network (no name ends in ``_params``,
#: which marks a network in a checkpoint).
REWIND_KEYS = {"encoder": "rewind_point_encoder", "decoder": "rewind_point_decoder"}


class LotteryTicket:
    """The rewind point and learning-rate replay of one canonical run (module docstring).

    ``enabled`` is False for every schedule that does not rewind; then every
    method is the plain canonical behaviour.
    """

    def __init__(self, config):
        self.enabled = config.pruning_enabled and get_schedule(config.prune_schedule).rewinds
        self.rewind_epoch = config.rewind_epoch
        self.rounds = config.lottery_rounds
        self.round = round_length(config.epochs, config.lottery_rounds)
        self.saved: dict[str, np.ndarray] | None = None  # name -> (n_params,) float32

    def position(self, epoch: int) -> int:
        """:math:`\\tau`: where the learning-rate schedule stands at ``epoch``."""
        j = min(epoch // self.round, self.rounds - 1)  # round index from 0
        return epoch if j == 0 else self.rewind_epoch + epoch - j * self.round

    def learning_rate(self, config, epoch: int) -> float:
        """:math:`\\eta_t` of canonical training, or the lottery's replayed schedule."""
        if not self.enabled:
            return step_learning_rate(config.learning_rate, epoch, config.epochs)
        return step_learning_rate(config.learning_rate, self.position(epoch), self.round)

    def remember(self, pair: Autoencoder, epoch: int) -> None:
        """At the start of epoch ``k``: keep :math:`\\theta_k` of both networks."""
        if self.enabled and epoch == self.rewind_epoch:
            self.saved = {
                "encoder": pair.encoder.params.copy(),
                "decoder": pair.decoder.params.copy(),
            }

    def rewind(self, pair: Autoencoder) -> None:
        """:math:`\\theta \\leftarrow \\theta_k \\odot m` and a fresh Adam, on both networks."""
        for name, net in (("encoder", pair.encoder), ("decoder", pair.decoder)):
            net.params[:] = self.saved[name] * net.mask  # (n_params,)
            net.reset_optimizer()

    def checkpoint_arrays(self) -> dict[str, np.ndarray]:
        """:math:`\\theta_k` for the checkpoint, once remembered (else nothing)."""
        if not self.enabled or self.saved is None:
            return {}
        return {REWIND_KEYS[name]: params for name, params in self.saved.items()}

    def restore(self, extra: dict) -> None:
        """Take :math:`\\theta_k` back from a checkpoint's extra arrays (if it holds them)."""
        if self.enabled and REWIND_KEYS["encoder"] in extra:
            self.saved = {name: np.array(extra[key]) for name, key in REWIND_KEYS.items()}

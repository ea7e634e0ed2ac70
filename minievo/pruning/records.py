r"""VARIANCE statistics read out of a network's running activation records (docs/algorithm.md §5).

What is recorded
----------------
While ``record=True``, every forward pass of a network (training steps and
evaluations alike) adds, for every layer ``l`` and every batch position ``b``,
the layer's output before the nonlinearity :math:`z_{bj}` to running sums
(:func:`minievo.kernels.reference.mlp_forward`)::

    rec_count[b]     += 1                       # (R,)
    rec_sum[b, j]    += z[b, j]                 # (R, n_nodes), float64
    rec_sumsq[b, j]  += z[b, j] ** 2

``MLP.records(l)`` cuts layer ``l``'s ``(R, n_out)`` block out of them.
Copies start with empty records (``MLP.copy``); the training loops clear them
after each pruning (canonical) or cell visit (coevolution).

The score of a node
-------------------
The published code stores every pass's ``(B, n_out)`` output and computes,
per node ``j``, the standard deviation over the passes at each batch
position and sums it over the positions. With :math:`n_b` passes recorded at
position ``b`` the same number follows from the running sums:

.. math::

    \bar z_{bj} = \frac{S_{bj}}{n_b}, \qquad
    \sigma_{bj} = \sqrt{\frac{Q_{bj} - n_b \bar z_{bj}^2}{n_b - \delta}}, \qquad
    s_j = \sum_{b:\, n_b > \delta} \sigma_{bj}

with :math:`S` = ``rec_sum``, :math:`Q` = ``rec_sumsq`` and
:math:`\delta` = ``ddof``. **``ddof = 0`` by default**: the published
``get_activation_variance`` (ALFA-group/lipizzaner-ae-prune,
``aes_lipi/anns/ann.py``) calls ``np.std`` on the stacked passes, whose
default is the population standard deviation (not ``torch.std``'s ``ddof=1``).

Batches of different sizes: a position that only some passes reached
(the last, smaller batch of an epoch) has its own :math:`n_b`; a position
never reached (:math:`n_b \le \delta`) contributes nothing. (The published
code stacks the passes into one array and cannot mix sizes.)

Keep probabilities
------------------
:func:`node_keep_probabilities` maps the scores of one layer to

.. math::

    t_j = \frac{(1 - |s_j|) - \min_k (1 - |s_k|)}{\max_k (1 - |s_k|) - \min_k (1 - |s_k|)}
        = \frac{\max_k s_k - s_j}{\max_k s_k - \min_k s_k}

so the node whose pre-activations vary the least gets :math:`t = 1` (always
kept) and the one that varies the most gets :math:`t = 0` (always pruned).
"""

from __future__ import annotations

import numbers

import numpy as np

from ..network import MLP
from ..paper import pruning as paper_pruning


class NoRecordsError(ValueError):
    """A network has no recorded forward passes to compute VARIANCE scores from.

    Train or evaluate it with ``record=True`` (and ``record_rows > 0``) first.
    """


def n_recorded_passes(net: MLP) -> int:
    """The most passes recorded at any batch position (0 when nothing was recorded)."""
    return int(net.rec_count.max()) if net.rec_count.size else 0


def _check_layer(net: MLP, layer) -> int:
    n_layers = net.spec.n_layers
    if (
        isinstance(layer, (bool, np.bool_))
        or not isinstance(layer, numbers.Integral)
        or not 0 <= layer < n_layers
    ):
        raise ValueError(f"layer must be an integer in [0, {n_layers}), got {layer!r}")
    return int(layer)


def position_std(net: MLP, layer: int, ddof: int = 0):
    r"""Per batch position standard deviation over the recorded passes.

    Returns
    -------
    std : ndarray, shape (R, n_out), float64
        :math:`\sigma_{bj}` of the module docstring; 0 at positions with
        :math:`n_b \le` ``ddof``.
    used : ndarray, shape (R,), bool
        Positions with :math:`n_b >` ``ddof`` (the ones that count).

    Raises
    ------
    NoRecordsError
        If no position has more than ``ddof`` recorded passes.
    """
    layer = _check_layer(net, layer)
    if isinstance(ddof, (bool, np.bool_)) or not isinstance(ddof, numbers.Integral) or ddof < 0:
        raise ValueError(f"ddof must be a non-negative integer, got {ddof!r}")
    count, total, total_sq = net.records(layer)  # (R,), (R, n_out), (R, n_out)
    used = count > ddof  # (R,)
    if not np.any(used):
        raise NoRecordsError(
            f"layer {layer} of {net!r} has no recorded passes to compute VARIANCE scores from "
            f"(most passes at one batch position: {n_recorded_passes(net)}, need > {ddof}; "
            f"record_rows={net.record_rows}): train or evaluate it with record=True first"
        )
    std = paper_pruning.position_std(count, total, total_sq, ddof)  # (R, n_out)
    return std, used


def variance_scores(net: MLP, layer: int, ddof: int = 0) -> np.ndarray:
    r"""VARIANCE score :math:`s_j` of every node of one layer (docs/algorithm.md §5).

    .. math:: s_j = \sum_b \operatorname{std}_{\text{passes}}\, z_{bj}

    Parameters
    ----------
    net : MLP
        With records (``record_rows > 0`` and at least one recorded pass).
    layer : int
        Layer index, ``0 <= layer < net.spec.n_layers``.
    ddof : int, default 0
        Delta degrees of freedom of the standard deviation; 0 as the published
        code's ``np.std`` (module docstring).

    Returns
    -------
    ndarray, shape (n_out,), float64
        Non-negative.

    Raises
    ------
    NoRecordsError
        If the network has no recorded passes (the caller forgot ``record=True``).
    """
    std, _ = position_std(net, layer, ddof)  # (R, n_out)
    return std.sum(axis=0)  # (n_out,)


def node_keep_probabilities(scores) -> np.ndarray:
    r"""Keep probability :math:`t_j` of every node from its score :math:`s_j`.

    .. math:: t_j = \operatorname{minmax}_k\bigl(1 - |s_k|\bigr)_j

    scaled to [0, 1] across the layer's nodes (module docstring).

    All scores equal: there is nothing to scale, and minievo does what the
    published ``ActivationPruningMethod`` does: :math:`t_j = 1 - |s_j|`
    unscaled, clipped to [0, 1]. The usual case is a layer without any
    variation (e.g. a single recorded pass, all :math:`s_j = 0`), which gives
    :math:`t_j = 1`: nothing is pruned. (Clipping changes no decision: the
    comparison is against a uniform draw in [0, 1).)

    Parameters
    ----------
    scores : array_like, shape (n_out,)

    Returns
    -------
    ndarray, shape (n_out,), float64, in [0, 1]
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 1 or scores.size == 0:
        raise ValueError(f"scores must be a non-empty 1-D array, got shape {scores.shape}")
    if not np.all(np.isfinite(scores)):
        raise ValueError("scores must be finite")
    return paper_pruning.keep_probabilities(scores)  # (n_out,)

r"""Global magnitude pruning, the standard baseline (Han et al. 2015; docs/baselines.md).

Han, Pool, Tran, Dally, *Learning both Weights and Connections for Efficient
Neural Networks*, NeurIPS 2015, https://arxiv.org/abs/1506.02626: prune the
weights of smallest absolute value, then train on.

One threshold for the whole autoencoder: the candidates are the entries of
every **weight matrix** of the encoder and of the decoder together (all of
``W_l`` of both networks, in one ranking). **Biases are never pruned** (a
bias is one number per node; magnitude pruning in the literature ranks the
weights of connections). Let :math:`w` be the candidates' values and
:math:`k` the number to mask; the operator masks the :math:`k` candidates of
smallest :math:`|w|`:

.. math:: \text{pruned} = \operatorname{argsort}_{\text{stable}}(|w|)[:k]

Ties (equal :math:`|w|`) are broken by position: the stable sort keeps the
candidates in layout order (encoder before decoder, layer by layer, each
``(n_out, n_in)`` matrix row-major), so among equal magnitudes the earliest
entries go first. Nothing is drawn: the operator is deterministic.

Two ways to ask for :math:`k`:

* with a probability schedule (the papers' seven, docs/algorithm.md §5 "When"),
  each firing masks :math:`k = \operatorname{round}(a \cdot m)` with
  :math:`a` = ``prune_amount`` and :math:`m` the weights still active
  (``mask_mode="persistent"``) or all weights (``"regrow"``: the mask stays
  all ones and exact zeros are the smallest magnitudes, as for ``random``);
* with a sparsity schedule (:mod:`~minievo.pruning.targets`), it masks until
  the fraction of masked weights reaches the target :math:`s`:
  :math:`k = \max(0, \operatorname{round}(s \cdot W) - \text{masked})` among
  the active weights, :math:`W` the number of weights. It never un-prunes.

``round`` halves to even (Python's, as the ``random`` operator).
"""

from __future__ import annotations

import numpy as np

from ..network import MLP, Autoencoder
from .registry import PruneSettings, register_operator


def weight_positions(net: MLP) -> np.ndarray:
    """Indices into ``net.params`` of every weight-matrix entry, in layout order; shape ``(W,)``."""
    parts = []
    for l in range(net.spec.n_layers):
        n_in, n_out, w_off = (int(v) for v in net.layout[l, :3])
        parts.append(np.arange(w_off, w_off + n_out * n_in))  # (n_out * n_in,)
    return np.concatenate(parts)


def n_weights(pair: Autoencoder) -> int:
    """:math:`W`: entries of all weight matrices of the encoder and the decoder (no biases)."""
    return int(weight_positions(pair.encoder).size + weight_positions(pair.decoder).size)


def n_masked_weights(pair: Autoencoder) -> int:
    """Weights of the pair whose mask is 0 (biases not counted)."""
    return sum(
        int(np.count_nonzero(net.mask[weight_positions(net)] == 0))
        for net in (pair.encoder, pair.decoder)
    )


def masked_weight_fraction(pair: Autoencoder) -> float:
    """Fraction of the pair's weights whose mask is 0: the sparsity the targets refer to."""
    return n_masked_weights(pair) / n_weights(pair)


def smallest_magnitude_masks(pair: Autoencoder, k: int, *, active_only: bool):
    """Masks that prune the ``k`` candidate weights of smallest ``|w|``, one global ranking.

    Parameters
    ----------
    pair : Autoencoder
        Read only.
    k : int
        How many to prune, clipped to the number of candidates.
    active_only : bool
        Candidates are the weights whose mask is 1 (persistent masks), or all
        weights.

    Returns
    -------
    (encoder mask, decoder mask) : float32 ndarrays of shape (n_params,)
        0 on the pruned weights, 1 elsewhere (biases always 1).
    """
    nets = (pair.encoder, pair.decoder)
    positions = [weight_positions(net) for net in nets]  # (W_enc,), (W_dec,)
    if active_only:
        positions = [p[net.mask[p] != 0] for net, p in zip(nets, positions)]
    values = np.concatenate([np.abs(net.params[p]) for net, p in zip(nets, positions)])  # (m,)
    owner = np.repeat([0, 1], [positions[0].size, positions[1].size])  # (m,) 0 enc, 1 dec
    flat = np.concatenate(positions)  # (m,) index into the owner's params
    chosen = np.argsort(values, kind="stable")[: max(0, min(int(k), values.size))]  # (k,)
    masks = [np.ones(net.n_params, dtype=np.float32) for net in nets]
    for j in (0, 1):
        masks[j][flat[chosen[owner[chosen] == j]]] = 0.0
    return masks[0], masks[1]


def magnitude_to_sparsity(pair: Autoencoder, target: float, settings: PruneSettings = None):
    r"""Masks that bring the masked fraction of the pair's weights to ``target`` (never lower).

    :math:`k = \max(0, \operatorname{round}(s \cdot W) - \text{masked})` smallest
    active weights; see the module docstring.
    """
    k = round(target * n_weights(pair)) - n_masked_weights(pair)
    return smallest_magnitude_masks(pair, k, active_only=True)


@register_operator("magnitude", to_sparsity=magnitude_to_sparsity)
def magnitude_pair_masks(pair: Autoencoder, rng: np.random.Generator, settings: PruneSettings):
    """Global magnitude pruning of ``round(amount * m)`` weights (module docstring); draws nothing."""
    persistent = settings.mask_mode == "persistent"
    m = n_weights(pair) - (n_masked_weights(pair) if persistent else 0)  # candidates
    return smallest_magnitude_masks(pair, round(settings.amount * m), active_only=persistent)

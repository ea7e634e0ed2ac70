r"""How sparse is a (pruned) network, and which nodes could be removed outright.

Pruning masks single entries; this module counts what is left and asks a
structural question: which *nodes* no longer do anything, so that a smaller
dense network would compute the same function?

Definitions
-----------
An entry is *pruned* when its mask is 0 (persistent mode) and *zero* when its
value is exactly 0.0. Pruned entries are always zero; in ``regrow`` mode the
mask stays all ones and the zeros are what the published code reports.
:func:`dead_nodes` and :func:`structurally_removable` work on zeros, so they
describe both modes (in ``regrow`` mode, at this moment only: training may
revive an entry).

Think of the autoencoder as one chain of layers: encoder layers, then decoder
layers, the encoder's last layer (the code) feeding the decoder's first. A
*node* is an output of a layer. Node ``j`` of layer ``l`` is **dead** when

1. *no input*: every weight entering it (row ``j`` of :math:`W^{(l)}`) is zero;
   it then outputs the constant :math:`f(b_j)`, or
2. *no output*: every weight leaving it (column ``j`` of the next layer's
   weight) is zero; nothing downstream sees it.

The decoder's last layer (the reconstruction) has no dead nodes: its nodes are
the output. For the variational kind, encoder output ``k`` (mean ``k < z`` or
log-variance ``k - z``) reaches the decoder only through code ``k mod z``, so
it is dead when column ``k mod z`` of the decoder's first weight is zero;
criterion 1 does not apply to it (a constant mean still shapes the sample).
The criteria are applied once, not iterated: a node whose only inputs come
from dead nodes is not counted (iterating would find more).
:func:`minievo.pruning.compact.compact` iterates them to a fixed point and
builds the smaller network (``minievo compact``).

Removing a dead node deletes its weight row, its bias and its outgoing weight
column; for a node without input, its constant contribution
:math:`f(b_j)\,W^{(l+1)}_{:,j}` is first folded into the next layer's bias,
so the function is unchanged. :func:`structurally_removable` counts the
parameters so deleted from the dense network, each once.
"""

from __future__ import annotations

import numpy as np

from ..network import MLP, Autoencoder


def sparsity_report(net: MLP) -> list:
    r"""Per-layer counts of pruned and zero entries.

    Returns
    -------
    list of dict, one per layer, with keys
        ``layer`` (index), ``shape`` (``(n_out, n_in)``), ``n_weights``,
        ``n_biases``, ``pruned_weights``, ``pruned_biases`` (mask 0),
        ``zero_weights``, ``zero_biases`` (value exactly 0.0),
        ``sparsity`` (pruned fraction of the layer's weights and biases) and
        ``zero_fraction`` (zero fraction of them).
    """
    report = []
    for l in range(net.spec.n_layers):
        w_mask, b_mask = net.weight(l, net.mask), net.bias(l, net.mask)  # (n_out, n_in), (n_out,)
        w, b = net.weight(l), net.bias(l)
        n_weights, n_biases = w.size, b.size
        pruned_w = int(n_weights - np.count_nonzero(w_mask))
        pruned_b = int(n_biases - np.count_nonzero(b_mask))
        zero_w = int(n_weights - np.count_nonzero(w))
        zero_b = int(n_biases - np.count_nonzero(b))
        total = n_weights + n_biases
        report.append(
            {
                "layer": l,
                "shape": tuple(w.shape),
                "n_weights": n_weights,
                "n_biases": n_biases,
                "pruned_weights": pruned_w,
                "pruned_biases": pruned_b,
                "zero_weights": zero_w,
                "zero_biases": zero_b,
                "sparsity": (pruned_w + pruned_b) / total,
                "zero_fraction": (zero_w + zero_b) / total,
            }
        )
    return report


def _chain(pair: Autoencoder):
    """The layers in forward order: ``(network name, net, layer index)``."""
    for name, net in (("encoder", pair.encoder), ("decoder", pair.decoder)):
        for l in range(net.spec.n_layers):
            yield name, net, l


def _outgoing_zero(pair: Autoencoder, name: str, net: MLP, l: int) -> np.ndarray:
    """``(n_out,)`` bool: every weight leaving node ``j`` of this layer is zero."""
    if l + 1 < net.spec.n_layers:
        return ~np.any(net.weight(l + 1) != 0.0, axis=0)  # columns of (n_next, n_out)
    if name == "decoder":
        return np.zeros(net.spec.n_out, dtype=bool)  # reconstruction: never dead
    columns_zero = ~np.any(pair.decoder.weight(0) != 0.0, axis=0)  # (latent,)
    code = np.arange(net.spec.n_out) % pair.latent  # encoder output -> code column
    return columns_zero[code]


def dead_nodes(pair: Autoencoder) -> dict:
    """Dead nodes of every layer (module docstring).

    Returns
    -------
    dict
        ``{"encoder": [...], "decoder": [...]}``: per layer, the sorted
        indices (int64 array) of its dead nodes. The decoder's last entry is
        always empty.
    """
    dead = {"encoder": [], "decoder": []}
    for name, net, l in _chain(pair):
        no_output = _outgoing_zero(pair, name, net, l)  # (n_out,)
        is_output = name == "decoder" and l == net.spec.n_layers - 1
        is_variational_head = (
            pair.kind == "variational" and name == "encoder" and l == net.spec.n_layers - 1
        )
        if is_output or is_variational_head:
            no_input = np.zeros_like(no_output)
        else:
            no_input = ~np.any(net.weight(l) != 0.0, axis=1)  # rows of (n_out, n_in)
        dead[name].append(np.flatnonzero(no_input | no_output))
    return dead


def removable_masks(pair: Autoencoder) -> tuple[np.ndarray, np.ndarray]:
    """Which parameters disappear when the dead nodes are removed.

    Returns
    -------
    (encoder, decoder) : bool ndarrays of shape (n_params,)
        True on the weight row, bias and outgoing weight column of every dead node.
    """
    dead = dead_nodes(pair)
    marks = {
        "encoder": np.zeros(pair.encoder.n_params, dtype=bool),
        "decoder": np.zeros(pair.decoder.n_params, dtype=bool),
    }
    for name, net, l in _chain(pair):
        nodes = dead[name][l]
        if nodes.size == 0:
            continue
        net.weight(l, marks[name])[nodes, :] = True  # incoming rows
        net.bias(l, marks[name])[nodes] = True
        if l + 1 < net.spec.n_layers:
            net.weight(l + 1, marks[name])[:, nodes] = True  # outgoing columns
        elif name == "encoder":
            columns = np.unique(nodes % pair.latent)
            pair.decoder.weight(0, marks["decoder"])[:, columns] = True
    return marks["encoder"], marks["decoder"]


def structurally_removable(pair: Autoencoder) -> int:
    """Parameters of the dense networks deleted by removing the dead nodes (each counted once)."""
    enc, dec = removable_masks(pair)
    return int(np.count_nonzero(enc) + np.count_nonzero(dec))


def format_report(pair: Autoencoder) -> str:
    """A printable table: per-layer pruned/zero counts, dead nodes, removable parameters."""
    dead = dead_nodes(pair)
    enc_removable, dec_removable = removable_masks(pair)
    still_nonzero = int(
        np.count_nonzero(enc_removable & (pair.encoder.params != 0.0))
        + np.count_nonzero(dec_removable & (pair.decoder.params != 0.0))
    )
    header = (
        f"{'network':<8} {'layer':>5} {'shape':>11} {'masked W':>15} {'masked b':>9} "
        f"{'zero W+b':>9} {'zero':>8} {'dead nodes':>10}"
    )
    lines = [header, "-" * len(header)]
    for name, net in (("encoder", pair.encoder), ("decoder", pair.decoder)):
        for row in sparsity_report(net):
            l = row["layer"]
            shape = f"{row['shape'][0]}x{row['shape'][1]}"
            lines.append(
                f"{name:<8} {l:>5} {shape:>11} "
                f"{row['pruned_weights']:>7}/{row['n_weights']:<7} "
                f"{row['pruned_biases']:>4}/{row['n_biases']:<4} "
                f"{row['zero_weights'] + row['zero_biases']:>9} "
                f"{row['zero_fraction']:>8.1%} {dead[name][l].size:>10}"
            )
        lines.append(
            f"{name:<8} total: {net.n_params} parameters; "
            f"n_zero {net.n_zero} (exactly 0 now), "
            f"n_active {net.n_params - net.n_zero} (non-zero now), "
            f"masked {net.n_pruned} (n_pruned with persistent masks), "
            f"pruned at last pruning event {net.n_pruned_at_last_prune} "
            f"(n_pruned with regrow masks)"
        )
    lines.append(
        f"structurally removable parameters: {structurally_removable(pair)} "
        f"({still_nonzero} of them non-zero)"
    )
    return "\n".join(lines)

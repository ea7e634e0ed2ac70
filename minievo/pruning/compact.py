r"""Compaction: a pruned autoencoder turned into a smaller dense network.

A zeroed weight in a dense matrix costs as much as any other. This module
removes what pruning made useless and returns the same function as a chain of
smaller dense layers (docs/algorithm.md §6, structural capacity).

The chain
---------
The function compacted is the reconstruction, encoder then decoder, as the
records' ``test_loss`` computes it: layers :math:`1 … L` with weights
:math:`W^{(l)}` ``(n_l, n_{l-1})``, biases :math:`b^{(l)}` and activations
:math:`f^{(l)}`. For the variational kind the code is the posterior mean
(:func:`~minievo.kernels.reference.reconstruction_l1`), so only the mean head
of the encoder's last layer is in the chain; the log-variance head enters only
the KL term and the sampling of training, and is dropped.

Rules, applied to the hidden and code units (input and output widths stay),
repeated until nothing changes (removing one unit can kill another):

1. *no input*: every weight entering unit ``j`` of layer ``l`` is zero, so it
   computes the constant :math:`c_j = f^{(l)}(b^{(l)}_j)`. Fold it,
   :math:`b^{(l+1)} \leftarrow b^{(l+1)} + c_j W^{(l+1)}_{:,j}`, and remove
   the unit (its row and bias, the column of the next layer);
2. *no output*: every weight leaving it (column ``j`` of :math:`W^{(l+1)}`) is
   zero: nothing downstream sees it; remove it.

Folding is done in float64 and rounded once, so the compact network's outputs
equal the masked network's to float32 rounding where a bias was folded.

The network compacted is made of the **current** weights (exact zeros): with
the papers' default ``regrow`` masks, pruned weights can grow back, so this is
what the network costs now, not what was pruned at the last event.
:func:`~minievo.pruning.sparsity.dead_nodes` is the single, un-iterated pass
of rules 1 and 2 on the two networks as trained (log-variance head included).

Cost: parameters ``sum_l n_l n_{l-1} + n_l``; FLOPs per example
``sum_l 2 n_l n_{l-1} + n_l`` (one multiply and one add per weight, one add
per bias; activations not counted).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..network import Autoencoder

#: The activations a compact layer can have, as plain NumPy functions.
ACTIVATION_FUNCTIONS = {
    "identity": lambda z: z,
    "relu": lambda z: np.maximum(z, 0.0),
    "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
}


def layer_cost(n_in: int, n_out: int) -> tuple[int, int]:
    """``(parameters, FLOPs per example)`` of one dense layer ``n_in -> n_out``."""
    return n_out * n_in + n_out, 2 * n_out * n_in + n_out


@dataclass
class CompactAutoencoder:
    """A chain of dense layers computing an autoencoder's reconstruction.

    ``weights[l]`` ``(n_l, n_{l-1})`` float32, ``biases[l]`` ``(n_l,)``
    float32, ``activations[l]`` a name of :data:`ACTIVATION_FUNCTIONS`;
    ``n_encoder`` of the layers are the encoder's (the code is the output of
    layer ``n_encoder - 1``). ``kind`` is the source autoencoder's kind.
    """

    weights: list
    biases: list
    activations: list
    n_encoder: int
    kind: str = "plain"

    @property
    def widths(self) -> tuple:
        """``(n_0, n_1, …, n_L)``: input, every layer's width."""
        return (self.weights[0].shape[1], *(w.shape[0] for w in self.weights))

    @property
    def n_params(self) -> int:
        return sum(layer_cost(w.shape[1], w.shape[0])[0] for w in self.weights)

    @property
    def flops(self) -> int:
        """FLOPs of one example's forward pass (module docstring)."""
        return sum(layer_cost(w.shape[1], w.shape[0])[1] for w in self.weights)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Reconstruction of ``x (B, n_0)``: ``(B, n_L)`` float32."""
        a = np.asarray(x, dtype=np.float32)
        for w, b, act in zip(self.weights, self.biases, self.activations):
            a = ACTIVATION_FUNCTIONS[act](a @ w.T + b)  # (B, n_l)
        return a

    def save(self, path) -> None:
        """Plain arrays: ``W0, b0, W1, b1, …``, ``activations``, ``n_encoder``, ``kind``."""
        from ..io import atomic_savez

        arrays = {}
        for l, (w, b) in enumerate(zip(self.weights, self.biases)):
            arrays[f"W{l}"], arrays[f"b{l}"] = w, b
        atomic_savez(
            path,
            **arrays,
            activations=np.asarray(self.activations),
            n_encoder=np.asarray(self.n_encoder, dtype=np.int64),
            kind=np.asarray(self.kind),
        )

    @classmethod
    def load(cls, path) -> CompactAutoencoder:
        from ..io import load_npz

        state = load_npz(path)
        acts = [str(a) for a in state["activations"]]
        weights = [np.asarray(state[f"W{l}"], dtype=np.float32) for l in range(len(acts))]
        biases = [np.asarray(state[f"b{l}"], dtype=np.float32) for l in range(len(acts))]
        return cls(weights, biases, acts, int(state["n_encoder"]), str(state["kind"]))


def masked_chain(pair: Autoencoder) -> CompactAutoencoder:
    """The masked network as a chain (copies of the current weights, nothing removed)."""
    weights, biases, acts = [], [], []
    for net in (pair.encoder, pair.decoder):
        for l in range(net.spec.n_layers):
            weights.append(net.weight(l).copy())  # (n_out, n_in)
            biases.append(net.bias(l).copy())  # (n_out,)
            acts.append(net.spec.activations[l])
    if pair.kind == "variational":  # the code is the mean head (module docstring)
        last = pair.encoder.spec.n_layers - 1
        weights[last] = weights[last][: pair.latent].copy()
        biases[last] = biases[last][: pair.latent].copy()
    return CompactAutoencoder(weights, biases, acts, pair.encoder.spec.n_layers, pair.kind)


def _remove_units(weights, biases, l: int, keep: np.ndarray) -> None:
    """Keep only units ``keep`` (bool ``(n_l,)``) of layer ``l``: rows of ``W^l``, ``b^l``,
    columns of ``W^{l+1}``."""
    weights[l], biases[l] = weights[l][keep], biases[l][keep]
    weights[l + 1] = weights[l + 1][:, keep]


def _compaction_pass(weights, biases, acts) -> bool:
    """One sweep of rules 1 and 2 over every hidden layer; whether anything was removed."""
    changed = False
    for l in range(len(weights) - 1):
        no_input = ~np.any(weights[l] != 0.0, axis=1)  # (n_l,)
        if np.any(no_input):
            constants = ACTIVATION_FUNCTIONS[acts[l]](biases[l][no_input])  # (k,) float64
            biases[l + 1] = biases[l + 1] + weights[l + 1][:, no_input] @ constants
            _remove_units(weights, biases, l, ~no_input)
            changed = True
        no_output = ~np.any(weights[l + 1] != 0.0, axis=0)  # (n_l,)
        if np.any(no_output):
            _remove_units(weights, biases, l, ~no_output)
            changed = True
    return changed


def compact(pair: Autoencoder) -> CompactAutoencoder:
    """The smallest dense chain the rules of the module docstring reach, same outputs."""
    chain = masked_chain(pair)
    weights = [w.astype(np.float64) for w in chain.weights]
    biases = [b.astype(np.float64) for b in chain.biases]
    while _compaction_pass(weights, biases, chain.activations):
        pass
    chain.weights = [w.astype(np.float32) for w in weights]
    chain.biases = [b.astype(np.float32) for b in biases]
    return chain


def structural_capacity(pair: Autoencoder) -> dict:
    """What a record keeps of the compact network (docs/algorithm.md §6).

    ``live_units``: widths of the compact chain's hidden and code layers
    (list of int, encoder then decoder); ``compact_params`` and
    ``compact_flops``: its parameters and FLOPs per example.
    """
    small = compact(pair)
    return {
        "live_units": list(small.widths[1:-1]),
        "compact_params": small.n_params,
        "compact_flops": small.flops,
    }

r"""What to prune: the three pruning operators of the GECCO 2025 paper (docs/algorithm.md §5 "What").

Each operator looks at one network (or one autoencoder) and returns a new
0/1 float32 vector with the layout of ``net.params``: 0 where the operator
prunes, 1 where it keeps. Operators never modify a network;
:func:`apply_prune_mask` and :func:`prune_pair` do that. Every operator covers
every linear layer, weight matrix *and* bias vector, of the encoder and the
decoder.

``random``
    Per tensor (each layer's weight matrix, each bias vector), mask
    :math:`k = \operatorname{round}(\text{amount}\cdot n)` entries drawn
    uniformly without replacement (``round`` halves to even, as PyTorch's
    ``prune.random_unstructured``). ``mask_mode="regrow"`` (published):
    :math:`n` is the whole tensor, entries already zero may be drawn again.
    ``mask_mode="persistent"``: :math:`n` counts the entries still active and
    the draw is among them, as iterative pruning in PyTorch does.

``variance`` (published ``activation``)
    Per layer, the keep probability :math:`t_j` of node ``j`` from the
    recorded pre-activations (:mod:`minievo.pruning.records`). Each weight
    entering node ``j`` (row ``j`` of the ``(n_out, n_in)`` weight) and the
    bias ``j`` is kept when

    .. math:: t_j > u, \qquad u \sim \mathcal U[0, 1)

    with **one independent draw per entry**, as the published
    ``ActivationPruningMethod.compute_mask`` does (``np.random.random`` of the
    weight-shaped tensor of repeated node values, then of the bias-shaped one).
    A node is thus thinned, not removed whole, except the most varying node of
    each layer (:math:`t = 0`: all its entries pruned) and the least varying
    one (:math:`t = 1`: untouched). ``amount`` has no effect.

``conjunctive`` (published ``lexicase``)
    Forward each of ``lexi_rows`` test rows alone. In each layer, min-max
    scale the row's vector across the layer's nodes; node ``j`` *passes* the
    row when its scaled value is below ``threshold``. A row whose values are
    all equal passes no node (the published 0/0 gives NaN, and NaN < x is
    false). Lexicase filter:

    .. code-block:: text

        remaining = nodes passing row 1
        for row 2, 3, ...:
            if |remaining| <= 1: stop
            remaining = remaining AND nodes passing this row
        prune every node in remaining (all entering weights and its bias)

    as the published ``lexicase_select_nodes``: the filter may end with 0
    nodes (nothing pruned), with 1 node (pruned), or run out of rows with
    several nodes left (all pruned). ``amount`` has no effect.

Which values the activation operators look at
---------------------------------------------
The papers (docs/algorithm.md §5) say "the output before the nonlinearity". The published code
records with a forward hook on each ``nn.Linear`` and stores ``o.detach()``,
which shares memory with ``o``; the next module is ``nn.ReLU(inplace=True)``
in every hidden layer of its networks, so the stored values are overwritten
with :math:`\max(z, 0)` before they are read (a known PyTorch behaviour,
pytorch/pytorch#95617). Only the decoder's sigmoid output layer keeps
:math:`z`. :func:`conjunctive_masks` offers both with ``signal``:
``"pre_activation"`` (the papers' prose, the default) and ``"hook_output"`` (what the
published code actually compared). The VARIANCE operator reads the kernels'
records, which hold :math:`z` (the papers' prose, docs/algorithm.md §5).

Mask modes (docs/algorithm.md §5 "Mask semantics")
-------------------------------------
``persistent`` (minievo's default)
    new mask = old mask :math:`\odot` operator mask, set with
    :meth:`MLP.apply_mask`, which zeroes the pruned parameters and their Adam
    moments; a pruned entry gets no further update, the pruned count only grows.
``regrow`` (published)
    the chosen parameters are zeroed once (``params *= mask``), ``net.mask``
    and the Adam moments are left alone, so training can grow them back; the
    reported pruned count is the number of exact zeros at the network's last
    pruning time (``MLP.n_pruned_at_last_prune``), carried by copies and
    reported in every later record even after the zeros regrow, as published.
"""

from __future__ import annotations

import numbers
from typing import NamedTuple

import numpy as np

from ..data import sample_rows
from ..network import ACT, MLP, RECORD_SIGNALS, RELU, SIGMOID, Autoencoder
from ..paper import pruning as paper_pruning
from .records import node_keep_probabilities, variance_scores
from .registry import PruneSettings, get_operator, register_operator, resolve_operator
from .sparsity import sparsity_report

#: Canonical operator names (docs/algorithm.md §5).
METHODS = ("random", "variance", "conjunctive")
#: Published names -> canonical names.
ALIASES = {"activation": "variance", "lexicase": "conjunctive"}
#: See the module docstring.
MASK_MODES = ("persistent", "regrow")
#: Values the CONJUNCTIVE filter compares (module docstring): the network's record signals.
SIGNALS = RECORD_SIGNALS


# --------------------------------------------------------------------------
# Argument checks
# --------------------------------------------------------------------------
def resolve_method(name: str) -> str:
    """Canonical operator name of ``name`` (``activation`` -> ``variance``, ...).

    Reads the registry (:func:`~minievo.pruning.registry.resolve_operator`),
    so operators registered by plug-ins are known too.

    Raises
    ------
    ValueError
        Naming the value, every allowed name (aliases included) and the
        closest one.
    """
    return resolve_operator(name)


def _check_fraction(value, name: str) -> float:
    if (
        isinstance(value, (bool, np.bool_))
        or not isinstance(value, numbers.Real)
        or not 0.0 <= value <= 1.0
    ):
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")
    return float(value)


def _check_choice(value, name: str, allowed) -> str:
    if value not in allowed:
        raise ValueError(f"unknown {name} {value!r}; allowed: {', '.join(allowed)}")
    return value


# --------------------------------------------------------------------------
# random
# --------------------------------------------------------------------------
def _tensor_slices(net: MLP):
    """``(start, stop)`` of every weight matrix and bias vector, in layer order."""
    for l in range(net.spec.n_layers):
        n_in, n_out, w_off, b_off = (int(v) for v in net.layout[l, :4])
        yield w_off, w_off + n_out * n_in
        yield b_off, b_off + n_out


def random_mask(net: MLP, amount: float, rng: np.random.Generator, *, mask_mode: str) -> np.ndarray:
    r"""RANDOM operator: mask ``round(amount * n)`` entries of every tensor.

    .. math:: k = \operatorname{round}(\text{amount} \cdot n), \qquad
              n = \begin{cases} \text{entries of the tensor} & \text{regrow} \\
                                \text{active entries of the tensor} & \text{persistent}
                  \end{cases}

    Parameters
    ----------
    net : MLP
    amount : float
        Fraction in [0, 1].
    rng : numpy.random.Generator
        Tensors are drawn in layout order (layer 0 weight, layer 0 bias, ...).
    mask_mode : {"persistent", "regrow"}

    Returns
    -------
    ndarray, shape (n_params,), float32
        0 at the ``k`` drawn entries of every tensor, 1 elsewhere.
    """
    amount = _check_fraction(amount, "prune amount")
    _check_choice(mask_mode, "mask_mode", MASK_MODES)
    mask = np.ones(net.n_params, dtype=np.float32)  # (P,)
    for start, stop in _tensor_slices(net):
        # the draw is among the active entries: all of them in regrow mode
        active = net.mask[start:stop] if mask_mode == "persistent" else mask[start:stop]
        mask[start:stop] = paper_pruning.random_tensor(active, amount, rng)
    return mask


# --------------------------------------------------------------------------
# variance
# --------------------------------------------------------------------------
def variance_mask(net: MLP, rng: np.random.Generator, *, ddof: int = 0) -> np.ndarray:
    r"""VARIANCE operator (published ``activation``): thin the most varying nodes.

    For every layer, :math:`t_j` from :func:`~minievo.pruning.records.node_keep_probabilities`
    of :func:`~minievo.pruning.records.variance_scores`; every entry of row
    ``j`` of the weight and bias ``j`` is kept when :math:`t_j > u` with its
    own :math:`u \sim \mathcal U[0, 1)` (weight draws, then bias draws, layer
    by layer).

    Parameters
    ----------
    net : MLP
        With recorded passes (trained or evaluated with ``record=True``).
    rng : numpy.random.Generator
    ddof : int, default 0
        Of the standard deviation; 0 as the published ``np.std``.

    Returns
    -------
    ndarray, shape (n_params,), float32
        0 where the entry is pruned.

    Raises
    ------
    NoRecordsError
        If ``net`` has no recorded passes.
    """
    mask = np.ones(net.n_params, dtype=np.float32)  # (P,)
    for l in range(net.spec.n_layers):
        keep = node_keep_probabilities(variance_scores(net, l, ddof))  # (n_out,)
        weight_mask = net.weight(l, mask)  # (n_out, n_in) view
        weight_mask[...], net.bias(l, mask)[...] = paper_pruning.thin(keep, weight_mask.shape, rng)
    return mask


# --------------------------------------------------------------------------
# conjunctive
# --------------------------------------------------------------------------
def layer_signals(net: MLP, x: np.ndarray, signal: str = "pre_activation"):
    r"""Forward ``x (n, n_in)`` through ``net``; each layer's values as the filter sees them.

    Each row is independent of the others (a linear layer acts row by row), so
    one batched forward equals forwarding every row alone.

    Returns
    -------
    values : list of ndarray
        Per layer, ``(n, n_out)`` float32: :math:`z` for ``"pre_activation"``;
        for ``"hook_output"``, :math:`\max(z, 0)` on ReLU layers and :math:`z`
        elsewhere (module docstring).
    output : ndarray, shape (n, n_out of the last layer)
        The network's output (after the last activation).
    """
    _check_choice(signal, "signal", SIGNALS)
    values = []
    a = np.asarray(x, dtype=np.float32)  # (n, n_in)
    for l in range(net.spec.n_layers):
        z = a @ net.weight(l).T + net.bias(l)  # (n, n_in) @ (n_in, n_out)
        act = int(net.layout[l, ACT])
        if act == RELU:
            a = np.maximum(z, np.float32(0.0))
        elif act == SIGMOID:
            with np.errstate(over="ignore"):
                a = np.float32(1.0) / (np.float32(1.0) + np.exp(-z))
        else:
            a = z
        values.append(a if (signal == "hook_output" and act == RELU) else z)
    return values, a


def passing_nodes(values: np.ndarray, threshold: float) -> np.ndarray:
    r"""Which nodes pass which row: scaled value below ``threshold``.

    .. math:: \text{pass}_{rj} = \frac{v_{rj} - \min_k v_{rk}}{\max_k v_{rk} - \min_k v_{rk}}
              < \text{threshold}

    A row whose values are all equal passes no node.

    Parameters
    ----------
    values : ndarray, shape (n_rows, n_nodes)
    threshold : float

    Returns
    -------
    ndarray, shape (n_rows, n_nodes), bool
    """
    return paper_pruning.passing_nodes(values, threshold)  # (n_rows, n_nodes)


def lexicase_filter(passes: np.ndarray) -> np.ndarray:
    """Lexicase filter over the rows of ``passes`` (module docstring).

    Parameters
    ----------
    passes : ndarray, shape (n_rows, n_nodes), bool

    Returns
    -------
    ndarray, shape (n_nodes,), bool
        The nodes left: those passing every row considered, where rows are
        considered in order until at most one node remains.
    """
    passes = np.asarray(passes, dtype=bool)
    if passes.ndim != 2 or passes.shape[0] == 0:
        raise ValueError(
            f"passes must be a 2-D array with at least one row, got shape {passes.shape}"
        )
    return paper_pruning.lexicase_filter(passes)  # (n_nodes,)


def node_mask(net: MLP, layer_nodes) -> np.ndarray:
    """Parameter mask pruning whole nodes: 0 on row ``j`` and bias ``j`` of every chosen node.

    Parameters
    ----------
    net : MLP
    layer_nodes : sequence of ndarray
        Per layer, an ``(n_out,)`` bool array: True prunes the node.

    Returns
    -------
    ndarray, shape (n_params,), float32
    """
    mask = np.ones(net.n_params, dtype=np.float32)  # (P,)
    for l, chosen in enumerate(layer_nodes):
        net.weight(l, mask)[chosen, :] = 0.0  # (n_out, n_in) rows
        net.bias(l, mask)[chosen] = 0.0  # (n_out,)
    return mask


def conjunctive_masks(
    pair: Autoencoder,
    rows: np.ndarray,
    threshold: float,
    rng: np.random.Generator | None = None,
    *,
    n_cases: int = 100,
    signal: str = "pre_activation",
) -> tuple[np.ndarray, np.ndarray]:
    """CONJUNCTIVE operator (published ``lexicase``): prune nodes that stay low on every case.

    Parameters
    ----------
    pair : Autoencoder
        Rows go through the encoder, then the decoder (for the variational
        kind, the decoder input is the posterior mean, the first half of the
        encoder output; the encoder's stacked mean/log-variance layer is one
        layer of ``2 * latent`` nodes here).
    rows : ndarray, shape (N, n_dim)
        With ``rng``: the test data, from which ``n_cases`` rows are drawn
        uniformly with replacement (:func:`minievo.data.sample_rows`; the
        published code draws with ``random.randint(1, N - 1)``, never row 0).
        Without ``rng``: the filter cases themselves, used in order.
    threshold : float
        ``lexi_threshold`` in [0, 1].
    rng : numpy.random.Generator, optional
    n_cases : int, default 100
        ``lexi_rows``; used only with ``rng``.
    signal : {"pre_activation", "hook_output"}
        See the module docstring.

    Returns
    -------
    (encoder mask, decoder mask) : ndarrays of shape (n_params,), float32
    """
    threshold = _check_fraction(threshold, "lexi_threshold")
    rows = np.asarray(rows, dtype=np.float32)
    if rows.ndim != 2 or rows.shape[1] != pair.n_dim or rows.shape[0] == 0:
        raise ValueError(f"rows must have shape (n, {pair.n_dim}) with n >= 1, got {rows.shape}")
    cases = rows if rng is None else sample_rows(rows, n_cases, rng)  # (n_cases, n_dim)
    enc_values, code = layer_signals(pair.encoder, cases, signal)
    if pair.kind == "variational":
        code = code[:, : pair.latent]  # posterior mean (n, z)
    dec_values, _ = layer_signals(pair.decoder, code, signal)
    masks = []
    for net, values in ((pair.encoder, enc_values), (pair.decoder, dec_values)):
        chosen = [lexicase_filter(passing_nodes(v, threshold)) for v in values]
        masks.append(node_mask(net, chosen))
    return masks[0], masks[1]


#: Operator functions by canonical name (signatures differ: see each one).
PRUNE_METHODS = {"random": random_mask, "variance": variance_mask, "conjunctive": conjunctive_masks}


# --------------------------------------------------------------------------
# The three operators in the plug-in signature (minievo.pruning.registry)
# --------------------------------------------------------------------------
@register_operator("random")
def random_pair_masks(pair: Autoencoder, rng: np.random.Generator, settings: PruneSettings):
    """RANDOM on the encoder, then the decoder (:func:`random_mask`)."""
    return (
        random_mask(pair.encoder, settings.amount, rng, mask_mode=settings.mask_mode),
        random_mask(pair.decoder, settings.amount, rng, mask_mode=settings.mask_mode),
    )


@register_operator("variance", published_name="activation", needs_records=True)
def variance_pair_masks(pair: Autoencoder, rng: np.random.Generator, settings: PruneSettings):
    """VARIANCE on the encoder, then the decoder (:func:`variance_mask`)."""
    return variance_mask(pair.encoder, rng), variance_mask(pair.decoder, rng)


@register_operator("conjunctive", published_name="lexicase")
def conjunctive_pair_masks(pair: Autoencoder, rng: np.random.Generator, settings: PruneSettings):
    """CONJUNCTIVE on both networks from ``lexi_rows`` test rows (:func:`conjunctive_masks`)."""
    if settings.test_data is None:
        raise ValueError("prune method 'conjunctive' needs test_data to draw its rows from")
    return conjunctive_masks(
        pair,
        settings.test_data,
        settings.lexi_threshold,
        rng,
        n_cases=settings.lexi_rows,
        signal=settings.signal,
    )


# --------------------------------------------------------------------------
# Applying a mask, pruning a pair
# --------------------------------------------------------------------------
def apply_prune_mask(net: MLP, mask: np.ndarray, mask_mode: str) -> None:
    """Apply an operator's mask to ``net`` (module docstring, "Mask modes").

    ``persistent``: ``net.apply_mask(net.mask * mask)``; ``regrow``:
    ``net.params *= mask`` only. Either way this is a pruning event: the
    network's :attr:`~minievo.network.MLP.n_pruned_at_last_prune` becomes its
    exact zeros now.
    """
    _check_choice(mask_mode, "mask_mode", MASK_MODES)
    mask = np.asarray(mask, dtype=np.float32)
    if mask.shape != (net.n_params,):
        raise ValueError(f"mask must have shape ({net.n_params},), got {mask.shape}")
    if mask_mode == "persistent":
        net.apply_mask(net.mask * mask)
    else:
        net.params *= mask
    net.n_pruned_at_last_prune = net.n_zero


def n_pruned(net: MLP, mask_mode: str) -> int:
    """Pruned count as reported (the published ``n_pruned``).

    Persistent masks: entries whose mask is 0 (only grows). Regrow: the exact
    zeros right after the network's last pruning event
    (:attr:`MLP.n_pruned_at_last_prune`), kept through copies and later
    training even when the zeros grow back, as the published count.
    """
    return net.n_pruned if mask_mode == "persistent" else net.n_pruned_at_last_prune


class PruneResult(NamedTuple):
    """What :func:`prune_pair` did, in the published record's terms.

    ``n_pruned_*``: masked entries (persistent) or exact zeros right after
    pruning (regrow, as the published ``n_pruned_encoder``); ``n_active_*``:
    ``n_params - n_pruned_*``; ``*_layers``: :func:`sparsity_report` per layer
    (``None`` when :func:`prune_pair` was asked for no report).
    """

    n_pruned_encoder: int
    n_pruned_decoder: int
    n_active_encoder: int
    n_active_decoder: int
    encoder_layers: list | None
    decoder_layers: list | None


def prune_pair(
    pair: Autoencoder,
    method: str,
    rng: np.random.Generator,
    *,
    amount: float = 0.1,
    lexi_threshold: float = 0.1,
    test_data=None,
    lexi_rows: int = 100,
    mask_mode: str = "persistent",
    signal: str = "pre_activation",
    report: bool = True,
) -> PruneResult:
    """Prune the encoder and the decoder of ``pair`` in place with one operator (docs/algorithm.md §5).

    Parameters
    ----------
    pair : Autoencoder
        Modified in place.
    method : str
        ``random``, ``variance`` or ``conjunctive`` (or the published
        ``activation``, ``lexicase``), or any operator registered with
        :func:`~minievo.pruning.registry.register_operator`.
    rng : numpy.random.Generator
        Every random draw (entries to prune, uniform draws, test rows).
    amount : float, default 0.1
        ``prune_amount`` in [0, 1], used by ``random`` (and any registered
        operator that reads ``settings.amount``).
    lexi_threshold : float, default 0.1
        Used by ``conjunctive`` only.
    test_data : ndarray, shape (N, n_dim)
        Required by ``conjunctive``: the rows are drawn from it.
    lexi_rows : int, default 100
        Rows drawn by ``conjunctive``.
    mask_mode : {"persistent", "regrow"}
    signal : {"pre_activation", "hook_output"}
        Values compared by ``conjunctive`` (module docstring).
    report : bool, default True
        Fill the per-layer :func:`sparsity_report` of the result (``None``
        otherwise: the training loops never read it, and it costs more than
        a random pruning itself).

    Returns
    -------
    PruneResult

    Raises
    ------
    ValueError
        Unknown method or mask mode, amount or threshold outside [0, 1],
        ``conjunctive`` without ``test_data``.
    NoRecordsError
        ``variance`` on a network without recorded passes.
    """
    operator = get_operator(method)
    amount = _check_fraction(amount, "prune amount")
    _check_choice(mask_mode, "mask_mode", MASK_MODES)
    settings = PruneSettings(amount, lexi_threshold, lexi_rows, test_data, mask_mode, signal)
    enc_mask, dec_mask = operator.function(pair, rng, settings)
    apply_prune_mask(pair.encoder, enc_mask, mask_mode)
    apply_prune_mask(pair.decoder, dec_mask, mask_mode)
    n_enc, n_dec = n_pruned(pair.encoder, mask_mode), n_pruned(pair.decoder, mask_mode)
    return PruneResult(
        n_enc,
        n_dec,
        pair.encoder.n_params - n_enc,
        pair.decoder.n_params - n_dec,
        sparsity_report(pair.encoder) if report else None,
        sparsity_report(pair.decoder) if report else None,
    )

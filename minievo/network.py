"""Multilayer perceptrons as flat float32 buffers with masks.

An encoder or a decoder of minievo is a stack of masked linear layers
(docs/algorithm.md §2). Layer ``l`` maps ``n_in -> n_out``:

.. math::

    z^{(l)} = a^{(l-1)} (W^{(l)} \\odot M_W^{(l)})^\\top + b^{(l)} \\odot M_b^{(l)},
    \\qquad a^{(l)} = f^{(l)}(z^{(l)})

with ``W`` of shape ``(n_out, n_in)`` as in PyTorch's ``nn.Linear`` (row ``j``
holds the weights *entering* node ``j``), ``f`` one of identity, ReLU or
sigmoid, and ``M`` a 0/1 mask (0 = pruned). minievo keeps the invariant
``params == params * mask``: a pruned entry is exactly ``0.0``, so the forward
pass never needs the mask; gradients and Adam updates are multiplied by it.

Storage: all weights and biases of one network
live in **one** contiguous float32 vector ``params`` of length ``n_params``;
``mask``, the gradient and the two Adam moments have the same layout. A small
int64 table, the *layout*, says where every layer lives::

    layout[l] = (n_in, n_out, weight_offset, bias_offset, activation, out_offset,
                 record_after_activation)

``out_offset`` is the number of nodes of the layers before ``l``: the kernels
use it to find layer ``l``'s rows in a flat activation workspace.
``record_after_activation`` (0/1) says whether the activation records take
the layer's output before or after its nonlinearity (see ``RECORD_SIGNALS``). Copying an
individual is one copy per buffer, and the kernels receive a handful of arrays
(an :class:`MLPArrays` named tuple) instead of a list per layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

# Activation codes and columns of the layout table (owned by the kernels).
from .kernels.layout import (  # noqa: F401  (re-exported)
    ACT,
    ACTIVATIONS,
    B_OFF,
    IDENTITY,
    N_IN,
    N_OUT,
    OUT_OFF,
    REC_POST,
    RELU,
    SIGMOID,
    W_OFF,
)

#: The activation-record buffers of an :class:`MLP`.
_RECORD_BUFFERS = ("rec_count", "rec_sum", "rec_sumsq")

#: What the activation records hold (docs/algorithm.md §5, VARIANCE): the pre-activation z
#: of every layer (the papers' prose), or what the published forward hook ends up holding:
#: the ReLU output max(z, 0) on ReLU layers (the hooked nn.Linear output is
#: overwritten by the next, in-place nn.ReLU) and z elsewhere.
RECORD_SIGNALS = ("pre_activation", "hook_output")


@dataclass(frozen=True)
class MLPSpec:
    """Shape of one MLP: layer sizes and one activation per layer.

    Parameters
    ----------
    sizes : tuple of int
        ``(n_0, n_1, ..., n_L)``: input width, then the width of every layer.
    activations : tuple of str
        ``L`` names from ``{"identity", "relu", "sigmoid"}``.

    Examples
    --------
    >>> MLPSpec((1000, 30, 10), ("relu", "relu")).n_params
    30340
    """

    sizes: tuple
    activations: tuple

    def __post_init__(self):
        sizes = tuple(self.sizes)
        acts = tuple(self.activations)
        if len(sizes) < 2:
            raise ValueError(
                f"an MLP needs at least an input and an output size, got sizes={sizes}"
            )
        for s in sizes:
            if not isinstance(s, (int, np.integer)) or isinstance(s, bool) or s < 1:
                raise ValueError(
                    f"layer sizes must be positive integers, got {s!r} in sizes={sizes}"
                )
        if len(acts) != len(sizes) - 1:
            raise ValueError(
                f"need one activation per layer: {len(sizes) - 1} layers but "
                f"{len(acts)} activations {acts}"
            )
        for a in acts:
            if a not in ACTIVATIONS:
                raise ValueError(f"unknown activation {a!r}; allowed: {sorted(ACTIVATIONS)}")
        object.__setattr__(self, "sizes", tuple(int(s) for s in sizes))
        object.__setattr__(self, "activations", acts)

    @property
    def n_layers(self) -> int:
        return len(self.sizes) - 1

    @property
    def n_in(self) -> int:
        return self.sizes[0]

    @property
    def n_out(self) -> int:
        return self.sizes[-1]

    @property
    def n_params(self) -> int:
        return sum(o * i + o for i, o in zip(self.sizes[:-1], self.sizes[1:]))

    @property
    def n_nodes(self) -> int:
        """Number of nodes over all layers (rows of the activation workspace per example)."""
        return sum(self.sizes[1:])

    def layout(self, record_signal: str = "pre_activation") -> np.ndarray:
        """The ``(n_layers, 7)`` int64 layout table (see module docstring)."""
        if record_signal not in RECORD_SIGNALS:
            raise ValueError(f"unknown record signal {record_signal!r}; allowed: {RECORD_SIGNALS}")
        table = np.zeros((self.n_layers, 7), dtype=np.int64)
        offset = out_offset = 0
        for l, (n_in, n_out) in enumerate(zip(self.sizes[:-1], self.sizes[1:])):
            act = ACTIVATIONS[self.activations[l]]
            post = record_signal == "hook_output" and act == RELU
            table[l] = (n_in, n_out, offset, offset + n_out * n_in, act, out_offset, post)
            offset += n_out * n_in + n_out
            out_offset += n_out
        return table

    def to_dict(self) -> dict:
        return {"sizes": list(self.sizes), "activations": list(self.activations)}


# docs/algorithm.md §2: the environments of the papers. Hidden widths of the encoder; the
# decoder mirrors them. ``latent`` is the code width.
ENVIRONMENTS = {
    "default": {"hidden": (30,), "latent": 10},
    "small": {"hidden": (30,), "latent": 2},
    "large": {"hidden": (60, 30), "latent": 10},
    "denoising": {"hidden": (30,), "latent": 10},
    "variational": {"hidden": (30,), "latent": 10},
}
#: Standard deviation of the Gaussian input noise of the denoising variant (docs/algorithm.md §2).
DENOISING_STD = 0.4


def autoencoder_specs(environment: str, n_dim: int) -> tuple[MLPSpec, MLPSpec]:
    """Encoder and decoder shapes of one of the papers' environments (docs/algorithm.md §2).

    ``default`` is ``x -> 30 ReLU -> 10 ReLU`` and ``10 -> 30 ReLU -> x Sigmoid``;
    ``small`` has a 2-wide code; ``large`` is ``x -> 60 -> 30 -> 10``. The
    variational encoder ends in one identity layer of width ``2 * latent``:
    the mean head and the log-variance head of the published code stacked into
    one matrix (two ``nn.Linear(30, z)`` are exactly one ``nn.Linear(30, 2z)``).
    """
    if environment not in ENVIRONMENTS:
        raise ValueError(f"unknown environment {environment!r}; allowed: {sorted(ENVIRONMENTS)}")
    env = ENVIRONMENTS[environment]
    return custom_autoencoder_specs(
        n_dim, env["hidden"], env["latent"], variational=environment == "variational"
    )


def custom_autoencoder_specs(n_dim: int, hidden, latent: int, *, variational=False):
    """Encoder/decoder shapes for any hidden widths: ``x -> hidden... -> latent``.

    All hidden layers and the code use ReLU (as the papers' networks), the
    reconstruction a sigmoid. ``variational`` replaces the code layer by the
    stacked (mean, log-variance) identity head.
    """
    hidden = tuple(int(h) for h in hidden)
    if variational:
        enc = MLPSpec((n_dim, *hidden, 2 * latent), ("relu",) * len(hidden) + ("identity",))
    else:
        enc = MLPSpec((n_dim, *hidden, latent), ("relu",) * (len(hidden) + 1))
    dec = MLPSpec((latent, *hidden[::-1], n_dim), ("relu",) * len(hidden) + ("sigmoid",))
    return enc, dec


class MLPArrays(NamedTuple):
    """The buffers of one network, as the kernels receive them.

    All float buffers have the parameter layout of ``layout`` except the
    activation records, which have one row per batch position.
    """

    layout: np.ndarray  # (L, 7) int64
    params: np.ndarray  # (P,) float32, exactly 0.0 where mask == 0
    mask: np.ndarray  # (P,) float32, 1 keeps, 0 prunes
    grad: np.ndarray  # (P,) float32, last gradient
    adam_m: np.ndarray  # (P,) float32, Adam first moment
    adam_v: np.ndarray  # (P,) float32, Adam second moment
    adam_t: np.ndarray  # (1,) int64, Adam step count
    rec_count: np.ndarray  # (R,) float64, passes recorded at each batch position
    rec_sum: np.ndarray  # (R, n_nodes) float64, running sum of pre-activations
    rec_sumsq: np.ndarray  # (R, n_nodes) float64, running sum of their squares


class MLP:
    """One encoder or decoder: parameters, mask, optimizer state, activation records.

    Parameters
    ----------
    spec : MLPSpec
    params : ndarray, optional
        ``(n_params,)`` float32; zeros when omitted (use :func:`init_mlp`).
    mask : ndarray, optional
        ``(n_params,)`` float32 of 0/1; all ones when omitted.
    record_rows : int
        Batch positions kept in the activation records (docs/algorithm.md §5, VARIANCE):
        the training batch size, or 0 to record nothing.
    record_signal : {"pre_activation", "hook_output"}
        What the records hold (``RECORD_SIGNALS``).
    """

    def __init__(
        self,
        spec: MLPSpec,
        params=None,
        mask=None,
        record_rows: int = 0,
        record_signal: str = "pre_activation",
    ):
        self.spec = spec
        self.record_signal = record_signal
        self.layout = spec.layout(record_signal)
        n = spec.n_params
        self.params = _checked_buffer(params, n, "params", fill=0.0)
        self.mask = _checked_buffer(mask, n, "mask", fill=1.0)
        if not np.all((self.mask == 0.0) | (self.mask == 1.0)):
            raise ValueError("mask entries must be 0 or 1")
        self.params *= self.mask
        self.grad = np.zeros(n, dtype=np.float32)
        self.adam_m = np.zeros(n, dtype=np.float32)
        self.adam_v = np.zeros(n, dtype=np.float32)
        self.adam_t = np.zeros(1, dtype=np.int64)
        self.record_rows = int(record_rows)
        self.rec_count = np.zeros(self.record_rows, dtype=np.float64)
        self.rec_sum = np.zeros((self.record_rows, spec.n_nodes), dtype=np.float64)
        self.rec_sumsq = np.zeros((self.record_rows, spec.n_nodes), dtype=np.float64)
        #: Exact zeros in ``params`` right after this network's last pruning
        #: event (0 before any): the published ``n_pruned`` (set by the pruning
        #: operators, carried by copies, saved with the network).
        self.n_pruned_at_last_prune = 0

    # -- views ---------------------------------------------------------------
    @property
    def arrays(self) -> MLPArrays:
        """The buffers as one named tuple, for the kernels (no copies)."""
        return MLPArrays(
            self.layout,
            self.params,
            self.mask,
            self.grad,
            self.adam_m,
            self.adam_v,
            self.adam_t,
            self.rec_count,
            self.rec_sum,
            self.rec_sumsq,
        )

    def _slices(self, l: int):
        n_in, n_out, w_off, b_off = (int(v) for v in self.layout[l, :4])
        return slice(w_off, w_off + n_out * n_in), slice(b_off, b_off + n_out), (n_out, n_in)

    def weight(self, l: int, of=None) -> np.ndarray:
        """View ``(n_out, n_in)`` of layer ``l``'s weights in ``of`` (default ``params``)."""
        ws, _, shape = self._slices(l)
        return (self.params if of is None else of)[ws].reshape(shape)

    def bias(self, l: int, of=None) -> np.ndarray:
        """View ``(n_out,)`` of layer ``l``'s bias in ``of`` (default ``params``)."""
        _, bs, _ = self._slices(l)
        return (self.params if of is None else of)[bs]

    def records(self, l: int):
        """Layer ``l``'s records: ``(count (R,), sum (R, n_out), sumsq (R, n_out))`` views."""
        start = int(self.layout[l, OUT_OFF])
        stop = start + int(self.layout[l, N_OUT])
        return self.rec_count, self.rec_sum[:, start:stop], self.rec_sumsq[:, start:stop]

    # -- counts ----------------------------------------------------------------
    @property
    def n_params(self) -> int:
        return self.spec.n_params

    @property
    def n_pruned(self) -> int:
        """Entries whose mask is 0 (docs/algorithm.md §5: only grows in persistent mode).

        Not the published ``n_pruned``: that is :attr:`n_pruned_at_last_prune`.
        """
        return int(self.n_params - np.count_nonzero(self.mask))

    @property
    def n_active(self) -> int:
        return int(np.count_nonzero(self.mask))

    @property
    def n_zero(self) -> int:
        """Entries exactly 0.0 right now (in regrow mode pruned entries can grow back)."""
        return int(self.n_params - np.count_nonzero(self.params))

    # -- state -----------------------------------------------------------------
    def clear_records(self) -> None:
        """Forget all recorded activations (docs/algorithm.md §5: after each pruning / cell visit)."""
        self.rec_count[:] = 0.0
        self.rec_sum[:] = 0.0
        self.rec_sumsq[:] = 0.0

    def reset_optimizer(self) -> None:
        self.adam_m[:] = 0.0
        self.adam_v[:] = 0.0
        self.adam_t[0] = 0

    def apply_mask(self, mask: np.ndarray) -> None:
        """Set a new mask; zero the pruned parameters and their Adam moments."""
        mask = _checked_buffer(mask, self.n_params, "mask", fill=1.0)
        self.mask[:] = mask
        self.params *= mask
        self.adam_m *= mask
        self.adam_v *= mask

    def copy(self, keep_records: bool = False) -> MLP:
        """An independent copy: parameters, mask, optimizer state and the pruned count.

        Records start empty (the published ``clone()``) unless ``keep_records``
        (the published ``epoch-node`` visit works on the cell's own center
        object, whose records persist until it is pruned).
        """
        other = MLP.__new__(MLP)
        other.spec, other.layout, other.record_rows = self.spec, self.layout, self.record_rows
        other.record_signal = self.record_signal
        other.n_pruned_at_last_prune = self.n_pruned_at_last_prune
        for name in ("params", "mask", "grad", "adam_m", "adam_v", "adam_t"):
            setattr(other, name, getattr(self, name).copy())
        for name in _RECORD_BUFFERS:
            buffer = getattr(self, name)
            setattr(other, name, buffer.copy() if keep_records else np.zeros_like(buffer))
        return other

    def state_dict(self, prefix: str = "") -> dict:
        """Arrays needed to restore this network exactly.

        Non-empty activation records are included (they can span epochs in
        canonical training and in ``epoch-node``/``all_vs_all``), so a run
        resumed from a checkpoint continues bit for bit.
        """
        state = {
            prefix + "params": self.params,
            prefix + "mask": self.mask,
            prefix + "adam_m": self.adam_m,
            prefix + "adam_v": self.adam_v,
            prefix + "adam_t": self.adam_t,
            prefix + "sizes": np.asarray(self.spec.sizes, dtype=np.int64),
            prefix + "activations": np.asarray(self.spec.activations),
            prefix + "record_signal": np.asarray(self.record_signal),
            prefix + "n_pruned_at_last_prune": np.asarray(
                self.n_pruned_at_last_prune, dtype=np.int64
            ),
        }
        if self.rec_count.size and np.any(self.rec_count):
            state.update({prefix + name: getattr(self, name) for name in _RECORD_BUFFERS})
        return state

    def _restore_records(self, state, prefix: str) -> None:
        """Load records saved by :meth:`state_dict` when they fit ``record_rows``."""
        for name in _RECORD_BUFFERS:
            key = prefix + name
            if key in state and np.shape(state[key]) == getattr(self, name).shape:
                getattr(self, name)[...] = state[key]

    @classmethod
    def from_state_dict(
        cls, state, prefix: str = "", record_rows: int = 0, source: str = "state"
    ) -> MLP:
        try:
            spec = MLPSpec(
                tuple(int(s) for s in state[prefix + "sizes"]),
                tuple(str(a) for a in state[prefix + "activations"]),
            )
            signal = str(state.get(prefix + "record_signal", "pre_activation"))
            net = cls(
                spec,
                np.asarray(state[prefix + "params"]),
                np.asarray(state[prefix + "mask"]),
                record_rows,
                signal,
            )
            net.adam_m[:] = state[prefix + "adam_m"]
            net.adam_v[:] = state[prefix + "adam_v"]
            net.adam_t[:] = state[prefix + "adam_t"]
            # files written before the count existed: 0, as a network never pruned
            net.n_pruned_at_last_prune = int(state.get(prefix + "n_pruned_at_last_prune", 0))
            net._restore_records(state, prefix)
        except KeyError as err:
            raise ValueError(
                f"{source}: missing array {err.args[0]!r} for network {prefix!r}"
            ) from None
        except ValueError as err:
            raise ValueError(f"{source}: network {prefix!r}: {err}") from None
        if not np.all(np.isfinite(net.params)):
            raise ValueError(f"{source}: network {prefix!r} has non-finite parameters")
        return net

    def __repr__(self) -> str:
        arch = " -> ".join(str(s) for s in self.spec.sizes)
        return (
            f"MLP({arch}, masked {self.n_pruned}/{self.n_params}, zero {self.n_zero}, "
            f"pruned at last event {self.n_pruned_at_last_prune})"
        )


def _checked_buffer(values, n: int, name: str, fill: float) -> np.ndarray:
    if values is None:
        return np.full(n, fill, dtype=np.float32)
    values = np.asarray(values)
    if values.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},), got {values.shape}")
    return np.array(values, dtype=np.float32, copy=True)


def init_mlp(
    spec: MLPSpec,
    rng: np.random.Generator,
    record_rows: int = 0,
    record_signal: str = "pre_activation",
) -> MLP:
    """A new MLP initialised like PyTorch's ``nn.Linear`` (docs/algorithm.md §2).

    Every weight and bias of a layer with ``n_in`` inputs is drawn from
    ``Uniform(-1/sqrt(n_in), 1/sqrt(n_in))`` (Kaiming-uniform with
    ``a = sqrt(5)`` reduces to this bound).
    """
    net = MLP(spec, record_rows=record_rows, record_signal=record_signal)
    for l, n_in in enumerate(spec.sizes[:-1]):
        bound = 1.0 / np.sqrt(n_in)
        w, b = net.weight(l), net.bias(l)
        w[...] = rng.uniform(-bound, bound, size=w.shape)  # (n_out, n_in)
        b[...] = rng.uniform(-bound, bound, size=b.shape)  # (n_out,)
    return net


class Autoencoder:
    """An (encoder, decoder) pair and its kind: ``plain``, ``denoising`` or ``variational``."""

    KINDS = ("plain", "denoising", "variational")

    def __init__(self, encoder: MLP, decoder: MLP, kind: str = "plain"):
        if kind not in self.KINDS:
            raise ValueError(f"unknown autoencoder kind {kind!r}; allowed: {self.KINDS}")
        code = encoder.spec.n_out // 2 if kind == "variational" else encoder.spec.n_out
        if decoder.spec.n_in != code:
            raise ValueError(
                f"encoder output ({encoder.spec.n_out}{' = 2 x latent' if kind == 'variational' else ''})"
                f" does not fit decoder input ({decoder.spec.n_in})"
            )
        if decoder.spec.n_out != encoder.spec.n_in:
            raise ValueError(
                f"decoder output {decoder.spec.n_out} != encoder input {encoder.spec.n_in}"
            )
        self.encoder, self.decoder, self.kind = encoder, decoder, kind

    @property
    def n_dim(self) -> int:
        return self.encoder.spec.n_in

    @property
    def latent(self) -> int:
        return self.decoder.spec.n_in

    def copy(self, keep_records: bool = False) -> Autoencoder:
        """Copies of both networks (:meth:`MLP.copy`)."""
        return Autoencoder(
            self.encoder.copy(keep_records), self.decoder.copy(keep_records), self.kind
        )

    def save(self, path) -> None:
        """Write weights, masks and optimizer state to ``path`` (.npz), atomically."""
        from .io import atomic_savez

        state = {
            **self.encoder.state_dict("encoder_"),
            **self.decoder.state_dict("decoder_"),
            "kind": np.asarray(self.kind),
        }
        atomic_savez(path, **state)

    @classmethod
    def load(cls, path, record_rows: int = 0) -> Autoencoder:
        """Read an autoencoder written by :meth:`save`; errors name the file and the problem."""
        from .io import load_npz

        state = load_npz(path)
        enc = MLP.from_state_dict(state, "encoder_", record_rows, source=str(path))
        dec = MLP.from_state_dict(state, "decoder_", record_rows, source=str(path))
        kind = str(state["kind"]) if "kind" in state else "plain"
        return cls(enc, dec, kind)

    def __repr__(self) -> str:
        return f"Autoencoder({self.kind}, encoder={self.encoder!r}, decoder={self.decoder!r})"


def make_autoencoder(
    environment: str,
    n_dim: int,
    rng: np.random.Generator,
    record_rows: int = 0,
    record_signal: str = "pre_activation",
) -> Autoencoder:
    """A freshly initialised autoencoder of one of the papers' environments."""
    enc_spec, dec_spec = autoencoder_specs(environment, n_dim)
    kind = environment if environment in ("denoising", "variational") else "plain"
    return Autoencoder(
        init_mlp(enc_spec, rng, record_rows, record_signal),
        init_mlp(dec_spec, rng, record_rows, record_signal),
        kind,
    )

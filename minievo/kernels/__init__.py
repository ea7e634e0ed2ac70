"""Numerical kernels: one NumPy reference, one Numba twin per operation.

``reference`` is the oracle, written for reading; ``cpu`` holds the same
functions compiled with Numba. Pick one with :func:`get_backend`.
"""

from __future__ import annotations

import importlib
from typing import NamedTuple

import numpy as np

#: Backend names accepted everywhere a ``backend=`` argument appears.
BACKENDS = {"numpy": "reference", "numba": "cpu"}
#: Backends a run may name: the CPU ones of :func:`get_backend` and ``"cuda"``
#: (:mod:`minievo.kernels.cuda`, driven by :mod:`minievo.training.lockstep`).
RUN_BACKENDS = ("numba", "numpy", "cuda")


def get_backend(name: str):
    """The kernel module for ``"numpy"`` (reference) or ``"numba"`` (cpu)."""
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; allowed: {sorted(BACKENDS)}")
    return importlib.import_module(f".{BACKENDS[name]}", __name__)


class Workspace(NamedTuple):
    """Scratch buffers of one (encoder, decoder) shape for batches of up to ``max_rows`` rows.

    Allocated once and reused by every step, so a step allocates nothing.
    """

    enc_act: np.ndarray  # (max_rows * encoder nodes,) float32, layer outputs
    enc_delta: np.ndarray  # same, dL/d(output) then dL/dz per layer
    dec_act: np.ndarray  # (max_rows * decoder nodes,) float32
    dec_delta: np.ndarray
    code: np.ndarray  # (max_rows * latent,) variational sample / mean
    d_code: np.ndarray  # (max_rows * latent,) dL/d(code)
    no_dx: np.ndarray  # (0, n_dim) float32: "no input gradient wanted"
    batch_in: np.ndarray  # (max_rows * n_dim,) gathered encoder input
    batch_target: np.ndarray  # (max_rows * n_dim,) gathered target
    batch_noise: np.ndarray  # (max_rows * latent,) gathered reparameterisation noise


class Adam(NamedTuple):
    """The settings of one masked Adam step (docs/algorithm.md §4 step 4), one argument
    of every kernel that trains instead of five.

    ``fresh``: a new optimizer for every step, as the published code does (zero
    moments, ``t = 1``); else the network's own moments and step count. Build it
    with plain Python floats and a bool (Numba compiles a kernel once per
    combination of argument types).
    """

    lr: float
    beta1: float
    beta2: float
    eps: float
    fresh: bool


def make_workspace(enc_spec, dec_spec, max_rows: int) -> Workspace:
    """Buffers for an encoder/decoder of the given :class:`~minievo.network.MLPSpec`."""
    f32 = np.float32
    n_dim, latent = enc_spec.n_in, dec_spec.n_in
    return Workspace(
        np.zeros(max_rows * enc_spec.n_nodes, f32),
        np.zeros(max_rows * enc_spec.n_nodes, f32),
        np.zeros(max_rows * dec_spec.n_nodes, f32),
        np.zeros(max_rows * dec_spec.n_nodes, f32),
        np.zeros(max_rows * latent, f32),
        np.zeros(max_rows * latent, f32),
        np.zeros((0, n_dim), f32),
        np.zeros(max_rows * n_dim, f32),
        np.zeros(max_rows * n_dim, f32),
        np.zeros(max_rows * latent, f32),
    )

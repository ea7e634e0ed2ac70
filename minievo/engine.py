"""The Python face of the kernels: train and evaluate one autoencoder pair.

:class:`Engine` owns what a step needs besides the networks (a backend, a
workspace sized once, Adam's constants) so that training code reads as the
algorithm: ``engine.train_epoch(pair, data, order, lr)``,
``engine.evaluate(pair, batch)``. Every method does the same thing with the
``"numpy"`` and the ``"numba"`` backend.

:func:`loss_and_gradients` is the public entry point to the math of docs/algorithm.md §2:
loss and every weight and bias gradient of an autoencoder on one batch.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .kernels import Adam, get_backend, make_workspace
from .kernels.reference import DENOISING, PLAIN, VARIATIONAL
from .network import DENOISING_STD, Autoencoder

KIND_CODES = {"plain": PLAIN, "denoising": DENOISING, "variational": VARIATIONAL}

#: Rows per compiled call when measuring a whole data set (test loss, mean_L1):
#: large enough that the per-call cost vanishes (5-row chunks made the test loss
#: of a 1000-row test set cost 5.5 ms, 100-row chunks 3.6 ms), small enough to
#: stay in cache.
EVAL_CHUNK = 100


class NonFiniteLossError(FloatingPointError):
    """Training produced a NaN or infinite loss."""


class Engine:
    """Kernels plus scratch buffers for one autoencoder shape.

    Parameters
    ----------
    autoencoder : Autoencoder
        Any pair of the shape that will be trained (its networks are not kept).
    max_rows : int
        The largest batch a training step or :meth:`evaluate` will see.
        Whole-data measurements (:meth:`reconstruction_l1`, :meth:`reconstruct`,
        :meth:`batch_l1`) use their own workspace of ``EVAL_CHUNK`` rows.
    backend : {"numba", "numpy"}
    betas, eps : Adam constants (docs/algorithm.md §2: (0.5, 0.999), 1e-8).
    noise_std : float, default 0.4
        Standard deviation of the denoising kind's input noise while training
        (``Config.denoising_noise_std``); 0 reproduces the published denoising
        class, which adds no noise (docs/algorithm.md §2).
    """

    def __init__(
        self,
        autoencoder: Autoencoder,
        max_rows: int,
        backend: str = "numba",
        betas=(0.5, 0.999),
        eps: float = 1e-8,
        noise_std: float = DENOISING_STD,
    ):
        if not noise_std >= 0.0:
            raise ValueError(f"noise_std must be >= 0, got {noise_std!r}")
        self.noise_std = float(noise_std)
        self.kernels = get_backend(backend)
        self.backend = backend
        self.kind = autoencoder.kind
        self.kind_code = KIND_CODES[autoencoder.kind]
        self.n_dim, self.latent = autoencoder.n_dim, autoencoder.latent
        self.max_rows = int(max_rows)
        self.work = make_workspace(
            autoencoder.encoder.spec, autoencoder.decoder.spec, self.max_rows
        )
        self.eval_work = make_workspace(
            autoencoder.encoder.spec, autoencoder.decoder.spec, EVAL_CHUNK
        )
        self.beta1, self.beta2 = float(betas[0]), float(betas[1])
        self.eps = float(eps)

    # -- randomness the kernels need, drawn here from an explicit generator ----
    def draw_noise(self, rng: np.random.Generator, n_rows: int) -> np.ndarray:
        """Noise for one pass over ``n_rows`` rows, or an empty array.

        Denoising: ``N(0, noise_std^2)`` added to each input bit,
        ``(n_rows, n_dim)``; zeros, without drawing, when ``noise_std`` is 0.
        Variational: ``N(0, 1)`` reparameterisation draws, ``(n_rows, latent)``.
        """
        if self.kind_code == DENOISING:
            if self.noise_std == 0.0:
                return np.zeros((n_rows, self.n_dim), dtype=np.float32)
            return rng.standard_normal((n_rows, self.n_dim), dtype=np.float32) * np.float32(
                self.noise_std
            )
        if self.kind_code == VARIATIONAL:
            return rng.standard_normal((n_rows, self.latent), dtype=np.float32)
        return self.work.no_dx

    # -- training ---------------------------------------------------------------
    def train_epoch(
        self,
        pair: Autoencoder,
        data: np.ndarray,
        order: np.ndarray,
        batch_size: int,
        lr: float,
        *,
        fresh: bool,
        record: bool,
        noise=None,
    ) -> np.ndarray:
        """One Adam step per batch of ``data[order]``; returns the batch losses.

        ``data (N, n_dim)`` float32, ``order (N,)`` int64 row permutation,
        ``noise`` from :meth:`draw_noise` (required for the noisy kinds).
        """
        if batch_size > self.max_rows:
            raise ValueError(
                f"batch_size {batch_size} exceeds the engine's max_rows {self.max_rows}"
            )
        n_batches = -(-order.shape[0] // batch_size)
        losses = np.empty(n_batches, dtype=np.float64)
        noise = self._check_noise(noise, data.shape[0])
        self.kernels.train_epoch(
            pair.encoder.arrays,
            pair.decoder.arrays,
            data,
            order,
            batch_size,
            noise,
            self.kind_code,
            self.work,
            self.adam(lr, fresh),
            record,
            losses,
        )
        return losses

    def adam(self, lr: float, fresh: bool) -> Adam:
        """The :class:`~minievo.kernels.Adam` settings of a step at learning rate ``lr``
        (plain floats and a bool, so that the kernels compile once)."""
        return Adam(float(lr), self.beta1, self.beta2, self.eps, bool(fresh))

    def train_step(
        self,
        pair: Autoencoder,
        batch: np.ndarray,
        lr: float,
        *,
        fresh: bool,
        record: bool,
        noise=None,
    ) -> float:
        """One Adam step on ``batch (B, n_dim)``; returns the loss before the step."""
        order = np.arange(batch.shape[0], dtype=np.int64)
        return float(
            self.train_epoch(
                pair, batch, order, batch.shape[0], lr, fresh=fresh, record=record, noise=noise
            )[0]
        )

    def _check_noise(self, noise, n_rows):
        if self.kind_code == PLAIN:
            return self.work.no_dx
        width = self.n_dim if self.kind_code == DENOISING else self.latent
        if noise is None or noise.shape != (n_rows, width):
            got = None if noise is None else noise.shape
            raise ValueError(
                f"the {self.kind} autoencoder needs noise of shape {(n_rows, width)} "
                f"(Engine.draw_noise), got {got}"
            )
        return noise

    # -- evaluation -------------------------------------------------------------
    def evaluate(self, pair: Autoencoder, batch: np.ndarray, *, record: bool) -> float:
        """Loss of ``pair`` on ``batch (B, n_dim)``, B <= max_rows (no training)."""
        self._check_rows(batch)
        return float(
            self.kernels.evaluate_pair(
                pair.encoder.arrays, pair.decoder.arrays, batch, self.kind_code, self.work, record
            )
        )

    def evaluate_all_pairs(
        self, encoders, decoders, batch: np.ndarray, *, record: bool
    ) -> np.ndarray:
        """Loss of every (encoder, decoder) combination on ``batch`` in one call.

        ``encoders``, ``decoders``: sequences of :class:`~minievo.network.MLP`.
        Returns ``(len(encoders), len(decoders))`` float64, rows are encoders.
        """
        self._check_rows(batch)
        losses = np.empty((len(encoders), len(decoders)), dtype=np.float64)
        self.kernels.evaluate_pairs(
            tuple(e.arrays for e in encoders),
            tuple(d.arrays for d in decoders),
            batch,
            self.kind_code,
            self.work,
            record,
            losses,
        )
        return losses

    def row_l1(self, pair: Autoencoder, data: np.ndarray) -> tuple[float, np.ndarray]:
        """Reconstruction L1 over all of ``data (N, n_dim)`` and of each row, ``(N,)`` float64.

        One compiled call (the kernels' ``dataset_l1``); no recording.
        """
        rows = np.empty(data.shape[0], dtype=np.float64)
        mean = self.kernels.dataset_l1(
            pair.encoder.arrays,
            pair.decoder.arrays,
            np.ascontiguousarray(data, dtype=np.float32),
            self.kind_code,
            self.eval_work,
            rows,
        )
        return float(mean), rows

    def reconstruction_l1(self, pair: Autoencoder, data: np.ndarray) -> float:
        """Mean absolute reconstruction error over all of ``data (N, n_dim)`` (no recording)."""
        return self.row_l1(pair, data)[0]

    def reconstruct(self, pair: Autoencoder, data: np.ndarray) -> np.ndarray:
        """Decoder outputs for ``data (N, n_dim)``, a new ``(N, n_dim)`` array.

        The variational kind decodes the posterior mean.
        """
        out = np.empty(data.shape, dtype=np.float32)
        dec = pair.decoder.arrays
        for start in range(0, data.shape[0], EVAL_CHUNK):
            chunk = data[start : start + EVAL_CHUNK]
            self.kernels.reconstruction_l1(
                pair.encoder.arrays, dec, chunk, self.kind_code, self.eval_work
            )
            out[start : start + chunk.shape[0]] = self.kernels.rows_view(
                dec.layout, self.eval_work.dec_act, chunk.shape[0], dec.layout.shape[0] - 1
            )
        return out

    def batch_l1(self, pair: Autoencoder, data: np.ndarray, batch_size: int) -> np.ndarray:
        """L1 of every consecutive batch of ``data`` (for ``mean_L1``/``std_L1``).

        Returns ``(ceil(N / batch_size),)``: the mean of ``|y - x|`` over each batch.
        """
        errors = self.row_l1(pair, data)[1]  # (N,)
        starts = np.arange(0, data.shape[0], batch_size)
        return np.add.reduceat(errors, starts) / np.diff(np.append(starts, data.shape[0]))

    def _check_rows(self, batch):
        if batch.ndim != 2 or batch.shape[1] != self.n_dim:
            raise ValueError(f"batch must have shape (B, {self.n_dim}), got {batch.shape}")
        if batch.shape[0] > self.max_rows:
            raise ValueError(f"batch of {batch.shape[0]} rows exceeds max_rows {self.max_rows}")


class Gradients(NamedTuple):
    """Loss and gradients of an autoencoder on one batch.

    ``encoder[l]`` and ``decoder[l]`` are ``(dW, db)`` of layer ``l`` with
    shapes ``(n_out, n_in)`` and ``(n_out,)``; pruned entries are 0.
    """

    loss: float
    encoder: list
    decoder: list


def loss_and_gradients(
    network: Autoencoder, batch: np.ndarray, backend: str = "numba", noise=None
) -> Gradients:
    """Loss and the gradient of every weight and bias of ``network`` on ``batch``.

    Parameters
    ----------
    network : Autoencoder
    batch : ndarray, shape (B, n_dim), float32
        Rows of 0/1 values; the target is the batch itself.
    backend : {"numba", "numpy"}
    noise : ndarray, optional
        Required for the denoising ``(B, n_dim)`` and variational ``(B, latent)``
        kinds (see :meth:`Engine.draw_noise`).

    Returns
    -------
    Gradients
        ``loss`` (L1 = mean |decoder(encoder(x)) - x|, or BCE + KL for the
        variational kind) and per-layer ``(dW (n_out, n_in), db (n_out,))`` of
        encoder and decoder, masked: a pruned entry has gradient 0.

    The network is not modified (its gradient buffers are, not its parameters).
    """
    batch = np.ascontiguousarray(batch, dtype=np.float32)
    engine = Engine(network, batch.shape[0], backend)
    engine._check_rows(batch)
    noise = engine._check_noise(noise, batch.shape[0])
    kind = engine.kind_code
    x_in = batch + noise if kind == DENOISING else batch
    loss = engine.kernels.pair_loss_and_gradients(
        network.encoder.arrays,
        network.decoder.arrays,
        np.ascontiguousarray(x_in),
        batch,
        noise if kind == VARIATIONAL else engine.work.no_dx,
        kind,
        engine.work,
        False,
    )
    grads = []
    for net in (network.encoder, network.decoder):
        masked = net.grad * net.mask
        grads.append(
            [
                (net.weight(l, masked).copy(), net.bias(l, masked).copy())
                for l in range(net.spec.n_layers)
            ]
        )
    return Gradients(float(loss), grads[0], grads[1])

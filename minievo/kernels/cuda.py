"""CUDA kernels: many independent (encoder, decoder) pairs per launch (numba.cuda).

This is the only module of minievo that imports :mod:`numba.cuda`, and it
does so lazily (:func:`load_kernels`), so ``import minievo`` and every CPU
feature work without a CUDA toolkit. The math is that of
:mod:`minievo.kernels.reference` (``docs/algorithm.md §2``); what changes is
the batching: one launch advances ``L`` *lanes*, each lane one pair on its own
batch rows.

Storage
-------
Networks live on the device in *slots*: every float buffer of one network
kind (encoder or decoder) is a stacked ``(S, n_params)`` float32 array
(``params``, ``mask``, Adam ``m`` and ``v``), row ``s`` holding slot ``s``
with the flat layout of :mod:`minievo.network`. A launch receives
``slots (L,)`` int64: lane ``p`` works on slot ``slots[p]``. Per-lane scratch
is ``(L, B, n_nodes)`` for layer outputs and deltas (layer ``l`` at columns
``out_offset .. out_offset + n_out``, as the CPU workspace) and
``(L, n_params)`` for the gradients. Activation records (VARIANCE,
``docs/algorithm.md §5``) are running sums ``(S, R, n_nodes)`` float64 on the
device; their counts are integers the caller keeps on the host.

Launches
--------
One training step of all lanes is ``1`` gather, one forward launch per
layer, ``1`` loss, ``2`` backward launches per layer but the first (its input
gradient is not needed) and ``1`` masked Adam per network: 15 launches for
the papers' 2+2-layer networks, whatever the number of lanes. A whole pass
(all batches of every lane) copies its losses back once. Fusing layers into
fewer launches is the next step if launch overhead dominates on a GPU.

Determinism
-----------
No kernel uses atomics: every output element is written by one thread that
sums in a fixed order, so the same inputs give the same bits on every run. A
launch that records activations must not name one slot in two lanes (the
caller splits such work into conflict-free rounds, see
:meth:`DevicePairs.evaluate`).

Float32 follows the reference operation by operation (Adam's constants are
rounded to float32 as NumPy does); sums of products run in another order than
BLAS, so results agree with the reference to float32 rounding, not bit for
bit (tests/test_cuda.py states the tolerances).
"""

from __future__ import annotations

import functools
import math
import os
from types import SimpleNamespace

import numpy as np

try:  # the package imports without numba.cuda; using the kernels then raises (cuda_problem)
    from numba import cuda
except ImportError as _err:  # pragma: no cover - depends on the installation
    cuda = None
    _IMPORT_ERROR = repr(_err)

from .layout import (  # noqa: F401
    ACT,
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

#: Threads per block of every 1-D launch (fewer in the simulator, which runs
#: every thread of a block, busy or not, as a Python thread).
THREADS = 32 if os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0") else 128
#: Rows per launch of a whole-set evaluation (the CPU engine's EVAL_CHUNK), and the
#: most bytes its workspace may take.
EVAL_ROWS, EVAL_BYTES = 100, 1 << 29
INSTALL_HINT = 'install the GPU extra with pip install -e ".[cuda]" (numba-cuda) on a machine with an NVIDIA GPU and driver'


def simulator_enabled() -> bool:
    """True when ``NUMBA_ENABLE_CUDASIM=1``: kernels run in numba's Python CUDA simulator."""
    return os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0")


def cuda_problem() -> str | None:
    """Why CUDA cannot be used here, in one line, or ``None`` when it can.

    Usable means: ``numba.cuda`` imports, and either the simulator is on or
    ``numba.cuda.is_available()`` (a device and a driver) is true.
    """
    if cuda is None:
        return f"numba.cuda cannot be imported ({_IMPORT_ERROR}); {INSTALL_HINT}"
    if simulator_enabled():
        return None
    if cuda.is_available():
        return None
    return (
        f"no usable CUDA device (numba.cuda.is_available() is False); {INSTALL_HINT}, "
        "or set NUMBA_ENABLE_CUDASIM=1 to run the (slow) simulator"
    )


def _blocks(n: int) -> int:
    return max(1, (n + THREADS - 1) // THREADS)


@functools.cache
def load_kernels() -> SimpleNamespace:
    """Compile (on first use) and return the kernels; raises ``RuntimeError`` without CUDA."""
    problem = cuda_problem()
    if problem is not None:
        raise RuntimeError(problem)

    @cuda.jit(device=True)
    def activate(z, act):
        """identity, ReLU ``max(z, 0)`` or sigmoid ``1 / (1 + exp(-z))`` in float32."""
        if act == RELU:
            return z if z > 0 else np.float32(0.0)
        if act == SIGMOID:
            return np.float32(1.0) / (np.float32(1.0) + np.float32(math.exp(-z)))
        return z

    @cuda.jit(device=True)
    def act_slope(a, act):
        """``f'(z)`` from the activated value ``a``: ReLU ``[a > 0]``, sigmoid ``a (1 - a)``."""
        if act == RELU:
            return np.float32(1.0) if a > 0 else np.float32(0.0)
        if act == SIGMOID:
            return a * (np.float32(1.0) - a)
        return np.float32(1.0)

    @cuda.jit
    def gather_rows(data, rows, n_rows, x):
        """``x[p, b, :] = data[rows[p, b], :]``: each lane's batch.

        data (N, d) float32, rows (L, >= n_rows) int64, x (L, B, d) float32;
        one thread per (p, b, k).
        """
        i = cuda.grid(1)
        d = data.shape[1]
        if i >= rows.shape[0] * n_rows * d:
            return
        p = i // (n_rows * d)
        r = i - p * n_rows * d
        b = r // d
        k = r - b * d
        x[p, b, k] = data[rows[p, b], k]

    @cuda.jit
    def forward_layer(
        x,
        x_off,
        params,
        slots,
        n_in,
        n_out,
        w_off,
        b_off,
        act,
        rec_post,
        out,
        out_off,
        n_rows,
        record,
        rec_sum,
        rec_sumsq,
    ):
        """One masked dense layer for every lane: ``a = f(x W^T + b)``.

        x (L, B, >= x_off + n_in) float32 (input columns at ``x_off``),
        params (S, n_params) float32 (W ``(n_out, n_in)`` at ``w_off``, b at
        ``b_off``), slots (L,) int64, out (L, B, n_nodes) float32 (columns at
        ``out_off``), record (L,) uint8: add ``z`` (or ``a`` when
        ``rec_post``) and its square to rec_sum/rec_sumsq (S, R, n_nodes)
        float64 of the lane's slot. One thread per (p, b, j).
        """
        i = cuda.grid(1)
        if i >= slots.shape[0] * n_rows * n_out:
            return
        p = i // (n_rows * n_out)
        r = i - p * n_rows * n_out
        b = r // n_out
        j = r - b * n_out
        s = slots[p]
        acc = np.float32(0.0)
        w = w_off + j * n_in
        for k in range(n_in):
            acc += x[p, b, x_off + k] * params[s, w + k]
        z = acc + params[s, b_off + j]
        a = activate(z, act)
        if record[p]:
            v = np.float64(a) if rec_post else np.float64(z)
            rec_sum[s, b, out_off + j] += v
            rec_sumsq[s, b, out_off + j] += v * v
        out[p, b, out_off + j] = a

    @cuda.jit
    def l1_rows(y, y_off, target, n_rows, act, delta, d_off, row_abs, col, want_delta):
        """L1 loss rows and the output delta of every lane.

        ``row_abs[p, col + b] = sum_k |y - t|`` (float64) and
        ``delta = sign(y - t) / (B d) * f'(y)`` (float32, dL/dz of the output
        layer), y (L, B, >= y_off + d), target (L, B, d). The loss of lane p
        is ``sum_b row_abs / (B d)``. ``want_delta = 0`` skips the gradient
        (evaluation). One thread per (p, b).
        """
        i = cuda.grid(1)
        d = target.shape[2]
        if i >= row_abs.shape[0] * n_rows:
            return
        p = i // n_rows
        b = i - p * n_rows
        scale = np.float32(n_rows * d)
        total = 0.0
        for k in range(d):
            diff = y[p, b, y_off + k] - target[p, b, k]
            total += abs(np.float64(diff))
            if want_delta:
                g = np.float32(0.0)
                if diff > 0:
                    g = np.float32(1.0) / scale
                elif diff < 0:
                    g = np.float32(-1.0) / scale
                delta[p, b, d_off + k] = g * act_slope(y[p, b, y_off + k], act)
        row_abs[p, col + b] = total

    @cuda.jit
    def backward_params(x, x_off, delta, d_off, n_in, n_out, w_off, b_off, n_rows, grad, n_lanes):
        """Gradients of one layer for every lane: ``dW = delta^T x``, ``db = sum_b delta``.

        x (L, B, >= x_off + n_in), delta (L, B, >= d_off + n_out) holding
        dL/dz, grad (L, n_params) float32. One thread per (p, j, k), k = n_in
        meaning the bias; lanes ``p < n_lanes``.
        """
        i = cuda.grid(1)
        per = n_out * (n_in + 1)
        if i >= n_lanes * per:
            return
        p = i // per
        r = i - p * per
        j = r // (n_in + 1)
        k = r - j * (n_in + 1)
        acc = np.float32(0.0)
        if k < n_in:
            for b in range(n_rows):
                acc += delta[p, b, d_off + j] * x[p, b, x_off + k]
            grad[p, w_off + j * n_in + k] = acc
        else:
            for b in range(n_rows):
                acc += delta[p, b, d_off + j]
            grad[p, b_off + j] = acc

    @cuda.jit
    def backward_input(
        delta, d_off, params, slots, n_in, n_out, w_off, a, a_off, act, dx, dx_off, n_rows
    ):
        """Delta of the layer below: ``dx = (delta W) * f'(a)`` for every lane.

        delta (L, B, .) dL/dz of this layer at ``d_off``, params (S, n_params),
        a (L, B, .) the activated input at ``a_off`` with activation ``act``,
        dx (L, B, .) written at ``dx_off`` (dL/dz of the layer below). One
        thread per (p, b, k).
        """
        i = cuda.grid(1)
        if i >= slots.shape[0] * n_rows * n_in:
            return
        p = i // (n_rows * n_in)
        r = i - p * n_rows * n_in
        b = r // n_in
        k = r - b * n_in
        s = slots[p]
        acc = np.float32(0.0)
        for j in range(n_out):
            acc += delta[p, b, d_off + j] * params[s, w_off + j * n_in + k]
        dx[p, b, dx_off + k] = acc * act_slope(a[p, b, a_off + k], act)

    @cuda.jit
    def adam(params, mask, m, v, slots, grad, step_size, bias2, fresh, c):
        """Masked Adam for every lane (PyTorch's form, ``docs/algorithm.md §2``).

        ``g = grad * M``; fresh (new optimizer every step): ``m = (1-b1) g``,
        ``v = (1-b2) g^2``; persistent: ``m = b1 m + (1-b1) g``,
        ``v = b2 v + (1-b2) g^2`` kept in the slot. Then
        ``theta = (theta - step m / (sqrt(v) / bias2 + eps)) * M`` with the
        per-lane float32 ``step = lr / (1 - b1^t)``, ``bias2 = sqrt(1 - b2^t)``.
        c = float32 (b1, 1 - b1, b2, 1 - b2, eps); fresh (L,) uint8.
        One thread per (p, k).
        """
        i = cuda.grid(1)
        n = grad.shape[1]
        if i >= slots.shape[0] * n:
            return
        p = i // n
        k = i - p * n
        s = slots[p]
        g = grad[p, k] * mask[s, k]
        if fresh[p]:
            mm = c[1] * g
            vv = c[3] * g * g
        else:
            mm = m[s, k] * c[0] + c[1] * g
            vv = v[s, k] * c[2] + c[3] * g * g
            m[s, k] = mm
            v[s, k] = vv
        denom = np.float32(math.sqrt(vv)) / bias2[p] + c[4]
        params[s, k] = (params[s, k] - step_size[p] * mm / denom) * mask[s, k]

    @cuda.jit
    def copy_slots(src, dst, a0, a1, a2, a3):
        """Slot ``dst[p]`` of four (S, n) buffers becomes a copy of slot ``src[p]``."""
        i = cuda.grid(1)
        n = a0.shape[1]
        if i >= src.shape[0] * n:
            return
        p = i // n
        k = i - p * n
        a0[dst[p], k] = a0[src[p], k]
        a1[dst[p], k] = a1[src[p], k]
        a2[dst[p], k] = a2[src[p], k]
        a3[dst[p], k] = a3[src[p], k]

    @cuda.jit
    def clear_records(slots, rec_sum, rec_sumsq):
        """Zero the activation records (S, R, n_nodes) of ``slots``."""
        i = cuda.grid(1)
        per = rec_sum.shape[1] * rec_sum.shape[2]
        if i >= slots.shape[0] * per:
            return
        p = i // per
        r = i - p * per
        b = r // rec_sum.shape[2]
        k = r - b * rec_sum.shape[2]
        rec_sum[slots[p], b, k] = 0.0
        rec_sumsq[slots[p], b, k] = 0.0

    @cuda.jit
    def zero_counts(params, mask, slots, out, col):
        """``out[p, col] =`` mask zeros, ``out[p, col + 1] =`` parameter zeros of ``slots[p]``."""
        p = cuda.grid(1)
        if p >= slots.shape[0]:
            return
        s = slots[p]
        n_mask = 0
        n_param = 0
        for k in range(params.shape[1]):
            if mask[s, k] == 0:
                n_mask += 1
            if params[s, k] == 0:
                n_param += 1
        out[p, col] = n_mask
        out[p, col + 1] = n_param

    return SimpleNamespace(
        cuda=cuda,
        gather_rows=gather_rows,
        forward_layer=forward_layer,
        l1_rows=l1_rows,
        backward_params=backward_params,
        backward_input=backward_input,
        adam=adam,
        copy_slots=copy_slots,
        clear_records=clear_records,
        zero_counts=zero_counts,
    )


class _NetSlots:
    """Device buffers of one network kind (encoder or decoder) over ``S`` slots."""

    def __init__(self, cuda, layout: np.ndarray, n_slots: int, record_rows: int):
        self.layout = np.asarray(layout, dtype=np.int64)
        last = self.layout[-1]
        self.n_params = int(last[B_OFF] + last[N_OUT])
        self.n_nodes = int(last[OUT_OFF] + last[N_OUT])
        shape = (n_slots, self.n_params)
        self.params = cuda.to_device(np.zeros(shape, np.float32))
        self.mask = cuda.to_device(np.ones(shape, np.float32))
        self.m = cuda.to_device(np.zeros(shape, np.float32))
        self.v = cuda.to_device(np.zeros(shape, np.float32))
        rec = (n_slots if record_rows else 0, record_rows, self.n_nodes)
        self.rec_sum = cuda.to_device(np.zeros(rec, np.float64))
        self.rec_sumsq = cuda.to_device(np.zeros(rec, np.float64))

    def layers(self):
        """``(n_in, n_out, w_off, b_off, act, out_off, rec_post)`` per layer, as Python ints."""
        return [tuple(int(v) for v in row) for row in self.layout]


class DevicePairs:
    """Stacked encoder and decoder slots on the device, and the batched operations on them.

    Parameters
    ----------
    enc_layout, dec_layout : ndarray (n_layers, 7) int64
        Layout tables (:meth:`minievo.network.MLPSpec.layout`).
    n_slots : int
        Slots per network kind.
    max_lanes, max_rows : int
        Largest number of lanes in one evaluation launch and rows per lane
        (batch size).
    max_train_lanes : int, optional
        Largest number of lanes of a training pass (default ``max_lanes``):
        only these lanes get delta and gradient buffers ``(L, n_params)``.
    record_rows : int
        Batch positions of the activation records (0: none kept).
    datasets : dict name -> ndarray (N, d) float32
        Copied to the device once; batches are gathered from them by index.
    betas, eps : Adam constants.

    Every method takes slot indices as int arrays of one entry per lane and
    returns host arrays of records only; parameters stay on the device.
    """

    def __init__(
        self,
        enc_layout,
        dec_layout,
        n_slots: int,
        max_lanes: int,
        max_rows: int,
        record_rows: int,
        datasets: dict,
        betas=(0.5, 0.999),
        eps=1e-8,
        max_train_lanes=None,
    ):
        self.k = load_kernels()
        cuda = self.k.cuda
        self.enc = _NetSlots(cuda, enc_layout, n_slots, record_rows)
        self.dec = _NetSlots(cuda, dec_layout, n_slots, record_rows)
        self.n_slots, self.max_lanes, self.max_rows = n_slots, max_lanes, max_rows
        self.record_rows = record_rows
        self.data = {
            name: cuda.to_device(np.ascontiguousarray(a, np.float32))
            for name, a in datasets.items()
        }
        self.n_dim = int(self.enc.layout[0, N_IN])
        f32 = np.float32
        b1, b2 = float(betas[0]), float(betas[1])
        self.beta1, self.beta2 = b1, b2
        self.consts = cuda.to_device(np.array([b1, 1.0 - b1, b2, 1.0 - b2, eps], dtype=f32))
        L, B = max_lanes, max_rows
        self.x = cuda.device_array((L, B, self.n_dim), f32)  # gathered batch
        self.enc_act = cuda.device_array((L, B, self.enc.n_nodes), f32)
        self.dec_act = cuda.device_array((L, B, self.dec.n_nodes), f32)
        T = self.max_train_lanes = min(L, max_train_lanes or L)
        self.enc_delta = cuda.device_array((T, B, self.enc.n_nodes), f32)
        self.dec_delta = cuda.device_array((T, B, self.dec.n_nodes), f32)
        self.enc_grad = cuda.device_array((T, self.enc.n_params), f32)
        self.dec_grad = cuda.device_array((T, self.dec.n_params), f32)
        self.no_delta = cuda.device_array((1, 1, 1), f32)  # a placeholder, never written
        self.train_work = SimpleNamespace(
            x=self.x, enc_act=self.enc_act, dec_act=self.dec_act, lanes=L
        )
        # whole-set evaluations (test_loss, mean_L1) take EVAL_ROWS rows per launch,
        # on as many lanes as fit in EVAL_BYTES
        per_lane = EVAL_ROWS * (self.n_dim + self.enc.n_nodes + self.dec.n_nodes) * 4
        lanes = max(1, min(L, EVAL_BYTES // per_lane))
        self.eval_work = SimpleNamespace(
            x=cuda.device_array((lanes, EVAL_ROWS, self.n_dim), f32),
            enc_act=cuda.device_array((lanes, EVAL_ROWS, self.enc.n_nodes), f32),
            dec_act=cuda.device_array((lanes, EVAL_ROWS, self.dec.n_nodes), f32),
            lanes=lanes,
        )

    # -- moving networks ----------------------------------------------------------
    #: Above this many slots in one transfer, whole buffers travel instead of rows.
    BULK_SLOTS = 64

    def _put_rows(self, array, slots, rows) -> None:
        """``array[slots[i]] = rows[i]`` on the device: one row at a time for a few slots
        (a pruned pair), one whole-buffer round trip for many (the start of a run)."""
        if len(slots) > self.BULK_SLOTS:
            host = array.copy_to_host()
            for s, row in zip(slots, rows):
                host[s] = row
            array.copy_to_device(host)
            return
        for s, row in zip(slots, rows):
            array[int(s)].copy_to_device(np.ascontiguousarray(row, dtype=array.dtype))

    def _get_rows(self, array, slots) -> np.ndarray:
        lo = int(slots[0]) if len(slots) else 0
        if len(slots) > 1 and list(slots) == list(range(lo, lo + len(slots))):
            return array[lo : lo + len(slots)].copy_to_host()  # one contiguous block
        if len(slots) > self.BULK_SLOTS:
            return array.copy_to_host()[np.asarray(slots, dtype=np.int64)]
        return np.stack([array[int(s)].copy_to_host() for s in slots])

    def upload_many(self, slots, encoders, decoders) -> None:
        """Put :class:`~minievo.network.MLP` pairs (params, mask, Adam moments) in ``slots``."""
        slots = list(slots)
        for nets, dev in ((encoders, self.enc), (decoders, self.dec)):
            for name, attr in (
                ("params", "params"),
                ("mask", "mask"),
                ("m", "adam_m"),
                ("v", "adam_v"),
            ):
                self._put_rows(getattr(dev, name), slots, [getattr(n, attr) for n in nets])

    def upload_records(self, slots, encoders, decoders) -> None:
        """Put activation-record sums (a resumed VARIANCE run) in ``slots``."""
        if not self.record_rows:
            return
        slots = list(slots)
        for nets, dev in ((encoders, self.enc), (decoders, self.dec)):
            for name in ("rec_sum", "rec_sumsq"):
                self._put_rows(getattr(dev, name), slots, [getattr(n, name) for n in nets])

    def download(self, slots) -> dict:
        """Host copies of the buffers of ``slots``: ``{"enc"|"dec": {name: (n, ...)}}``."""
        slots = [int(s) for s in slots]
        out = {}
        names = ("params", "mask", "m", "v") + (
            ("rec_sum", "rec_sumsq") if self.record_rows else ()
        )
        for key, dev in (("enc", self.enc), ("dec", self.dec)):
            out[key] = {name: self._get_rows(getattr(dev, name), slots) for name in names}
        return out

    def copy_slots(self, src, dst) -> None:
        """Slots ``dst`` become copies of slots ``src`` (parameters, mask, moments)."""
        src, dst = self._idx(src), self._idx(dst)
        for dev in (self.enc, self.dec):
            self.k.copy_slots[_blocks(src.shape[0] * dev.n_params), THREADS](
                src, dst, dev.params, dev.mask, dev.m, dev.v
            )

    def clear_records(self, slots) -> None:
        """Zero the activation records of ``slots``."""
        if not self.record_rows:
            return
        slots = self._idx(slots)
        for dev in (self.enc, self.dec):
            n = slots.shape[0] * self.record_rows * dev.n_nodes
            self.k.clear_records[_blocks(n), THREADS](slots, dev.rec_sum, dev.rec_sumsq)

    def zero_counts(self, enc_slots, dec_slots) -> np.ndarray:
        """``(L, 4)`` int64: encoder mask zeros, encoder parameter zeros, then the decoder's."""
        cuda = self.k.cuda
        out = cuda.to_device(np.zeros((len(enc_slots), 4), np.int64))
        for dev, slots, col in ((self.enc, enc_slots, 0), (self.dec, dec_slots, 2)):
            slots = self._idx(slots)
            self.k.zero_counts[_blocks(slots.shape[0]), THREADS](
                dev.params, dev.mask, slots, out, col
            )
        return out.copy_to_host()

    def _idx(self, values):
        return self.k.cuda.to_device(np.ascontiguousarray(values, dtype=np.int64))

    # -- the batched passes -----------------------------------------------------------
    def _forward(self, enc_slots, dec_slots, rows, n_rows, data, record, work=None):
        """Gather every lane's batch and run encoder then decoder (``docs/algorithm.md §2``).

        ``work`` holds ``x (L, B, d)``, ``enc_act``, ``dec_act (L, B, nodes)``
        (default: the training workspace). Returns the output's column offset.
        """
        k = self.k
        work = work or self.train_work
        L = enc_slots.shape[0]
        k.gather_rows[_blocks(L * n_rows * self.n_dim), THREADS](data, rows, n_rows, work.x)
        inp, inp_off = work.x, 0
        for dev, slots, act in (
            (self.enc, enc_slots, work.enc_act),
            (self.dec, dec_slots, work.dec_act),
        ):
            for n_in, n_out, w_off, b_off, a, out_off, post in dev.layers():
                k.forward_layer[_blocks(L * n_rows * n_out), THREADS](
                    inp,
                    inp_off,
                    dev.params,
                    slots,
                    n_in,
                    n_out,
                    w_off,
                    b_off,
                    a,
                    post,
                    act,
                    out_off,
                    n_rows,
                    record,
                    dev.rec_sum,
                    dev.rec_sumsq,
                )
                inp, inp_off = act, out_off
        return inp_off

    def _loss_rows(self, n_rows, y_off, row_abs, col, with_delta, work=None):
        work = work or self.train_work
        L = row_abs.shape[0]
        last = self.dec.layers()[-1]
        delta = self.dec_delta if with_delta else self.no_delta
        self.k.l1_rows[_blocks(L * n_rows), THREADS](
            work.dec_act,
            y_off,
            work.x,
            n_rows,
            last[ACT],
            delta,
            last[OUT_OFF],
            row_abs,
            col,
            int(with_delta),
        )

    def _backward(self, enc_slots, dec_slots, n_rows):
        """Fill the per-lane gradients of both networks from the decoder's output delta."""
        k = self.k
        L = enc_slots.shape[0]
        enc_layers, dec_layers = self.enc.layers(), self.dec.layers()
        enc_last = enc_layers[-1]
        chain = [
            (
                self.dec,
                dec_slots,
                self.dec_act,
                self.dec_delta,
                self.dec_grad,
                dec_layers,
                (self.enc_act, self.enc_delta, enc_last[OUT_OFF], enc_last[ACT]),
            ),
            (self.enc, enc_slots, self.enc_act, self.enc_delta, self.enc_grad, enc_layers, None),
        ]
        for dev, slots, act, delta, grad, layers, below in chain:
            for l in range(len(layers) - 1, -1, -1):
                n_in, n_out, w_off, b_off, _, out_off, _ = layers[l]
                if l > 0:
                    x, x_off = act, layers[l - 1][OUT_OFF]
                elif below is not None:
                    x, x_off = below[0], below[2]
                else:
                    x, x_off = self.x, 0
                k.backward_params[_blocks(L * n_out * (n_in + 1)), THREADS](
                    x, x_off, delta, out_off, n_in, n_out, w_off, b_off, n_rows, grad, L
                )
                if l > 0:
                    target = (
                        act,
                        layers[l - 1][OUT_OFF],
                        layers[l - 1][ACT],
                        delta,
                        layers[l - 1][OUT_OFF],
                    )
                elif below is not None:
                    target = (below[0], below[2], below[3], below[1], below[2])
                else:
                    continue
                a, a_off, a_act, dx, dx_off = target
                k.backward_input[_blocks(L * n_rows * n_in), THREADS](
                    delta,
                    out_off,
                    dev.params,
                    slots,
                    n_in,
                    n_out,
                    w_off,
                    a,
                    a_off,
                    a_act,
                    dx,
                    dx_off,
                    n_rows,
                )

    def evaluate(self, enc_slots, dec_slots, rows, record, data="train") -> np.ndarray:
        """L1 loss of every lane's pair on its batch, without training; ``(L,)`` float64.

        ``rows (L, n_rows)`` indexes ``data``; ``record (L,)`` bool adds the
        passes to the slots' records (no slot may repeat among recording lanes).
        """
        rows = np.ascontiguousarray(rows, dtype=np.int64)
        n_rows = rows.shape[1]
        row_abs = self._run_eval(enc_slots, dec_slots, rows, record, data)
        return row_abs.sum(axis=1) / (n_rows * self.n_dim)

    def _run_eval(self, enc_slots, dec_slots, rows, record, data, work=None):
        cuda = self.k.cuda
        work = work or self.train_work
        L, n_rows = rows.shape
        out = np.empty((L, n_rows), np.float64)
        for lo in range(0, L, work.lanes):
            hi = min(L, lo + work.lanes)
            es, ds = self._idx(enc_slots[lo:hi]), self._idx(dec_slots[lo:hi])
            rec = cuda.to_device(np.ascontiguousarray(record[lo:hi], dtype=np.uint8))
            row_abs = cuda.device_array((hi - lo, n_rows), np.float64)
            y_off = self._forward(
                es, ds, self._idx(rows[lo:hi]), n_rows, self.data[data], rec, work
            )
            self._loss_rows(n_rows, y_off, row_abs, 0, False, work)
            out[lo:hi] = row_abs.copy_to_host()
        return out

    def row_errors(self, enc_slots, dec_slots, data="test") -> np.ndarray:
        """``(L, N)`` float64: ``sum_k |y - x|`` of every row of a whole data set, per lane.

        The whole-set L1 (``test_loss``) is ``row_errors.sum(1) / (N d)``; the
        per-batch L1 (``mean_L1``) comes from consecutive row groups.
        """
        n = self.data[data].shape[0]
        L = len(enc_slots)
        out = np.empty((L, n), np.float64)
        no_record = np.zeros(L, np.uint8)
        for start in range(0, n, EVAL_ROWS):
            stop = min(n, start + EVAL_ROWS)
            rows = np.broadcast_to(np.arange(start, stop, dtype=np.int64), (L, stop - start))
            out[:, start:stop] = self._run_eval(
                np.asarray(enc_slots),
                np.asarray(dec_slots),
                np.ascontiguousarray(rows),
                no_record,
                data,
                self.eval_work,
            )
        return out

    def train_pass(
        self,
        enc_slots,
        dec_slots,
        orders,
        batch_size: int,
        lrs,
        adam_t,
        fresh,
        record,
        data="train",
    ) -> np.ndarray:
        """One Adam step per batch of every lane's row order; ``(L, n_batches)`` losses.

        ``orders (L, N)`` int64 (lane p's batch b is ``orders[p, bB:(b+1)B]``),
        ``lrs (L,)`` learning rates, ``adam_t (L,)`` int64 step counts of the
        persistent optimizer *before* the pass (advanced by one per step; the
        caller keeps them), ``fresh`` and ``record`` (L,) bool. The lanes'
        slots must be distinct. Only the losses come back, once per pass.
        """
        cuda = self.k.cuda
        orders = np.ascontiguousarray(orders, dtype=np.int64)
        L, N = orders.shape
        if L > self.max_train_lanes:
            raise ValueError(f"{L} lanes exceed max_train_lanes {self.max_train_lanes}")
        n_batches = -(-N // batch_size)
        es, ds = self._idx(enc_slots), self._idx(dec_slots)
        rec = cuda.to_device(np.ascontiguousarray(record, dtype=np.uint8))
        fr = cuda.to_device(np.ascontiguousarray(fresh, dtype=np.uint8))
        steps, bias2 = self.adam_constants(lrs, adam_t, fresh, n_batches)  # (n_batches, L)
        d_steps, d_bias2 = cuda.to_device(steps), cuda.to_device(bias2)
        d_orders = cuda.to_device(orders)
        row_abs = cuda.device_array((L, N), np.float64)
        for b in range(n_batches):
            start = b * batch_size
            n_rows = min(batch_size, N - start)
            y_off = self._forward(
                es, ds, d_orders[:, start : start + n_rows], n_rows, self.data[data], rec
            )
            self._loss_rows(n_rows, y_off, row_abs, start, True)
            self._backward(es, ds, n_rows)
            for dev, slots, grad in ((self.enc, es, self.enc_grad), (self.dec, ds, self.dec_grad)):
                self.k.adam[_blocks(L * dev.n_params), THREADS](
                    dev.params,
                    dev.mask,
                    dev.m,
                    dev.v,
                    slots,
                    grad,
                    d_steps[b],
                    d_bias2[b],
                    fr,
                    self.consts,
                )
        rows = row_abs.copy_to_host()  # (L, N)
        losses = np.empty((L, n_batches), np.float64)
        for b in range(n_batches):
            part = rows[:, b * batch_size : (b + 1) * batch_size]
            losses[:, b] = part.sum(axis=1) / (part.shape[1] * self.n_dim)
        return losses

    def adam_constants(self, lrs, adam_t, fresh, n_batches):
        """Per step and lane float32 ``lr / (1 - b1^t)`` and ``sqrt(1 - b2^t)``, as the reference.

        Fresh lanes use ``t = 1`` every step; persistent lanes ``t = adam_t + 1 + b``.
        """
        lrs = np.asarray(lrs, np.float64)
        t = np.where(
            np.asarray(fresh, bool)[None, :],
            1,
            np.asarray(adam_t, np.int64)[None, :] + 1 + np.arange(n_batches)[:, None],
        )
        t = t.astype(np.float64)  # (n_batches, L); pow as Python's float **
        steps = (lrs[None, :] / (1.0 - np.power(self.beta1, t))).astype(np.float32)
        bias2 = np.sqrt(1.0 - np.power(self.beta2, t)).astype(np.float32)
        return steps, bias2

"""The fast path: the operations of :mod:`minievo.kernels.reference` as Numba kernels.

Same names, same signatures, same math; read the reference for the
equations. What differs is *how*:

* Every matrix product of minievo is one of two loops (below,
  :func:`_dot_rows` and :func:`_combine_rows`), and each is written so that
  its innermost loop runs over a *long, contiguous* row: LLVM then emits full
  16-wide AVX-512 (or 8-wide AVX2) instructions. A loop over a 30-long row
  does not vectorise well (the vectoriser wants 64 elements before it uses
  its widest instructions, and every 30-long dot ends in a horizontal sum),
  which is why :func:`train_epoch` stores short-row layers transposed (next
  point).
* **Transposed storage during an epoch.** A layer with ``n_in < n_out``
  (the decoder's ``30 -> 1000`` output layer) has 30-long weight rows. For
  the length of one :func:`train_epoch` call of enough batches
  (:data:`MIN_BATCHES_TO_TRANSPOSE`) its weight block, gradient block
  and Adam moments are stored transposed, ``(n_in, n_out)``, in place inside
  the network's buffers, so that every product over that layer runs over
  1000-long rows; the blocks are transposed back before returning, so the
  caller never sees the difference (another thread must not read the
  network during the call, as during any update). Adam is elementwise, so
  updating a transposed block is the same update. Results differ from
  one-batch calls only in the order of the sums.
* **Fused gradient and Adam.** A training step updates each layer as soon as
  its gradient (and the gradient flowing to the layer below, which needs the
  old weights) is known, a cache-sized block of gradient rows at a time,
  instead of a second pass over all parameters. Inside an epoch the blocks
  go through a scratch buffer, and only the last step's gradient is written
  to ``grad`` (the only one a caller can see, as with the reference). A
  fresh Adam step is computed as the ``lr * g / (|g| + eps)`` it reduces to
  (see :func:`_adam_slice`).
* **Why not ``np.dot``/BLAS.** At the papers' size the products are
  5 x 1000 by 1000 x 30 and the like: OpenBLAS packs the large operand on
  every call. Measured in one run inside jitted loops on one core of the
  development machine (AMD EPYC, AVX-512, OpenBLAS 0.3), ``np.dot`` took
  6x as long as :func:`_dot_rows` for the encoder's first layer
  (5 x 1000 x 30) and 4x as long as the transposed loop for the decoder's
  last layer; on a quiet core these loops do the five large products of a
  step in about 17 us, near the core's peak, so they stay.
* The same storage serves the other passes over many batches:
  :func:`partner_epoch` (``epoch-node``, every network of the neighbourhood
  transposed for the whole pass) and :func:`dataset_l1` (the records' test
  loss over a whole data set: a copy of the parameters in that storage,
  then every chunk of rows in one call).
* The sigmoid uses a vectorisable ``exp`` (:func:`_exp32`, Cephes' ``expf``,
  relative error below 3e-7) instead of one ``libm`` call per element.
* Nothing is allocated inside a step: outputs go into caller-owned buffers
  (:func:`train_epoch` allocates a scratch buffer and a mask copy per call).
* ``error_model="numpy"`` (no zero-division checks that block vectorising)
  and a restricted ``fastmath`` (``reassoc``, ``contract``, ``nsz``) so that
  sums may be reordered and fused; NaN and infinity semantics are kept, so a
  diverging run is still detected. The tests hold every kernel to the
  reference at ``rtol=1e-4`` (float32, see ``tests/test_kernels.py``).
* A product skips zero coefficients (ReLU outputs and deltas hold many), so
  ``0 * inf`` may count as 0 here where NumPy gives NaN; a NaN or infinite
  loss still shows as NaN or infinity.
* ``cache=True`` stores compiled code next to this file in ``__pycache__``:
  the first run compiles what it calls (for the default job about 16.6 CPU
  seconds at Numba's default level 3, 30 before issue 12's work, same
  machine), later runs load it (0.2 s). Every entry point (the command, the
  Python API, the tests) compiles at Numba's level: the cache does not record
  the level, and code compiled at another level (``NUMBA_OPT``) can round the
  losses' sums differently in the last bit, so a cache filled at one level
  would change the numbers of runs at the other. After editing a kernel
  Numba notices the change itself; ``NUMBA_DISABLE_JIT=1`` runs the kernels
  as plain Python for debugging.
* **Compile time.** Numba compiles each ``@jit`` function into a library of
  its own and, for every caller, links the callee's code in and optimises
  and emits machine code for the whole linked module again: each level of a
  call chain pays for everything below it. So only the product loops and
  other leaves are ``@jit`` functions; the glue between them (views,
  :func:`_pair_pass`, a layer's gradient and Adam, one pair's
  evaluation) is ``@jit_glue``, inlined into its caller at Numba's IR level
  and never compiled alone, and each entry point calls it at one site.
  Entry points share compiled code where they can: :func:`evaluate_pairs`
  calls the compiled :func:`evaluate_pair`, and :func:`dataset_l1` runs
  :func:`_mlp_forward` on a copy of the parameters. (Measured with
  ``numba.core.event`` listeners on ``numba:compile``, a cold default job
  compiles four entry points: ``train_epoch`` about 7 s, ``evaluate_pairs``
  6.5 s with ``evaluate_pair`` inside it, ``dataset_l1`` 1.8 s.) The
  public wrappers (``dense_forward``, ``mlp_forward``, ...) are compiled
  only when called from Python (the tests). A flag passed between kernels
  is a NumPy bool and an absent bias is a writable empty slice, so that no
  callee is compiled twice for ``Literal[bool]`` or read-only variants.

``benchmarks/profile_step.py`` prints what each piece costs at paper size.
"""

from typing import NamedTuple

import numpy as np
from llvmlite import ir
from numba import config, njit, types
from numba.extending import intrinsic

from . import Adam, reference
from .layout import ACT, B_OFF, N_IN, N_OUT, OUT_OFF, REC_POST, RELU, SIGMOID, W_OFF
from .reference import DENOISING, PLAIN, VARIATIONAL  # noqa: F401

FASTMATH = {"reassoc", "contract", "nsz"}
jit = njit(cache=True, nogil=True, error_model="numpy", fastmath=FASTMATH)
# For helpers called once per row: a call passes every array as a dozen machine
# words, which costs more than a 30-long row's arithmetic; inlined, it is free.
jit_inline = njit(cache=True, nogil=True, error_model="numpy", fastmath=FASTMATH, inline="always")
# For glue: views, one-call-site steps of a pass. Numba compiles every ``@jit``
# function as a library of its own and, for each caller, links it in and
# optimises and emits machine code for the whole linked module again, so a chain
# of wrappers ``train_epoch -> _pair_pass -> _layer_gradient_and_adam`` compiled the
# same loops once per level (about 2-4 s a level). Glue inlined at Numba's IR
# level is never compiled on its own; the product loops and the other leaves
# stay separate ``@jit`` functions (compiled once, linked where called).
jit_glue = jit_inline

#: :func:`train_epoch` stores short-row layers transposed only when the epoch has
#: at least this many batches, (persistent Adam, fresh Adam): transposing the
#: blocks in and out costs what 3 (fresh) or 7 (persistent: the moments move
#: too) steps save (measured at paper size).
MIN_BATCHES_TO_TRANSPOSE = (8, 4)

_f32 = np.float32
_NO_BIAS = np.zeros(0, dtype=np.float32)
# Flags passed between kernels: a literal True/False argument makes Numba
# compile a separate copy of the callee for each value (twice the compile time
# here); NumPy booleans are typed as plain ``bool``.
_TRUE, _FALSE = np.bool_(True), np.bool_(False)


class _Pass(NamedTuple):
    """How a backward pass runs (flags passed as NumPy bools, see above).

    ``epoch_layout``: short-row layers are stored transposed (module docstring);
    ``update``: each layer's Adam step right after its gradient;
    ``store_grad``: the weight gradient goes to ``grad`` (else to a scratch
    block: inside an epoch only the last step's gradient is observable).
    """

    epoch_layout: bool
    update: bool
    store_grad: bool


# --------------------------------------------------------------------------
# Views into flat buffers
# --------------------------------------------------------------------------
# The reference's view functions are plain slicing and reshaping, which Numba
# compiles as they are: one definition serves both backends.
weight_view = jit(reference.weight_view)
bias_view = jit(reference.bias_view)
rows_view = jit(reference.rows_view)
# the same, inlined into the kernels below (see ``jit_glue``)
_weight_view = jit_glue(reference.weight_view)
_bias_view = jit_glue(reference.bias_view)
_rows_view = jit_glue(reference.rows_view)


@jit_glue
def _transposed_view(layout, buf, l):
    """Layer ``l``'s weight block stored transposed, ``(n_in, n_out)`` (inside train_epoch)."""
    n_in, n_out, w_off = layout[l, N_IN], layout[l, N_OUT], layout[l, W_OFF]
    return buf[w_off : w_off + n_out * n_in].reshape((n_in, n_out))


@jit_glue
def _stored_transposed(layout, l, epoch_layout):
    """Whether layer ``l``'s weights are stored ``(n_in, n_out)`` right now."""
    return epoch_layout and layout[l, N_IN] < layout[l, N_OUT]


# --------------------------------------------------------------------------
# The two product loops
# --------------------------------------------------------------------------
#: Products keep blocks of about this many float32 (16 KiB, a third of a
#: 48 KiB L1 data cache) in cache while they stream a larger operand.
CACHE_FLOATS = 4096


@jit
def _dot_rows(a, b, bias, out):
    """``out[i, j] = bias[j] + a[i] . b[j]``: dots of rows, ``a (I, K)``, ``b (J, K)``.

    Four rows of ``a`` at a time share each load of a row of ``b``. ``bias``
    of length 0 means no bias.
    """
    n_i, n_k = a.shape
    n_j = b.shape[0]
    has_bias = bias.shape[0] > 0
    i = 0
    while i + 4 <= n_i:
        for j in range(n_j):
            s0 = s1 = s2 = s3 = _f32(0.0)
            for k in range(n_k):  # four dots over contiguous rows (K,)
                w = b[j, k]
                s0 += a[i, k] * w
                s1 += a[i + 1, k] * w
                s2 += a[i + 2, k] * w
                s3 += a[i + 3, k] * w
            c = bias[j] if has_bias else _f32(0.0)
            out[i, j] = s0 + c
            out[i + 1, j] = s1 + c
            out[i + 2, j] = s2 + c
            out[i + 3, j] = s3 + c
        i += 4
    while i < n_i:
        for j in range(n_j):
            s = _f32(0.0)
            for k in range(n_k):
                s += a[i, k] * b[j, k]
            out[i, j] = s + (bias[j] if has_bias else _f32(0.0))
        i += 1


@jit_inline
def _combine_row(coef, i, rows, bias, out_row):
    """``out_row = bias + sum_k coef[i, k] * rows[k]``, one output row of :func:`_combine_rows`.

    Each term is an axpy over a contiguous row ``(N,)``; the first non-zero
    term writes the output row (no zeroing pass) and zero coefficients are
    skipped. Short rows (``N < 64``, where each pass costs mostly loop
    overhead) take four terms per pass. ``bias`` of length 0 means no bias.
    """
    n, n_k = rows.shape[1], coef.shape[1]
    has_bias = bias.shape[0] > 0
    first = True
    k = 0
    if n < 64 and n_k >= 4:
        c0, c1, c2, c3 = coef[i, 0], coef[i, 1], coef[i, 2], coef[i, 3]
        for t in range(n):
            out_row[t] = (
                (bias[t] if has_bias else _f32(0.0))
                + c0 * rows[0, t]
                + c1 * rows[1, t]
                + c2 * rows[2, t]
                + c3 * rows[3, t]
            )
        first = False
        k = 4
        while k + 4 <= n_k:
            c0, c1, c2, c3 = coef[i, k], coef[i, k + 1], coef[i, k + 2], coef[i, k + 3]
            if c0 != 0.0 or c1 != 0.0 or c2 != 0.0 or c3 != 0.0:
                for t in range(n):
                    out_row[t] += (
                        c0 * rows[k, t]
                        + c1 * rows[k + 1, t]
                        + c2 * rows[k + 2, t]
                        + c3 * rows[k + 3, t]
                    )
            k += 4
    for k in range(k, n_k):  # noqa: B020 (the tail after the unrolled loop)
        c = coef[i, k]
        if c != 0.0:
            if first:
                if has_bias:
                    for t in range(n):
                        out_row[t] = bias[t] + c * rows[k, t]
                else:
                    for t in range(n):
                        out_row[t] = c * rows[k, t]
                first = False
            else:
                for t in range(n):
                    out_row[t] += c * rows[k, t]
    if first:
        for t in range(n):
            out_row[t] = bias[t] if has_bias else _f32(0.0)


@jit
def _combine_rows(coef, rows, bias, out):
    """``out[i] = bias + sum_k coef[i, k] * rows[k]``: ``coef (I, K)``, ``rows (K, N)``.

    One output row at a time (:func:`_combine_row`), except for many short
    rows (``d_x = d W`` of a row-major ``30 -> 1000`` layer: 1000 rows of 30)
    into a small output: then the loop over ``k`` runs outside, so that each
    row of ``rows`` is read from memory once, not once per output row.
    """
    n_i, n_k = coef.shape
    n = rows.shape[1]
    if n >= 64 or n_i * n > CACHE_FLOATS:
        for i in range(n_i):
            _combine_row(coef, i, rows, bias, out[i])
        return
    has_bias = bias.shape[0] > 0
    for i in range(n_i):
        for t in range(n):
            out[i, t] = bias[t] if has_bias else _f32(0.0)
    k = 0
    while k + 4 <= n_k:  # four rows per pass, as in _combine_row
        for i in range(n_i):
            c0, c1, c2, c3 = coef[i, k], coef[i, k + 1], coef[i, k + 2], coef[i, k + 3]
            if c0 != 0.0 or c1 != 0.0 or c2 != 0.0 or c3 != 0.0:
                for t in range(n):
                    out[i, t] += (
                        c0 * rows[k, t]
                        + c1 * rows[k + 1, t]
                        + c2 * rows[k + 2, t]
                        + c3 * rows[k + 3, t]
                    )
        k += 4
    for k in range(k, n_k):  # noqa: B020 (the tail after the unrolled loop)
        for i in range(n_i):
            c = coef[i, k]
            if c != 0.0:
                for t in range(n):
                    out[i, t] += c * rows[k, t]


@jit
def _column_sums(d, out):
    """``out[j] = sum_b d[b, j]`` (bias gradient)."""
    n_rows, n = d.shape
    for j in range(n):
        out[j] = d[0, j] if n_rows > 0 else _f32(0.0)
    for b in range(1, n_rows):
        for j in range(n):
            out[j] += d[b, j]


@jit
def _transpose_block(buf, off, n_rows, n_cols, tmp):
    """Transpose the ``(n_rows, n_cols)`` block of ``buf`` at ``off`` in place (via ``tmp``)."""
    block = buf[off : off + n_rows * n_cols]
    src = tmp[: n_rows * n_cols]
    for i in range(src.shape[0]):  # a loop, not ``src[:] = block``: that compiles a
        src[i] = block[i]  # shape-mismatch error message (1.5 s of a cold start)
    for r in range(n_rows):
        for c in range(n_cols):
            block[c * n_rows + r] = src[r * n_cols + c]


# --------------------------------------------------------------------------
# Dense layer, W stored (n_out, n_in) as in the reference
# --------------------------------------------------------------------------
@jit
def dense_forward(x, weight, bias, out):
    _dot_rows(x, weight, bias, out)  # dots over n_in


@jit
def dense_backward_params(x, d_out, d_weight, d_bias):
    _combine_rows(d_out.T, x, _NO_BIAS, d_weight)  # dW[j] = sum_b d[b, j] x[b]
    _column_sums(d_out, d_bias)


@jit
def dense_backward_input(weight, d_out, d_x):
    _combine_rows(d_out, weight, _NO_BIAS, d_x)  # dx[b] = sum_j d[b, j] W[j]


# The same three, with the weights stored transposed, ``weight_t (n_in, n_out)``:
# the loops swap roles so that the long dimension stays innermost.
@jit
def _dense_forward_t(x, weight_t, bias, out):
    _combine_rows(x, weight_t, bias, out)  # out[b] = b + sum_k x[b, k] Wt[k]


@jit
def _dense_backward_params_t(x, d_out, d_weight_t, d_bias):
    _combine_rows(x.T, d_out, _NO_BIAS, d_weight_t)  # dWt[k] = sum_b x[b, k] d[b]
    _column_sums(d_out, d_bias)


@jit
def _dense_backward_input_t(weight_t, d_out, d_x):
    _dot_rows(d_out, weight_t, _NO_BIAS, d_x)  # dots over n_out


# --------------------------------------------------------------------------
# Activations
# --------------------------------------------------------------------------
if config.DISABLE_JIT:  # plain Python, for debugging

    def _float32_from_bits(bits):
        return np.array(bits, dtype=np.int32).view(np.float32)[()]
else:

    @intrinsic
    def _float32_from_bits(typingctx, bits):
        """Reinterpret an int32 bit pattern as a float32 (a free register move)."""
        sig = types.float32(types.int32)

        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], ir.FloatType())

        return sig, codegen


@jit
def _exp32(x):
    """``exp(x)`` in float32 without a library call, so that loops over it vectorise.

    Cephes' ``expf``: ``x = n ln2 + r`` with ``|r| <= ln2 / 2`` (``ln2`` split
    in two parts for exactness), a degree-7 polynomial for ``exp(r)``, and
    ``2^n`` built from its bit pattern. ``x`` is clamped to
    ``[-87.33, 88]`` (``2^n`` stays a normal number); NaN is not handled here.
    """
    x = x if x < _f32(88.0) else _f32(88.0)
    x = x if x > _f32(-87.3365447504) else _f32(-87.3365447504)
    n = np.floor(x * _f32(1.44269504088896341) + _f32(0.5))  # round(x / ln2)
    r = x - n * _f32(0.693359375)
    r = r + n * _f32(2.12194440e-4)
    p = _f32(1.9875691500e-4)
    p = p * r + _f32(1.3981999507e-3)
    p = p * r + _f32(8.3334519073e-3)
    p = p * r + _f32(4.1665795894e-2)
    p = p * r + _f32(1.6666665459e-1)
    p = p * r + _f32(5.0000001201e-1)
    p = p * r * r + r + _f32(1.0)
    return p * _float32_from_bits((np.int32(n) + np.int32(127)) << np.int32(23))


@jit
def activate(z, act):
    n_rows, n = z.shape
    if act == RELU:
        for b in range(n_rows):
            for j in range(n):
                if z[b, j] < 0.0:
                    z[b, j] = 0.0
    elif act == SIGMOID:
        for b in range(n_rows):
            for j in range(n):
                v = z[b, j]
                s = _f32(1.0) / (_f32(1.0) + _exp32(-v))
                z[b, j] = s if v == v else v  # NaN stays NaN


@jit
def activation_backward(a, d, act):
    n_rows, n = a.shape
    if act == RELU:
        for b in range(n_rows):
            for j in range(n):
                if a[b, j] <= 0.0:
                    d[b, j] = 0.0
    elif act == SIGMOID:
        for b in range(n_rows):
            for j in range(n):
                d[b, j] *= a[b, j] * (_f32(1.0) - a[b, j])


# --------------------------------------------------------------------------
# Losses
# --------------------------------------------------------------------------
@jit
def l1_loss(y, target, d_y):
    n_rows, n = y.shape
    inv = _f32(1.0) / _f32(n_rows * n)
    total = 0.0
    for b in range(n_rows):
        for k in range(n):
            diff = y[b, k] - target[b, k]
            total += abs(diff)
            d_y[b, k] = inv if diff > 0.0 else (-inv if diff < 0.0 else diff * _f32(0.0))
    return total / (n_rows * n)


@jit
def bce_sigmoid_loss(y, target, d_z):
    n_rows, n = y.shape
    total = 0.0
    for b in range(n_rows):
        for k in range(n):
            yk, tk = y[b, k], target[b, k]
            log_y = max(np.log(max(yk, _f32(0.0))), _f32(-100.0))
            log_1my = max(np.log(max(_f32(1.0) - yk, _f32(0.0))), _f32(-100.0))
            total -= tk * log_y + (_f32(1.0) - tk) * log_1my
            d_z[b, k] = yk - tk
    return total


@jit
def kl_divergence(mean, log_var, d_mean, d_log_var):
    n_rows, n = mean.shape
    total = 0.0
    for b in range(n_rows):
        for k in range(n):
            var = np.exp(log_var[b, k])
            d_mean[b, k] += mean[b, k]
            d_log_var[b, k] += _f32(0.5) * (var - _f32(1.0))
            total += _f32(1.0) + log_var[b, k] - mean[b, k] * mean[b, k] - var
    return -0.5 * total


# --------------------------------------------------------------------------
# Adam, masked, on 1-D slices of parameter-shaped buffers
# --------------------------------------------------------------------------
@jit
def _adam_slice(params, grad, mask, m, v, consts, fresh):
    """Masked Adam on equally long 1-D slices, persistent or fresh.

    ``consts`` from :func:`_adam_constants`. ``fresh`` (``m``, ``v`` unused):
    with zero moments and ``t = 1`` the step reduces to
    ``lr * g / (|g| + eps)`` (see the reference); computed so, it skips a
    square root and a division per parameter and differs from the
    reference's sequence of operations by about one rounding (the tests hold
    it to ``rtol=1e-5``).

    An empty ``mask`` means all ones (:func:`_pruning_mask`): the update then
    reads no mask and multiplies by nothing, which gives the same bits
    (``x * 1.0 == x``) with one stream of memory traffic fewer.

    Slices, not ``range(lo, hi)`` on whole buffers: with an index that might
    be negative Numba adds a wrap-around test to every access, which stops
    vectorisation (10x slower here).
    """
    step_size, bc2_sqrt, b1, one_minus_b1, b2, one_minus_b2, eps32 = consts
    masked = mask.shape[0] > 0
    # ``masked`` is the same for every i: LLVM unswitches the loop into a copy
    # that reads the mask and one that does not
    if fresh:
        for i in range(params.shape[0]):
            keep = _f32(mask[i]) if masked else _f32(1.0)
            g = grad[i] * keep
            params[i] = (params[i] - step_size * g / (abs(g) + eps32)) * keep
    else:
        for i in range(params.shape[0]):  # one pass, vectorised
            keep = _f32(mask[i]) if masked else _f32(1.0)
            g = grad[i] * keep
            mi = m[i] * b1 + one_minus_b1 * g
            vi = v[i] * b2 + one_minus_b2 * g * g
            m[i] = mi
            v[i] = vi
            params[i] = (params[i] - step_size * mi / (np.sqrt(vi) / bc2_sqrt + eps32)) * keep


@jit
def _pruning_mask(mask):
    """``mask`` if it masks any parameter, else an empty slice of it (all ones).

    With ``mask_mode="regrow"`` (the published one, and the presets') a
    network's mask stays all ones: pruning zeroes parameters, not the mask.
    A pass over many steps checks once, and its Adam updates then skip the
    mask (:func:`_adam_slice`): a step up to 5% shorter, fresh or persistent,
    at paper size and at 4000 dimensions (``benchmarks/profile_step.py``,
    last lines: all ones against one masked weight, alternated; three runs).
    """
    for i in range(mask.shape[0]):
        if mask[i] != 1.0:
            return mask
    return mask[:0]


@jit
def _adam_constants(t, adam, fresh):
    """The float32 constants of :func:`_adam_slice` for step ``t`` of ``adam``
    (:class:`~minievo.kernels.Adam`), rounded as the reference's:
    bias-corrected step size, ``sqrt(1 - beta2^t)``, ``beta1``, ``1 - beta1``,
    ``beta2``, ``1 - beta2``, ``eps``. ``1 - beta2`` is rounded from float64
    (``1 - float32(0.999)`` would be 1.3e-5 off). A fresh step needs only ``lr``."""
    lr, beta1, beta2 = adam.lr, adam.beta1, adam.beta2
    if fresh:
        step_size, bc2_sqrt = _f32(lr), _f32(1.0)
    else:
        step_size, bc2_sqrt = _f32(lr / (1.0 - beta1**t)), _f32(np.sqrt(1.0 - beta2**t))
    return (
        step_size,
        bc2_sqrt,
        _f32(beta1),
        _f32(1.0 - beta1),
        _f32(beta2),
        _f32(1.0 - beta2),
        _f32(adam.eps),
    )


@jit
def adam_update(params, grad, mask, m, v, t, adam):
    _adam_slice(params, grad, mask, m, v, _adam_constants(t, adam, _FALSE), _FALSE)


@jit
def adam_fresh_update(params, grad, mask, adam):
    _adam_slice(params, grad, mask, params, params, _adam_constants(1, adam, _TRUE), _TRUE)


@jit
def optimizer_step(net, adam):
    if adam.fresh:
        adam_fresh_update(net.params, net.grad, net.mask, adam)
    else:
        net.adam_t[0] += 1
        adam_update(net.params, net.grad, net.mask, net.adam_m, net.adam_v, net.adam_t[0], adam)


#: Adam runs over blocks of about this many weights of freshly computed gradient
#: rows (16 KiB of float32: stays in the L1 cache; one call per row would pay
#: each call's set-up and vector tail 30 times per layer).
ADAM_BLOCK = 4096


@jit_glue
def _layer_gradient_and_adam(net, l, coef, rows, mask, scratch, store_grad, adam):
    """Layer ``l``'s weight gradient a block of stored rows at a time, each
    block's Adam step right after it while the block is in cache, then the bias's.

    The stored row ``i`` is ``sum_k coef[i, k] rows[k]`` (see :func:`_mlp_backward`).
    It goes to ``net.grad`` when ``store_grad``, else to ``scratch``: inside an
    epoch only the last step's gradient is observable. ``mask`` is 0/1 in the
    current storage; ``net.adam_t`` already counts this step.
    """
    layout = net.layout
    n_stored, n = coef.shape[0], rows.shape[1]
    w_off, b_off, n_out = layout[l, W_OFF], layout[l, B_OFF], layout[l, N_OUT]
    fresh = adam.fresh
    consts = _adam_constants(net.adam_t[0], adam, fresh)
    p, m, v = net.params, net.adam_m, net.adam_v
    rows_per_block = max(1, ADAM_BLOCK // n)
    for i0 in range(0, n_stored, rows_per_block):
        i1 = min(i0 + rows_per_block, n_stored)
        lo, hi = w_off + i0 * n, w_off + i1 * n
        g = net.grad[lo:hi] if store_grad else scratch[: hi - lo]
        for i in range(i0, i1):
            _combine_row(coef, i, rows, _NO_BIAS, g[(i - i0) * n : (i - i0 + 1) * n])
        _adam_slice(p[lo:hi], g, mask[lo:hi], m[lo:hi], v[lo:hi], consts, fresh)
    lo, hi = b_off, b_off + n_out
    _adam_slice(p[lo:hi], net.grad[lo:hi], mask[lo:hi], m[lo:hi], v[lo:hi], consts, fresh)


# --------------------------------------------------------------------------
# A whole MLP
# --------------------------------------------------------------------------
@jit
def record_rows(net, layout, l, values):
    lo, hi = layout[l, OUT_OFF], layout[l, OUT_OFF] + layout[l, N_OUT]
    for b in range(values.shape[0]):
        rec_sum, rec_sumsq = net.rec_sum[b][lo:hi], net.rec_sumsq[b][lo:hi]
        for j in range(values.shape[1]):
            value = np.float64(values[b, j])
            rec_sum[j] += value
            rec_sumsq[j] += value * value


@jit
def _mlp_forward(net, params, x, act_work, record, epoch_layout):
    """Forward ``x (B, n_in)`` through ``net`` with the weights and biases in ``params``
    (``net.params``, or a copy in another storage, see :func:`dataset_l1`)."""
    n_rows = x.shape[0]
    layout = net.layout
    n_layers = layout.shape[0]
    for l in range(n_layers):
        inp = x if l == 0 else _rows_view(layout, act_work, n_rows, l - 1)
        z = _rows_view(layout, act_work, n_rows, l)  # (B, n_out)
        bias = _bias_view(layout, params, l)
        if _stored_transposed(layout, l, epoch_layout):
            _combine_rows(inp, _transposed_view(layout, params, l), bias, z)  # _dense_forward_t
        else:
            _dot_rows(inp, _weight_view(layout, params, l), bias, z)  # dense_forward
        if record and not layout[l, REC_POST]:
            record_rows(net, layout, l, z)
        activate(z, layout[l, ACT])
        if record and layout[l, REC_POST]:
            record_rows(net, layout, l, z)
    if record:
        for b in range(n_rows):
            net.rec_count[b] += 1.0
    return _rows_view(layout, act_work, n_rows, n_layers - 1)


@jit
def mlp_forward(net, x, act_work, record):
    return _mlp_forward(net, net.params, x, act_work, record, _FALSE)


@jit
def _mlp_backward(net, x, act_work, delta_work, d_x, last_is_pre, mode, mask, scratch, adam):
    """Backpropagation, and with ``mode.update`` the Adam step (``adam``), layer by layer.

    A layer's gradient is computed after the gradient flowing to the layer
    below (which needs the layer's old weights), so that Adam can update the
    layer at once. ``mode``: a :class:`_Pass`; ``mask``: the network's mask in
    the current storage; ``scratch``: see :func:`_layer_gradient_and_adam`.
    """
    n_rows = x.shape[0]
    layout = net.layout
    n_layers = layout.shape[0]
    epoch_layout, update = mode.epoch_layout, mode.update
    if update and not adam.fresh:
        net.adam_t[0] += 1
    for l in range(n_layers - 1, -1, -1):
        a = _rows_view(layout, act_work, n_rows, l)
        d = _rows_view(layout, delta_work, n_rows, l)  # (B, n_out)
        if not (last_is_pre and l == n_layers - 1):
            activation_backward(a, d, layout[l, ACT])  # now dL/dz
        inp = x if l == 0 else _rows_view(layout, act_work, n_rows, l - 1)
        transposed = _stored_transposed(layout, l, epoch_layout)
        # "no bias", writable like a real bias, so that the products need one signature
        no_bias = _bias_view(layout, net.grad, l)[:0]
        if l > 0 or d_x.shape[0] > 0:
            below = _rows_view(layout, delta_work, n_rows, l - 1) if l > 0 else d_x
            if transposed:
                _dot_rows(d, _transposed_view(layout, net.params, l), no_bias, below)
            else:
                _combine_rows(d, _weight_view(layout, net.params, l), no_bias, below)
        _column_sums(d, _bias_view(layout, net.grad, l))
        # stored row i of the weight gradient is sum_k coef[i, k] rows[k]:
        # dW[j] = sum_b d[b, j] inp[b], or transposed dWt[k] = sum_b inp[b, k] d[b]
        coef, rows = (inp.T, d) if transposed else (d.T, inp)
        if update:
            _layer_gradient_and_adam(net, l, coef, rows, mask, scratch, mode.store_grad, adam)
        elif transposed:  # (gradients only: a C copy of coef, one signature of the loop)
            _combine_rows(
                np.ascontiguousarray(coef), rows, no_bias, _transposed_view(layout, net.grad, l)
            )
        else:
            _combine_rows(
                np.ascontiguousarray(coef), rows, no_bias, _weight_view(layout, net.grad, l)
            )


@jit
def mlp_backward(net, x, act_work, delta_work, d_x, last_is_pre):
    mode, no_adam = _Pass(_FALSE, _FALSE, _TRUE), Adam(0.0, 0.0, 0.0, 0.0, _TRUE)
    _mlp_backward(
        net, x, act_work, delta_work, d_x, last_is_pre, mode, net.mask, net.grad[:0], no_adam
    )


# --------------------------------------------------------------------------
# An autoencoder pair
# --------------------------------------------------------------------------
@jit_glue
def _output_rows(net, work, n_rows):
    return _rows_view(net.layout, work, n_rows, net.layout.shape[0] - 1)


@jit_glue
def _pair_pass(
    enc, dec, x_in, target, noise, kind, work, record, mode, enc_mask, dec_mask, scratch, adam
):
    """Forward, loss, backward of a pair; with ``mode.update`` also the Adam steps
    (see :func:`_mlp_backward` for the arguments)."""
    n_rows = x_in.shape[0]
    epoch_layout = mode.epoch_layout
    enc_out = _mlp_forward(enc, enc.params, x_in, work.enc_act, record, epoch_layout)
    d_enc_out = _output_rows(enc, work.enc_delta, n_rows)
    if kind == VARIATIONAL:
        z_dim = dec.layout[0, N_IN]
        code = work.code[: n_rows * z_dim].reshape((n_rows, z_dim))
        for b in range(n_rows):  # reparameterisation
            for k in range(z_dim):
                code[b, k] = enc_out[b, k] + np.exp(_f32(0.5) * enc_out[b, z_dim + k]) * noise[b, k]
        y = _mlp_forward(dec, dec.params, code, work.dec_act, record, epoch_layout)
        loss = bce_sigmoid_loss(y, target, _output_rows(dec, work.dec_delta, n_rows))
        d_code = work.d_code[: n_rows * z_dim].reshape((n_rows, z_dim))
        _mlp_backward(
            dec, code, work.dec_act, work.dec_delta, d_code, _TRUE, mode, dec_mask, scratch, adam
        )
        for b in range(n_rows):
            for k in range(z_dim):
                d_enc_out[b, k] = d_code[b, k]
                d_enc_out[b, z_dim + k] = (
                    d_code[b, k]
                    * noise[b, k]
                    * _f32(0.5)
                    * np.exp(_f32(0.5) * enc_out[b, z_dim + k])
                )
        loss += kl_divergence(
            enc_out[:, :z_dim], enc_out[:, z_dim:], d_enc_out[:, :z_dim], d_enc_out[:, z_dim:]
        )
    else:
        y = _mlp_forward(dec, dec.params, enc_out, work.dec_act, record, epoch_layout)
        loss = l1_loss(y, target, _output_rows(dec, work.dec_delta, n_rows))
        _mlp_backward(
            dec,
            enc_out,
            work.dec_act,
            work.dec_delta,
            d_enc_out,
            _FALSE,
            mode,
            dec_mask,
            scratch,
            adam,
        )
    _mlp_backward(
        enc, x_in, work.enc_act, work.enc_delta, work.no_dx, _FALSE, mode, enc_mask, scratch, adam
    )
    return loss


@jit
def pair_loss_and_gradients(enc, dec, x_in, target, noise, kind, work, record):
    mode, no_adam = _Pass(_FALSE, _FALSE, _TRUE), Adam(0.0, 0.0, 0.0, 0.0, _TRUE)
    return _pair_pass(
        enc,
        dec,
        x_in,
        target,
        noise,
        kind,
        work,
        record,
        mode,
        enc.mask,
        dec.mask,
        enc.grad[:0],
        no_adam,
    )


@jit
def train_step(enc, dec, x_in, target, noise, kind, work, adam, record):
    mode = _Pass(_FALSE, _TRUE, _TRUE)
    return _pair_pass(
        enc,
        dec,
        x_in,
        target,
        noise,
        kind,
        work,
        record,
        mode,
        enc.mask,
        dec.mask,
        enc.grad[:0],
        adam,
    )


@jit_glue
def _evaluate_pair(enc, dec, x, kind, work, record):
    """:func:`evaluate_pair`, inlined into :func:`evaluate_pairs`."""
    n_rows = x.shape[0]
    enc_out = _mlp_forward(enc, enc.params, x, work.enc_act, record, _FALSE)
    if kind == VARIATIONAL:
        z_dim = dec.layout[0, N_IN]
        code = work.code[: n_rows * z_dim].reshape((n_rows, z_dim))
        for b in range(n_rows):
            for k in range(z_dim):
                code[b, k] = enc_out[b, k]
        y = _mlp_forward(dec, dec.params, code, work.dec_act, record, _FALSE)
        d_enc = _output_rows(enc, work.enc_delta, n_rows)
        loss = bce_sigmoid_loss(y, x, _output_rows(dec, work.dec_delta, n_rows))
        return loss + kl_divergence(
            enc_out[:, :z_dim], enc_out[:, z_dim:], d_enc[:, :z_dim], d_enc[:, z_dim:]
        )
    y = _mlp_forward(dec, dec.params, enc_out, work.dec_act, record, _FALSE)
    return l1_loss(y, x, _output_rows(dec, work.dec_delta, n_rows))


@jit
def evaluate_pair(enc, dec, x, kind, work, record):
    return _evaluate_pair(enc, dec, x, kind, work, record)


@jit
def reconstruction_l1(enc, dec, x, kind, work):
    n_rows, n_dim = x.shape
    enc_out = _mlp_forward(enc, enc.params, x, work.enc_act, _FALSE, _FALSE)
    z_dim = dec.layout[0, N_IN]
    code = work.code[: n_rows * z_dim].reshape((n_rows, z_dim))
    for b in range(n_rows):
        for k in range(z_dim):
            code[b, k] = enc_out[b, k]
    y = _mlp_forward(dec, dec.params, code, work.dec_act, _FALSE, _FALSE)
    total = 0.0
    for b in range(n_rows):
        for k in range(n_dim):
            total += abs(y[b, k] - x[b, k])
    return total / (n_rows * n_dim)


@jit
def evaluate_pairs(encoders, decoders, x, kind, work, record, losses):
    for k in range(len(encoders)):
        for j in range(len(decoders)):
            # the compiled evaluate_pair, called (not inlined): one copy of its code for
            # both entry points (a cold start compiles 1.5 s less)
            losses[k, j] = evaluate_pair(encoders[k], decoders[j], x, kind, work, record)


# --------------------------------------------------------------------------
# A whole data set in one call (the records' test loss)
# --------------------------------------------------------------------------
@jit
def _epoch_layout_copy(net):
    """A copy of ``net.params`` with the short-row layers' weights stored transposed,
    ``(n_in, n_out)``, as inside :func:`train_epoch`: the storage of :func:`dataset_l1`."""
    out = net.params.copy()
    tmp = np.empty_like(out)
    layout = net.layout
    for l in range(layout.shape[0]):
        if _stored_transposed(layout, l, _TRUE):
            _transpose_block(out, layout[l, W_OFF], layout[l, N_OUT], layout[l, N_IN], tmp)
    return out


@jit
def dataset_l1(enc, dec, data, kind, work, row_l1):
    """The reference's ``dataset_l1`` in one call: the parameters are copied once
    into the epoch layout (:func:`_epoch_layout_copy`), so that every product of
    every chunk runs over long rows (a test set of 1000 rows at paper size: 4x
    faster than row-major chunks), through :func:`_mlp_forward` (no second
    forward pass to compile). The networks are only read."""
    enc_params, dec_params = _epoch_layout_copy(enc), _epoch_layout_copy(dec)
    n_rows, n_dim = data.shape
    chunk = work.enc_act.shape[0] // enc.layout[:, N_OUT].sum()
    z_dim = dec.layout[0, N_IN]
    total = 0.0
    for start in range(0, n_rows, chunk):
        stop = min(start + chunk, n_rows)
        x = data[start:stop]  # (m, n_dim)
        m = stop - start
        enc_out = _mlp_forward(enc, enc_params, x, work.enc_act, _FALSE, _TRUE)
        code = work.code[: m * z_dim].reshape((m, z_dim))
        for b in range(m):
            for k in range(z_dim):
                code[b, k] = enc_out[b, k]  # the mean of a variational code
        y = _mlp_forward(dec, dec_params, code, work.dec_act, _FALSE, _TRUE)
        for b in range(m):
            row_sum = 0.0
            for k in range(n_dim):
                row_sum += abs(y[b, k] - x[b, k])
            row_l1[start + b] = row_sum / n_dim
            total += row_sum
    return total / (n_rows * n_dim)


# --------------------------------------------------------------------------
# A whole epoch in one call
# --------------------------------------------------------------------------
@jit
def _transpose_short_rows(net, fresh, tmp, forward, mask):
    """Transpose the blocks of the short-row layers (see the module docstring):
    ``forward`` into the epoch layout (params, Adam moments, and ``mask``, a
    copy of the mask), else back (params, moments and the gradient)."""
    layout = net.layout
    for l in range(layout.shape[0]):
        if _stored_transposed(layout, l, _TRUE):
            n_in, n_out, off = layout[l, N_IN], layout[l, N_OUT], layout[l, W_OFF]
            rows, cols = (n_out, n_in) if forward else (n_in, n_out)
            _transpose_block(net.params, off, rows, cols, tmp)
            _transpose_block(mask if forward else net.grad, off, rows, cols, tmp)
            if not fresh:
                _transpose_block(net.adam_m, off, rows, cols, tmp)
                _transpose_block(net.adam_v, off, rows, cols, tmp)


@jit_glue
def _enter_epoch_layout(net, fresh, tmp):
    """Store the short-row layers transposed; return a copy of the mask in that layout."""
    mask = net.mask.copy()
    _transpose_short_rows(net, fresh, tmp, _TRUE, mask)
    return mask


@jit_glue
def _leave_epoch_layout(net, fresh, tmp):
    _transpose_short_rows(net, fresh, tmp, _FALSE, net.mask)


@jit
def _gather_batch(data, order, start, rows, noise, kind, work):
    """Rows ``order[start:start + rows]`` of ``data`` into the workspace: returns the
    encoder input, the target and the batch's noise (see the reference's train_epoch)."""
    n_dim = data.shape[1]
    target = work.batch_target[: rows * n_dim].reshape((rows, n_dim))
    for b in range(rows):
        r = order[start + b]
        for k in range(n_dim):
            target[b, k] = data[r, k]
    if kind == DENOISING:
        x_in = work.batch_in[: rows * n_dim].reshape((rows, n_dim))
        for b in range(rows):
            r = order[start + b]
            for k in range(n_dim):
                x_in[b, k] = target[b, k] + noise[r, k]
    else:
        x_in = target
    if kind == VARIATIONAL:
        z_dim = noise.shape[1]
        batch_noise = work.batch_noise[: rows * z_dim].reshape((rows, z_dim))
        for b in range(rows):
            for k in range(z_dim):
                batch_noise[b, k] = noise[order[start + b], k]
    else:
        batch_noise = work.no_dx
    return x_in, target, batch_noise


@jit
def train_epoch(enc, dec, data, order, batch_size, noise, kind, work, adam, record, losses):
    # with enough batches: short-row layers transposed, gradients through a scratch
    # block (module docstring); else row-major steps. One call site of the
    # (inlined) step, so that it is compiled once.
    fresh = adam.fresh
    epoch_layout = losses.shape[0] >= MIN_BATCHES_TO_TRANSPOSE[1 if fresh else 0]
    if epoch_layout:
        scratch = np.empty(max(enc.params.shape[0], dec.params.shape[0]), dtype=np.float32)
        enc_mask = _enter_epoch_layout(enc, fresh, scratch)
        dec_mask = _enter_epoch_layout(dec, fresh, scratch)
    else:
        scratch, enc_mask, dec_mask = enc.grad[:0], enc.mask, dec.mask
    enc_mask, dec_mask = _pruning_mask(enc_mask), _pruning_mask(dec_mask)
    n_rows = order.shape[0]
    n_batches = losses.shape[0]
    for i in range(n_batches):  # gather each batch, one fused step on it
        start = i * batch_size
        x_in, target, batch_noise = _gather_batch(
            data, order, start, min(batch_size, n_rows - start), noise, kind, work
        )
        mode = _Pass(epoch_layout, _TRUE, not epoch_layout or i == n_batches - 1)
        losses[i] = _pair_pass(
            enc,
            dec,
            x_in,
            target,
            batch_noise,
            kind,
            work,
            record,
            mode,
            enc_mask,
            dec_mask,
            scratch,
            adam,
        )
    if epoch_layout:
        _leave_epoch_layout(enc, fresh, scratch)
        _leave_epoch_layout(dec, fresh, scratch)


@jit_glue
def _transpose_gradient(net, tmp):
    """The short-row layers' gradient blocks into the epoch layout, so that a network
    a pass never trains leaves it as it came (:func:`_leave_epoch_layout` turns them back)."""
    layout = net.layout
    for l in range(layout.shape[0]):
        if _stored_transposed(layout, l, _TRUE):
            _transpose_block(net.grad, layout[l, W_OFF], layout[l, N_OUT], layout[l, N_IN], tmp)


@jit
def partner_epoch(
    encoders,
    decoders,
    selected,
    partners,
    data,
    order,
    batch_size,
    noise,
    kind,
    work,
    adam,
    record,
    losses,
):
    """``epoch-node``'s pass: per batch a step of ``(E_s, D_partners[b, 0])``, then one of
    ``(E_partners[b, 1], D_s)``, with every network of the neighbourhood in the epoch
    layout for the whole pass (module docstring), so each step costs what a step of
    :func:`train_epoch` does. ``encoders``, ``decoders``: tuples of ``K`` networks."""
    n_nets, fresh = len(encoders), adam.fresh
    scratch = np.empty(
        max(encoders[0].params.shape[0], decoders[0].params.shape[0]), dtype=np.float32
    )
    enc_masks = np.empty((n_nets, encoders[0].params.shape[0]), dtype=np.float32)
    dec_masks = np.empty((n_nets, decoders[0].params.shape[0]), dtype=np.float32)
    for k in range(n_nets):
        _transpose_gradient(encoders[k], scratch)
        _transpose_gradient(decoders[k], scratch)
        enc_masks[k] = _enter_epoch_layout(encoders[k], fresh, scratch)
        dec_masks[k] = _enter_epoch_layout(decoders[k], fresh, scratch)
    # which networks' masks mask anything (else their updates skip the mask)
    enc_masked = np.array([_pruning_mask(enc_masks[k]).shape[0] > 0 for k in range(n_nets)])
    dec_masked = np.array([_pruning_mask(dec_masks[k]).shape[0] > 0 for k in range(n_nets)])
    n_rows = order.shape[0]
    for i in range(partners.shape[0]):
        start = i * batch_size
        x_in, target, batch_noise = _gather_batch(
            data, order, start, min(batch_size, n_rows - start), noise, kind, work
        )
        for step in range(2):
            e = selected if step == 0 else partners[i, 1]
            d = partners[i, 0] if step == 0 else selected
            losses[2 * i + step] = _pair_pass(
                encoders[e],
                decoders[d],
                x_in,
                target,
                batch_noise,
                kind,
                work,
                record,
                _Pass(_TRUE, _TRUE, _TRUE),
                enc_masks[e] if enc_masked[e] else enc_masks[e, :0],
                dec_masks[d] if dec_masked[d] else dec_masks[d, :0],
                scratch,
                adam,
            )
    for k in range(n_nets):
        _leave_epoch_layout(encoders[k], fresh, scratch)
        _leave_epoch_layout(decoders[k], fresh, scratch)

"""The fast path: the operations of :mod:`minievo.kernels.reference` as Numba kernels.

Same names, same signatures, same math; read the reference for the
equations. What differs is *how*:

* explicit loops, ordered so the innermost loop runs over contiguous memory
  and vectorises (see the comment on each product);
* nothing is allocated inside a step: outputs go into caller-owned buffers;
* ``error_model="numpy"`` (no zero-division checks that block vectorising)
  and a restricted ``fastmath`` (``reassoc``, ``contract``, ``nsz``) so that
  sums may be reordered and fused; NaN and infinity semantics are kept, so a
  diverging run is still detected. The tests hold every kernel to the
  reference at ``rtol=1e-4`` (float32);
* the whole epoch (gather a batch, forward, loss, backward, Adam, for every
  batch) is one compiled call, so Python is out of the hot path;
* ``cache=True`` stores compiled code next to this file in ``__pycache__``:
  the first import compiles (tens of seconds), later ones load. After editing a
  kernel Numba notices the change itself; ``NUMBA_DISABLE_JIT=1`` runs the
  kernels as plain Python for debugging.
"""
import numpy as np
from numba import njit

from ..network import RELU, SIGMOID, N_IN, N_OUT, W_OFF, B_OFF, ACT, OUT_OFF
from .reference import PLAIN, DENOISING, VARIATIONAL  # noqa: F401

FASTMATH = {"reassoc", "contract", "nsz"}
jit = njit(cache=True, nogil=True, error_model="numpy", fastmath=FASTMATH)


# --------------------------------------------------------------------------
# Views into flat buffers
# --------------------------------------------------------------------------
@jit
def weight_view(layout, buf, l):
    n_in, n_out, w_off = layout[l, N_IN], layout[l, N_OUT], layout[l, W_OFF]
    return buf[w_off:w_off + n_out * n_in].reshape((n_out, n_in))


@jit
def bias_view(layout, buf, l):
    n_out, b_off = layout[l, N_OUT], layout[l, B_OFF]
    return buf[b_off:b_off + n_out]


@jit
def rows_view(layout, work, n_rows, l):
    n_out, off = layout[l, N_OUT], layout[l, OUT_OFF]
    return work[n_rows * off:n_rows * (off + n_out)].reshape((n_rows, n_out))


# --------------------------------------------------------------------------
# Dense layer
# --------------------------------------------------------------------------
@jit
def dense_forward(x, weight, bias, out):
    n_rows, n_in = x.shape
    n_out = weight.shape[0]
    for b in range(n_rows):
        for j in range(n_out):
            s = np.float32(0.0)
            for k in range(n_in):          # dot of two contiguous rows (n_in,)
                s += x[b, k] * weight[j, k]
            out[b, j] = s + bias[j]


@jit
def dense_backward_params(x, d_out, d_weight, d_bias):
    n_rows, n_in = x.shape
    n_out = d_out.shape[1]
    for j in range(n_out):
        s = np.float32(0.0)
        for k in range(n_in):
            d_weight[j, k] = 0.0
        for b in range(n_rows):
            c = d_out[b, j]
            s += c
            if c != 0.0:                   # ReLU leaves many exact zeros
                for k in range(n_in):      # axpy over a contiguous row (n_in,)
                    d_weight[j, k] += c * x[b, k]
        d_bias[j] = s


@jit
def dense_backward_input(weight, d_out, d_x):
    n_rows, n_out = d_out.shape
    n_in = weight.shape[1]
    for b in range(n_rows):
        for k in range(n_in):
            d_x[b, k] = 0.0
        for j in range(n_out):
            c = d_out[b, j]
            if c != 0.0:
                for k in range(n_in):      # axpy over a contiguous row (n_in,)
                    d_x[b, k] += c * weight[j, k]


# --------------------------------------------------------------------------
# Activations
# --------------------------------------------------------------------------
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
                z[b, j] = np.float32(1.0) / (np.float32(1.0) + np.exp(-z[b, j]))


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
                d[b, j] *= a[b, j] * (np.float32(1.0) - a[b, j])


# --------------------------------------------------------------------------
# Losses
# --------------------------------------------------------------------------
@jit
def l1_loss(y, target, d_y):
    n_rows, n = y.shape
    inv = np.float32(1.0) / np.float32(n_rows * n)
    total = 0.0
    for b in range(n_rows):
        for k in range(n):
            diff = y[b, k] - target[b, k]
            if diff > 0.0:
                d_y[b, k] = inv
                total += diff
            elif diff < 0.0:
                d_y[b, k] = -inv
                total -= diff
            else:
                d_y[b, k] = 0.0
    return total / (n_rows * n)


@jit
def bce_sigmoid_loss(y, target, d_z):
    n_rows, n = y.shape
    total = 0.0
    for b in range(n_rows):
        for k in range(n):
            yk, tk = y[b, k], target[b, k]
            log_y = max(np.log(max(yk, np.float32(0.0))), np.float32(-100.0))
            log_1my = max(np.log(max(np.float32(1.0) - yk, np.float32(0.0))), np.float32(-100.0))
            total -= tk * log_y + (np.float32(1.0) - tk) * log_1my
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
            d_log_var[b, k] += np.float32(0.5) * (var - np.float32(1.0))
            total += np.float32(1.0) + log_var[b, k] - mean[b, k] * mean[b, k] - var
    return -0.5 * total


# --------------------------------------------------------------------------
# Adam
# --------------------------------------------------------------------------
@jit
def adam_update(params, grad, mask, m, v, t, lr, beta1, beta2, eps):
    b1, b2 = np.float32(beta1), np.float32(beta2)
    step_size = np.float32(lr / (1.0 - beta1 ** t))
    bc2_sqrt = np.float32(np.sqrt(1.0 - beta2 ** t))
    eps32 = np.float32(eps)
    for i in range(params.shape[0]):      # one pass over (P,), vectorised
        g = grad[i] * mask[i]
        mi = m[i] * b1 + (np.float32(1.0) - b1) * g
        vi = v[i] * b2 + (np.float32(1.0) - b2) * g * g
        m[i] = mi
        v[i] = vi
        params[i] = (params[i] - step_size * mi / (np.sqrt(vi) / bc2_sqrt + eps32)) * mask[i]


@jit
def adam_fresh_update(params, grad, mask, lr, beta1, beta2, eps):
    b1, b2 = np.float32(beta1), np.float32(beta2)
    step_size = np.float32(lr / (1.0 - beta1))
    bc2_sqrt = np.float32(np.sqrt(1.0 - beta2))
    eps32 = np.float32(eps)
    for i in range(params.shape[0]):
        g = grad[i] * mask[i]
        mi = (np.float32(1.0) - b1) * g
        vi = (np.float32(1.0) - b2) * g * g
        params[i] = (params[i] - step_size * mi / (np.sqrt(vi) / bc2_sqrt + eps32)) * mask[i]


@jit
def optimizer_step(net, lr, beta1, beta2, eps, fresh):
    if fresh:
        adam_fresh_update(net.params, net.grad, net.mask, lr, beta1, beta2, eps)
    else:
        net.adam_t[0] += 1
        adam_update(net.params, net.grad, net.mask, net.adam_m, net.adam_v,
                    net.adam_t[0], lr, beta1, beta2, eps)


# --------------------------------------------------------------------------
# A whole MLP
# --------------------------------------------------------------------------
@jit
def mlp_forward(net, x, act_work, record):
    n_rows = x.shape[0]
    layout = net.layout
    n_layers = layout.shape[0]
    for l in range(n_layers):
        inp = x if l == 0 else rows_view(layout, act_work, n_rows, l - 1)
        z = rows_view(layout, act_work, n_rows, l)                # (B, n_out)
        dense_forward(inp, weight_view(layout, net.params, l), bias_view(layout, net.params, l), z)
        if record:
            off = layout[l, OUT_OFF]
            for b in range(n_rows):
                for j in range(z.shape[1]):
                    value = np.float64(z[b, j])
                    net.rec_sum[b, off + j] += value
                    net.rec_sumsq[b, off + j] += value * value
        activate(z, layout[l, ACT])
    if record:
        for b in range(n_rows):
            net.rec_count[b] += 1.0
    return rows_view(layout, act_work, n_rows, n_layers - 1)


@jit
def mlp_backward(net, x, act_work, delta_work, d_x, last_is_pre):
    n_rows = x.shape[0]
    layout = net.layout
    n_layers = layout.shape[0]
    for l in range(n_layers - 1, -1, -1):
        a = rows_view(layout, act_work, n_rows, l)
        d = rows_view(layout, delta_work, n_rows, l)
        if not (last_is_pre and l == n_layers - 1):
            activation_backward(a, d, layout[l, ACT])
        inp = x if l == 0 else rows_view(layout, act_work, n_rows, l - 1)
        dense_backward_params(inp, d, weight_view(layout, net.grad, l), bias_view(layout, net.grad, l))
        if l > 0:
            dense_backward_input(weight_view(layout, net.params, l), d,
                                 rows_view(layout, delta_work, n_rows, l - 1))
        elif d_x.shape[0] > 0:
            dense_backward_input(weight_view(layout, net.params, l), d, d_x)


# --------------------------------------------------------------------------
# An autoencoder pair
# --------------------------------------------------------------------------
@jit
def _output_rows(net, work, n_rows):
    return rows_view(net.layout, work, n_rows, net.layout.shape[0] - 1)


@jit
def pair_loss_and_gradients(enc, dec, x_in, target, noise, kind, work, record):
    n_rows = x_in.shape[0]
    enc_out = mlp_forward(enc, x_in, work.enc_act, record)
    d_enc_out = _output_rows(enc, work.enc_delta, n_rows)
    if kind == VARIATIONAL:
        z_dim = dec.layout[0, N_IN]
        code = work.code[:n_rows * z_dim].reshape((n_rows, z_dim))
        for b in range(n_rows):                                   # reparameterisation
            for k in range(z_dim):
                code[b, k] = enc_out[b, k] + np.exp(np.float32(0.5) * enc_out[b, z_dim + k]) * noise[b, k]
        y = mlp_forward(dec, code, work.dec_act, record)
        loss = bce_sigmoid_loss(y, target, _output_rows(dec, work.dec_delta, n_rows))
        d_code = work.d_code[:n_rows * z_dim].reshape((n_rows, z_dim))
        mlp_backward(dec, code, work.dec_act, work.dec_delta, d_code, True)
        for b in range(n_rows):
            for k in range(z_dim):
                d_enc_out[b, k] = d_code[b, k]
                d_enc_out[b, z_dim + k] = (d_code[b, k] * noise[b, k] * np.float32(0.5)
                                           * np.exp(np.float32(0.5) * enc_out[b, z_dim + k]))
        loss += kl_divergence(enc_out[:, :z_dim], enc_out[:, z_dim:],
                              d_enc_out[:, :z_dim], d_enc_out[:, z_dim:])
    else:
        y = mlp_forward(dec, enc_out, work.dec_act, record)
        loss = l1_loss(y, target, _output_rows(dec, work.dec_delta, n_rows))
        mlp_backward(dec, enc_out, work.dec_act, work.dec_delta, d_enc_out, False)
    mlp_backward(enc, x_in, work.enc_act, work.enc_delta, work.no_dx, False)
    return loss


@jit
def train_step(enc, dec, x_in, target, noise, kind, work, lr, beta1, beta2, eps, fresh, record):
    loss = pair_loss_and_gradients(enc, dec, x_in, target, noise, kind, work, record)
    optimizer_step(enc, lr, beta1, beta2, eps, fresh)
    optimizer_step(dec, lr, beta1, beta2, eps, fresh)
    return loss


@jit
def evaluate_pair(enc, dec, x, kind, work, record):
    n_rows = x.shape[0]
    enc_out = mlp_forward(enc, x, work.enc_act, record)
    if kind == VARIATIONAL:
        z_dim = dec.layout[0, N_IN]
        code = work.code[:n_rows * z_dim].reshape((n_rows, z_dim))
        for b in range(n_rows):
            for k in range(z_dim):
                code[b, k] = enc_out[b, k]
        y = mlp_forward(dec, code, work.dec_act, record)
        d_enc = _output_rows(enc, work.enc_delta, n_rows)
        loss = bce_sigmoid_loss(y, x, _output_rows(dec, work.dec_delta, n_rows))
        return loss + kl_divergence(enc_out[:, :z_dim], enc_out[:, z_dim:],
                                    d_enc[:, :z_dim], d_enc[:, z_dim:])
    y = mlp_forward(dec, enc_out, work.dec_act, record)
    return l1_loss(y, x, _output_rows(dec, work.dec_delta, n_rows))


@jit
def reconstruction_l1(enc, dec, x, kind, work):
    n_rows, n_dim = x.shape
    enc_out = mlp_forward(enc, x, work.enc_act, False)
    z_dim = dec.layout[0, N_IN]
    code = work.code[:n_rows * z_dim].reshape((n_rows, z_dim))
    for b in range(n_rows):
        for k in range(z_dim):
            code[b, k] = enc_out[b, k]
    y = mlp_forward(dec, code, work.dec_act, False)
    total = 0.0
    for b in range(n_rows):
        for k in range(n_dim):
            total += abs(y[b, k] - x[b, k])
    return total / (n_rows * n_dim)


@jit
def train_epoch(enc, dec, data, order, batch_size, noise, kind, work,
                lr, beta1, beta2, eps, fresh, record, losses):
    n_rows, n_dim = order.shape[0], data.shape[1]
    for i in range(losses.shape[0]):
        start = i * batch_size
        rows = min(batch_size, n_rows - start)
        x_in = work.batch_in[:rows * n_dim].reshape((rows, n_dim))
        target = work.batch_target[:rows * n_dim].reshape((rows, n_dim))
        for b in range(rows):                                     # gather the batch
            r = order[start + b]
            for k in range(n_dim):
                target[b, k] = data[r, k]
                x_in[b, k] = data[r, k] + noise[r, k] if kind == DENOISING else data[r, k]
        if kind == VARIATIONAL:
            z_dim = noise.shape[1]
            batch_noise = work.batch_noise[:rows * z_dim].reshape((rows, z_dim))
            for b in range(rows):
                for k in range(z_dim):
                    batch_noise[b, k] = noise[order[start + b], k]
        else:
            batch_noise = work.no_dx
        losses[i] = train_step(enc, dec, x_in, target, batch_noise, kind, work,
                               lr, beta1, beta2, eps, fresh, record)

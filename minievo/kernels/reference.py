"""The readable oracle: every numerical operation of minievo in plain NumPy.

Each function here has a Numba twin with the same name and signature in
:mod:`minievo.kernels.cpu`; the tests hold the twin to this module, and the
benchmarks time it against this module. Read this file to learn the math.

Conventions (docs/algorithm.md §2)
---------------------
* ``B`` rows per batch, float32 everywhere.
* Linear layer ``l``: ``W`` is ``(n_out, n_in)`` (PyTorch layout), so
  ``z = x W^T + b``.
* Outputs are written into arrays the caller owns (``out=`` style): the fast
  kernels allocate nothing in a training step, and the reference has the same
  signature.
* A network arrives as :class:`minievo.network.MLPArrays`; per-layer views are
  cut from its flat buffers with the ``layout`` table. Activations of a batch
  live in a flat workspace: layer ``l`` occupies
  ``work[B * out_offset : B * (out_offset + n_out)]`` as a ``(B, n_out)`` array.
* Autoencoder kinds: ``PLAIN`` (L1 loss), ``DENOISING`` (L1, noisy input,
  clean target), ``VARIATIONAL`` (binary cross-entropy summed + KL).
"""

import numpy as np

from . import Adam  # noqa: F401 (the settings tuple of the training kernels)
from .layout import ACT, B_OFF, IDENTITY, N_IN, N_OUT, OUT_OFF, REC_POST, RELU, SIGMOID, W_OFF  # noqa: F401

PLAIN, DENOISING, VARIATIONAL = 0, 1, 2


# --------------------------------------------------------------------------
# Views into flat buffers
# --------------------------------------------------------------------------
def weight_view(layout, buf, l):
    """Layer ``l``'s ``(n_out, n_in)`` block of a parameter-shaped buffer."""
    n_in, n_out, w_off = layout[l, N_IN], layout[l, N_OUT], layout[l, W_OFF]
    return buf[w_off : w_off + n_out * n_in].reshape((n_out, n_in))


def bias_view(layout, buf, l):
    """Layer ``l``'s ``(n_out,)`` block of a parameter-shaped buffer."""
    n_out, b_off = layout[l, N_OUT], layout[l, B_OFF]
    return buf[b_off : b_off + n_out]


def rows_view(layout, work, n_rows, l):
    """Layer ``l``'s ``(n_rows, n_out)`` block of a flat activation workspace."""
    n_out, off = layout[l, N_OUT], layout[l, OUT_OFF]
    return work[n_rows * off : n_rows * (off + n_out)].reshape((n_rows, n_out))


# --------------------------------------------------------------------------
# Dense layer: forward and backward side by side
# --------------------------------------------------------------------------
def dense_forward(x, weight, bias, out):
    """``out = x W^T + b``.

    Shapes: ``x (B, n_in)``, ``weight (n_out, n_in)``, ``bias (n_out,)``,
    ``out (B, n_out)``.
    """
    out[...] = x @ weight.T + bias  # (B, n_in) @ (n_in, n_out)


def dense_backward_params(x, d_out, d_weight, d_bias):
    """Gradients of the layer's parameters from ``d_out = dL/dz``.

    .. math:: \\partial L / \\partial W = \\delta^\\top x, \\quad
              \\partial L / \\partial b = \\textstyle\\sum_b \\delta_b

    Shapes: ``x (B, n_in)``, ``d_out (B, n_out)``, ``d_weight (n_out, n_in)``,
    ``d_bias (n_out,)``.
    """
    d_weight[...] = d_out.T @ x  # (n_out, B) @ (B, n_in)
    d_bias[...] = d_out.sum(axis=0)  # (n_out,)


def dense_backward_input(weight, d_out, d_x):
    """Gradient with respect to the layer's input: ``dL/dx = delta W``.

    Shapes: ``weight (n_out, n_in)``, ``d_out (B, n_out)``, ``d_x (B, n_in)``.
    """
    d_x[...] = d_out @ weight  # (B, n_out) @ (n_out, n_in)


# --------------------------------------------------------------------------
# Activations: forward in place on z, backward in place on the delta
# --------------------------------------------------------------------------
def activate(z, act):
    """Apply activation ``act`` to ``z`` in place: identity, ReLU ``max(z, 0)``,
    or sigmoid ``1 / (1 + exp(-z))``."""
    if act == RELU:
        np.maximum(z, 0.0, out=z)
    elif act == SIGMOID:
        with np.errstate(over="ignore"):
            z[...] = 1.0 / (1.0 + np.exp(-z))


def activation_backward(a, d, act):
    """Turn ``d = dL/da`` into ``dL/dz`` in place, from the activated values ``a``.

    ReLU: ``f'(z) = [a > 0]`` (0 at 0, as PyTorch); sigmoid: ``f'(z) = a (1 - a)``.
    """
    if act == RELU:
        d *= a > 0.0
    elif act == SIGMOID:
        d *= a * (1.0 - a)


# --------------------------------------------------------------------------
# Loss functions
# --------------------------------------------------------------------------
def l1_loss(y, target, d_y):
    """Mean absolute error over all ``B * n`` elements (docs/algorithm.md §2) and its gradient.

    .. math:: L = \\frac{1}{Bn}\\sum |y - t|, \\qquad
              \\partial L/\\partial y = \\operatorname{sign}(y - t) / (Bn)

    Shapes: ``y, target, d_y (B, n)``. Returns ``L`` as a Python float.
    """
    diff = y - target
    d_y[...] = np.sign(diff) / np.float32(diff.size)
    return float(np.abs(diff).mean(dtype=np.float64))


def bce_sigmoid_loss(y, target, d_z):
    """Summed binary cross-entropy of a sigmoid output and its gradient with
    respect to the *pre*-sigmoid ``z`` (VAE reconstruction term, docs/algorithm.md §2).

    .. math:: L = -\\sum t \\log y + (1 - t) \\log(1 - y), \\qquad
              \\partial L / \\partial z = y - t

    The logs are clamped at -100 as PyTorch's ``binary_cross_entropy``.
    """
    log_y = np.maximum(np.log(np.maximum(y, 0.0)), -100.0)
    log_1my = np.maximum(np.log(np.maximum(1.0 - y, 0.0)), -100.0)
    d_z[...] = y - target
    return float(-(target * log_y + (1.0 - target) * log_1my).sum(dtype=np.float64))


def kl_divergence(mean, log_var, d_mean, d_log_var):
    """KL(N(mean, exp(log_var)) || N(0, 1)) summed over the batch, and its gradients.

    .. math:: KL = -\\tfrac12 \\sum (1 + \\log\\sigma^2 - \\mu^2 - \\sigma^2)

    The gradients are *added* to ``d_mean`` and ``d_log_var`` (B, z).
    """
    var = np.exp(log_var)
    d_mean += mean
    d_log_var += 0.5 * (var - 1.0)
    return float(-0.5 * (1.0 + log_var - mean * mean - var).sum(dtype=np.float64))


# --------------------------------------------------------------------------
# Adam (Kingma & Ba), PyTorch's formulation, masked
# --------------------------------------------------------------------------
def adam_update(params, grad, mask, m, v, t, adam):
    """One masked Adam step with persistent moments; ``t`` is the 1-based step.

    .. math::
        g &= \\nabla \\odot M, \\quad m \\leftarrow \\beta_1 m + (1-\\beta_1) g, \\quad
        v \\leftarrow \\beta_2 v + (1-\\beta_2) g^2 \\\\
        \\theta &\\leftarrow \\Big(\\theta - \\frac{lr}{1-\\beta_1^t}
                 \\frac{m}{\\sqrt{v}/\\sqrt{1-\\beta_2^t} + \\epsilon}\\Big) \\odot M

    Pruned entries (``mask == 0``) get no gradient, keep zero moments and stay 0.0.
    Shapes: all arrays ``(P,)``; ``adam``: :class:`~minievo.kernels.Adam` (its
    ``fresh`` is not read).
    """
    lr, beta1, beta2, eps = adam.lr, adam.beta1, adam.beta2, adam.eps
    g = grad * mask
    m *= beta1
    m += (1.0 - beta1) * g
    v *= beta2
    v += (1.0 - beta2) * g * g
    step_size = np.float32(lr / (1.0 - beta1**t))
    denom = np.sqrt(v) / np.float32(np.sqrt(1.0 - beta2**t)) + np.float32(eps)
    params -= step_size * m / denom
    params *= mask


def adam_fresh_update(params, grad, mask, adam):
    """The published code's step: a *new* Adam optimizer for every step (docs/algorithm.md §4 step 4).

    With zero moments and ``t = 1`` the bias corrections cancel:
    ``m_hat = g``, ``sqrt(v_hat) = |g|``, so the step is
    ``lr * g / (|g| + eps)``, close to ``lr * sign(g)``. Computed with the
    same operations as :func:`adam_update` so both agree to the last bit on
    their first step. Shapes: ``(P,)``; ``adam``: :class:`~minievo.kernels.Adam`.
    """
    lr, beta1, beta2, eps = adam.lr, adam.beta1, adam.beta2, adam.eps
    g = grad * mask
    m = (1.0 - beta1) * g
    v = (1.0 - beta2) * g * g
    denom = np.sqrt(v) / np.float32(np.sqrt(1.0 - beta2)) + np.float32(eps)
    params -= np.float32(lr / (1.0 - beta1)) * m / denom
    params *= mask


def optimizer_step(net, adam):
    """Apply Adam to one network from its ``grad`` buffer (fresh or persistent, ``adam.fresh``)."""
    if adam.fresh:
        adam_fresh_update(net.params, net.grad, net.mask, adam)
    else:
        net.adam_t[0] += 1
        adam_update(net.params, net.grad, net.mask, net.adam_m, net.adam_v, net.adam_t[0], adam)


# --------------------------------------------------------------------------
# A whole MLP
# --------------------------------------------------------------------------
def mlp_forward(net, x, act_work, record):
    """Forward ``x (B, n_in)`` through every layer; layer outputs go to ``act_work``.

    When ``record`` is true, each layer's pre-activation ``z (B, n_out)`` is
    added to the network's running records (docs/algorithm.md §5, VARIANCE):
    ``rec_sum[:B] += z``, ``rec_sumsq[:B] += z**2``, ``rec_count[:B] += 1``;
    on a layer whose layout says ``REC_POST``, the activated output instead.
    """
    n_rows = x.shape[0]
    layout = net.layout
    inp = x
    for l in range(layout.shape[0]):
        z = rows_view(layout, act_work, n_rows, l)  # (B, n_out)
        dense_forward(inp, weight_view(layout, net.params, l), bias_view(layout, net.params, l), z)
        if record and not layout[l, REC_POST]:
            record_rows(net, layout, l, z)
        activate(z, layout[l, ACT])
        if record and layout[l, REC_POST]:
            record_rows(net, layout, l, z)
        inp = z
    if record:
        net.rec_count[:n_rows] += 1.0
    return inp


def record_rows(net, layout, l, values):
    """Add layer ``l``'s ``values (B, n_out)`` to the running sums of the records."""
    n_rows = values.shape[0]
    lo, hi = layout[l, OUT_OFF], layout[l, OUT_OFF] + layout[l, N_OUT]
    net.rec_sum[:n_rows, lo:hi] += values
    net.rec_sumsq[:n_rows, lo:hi] += np.square(values, dtype=np.float64)


def mlp_backward(net, x, act_work, delta_work, d_x, last_is_pre):
    """Backpropagate through every layer and write the gradient into ``net.grad``.

    On entry the last layer's block of ``delta_work`` holds ``dL/da`` of the
    output (or ``dL/dz`` when ``last_is_pre``). ``d_x (B, n_in)`` receives
    ``dL/dx`` unless it has zero rows.
    """
    n_rows = x.shape[0]
    layout = net.layout
    n_layers = layout.shape[0]
    for l in range(n_layers - 1, -1, -1):
        a = rows_view(layout, act_work, n_rows, l)  # (B, n_out)
        d = rows_view(layout, delta_work, n_rows, l)  # (B, n_out)
        if not (last_is_pre and l == n_layers - 1):
            activation_backward(a, d, layout[l, ACT])  # now dL/dz
        inp = x if l == 0 else rows_view(layout, act_work, n_rows, l - 1)
        dense_backward_params(
            inp, d, weight_view(layout, net.grad, l), bias_view(layout, net.grad, l)
        )
        if l > 0:
            dense_backward_input(
                weight_view(layout, net.params, l), d, rows_view(layout, delta_work, n_rows, l - 1)
            )
        elif d_x.shape[0] > 0:
            dense_backward_input(weight_view(layout, net.params, l), d, d_x)


# --------------------------------------------------------------------------
# An autoencoder pair: loss, gradients, one training step, evaluation
# --------------------------------------------------------------------------
def _output_rows(net, work, n_rows):
    return rows_view(net.layout, work, n_rows, net.layout.shape[0] - 1)


def pair_loss_and_gradients(enc, dec, x_in, target, noise, kind, work, record):
    """Forward, loss and backward of one (encoder, decoder) pair on one batch.

    Fills ``enc.grad`` and ``dec.grad`` (unmasked) and returns the loss.
    ``x_in (B, n_dim)`` is what the encoder sees, ``target (B, n_dim)`` what the
    decoder must reproduce (the same array except for the denoising kind).
    ``noise (B, z)`` is the reparameterisation draw of the variational kind
    (ignored otherwise). ``work`` is a :class:`~minievo.kernels.Workspace`.
    """
    n_rows = x_in.shape[0]
    enc_out = mlp_forward(enc, x_in, work.enc_act, record)  # (B, z) or (B, 2z)
    d_enc_out = _output_rows(enc, work.enc_delta, n_rows)
    if kind == VARIATIONAL:
        z_dim = dec.layout[0, N_IN]
        mean, log_var = enc_out[:, :z_dim], enc_out[:, z_dim:]
        code = work.code[: n_rows * z_dim].reshape((n_rows, z_dim))
        code[...] = mean + np.exp(0.5 * log_var) * noise  # reparameterisation
        y = mlp_forward(dec, code, work.dec_act, record)
        d_out = _output_rows(dec, work.dec_delta, n_rows)
        loss = bce_sigmoid_loss(y, target, d_out)
        d_code = work.d_code[: n_rows * z_dim].reshape((n_rows, z_dim))
        mlp_backward(dec, code, work.dec_act, work.dec_delta, d_code, True)
        d_enc_out[:, :z_dim] = d_code
        d_enc_out[:, z_dim:] = d_code * noise * 0.5 * np.exp(0.5 * log_var)
        loss += kl_divergence(mean, log_var, d_enc_out[:, :z_dim], d_enc_out[:, z_dim:])
    else:
        y = mlp_forward(dec, enc_out, work.dec_act, record)  # (B, n_dim)
        loss = l1_loss(y, target, _output_rows(dec, work.dec_delta, n_rows))
        mlp_backward(dec, enc_out, work.dec_act, work.dec_delta, d_enc_out, False)
    mlp_backward(enc, x_in, work.enc_act, work.enc_delta, work.no_dx, False)
    return loss


def train_step(enc, dec, x_in, target, noise, kind, work, adam, record):
    """One Adam step (``adam``: :class:`~minievo.kernels.Adam`) of a pair on one
    batch; returns the loss before the step."""
    loss = pair_loss_and_gradients(enc, dec, x_in, target, noise, kind, work, record)
    optimizer_step(enc, adam)
    optimizer_step(dec, adam)
    return loss


def evaluate_pair(enc, dec, x, kind, work, record):
    """Loss of a pair on ``x (B, n_dim)`` without training.

    L1 for the plain and denoising kinds (clean input); for the variational
    kind BCE + KL with the code set to the posterior mean (no sampling, so
    an evaluation is deterministic).
    """
    n_rows = x.shape[0]
    enc_out = mlp_forward(enc, x, work.enc_act, record)
    if kind == VARIATIONAL:
        z_dim = dec.layout[0, N_IN]
        mean, log_var = enc_out[:, :z_dim], enc_out[:, z_dim:]
        y = mlp_forward(dec, mean, work.dec_act, record)
        d_out = _output_rows(dec, work.dec_delta, n_rows)
        d_enc = _output_rows(enc, work.enc_delta, n_rows)
        loss = bce_sigmoid_loss(y, x, d_out)
        return loss + kl_divergence(mean, log_var, d_enc[:, :z_dim], d_enc[:, z_dim:])
    y = mlp_forward(dec, enc_out, work.dec_act, record)
    return l1_loss(y, x, _output_rows(dec, work.dec_delta, n_rows))


def reconstruction_l1(enc, dec, x, kind, work):
    """Mean absolute reconstruction error of ``x (B, n_dim)`` (no recording).

    The variational kind decodes the posterior mean. This is the L1 that the
    records' ``mean_L1``/``test_loss`` report for every kind.
    """
    enc_out = mlp_forward(enc, x, work.enc_act, False)
    code = enc_out[:, : dec.layout[0, N_IN]]
    y = mlp_forward(dec, code, work.dec_act, False)
    return float(np.abs(y - x).mean(dtype=np.float64))


def evaluate_pairs(encoders, decoders, x, kind, work, record, losses):
    """:func:`evaluate_pair` of every combination: ``losses[k, j]`` for encoder
    ``k`` with decoder ``j`` on ``x (B, n_dim)`` (a neighbourhood's loss matrix).

    ``encoders``, ``decoders``: tuples of ``K`` networks; ``losses (K, K)`` float64.
    """
    for k, enc in enumerate(encoders):
        for j, dec in enumerate(decoders):
            losses[k, j] = evaluate_pair(enc, dec, x, kind, work, record)


def dataset_l1(enc, dec, data, kind, work, row_l1):
    """Reconstruction L1 of every row of a whole data set, in chunks of the workspace's rows.

    .. math:: \\ell_r = \\frac1d \\sum_k |y_{rk} - x_{rk}|, \\qquad
              L = \\frac1N \\sum_r \\ell_r

    ``data (N, n_dim)``; ``row_l1 (N,)`` float64 receives :math:`\\ell_r`; returns
    :math:`L`, the ``test_loss`` of the records. The variational kind decodes
    the posterior mean (as :func:`reconstruction_l1`). No recording.
    """
    chunk = work.enc_act.shape[0] // int(enc.layout[:, N_OUT].sum())  # rows per pass
    z_dim = dec.layout[0, N_IN]
    for start in range(0, data.shape[0], chunk):
        x = data[start : start + chunk]  # (<= chunk, n_dim)
        enc_out = mlp_forward(enc, x, work.enc_act, False)
        y = mlp_forward(dec, enc_out[:, :z_dim], work.dec_act, False)
        row_l1[start : start + x.shape[0]] = np.abs(y - x).mean(axis=1, dtype=np.float64)
    return float(row_l1.mean())


def train_epoch(enc, dec, data, order, batch_size, noise, kind, work, adam, record, losses):
    """One pass over ``data`` in the row order ``order``: one Adam step per batch.

    ``data (N, n_dim)``; ``order (N,)`` a permutation of the rows;
    ``noise`` is ``(N, n_dim)`` input noise for the denoising kind, ``(N, z)``
    reparameterisation draws for the variational kind, ignored otherwise
    (any shape). ``adam``: :class:`~minievo.kernels.Adam`. ``losses
    (n_batches,)`` receives each batch's loss.
    """
    n_rows = order.shape[0]
    for i in range(losses.shape[0]):
        rows = order[i * batch_size : min((i + 1) * batch_size, n_rows)]
        target = data[rows]  # (B, n_dim)
        if kind == DENOISING:
            x_in = target + noise[rows]
        else:
            x_in = target
        losses[i] = train_step(
            enc,
            dec,
            x_in,
            target,
            noise[rows] if kind == VARIATIONAL else noise,
            kind,
            work,
            adam,
            record,
        )


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
    """``epoch-node``'s training pass (docs/algorithm.md §4): for batch ``b`` of ``data[order]``, one
    step of encoder ``selected`` with decoder ``partners[b, 0]``, then one of encoder
    ``partners[b, 1]`` with decoder ``selected``; each step updates both networks.

    ``encoders``, ``decoders``: tuples of ``K`` networks; ``partners (n_batches, 2)``;
    ``losses (2 * n_batches,)`` receives the loss before each step, in step order.
    """
    for b in range(partners.shape[0]):
        rows = order[b * batch_size : (b + 1) * batch_size]
        for step, (e, d) in enumerate(((selected, partners[b, 0]), (partners[b, 1], selected))):
            train_epoch(
                encoders[e],
                decoders[d],
                data,
                rows,
                batch_size,
                noise,
                kind,
                work,
                adam,
                record,
                losses[2 * b + step : 2 * b + step + 1],
            )

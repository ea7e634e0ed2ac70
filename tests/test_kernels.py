"""The Numba kernels against the NumPy reference, and the math against finite differences.

Every function of :mod:`minievo.kernels.cpu` is compared with its twin of
:mod:`minievo.kernels.reference` on random shapes (1-row batches, sizes that
are not multiples of 4, 8 or 16, short rows and long rows: the kernels take
different loops for each) and random masks. The reference's gradients are
checked against central finite differences in float64.

Tolerances
----------
Both backends compute in float32 (machine epsilon 1.2e-7). The Numba kernels
sum in a different order (vectorised dots accumulate in 16 lanes; inside
``train_epoch`` the short-row decoder layer is stored transposed and summed
along the other axis), use a polynomial ``exp`` (relative error < 3e-7) and
compute a fresh Adam step as ``lr g / (|g| + eps)``. Each result therefore
differs from the reference by a few units in the last place, times the
length of the sums that produced it (up to 1000 terms here): relative errors
of about 1e-6. We compare with ``rtol=1e-4`` plus an ``atol`` of ``1e-5``
times the largest magnitude in the array, which absorbs entries that are sums
cancelling to nearly zero (relative error is meaningless there). Operations
without long sums (activations, L1 gradient, one Adam update) are held to
``rtol=1e-5`` or are exact.

After training, parameters are compared through their *updates*
(``after - before``), which agree to 1e-3 of a step (plus the float32
spacing of the parameters): a wrong gradient anywhere would be off by a whole
step, since an Adam step is nearly ``lr * sign(g)`` whatever the size of
``g``. The same fact allows rare exceptions: for an entry whose gradient is
zero up to rounding, the backends may step in opposite directions; at most
0.1% of the entries may do so, by at most two maximal Adam steps.
"""

import numpy as np
import pytest

from minievo.engine import Engine, loss_and_gradients
from minievo.kernels import Adam, Workspace, cpu, make_workspace
from minievo.kernels import reference as ref
from minievo.network import IDENTITY, RELU, SIGMOID, MLPArrays, make_autoencoder

KINDS = {"plain": ref.PLAIN, "denoising": ref.DENOISING, "variational": ref.VARIATIONAL}
ENV_OF_KIND = {"plain": "default", "denoising": "denoising", "variational": "variational"}
BETAS, EPS = (0.5, 0.999), 1e-8
f32 = np.float32


def assert_close(actual, expected, rtol=1e-4, scaled_atol=1e-5, err_msg=""):
    """``|actual - expected| <= rtol |expected| + scaled_atol max|expected|``."""
    expected = np.asarray(expected)
    scale = float(np.max(np.abs(expected))) if expected.size else 0.0
    np.testing.assert_allclose(
        actual, expected, rtol=rtol, atol=scaled_atol * scale, err_msg=err_msg
    )


def random_pair(environment="default", n_dim=40, seed=0, prune=0.25, record_rows=0):
    """A fresh autoencoder with ``prune`` of every buffer masked (pruned entries 0)."""
    rng = np.random.default_rng(seed)
    pair = make_autoencoder(environment, n_dim, rng, record_rows=record_rows)
    for net in (pair.encoder, pair.decoder):
        net.apply_mask((rng.random(net.n_params) >= prune).astype(f32))
    return pair


def binary_rows(n_rows, n_dim, seed=1):
    return (np.random.default_rng(seed).random((n_rows, n_dim)) < 0.75).astype(f32)


def noise_for(kind, pair, n_rows, seed=2):
    """The noise ``n_rows`` rows of ``kind`` need (Engine.draw_noise; empty for plain)."""
    engine = Engine(pair, max(n_rows, 1), "numpy")
    return engine.draw_noise(np.random.default_rng(seed), n_rows)


def step_inputs(kind, batch, noise, work):
    """``x_in, target, noise`` as ``train_epoch`` passes them to a step."""
    if KINDS[kind] == ref.DENOISING:
        return batch + noise, batch, work.no_dx
    if KINDS[kind] == ref.VARIATIONAL:
        return batch, batch, noise
    return batch, batch, work.no_dx


def fresh_work(pair, rows):
    return make_workspace(pair.encoder.spec, pair.decoder.spec, rows)


# --------------------------------------------------------------------------
# Dense layers, activations, losses
# --------------------------------------------------------------------------
# (B, n_in, n_out): 1-row batches, B not a multiple of 4, short rows (< 64, taken
# four terms at a time), long rows, a large short-row output (other loop order)
DENSE_SHAPES = [
    (1, 1, 1),
    (1, 30, 1000),
    (5, 1000, 30),
    (5, 30, 1000),
    (3, 7, 13),
    (4, 3, 70),
    (7, 65, 9),
    (13, 10, 30),
    (100, 50, 70),
    (2, 129, 3),
]


def dense_operands(B, n_in, n_out, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((B, n_in)).astype(f32)
    x[rng.random(x.shape) < 0.4] = 0.0  # ReLU outputs: many exact zeros
    W = rng.standard_normal((n_out, n_in)).astype(f32)
    W[rng.random(W.shape) < 0.3] = 0.0  # pruned weights
    b = rng.standard_normal(n_out).astype(f32)
    d = rng.standard_normal((B, n_out)).astype(f32)
    d[rng.random(d.shape) < 0.4] = 0.0
    return x, W, b, d


@pytest.mark.parametrize("B, n_in, n_out", DENSE_SHAPES)
def test_dense_layer_matches_reference(B, n_in, n_out):
    x, W, b, d = dense_operands(B, n_in, n_out)
    outs = {}
    for mod in (ref, cpu):
        out = np.full((B, n_out), np.nan, f32)
        dW, db = np.full_like(W, np.nan), np.full_like(b, np.nan)
        dx = np.full_like(x, np.nan)  # outputs need no zeroing
        mod.dense_forward(x, W, b, out)
        mod.dense_backward_params(x, d, dW, db)
        mod.dense_backward_input(W, d, dx)
        outs[mod] = (out, dW, db, dx)
    for name, a, e in zip(("forward", "dW", "db", "dx"), outs[cpu], outs[ref]):
        assert_close(a, e, err_msg=name)


@pytest.mark.parametrize("B, n_in, n_out", DENSE_SHAPES)
def test_transposed_layer_kernels_match_reference(B, n_in, n_out):
    """The forms train_epoch uses for short-row layers, weights stored (n_in, n_out)."""
    x, W, b, d = dense_operands(B, n_in, n_out, seed=1)
    Wt = np.ascontiguousarray(W.T)
    out, dWt, db, dx = (
        np.full((B, n_out), np.nan, f32),
        np.full_like(Wt, np.nan),
        np.full_like(b, np.nan),
        np.full_like(x, np.nan),
    )
    cpu._dense_forward_t(x, Wt, b, out)
    cpu._dense_backward_params_t(x, d, dWt, db)
    cpu._dense_backward_input_t(Wt, d, dx)
    assert_close(out, x @ W.T + b)
    assert_close(dWt.T, d.T @ x)
    assert_close(db, d.sum(axis=0))
    assert_close(dx, d @ W)


@pytest.mark.parametrize("act", [IDENTITY, RELU, SIGMOID])
def test_activations_match_reference(act):
    rng = np.random.default_rng(3)
    z = (rng.standard_normal((7, 131)) * 20).astype(f32)
    z[0, :6] = [0.0, -0.0, 100.0, -100.0, 88.5, -87.5]
    d = rng.standard_normal(z.shape).astype(f32)
    outs = {}
    for mod in (ref, cpu):
        a, dd = z.copy(), d.copy()
        mod.activate(a, act)
        mod.activation_backward(a, dd, act)
        outs[mod] = (a, dd)
    # sigmoid's exp is a polynomial: relative error < 3e-7; tiny values (far
    # negative z) may differ absolutely by 1e-38 (the reference underflows to 0)
    np.testing.assert_allclose(outs[cpu][0], outs[ref][0], rtol=2e-6, atol=1e-30)
    np.testing.assert_allclose(outs[cpu][1], outs[ref][1], rtol=5e-6, atol=1e-30)
    if act == RELU:
        np.testing.assert_array_equal(outs[cpu][0], outs[ref][0])


def test_sigmoid_keeps_nan_and_infinities():
    z = np.array([[np.nan, np.inf, -np.inf, 0.0]], f32)
    cpu.activate(z, SIGMOID)
    assert np.isnan(z[0, 0]) and z[0, 1] == 1.0 and 0.0 <= z[0, 2] < 1e-37 and z[0, 3] == 0.5


def test_l1_loss_value_and_gradient():
    rng = np.random.default_rng(4)
    y = rng.random((5, 1000)).astype(f32)
    target = (rng.random((5, 1000)) < 0.75).astype(f32)
    y[0, :10] = target[0, :10]  # exact ties: gradient 0
    grads = {}
    for mod in (ref, cpu):
        grads[mod] = np.full_like(y, np.nan)
        value = mod.l1_loss(y, target, grads[mod])
        assert value == pytest.approx(float(np.abs(y - target).mean(dtype=np.float64)), rel=1e-12)
    np.testing.assert_array_equal(grads[cpu], grads[ref])  # sign / n, exactly
    assert not grads[cpu][0, :10].any()


def test_bce_and_kl_match_reference():
    rng = np.random.default_rng(5)
    y = rng.random((3, 50)).astype(f32)
    y[0, :2] = [0.0, 1.0]  # log clamped at -100
    target = (rng.random((3, 50)) < 0.5).astype(f32)
    mean, log_var = rng.standard_normal((2, 3, 10)).astype(f32)
    out = {}
    for mod in (ref, cpu):
        d_z = np.full_like(y, np.nan)
        d_mean, d_log_var = np.ones_like(mean), np.ones_like(log_var)  # kl *adds*
        with np.errstate(divide="ignore"):  # log(0), clamped at -100
            bce = mod.bce_sigmoid_loss(y, target, d_z)
        out[mod] = (
            bce,
            d_z,
            mod.kl_divergence(mean, log_var, d_mean, d_log_var),
            d_mean,
            d_log_var,
        )
    assert out[cpu][0] == pytest.approx(out[ref][0], rel=1e-5)
    np.testing.assert_array_equal(out[cpu][1], out[ref][1])
    assert out[cpu][2] == pytest.approx(out[ref][2], rel=1e-5)
    assert_close(out[cpu][3], out[ref][3], rtol=1e-6)
    assert_close(out[cpu][4], out[ref][4], rtol=1e-5)


# --------------------------------------------------------------------------
# Adam
# --------------------------------------------------------------------------
def adam_operands(P=1003, seed=6):
    rng = np.random.default_rng(seed)
    mask = (rng.random(P) > 0.3).astype(f32)
    params = rng.standard_normal(P).astype(f32) * mask
    grads = rng.standard_normal((6, P)).astype(f32) * np.logspace(-8, 0, P).astype(f32)
    return params, mask, grads


def test_adam_update_several_steps_matches_reference():
    params, mask, grads = adam_operands()
    state = {
        mod: [params.copy(), np.zeros_like(params), np.zeros_like(params)] for mod in (ref, cpu)
    }
    for t, g in enumerate(grads, start=1):
        for mod, (p, m, v) in state.items():
            mod.adam_update(p, g, mask, m, v, t, Adam(1e-3, *BETAS, EPS, False))
    for a, e in zip(state[cpu], state[ref]):
        np.testing.assert_allclose(a, e, rtol=1e-5, atol=1e-9)
    for array in state[cpu]:
        assert not array[mask == 0].any()  # pruned: exactly 0.0


def test_adam_fresh_update_matches_reference():
    params, mask, grads = adam_operands(seed=7)
    p_ref, p_cpu = params.copy(), params.copy()
    for g in grads:
        ref.adam_fresh_update(p_ref, g, mask, Adam(1e-3, *BETAS, EPS, True))
        cpu.adam_fresh_update(p_cpu, g, mask, Adam(1e-3, *BETAS, EPS, True))
    # computed as lr g / (|g| + eps): about one rounding away from the reference
    np.testing.assert_allclose(p_cpu, p_ref, rtol=1e-6, atol=1e-9)
    assert not p_cpu[mask == 0].any()


@pytest.mark.parametrize("fresh", [True, False])
def test_an_all_ones_mask_is_skipped_with_the_same_bits(fresh):
    """A mask of all ones (regrow mode) is dropped once per pass (``_pruning_mask``); the
    update without it gives the bits of the update with it."""
    params, _, grads = adam_operands(seed=8)
    ones = np.ones_like(params)
    assert cpu._pruning_mask(ones).shape == (0,)
    some = ones.copy()
    some[500] = 0.0
    assert cpu._pruning_mask(some).shape == some.shape
    consts = cpu._adam_constants(3, Adam(1e-3, *BETAS, EPS, fresh), np.bool_(fresh))
    out = {}
    for name, mask in (("ones", ones), ("none", ones[:0])):
        p, m, v = params.copy(), np.full_like(params, 1e-3), np.full_like(params, 1e-6)
        for g in grads:
            cpu._adam_slice(p, g, mask, m, v, consts, np.bool_(fresh))
        out[name] = (p, m, v)
    for a, b in zip(out["ones"], out["none"]):
        np.testing.assert_array_equal(a.view(np.int32), b.view(np.int32))
    assert not np.array_equal(out["none"][0], params)  # it did update


# --------------------------------------------------------------------------
# Whole networks
# --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "environment, n_dim, B",
    [("default", 40, 5), ("large", 33, 1), ("small", 70, 3), ("variational", 17, 6)],
)
def test_mlp_forward_with_records_and_backward(environment, n_dim, B):
    pair = random_pair(environment, n_dim, record_rows=B + 2)
    x = binary_rows(B, n_dim)
    nets = {mod: pair.copy().encoder for mod in (ref, cpu)}
    outs = {}
    for mod, net in nets.items():
        work = fresh_work(pair, B)
        for _ in range(3):  # records accumulate
            y = mod.mlp_forward(net.arrays, x, work.enc_act, True).copy()
        delta = mod.rows_view(net.layout, work.enc_delta, B, net.spec.n_layers - 1)
        delta[...] = np.random.default_rng(8).standard_normal(delta.shape)
        d_x = np.full((B, n_dim), np.nan, f32)
        mod.mlp_backward(net.arrays, x, work.enc_act, work.enc_delta, d_x, False)
        outs[mod] = (y, d_x)
    assert_close(outs[cpu][0], outs[ref][0])
    assert_close(outs[cpu][1], outs[ref][1])
    for name in ("grad", "rec_sum", "rec_sumsq", "rec_count"):
        assert_close(getattr(nets[cpu], name), getattr(nets[ref], name), err_msg=name)
    assert nets[cpu].rec_count.tolist() == [3.0] * B + [0.0, 0.0]


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("B", [1, 5])
def test_pair_loss_and_gradients_matches_reference(kind, B):
    pair = random_pair(ENV_OF_KIND[kind], 50, record_rows=B)
    batch = binary_rows(B, 50)
    noise = noise_for(kind, pair, B)
    results = {}
    for mod in (ref, cpu):
        p, work = pair.copy(), fresh_work(pair, B)
        x_in, target, nz = step_inputs(kind, batch, noise, work)
        loss = mod.pair_loss_and_gradients(
            p.encoder.arrays, p.decoder.arrays, x_in, target, nz, KINDS[kind], work, True
        )
        results[mod] = (loss, p)
    assert results[cpu][0] == pytest.approx(results[ref][0], rel=1e-5)
    for part in ("encoder", "decoder"):
        a, e = getattr(results[cpu][1], part), getattr(results[ref][1], part)
        for name in ("grad", "rec_sum", "rec_sumsq", "rec_count"):
            assert_close(getattr(a, name), getattr(e, name), err_msg=f"{part}.{name}")


def assert_updates_close(before, after, expected_after, lr, n_steps=1):
    """Training updates agree to 1e-3 of a step (plus the float32 spacing of the
    parameters, which every step rounds to), except for rare entries whose
    gradient is zero up to rounding: an Adam step is ~lr sign(g), so there the
    backends may step in opposite directions (see the module docstring)."""
    step, expected = after - before, expected_after - before
    tolerance = 1e-3 * lr * n_steps + 2 * n_steps * np.spacing(np.abs(expected_after))
    off = np.abs(step - expected) > tolerance
    assert off.mean() <= 1e-3, f"{off.sum()} of {off.size} updates differ"
    # |m_hat / sqrt(v_hat)| <= (1 - b1) / sqrt(1 - b2) < 16 per step; 2x for opposite signs
    assert np.abs(step - expected).max() <= 2 * 16 * lr * n_steps


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("fresh", [True, False])
def test_train_step_matches_reference(kind, fresh):
    B, lr = 4, 1e-3
    pair = random_pair(ENV_OF_KIND[kind], 60, record_rows=B)
    pair.encoder.adam_t[0] = pair.decoder.adam_t[0] = 3  # a persistent optimizer in flight
    for net in (pair.encoder, pair.decoder):
        net.adam_m[:] = 1e-3 * net.mask
        net.adam_v[:] = 1e-6 * net.mask
    batch, noise = binary_rows(B, 60), noise_for(kind, pair, B)
    results = {}
    for mod in (ref, cpu):
        p, work = pair.copy(), fresh_work(pair, B)
        x_in, target, nz = step_inputs(kind, batch, noise, work)
        loss = mod.train_step(
            p.encoder.arrays,
            p.decoder.arrays,
            x_in,
            target,
            nz,
            KINDS[kind],
            work,
            Adam(lr, *BETAS, EPS, fresh),
            True,
        )
        results[mod] = (loss, p)
    assert results[cpu][0] == pytest.approx(results[ref][0], rel=1e-5)
    for part in ("encoder", "decoder"):
        before, a, e = (getattr(x, part) for x in (pair, results[cpu][1], results[ref][1]))
        assert_close(a.grad, e.grad, err_msg=part)
        assert_updates_close(before.params, a.params, e.params, lr)
        assert a.adam_t[0] == e.adam_t[0] == (3 if fresh else 4)
        if not fresh:
            assert_close(a.adam_m, e.adam_m, err_msg=part)
            assert_close(a.adam_v, e.adam_v, err_msg=part)


@pytest.mark.parametrize("fresh", [True, False])
def test_train_step_is_gradients_then_adam(fresh):
    """The fused step (Adam applied layer by layer during backpropagation) equals
    pair_loss_and_gradients followed by the optimizer step, up to Adam's rounding."""
    B, lr = 5, 1e-3
    pair = random_pair("default", 100, record_rows=B)
    batch = binary_rows(B, 100)
    fused, split = pair.copy(), pair.copy()
    work = fresh_work(pair, B)
    loss_fused = cpu.train_step(
        fused.encoder.arrays,
        fused.decoder.arrays,
        batch,
        batch,
        work.no_dx,
        ref.PLAIN,
        work,
        Adam(lr, *BETAS, EPS, fresh),
        False,
    )
    loss_split = cpu.pair_loss_and_gradients(
        split.encoder.arrays, split.decoder.arrays, batch, batch, work.no_dx, ref.PLAIN, work, False
    )
    for net in (split.encoder, split.decoder):
        ref.optimizer_step(net.arrays, Adam(lr, *BETAS, EPS, fresh))
    assert loss_fused == loss_split
    for part in ("encoder", "decoder"):
        a, e = getattr(fused, part), getattr(split, part)
        np.testing.assert_array_equal(a.grad, e.grad)  # the same loops, the same bits
        np.testing.assert_allclose(a.params, e.params, rtol=1e-6, atol=1e-6 * lr)


@pytest.mark.parametrize("kind", list(KINDS))
def test_evaluate_pair_and_reconstruction_l1_match_reference(kind):
    B = 7
    pair = random_pair(ENV_OF_KIND[kind], 45, record_rows=B)
    batch = binary_rows(B, 45)
    results = {}
    for mod in (ref, cpu):
        p, work = pair.copy(), fresh_work(pair, B)
        loss = mod.evaluate_pair(p.encoder.arrays, p.decoder.arrays, batch, KINDS[kind], work, True)
        l1 = mod.reconstruction_l1(p.encoder.arrays, p.decoder.arrays, batch, KINDS[kind], work)
        results[mod] = (loss, l1, p)
    assert results[cpu][0] == pytest.approx(results[ref][0], rel=1e-5)
    assert results[cpu][1] == pytest.approx(results[ref][1], rel=1e-5)
    for part in ("encoder", "decoder"):
        for name in ("rec_sum", "rec_sumsq", "rec_count"):
            assert_close(
                getattr(getattr(results[cpu][2], part), name),
                getattr(getattr(results[ref][2], part), name),
                err_msg=f"{part}.{name}",
            )


def run_epoch(mod, pair, data, order, batch_size, noise, kind, lr, fresh, record=True):
    work = fresh_work(pair, batch_size)
    n_batches = -(-order.shape[0] // batch_size)
    losses = np.full(n_batches, np.nan)
    if KINDS[kind] == ref.PLAIN:
        noise = work.no_dx
    mod.train_epoch(
        pair.encoder.arrays,
        pair.decoder.arrays,
        data,
        order,
        batch_size,
        noise,
        KINDS[kind],
        work,
        Adam(lr, *BETAS, EPS, fresh),
        record,
        losses,
    )
    return losses


# 43 rows in batches of 5: 9 batches, the last of 3 rows (cpu stores the short-row
# decoder layer transposed); 7 rows: 2 batches (cpu keeps the row-major layout)
# prune 0: masks of all ones (regrow mode), which the Numba pass skips (_pruning_mask)
@pytest.mark.parametrize("n_rows, prune", [(43, 0.25), (7, 0.25), (43, 0.0)])
@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("fresh", [True, False])
def test_train_epoch_matches_reference(n_rows, prune, kind, fresh):
    B, lr, n_dim = 5, 1e-4, 80
    pair = random_pair(ENV_OF_KIND[kind], n_dim, record_rows=B, prune=prune)
    data = binary_rows(n_rows, n_dim)
    order = np.random.default_rng(9).permutation(n_rows).astype(np.int64)
    noise = noise_for(kind, pair, n_rows)
    results = {}
    for mod in (ref, cpu):
        p = pair.copy()
        results[mod] = (run_epoch(mod, p, data, order, B, noise, kind, lr, fresh), p)
    n_steps = results[ref][0].shape[0]
    assert_close(results[cpu][0], results[ref][0], rtol=1e-5)
    for part in ("encoder", "decoder"):
        before, a, e = (getattr(x, part) for x in (pair, results[cpu][1], results[ref][1]))
        # the last step's gradient, in the caller's (row-major) layout
        assert_close(a.grad, e.grad, rtol=1e-3, scaled_atol=1e-4, err_msg=part)
        assert_updates_close(before.params, a.params, e.params, lr, n_steps)
        for name in ("rec_sum", "rec_sumsq", "rec_count"):
            assert_close(getattr(a, name), getattr(e, name), err_msg=f"{part}.{name}")
        np.testing.assert_array_equal(a.mask, pair.__getattribute__(part).mask)
        if not fresh:
            assert a.adam_t[0] == e.adam_t[0] == n_steps
            assert_close(a.adam_m, e.adam_m, rtol=1e-3, scaled_atol=1e-4, err_msg=part)
            assert_close(a.adam_v, e.adam_v, rtol=1e-3, scaled_atol=1e-4, err_msg=part)


def test_epoch_layout_and_single_batch_calls_agree():
    """One call over 10 batches (transposed storage inside) and 10 one-batch calls
    (row-major) train the same network, up to the order of the sums."""
    B, lr, n_rows = 5, 1e-4, 50
    assert n_rows // B >= max(cpu.MIN_BATCHES_TO_TRANSPOSE)
    pair = random_pair("default", 1000, record_rows=B)
    data = binary_rows(n_rows, 1000)
    order = np.arange(n_rows, dtype=np.int64)
    whole, stepped = pair.copy(), pair.copy()
    losses = run_epoch(cpu, whole, data, order, B, None, "plain", lr, False)
    single = [
        run_epoch(cpu, stepped, data, order[i : i + B], B, None, "plain", lr, False)[0]
        for i in range(0, n_rows, B)
    ]
    assert_close(losses, single, rtol=1e-5)
    for part in ("encoder", "decoder"):
        before, a, e = (getattr(x, part) for x in (pair, whole, stepped))
        assert_close(a.grad, e.grad, rtol=1e-3, scaled_atol=1e-4)
        assert_updates_close(before.params, a.params, e.params, lr, n_rows // B)
        assert_close(a.adam_m, e.adam_m, rtol=1e-3, scaled_atol=1e-4)


# --------------------------------------------------------------------------
# Gradients against finite differences (float64)
# --------------------------------------------------------------------------
def float64_copy(pair, rows):
    """The pair's buffers and a workspace in float64: the reference runs unchanged on them."""
    nets = []
    for net in (pair.encoder, pair.decoder):
        a = net.arrays
        nets.append(
            MLPArrays(
                a.layout,
                *(b.astype(np.float64) for b in a[1:6]),
                a.adam_t.copy(),
                a.rec_count.copy(),
                a.rec_sum.copy(),
                a.rec_sumsq.copy(),
            )
        )
    work = Workspace(*(np.zeros(w.shape, np.float64) for w in fresh_work(pair, rows)))
    return nets[0], nets[1], work


@pytest.mark.parametrize("kind", list(KINDS))
def test_reference_gradients_match_finite_differences(kind):
    """L1 is not differentiable where an output equals its target, but the targets
    are 0/1 and the outputs are sigmoids strictly inside (0, 1): no ties, so every
    loss here is smooth except at ReLU kinks, which a random point misses (a
    pre-activation would have to lie within h of 0). The step h = 1e-6 in float64
    leaves a truncation error ~h^2 and a rounding error ~1e-16 / h: ~1e-10."""
    B, n_dim, h = 4, 24, 1e-6
    pair = random_pair(ENV_OF_KIND[kind], n_dim, seed=11)
    batch = binary_rows(B, n_dim, seed=12).astype(np.float64)
    noise = noise_for(kind, pair, B).astype(np.float64)
    enc, dec, work = float64_copy(pair, B)
    x_in, target, nz = step_inputs(kind, batch, noise, work)

    def loss():
        return ref.pair_loss_and_gradients(enc, dec, x_in, target, nz, KINDS[kind], work, False)

    loss()
    analytic = [enc.grad.copy(), dec.grad.copy()]
    rng = np.random.default_rng(13)
    for net, grad in zip((enc, dec), analytic):
        active = np.flatnonzero(net.mask)
        bias_entries = np.concatenate(
            [np.arange(o, o + n) for o, n in zip(net.layout[:, 3], net.layout[:, 1])]
        )
        active_biases = np.intersect1d(active, bias_entries)
        entries = np.concatenate(
            [rng.choice(active, 25, replace=False), rng.choice(active_biases, 5, replace=False)]
        )
        for i in entries:
            saved = net.params[i]
            net.params[i] = saved + h
            up = loss()
            net.params[i] = saved - h
            down = loss()
            net.params[i] = saved
            numeric = (up - down) / (2 * h)
            assert numeric == pytest.approx(grad[i], rel=1e-5, abs=1e-9), (kind, i)


@pytest.mark.parametrize("kind", list(KINDS))
def test_numba_gradients_match_float64_gradients(kind):
    """engine.loss_and_gradients (float32, numba) against the float64 reference."""
    B, n_dim = 5, 200
    pair = random_pair(ENV_OF_KIND[kind], n_dim, seed=14)
    batch = binary_rows(B, n_dim, seed=15)
    noise = noise_for(kind, pair, B)
    got = loss_and_gradients(pair, batch, "numba", None if kind == "plain" else noise)
    enc, dec, work = float64_copy(pair, B)
    x_in, target, nz = step_inputs(kind, batch.astype(np.float64), noise.astype(np.float64), work)
    loss = ref.pair_loss_and_gradients(enc, dec, x_in, target, nz, KINDS[kind], work, False)
    assert got.loss == pytest.approx(loss, rel=1e-5)
    for layers, net, masked in ((got.encoder, enc, pair.encoder), (got.decoder, dec, pair.decoder)):
        grad64 = net.grad * net.mask
        for l, (dW, db) in enumerate(layers):
            assert_close(dW, masked.weight(l, grad64), rtol=1e-4, err_msg=f"dW{l}")
            assert_close(db, masked.bias(l, grad64), rtol=1e-4, err_msg=f"db{l}")
            assert not dW[masked.weight(l, masked.mask) == 0].any()  # pruned: no gradient


# --------------------------------------------------------------------------
# Masks, determinism, divergence
# --------------------------------------------------------------------------
@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("fresh", [True, False])
def test_pruned_entries_stay_exactly_zero_for_200_steps(backend, fresh):
    pair = random_pair("default", 100, prune=0.5, record_rows=5)
    data = binary_rows(200, 100)
    engine = Engine(pair, 5, backend)
    rng = np.random.default_rng(16)
    for _ in range(5):  # 5 epochs x 40 batches
        engine.train_epoch(pair, data, rng.permutation(200), 5, 1e-2, fresh=fresh, record=True)
    for net in (pair.encoder, pair.decoder):
        pruned = net.mask == 0
        assert pruned.sum() > 0.4 * net.n_params
        for name in ("params", "adam_m", "adam_v"):
            values = getattr(net, name)[pruned]
            assert np.all(values == 0.0), name  # exactly 0.0, not merely small
        assert np.all(np.isfinite(net.params)) and np.any(net.params[~pruned] != 0)


def test_same_seed_gives_bit_identical_numba_runs():
    runs = []
    for _ in range(2):
        pair = random_pair("default", 300, seed=17, record_rows=5)
        data = binary_rows(50, 300, seed=18)
        engine = Engine(pair, 5, "numba")
        rng = np.random.default_rng(19)
        losses = [
            engine.train_epoch(pair, data, rng.permutation(50), 5, 1e-3, fresh=fresh, record=True)
            for fresh in (False, True, False)
        ]
        losses.append([engine.evaluate(pair, data[:5], record=True)])
        runs.append((np.concatenate(losses), pair))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    for part in ("encoder", "decoder"):
        for name in ("params", "grad", "adam_m", "adam_v", "rec_sum", "rec_sumsq"):
            np.testing.assert_array_equal(
                getattr(getattr(runs[0][1], part), name), getattr(getattr(runs[1][1], part), name)
            )


@pytest.mark.parametrize("where", ["input", "weight"])
def test_non_finite_values_reach_the_loss(where):
    """fastmath keeps NaN/inf semantics: a diverging run is still detected."""
    pair = random_pair("default", 40)
    data = binary_rows(20, 40)
    if where == "input":
        data[3, 5] = np.nan
    else:
        pair.encoder.params[np.flatnonzero(pair.encoder.mask)[0]] = np.inf
    losses = Engine(pair, 5, "numba").train_epoch(
        pair, data, np.arange(20), 5, 1e-3, fresh=False, record=False
    )
    assert not np.isfinite(losses[0])


@pytest.mark.parametrize("kind", list(KINDS))
def test_evaluate_pairs_and_dataset_l1_match_reference(kind):
    """The neighbourhood's loss matrix in one call, and the whole-set L1 (chunks of
    7 rows over 45 rows: a short last chunk) with short-row layers transposed."""
    pairs = [random_pair(ENV_OF_KIND[kind], 45, seed=s, record_rows=5) for s in range(3)]
    batch, data = binary_rows(5, 45), binary_rows(45, 45, seed=3)
    results = {}
    for mod in (ref, cpu):
        copies = [p.copy() for p in pairs]
        losses, rows = np.empty((3, 3)), np.empty(45)
        mod.evaluate_pairs(
            tuple(p.encoder.arrays for p in copies),
            tuple(p.decoder.arrays for p in copies),
            batch,
            KINDS[kind],
            fresh_work(pairs[0], 5),
            True,
            losses,
        )
        mean = mod.dataset_l1(
            copies[0].encoder.arrays,
            copies[0].decoder.arrays,
            data,
            KINDS[kind],
            fresh_work(pairs[0], 7),
            rows,
        )
        results[mod] = (losses, mean, rows, copies)
    expected = [
        [
            ref.evaluate_pair(
                e.encoder.arrays,
                d.decoder.arrays,
                batch,
                KINDS[kind],
                fresh_work(pairs[0], 5),
                False,
            )
            for d in pairs
        ]
        for e in pairs
    ]
    np.testing.assert_allclose(results[ref][0], expected, rtol=1e-12)
    assert_close(results[cpu][0], results[ref][0], rtol=1e-5)
    direct = ref.reconstruction_l1(
        pairs[0].encoder.arrays,
        pairs[0].decoder.arrays,
        data,
        KINDS[kind],
        fresh_work(pairs[0], 45),
    )
    assert results[ref][1] == pytest.approx(direct, rel=1e-6)  # chunked float32 sums
    assert results[cpu][1] == pytest.approx(results[ref][1], rel=1e-5)
    assert_close(results[cpu][2], results[ref][2], rtol=1e-5)
    for k in range(3):  # records of every pass
        for part in ("encoder", "decoder"):
            assert_close(
                getattr(results[cpu][3][k], part).rec_sum, getattr(results[ref][3][k], part).rec_sum
            )


@pytest.mark.parametrize("kind", ["plain", "denoising"])
@pytest.mark.parametrize("fresh", [True, False])
def test_partner_epoch_matches_reference(kind, fresh):
    """epoch-node's pass (two steps per batch over three networks of each side, all in
    the epoch layout with Numba): losses, every network's update, gradient and moments."""
    B, lr, n_dim, n_rows = 5, 1e-4, 80, 43
    # network pair 1 unpruned: its masks are all ones, which the Numba pass skips
    pairs = [
        random_pair(ENV_OF_KIND[kind], n_dim, seed=s, record_rows=B, prune=0.0 if s == 1 else 0.25)
        for s in range(3)
    ]
    data = binary_rows(n_rows, n_dim)
    order = np.random.default_rng(9).permutation(n_rows).astype(np.int64)
    noise = noise_for(kind, pairs[0], n_rows)
    partners = np.random.default_rng(4).integers(0, 2, size=(9, 2))  # network 2: never drawn
    results = {}
    for mod in (ref, cpu):
        copies = [p.copy() for p in pairs]
        work = fresh_work(pairs[0], B)
        losses = np.full(18, np.nan)
        mod.partner_epoch(
            tuple(p.encoder.arrays for p in copies),
            tuple(p.decoder.arrays for p in copies),
            1,
            partners,
            data,
            order,
            B,
            noise if KINDS[kind] != ref.PLAIN else work.no_dx,
            KINDS[kind],
            work,
            Adam(lr, *BETAS, EPS, fresh),
            True,
            losses,
        )
        results[mod] = (losses, copies)
    assert_close(results[cpu][0], results[ref][0], rtol=1e-5)
    for k in range(3):
        for part in ("encoder", "decoder"):
            before, a, e = (
                getattr(x, part) for x in (pairs[k], results[cpu][1][k], results[ref][1][k])
            )
            n_steps = max(1, int(e.adam_t[0])) if not fresh else 18
            assert_close(a.grad, e.grad, rtol=1e-3, scaled_atol=1e-4, err_msg=f"{k} {part}")
            assert_updates_close(before.params, a.params, e.params, lr, n_steps)
            if not fresh:
                assert a.adam_t[0] == e.adam_t[0]
                assert_close(a.adam_m, e.adam_m, rtol=1e-3, scaled_atol=1e-4)
    np.testing.assert_array_equal(results[cpu][1][2].encoder.params, pairs[2].encoder.params)
    np.testing.assert_array_equal(results[cpu][1][2].decoder.grad, pairs[2].decoder.grad)

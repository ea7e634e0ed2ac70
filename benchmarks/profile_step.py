"""Where does a training step spend its time? Per-kernel costs at paper size.

Run from the repository root::

    NUMBA_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 taskset -c 0 python benchmarks/profile_step.py

Lists the pieces of one step of :func:`minievo.kernels.cpu.train_epoch` in
the order the step runs them (with the short-row decoder layer stored
transposed, as inside an epoch), then the public row-major kernels, then
whole steps, and a step whose masks are all ones (Adam skips them) against
the same with one masked weight. Each Numba piece is called ``n`` times inside one compiled loop,
so the numbers exclude Python's call overhead; each line is the median over
``--repeats`` repeats, in microseconds per call. The sum of the pieces should
come close to the measured step.
"""

import argparse
import time

import numpy as np
from numba import njit

from minievo.engine import Engine
from minievo.kernels import Adam, cpu
from minievo.kernels import reference as ref
from minievo.network import make_autoencoder

f32 = np.float32


def _repeat(kernel):
    """A compiled loop calling ``kernel(*args)`` ``n`` times."""

    @njit
    def loop(n, args):
        for _ in range(n):
            kernel(*args)

    return loop


@njit
def _gather(data, order, out):
    for b in range(out.shape[0]):
        for k in range(out.shape[1]):
            out[b, k] = data[order[b], k]


def median_us(fn, n, repeats):
    fn(1)  # compile / warm up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(n)
        times.append((time.perf_counter() - t0) / n * 1e6)
    return float(np.median(times))


def pieces(B, n_dim, rng):
    """(name, compiled loop, args, counted in the step?) for every piece of a step."""
    pair = make_autoencoder("default", n_dim, rng, record_rows=B)
    for net in (pair.encoder, pair.decoder):  # 20% pruned, as after some pruning
        net.apply_mask((rng.random(net.n_params) > 0.2).astype(f32))
    enc, dec = pair.encoder.arrays, pair.decoder.arrays
    data = (rng.random((1000, n_dim)) < 0.75).astype(f32)
    x = data[:B].copy()
    work = Engine(pair, B).work
    cpu.pair_loss_and_gradients(enc, dec, x, x, work.no_dx, ref.PLAIN, work, False)

    def acts(net, act_work, l):
        return cpu.rows_view(net.layout, act_work, B, l).copy()

    h_enc, code = acts(enc, work.enc_act, 0), acts(enc, work.enc_act, 1)
    h_dec, y = acts(dec, work.dec_act, 0), acts(dec, work.dec_act, 1)
    d_y = np.zeros_like(y)
    cpu.l1_loss(y, x, d_y)
    d_z = d_y * y * (1 - y)
    rows = []

    def add(name, kernel, args, in_step=True):
        rows.append((name, _repeat(kernel), args, in_step))

    def layer(net, l, transposed):
        view = cpu._transposed_view if transposed else cpu.weight_view
        W = view(net.layout, net.params, l).copy()
        dW = np.zeros_like(W)
        b = cpu.bias_view(net.layout, net.params, l).copy()
        return W, b, dW, np.zeros_like(b)

    def relu_delta(n_out):
        d = rng.standard_normal((B, n_out)).astype(f32)
        d[rng.random((B, n_out)) < 0.5] = 0.0
        return d

    def zeros(n):
        return np.zeros((B, n), f32)

    add("gather batch (B, n_dim)", _gather, (data, np.arange(B), zeros(n_dim)))
    W, b, dW, db = layer(enc, 0, False)
    add(f"enc L0 forward {n_dim}->30 (dots)", cpu.dense_forward, (x, W, b, zeros(30)))
    add("enc L0..1 records (float64)", cpu.mlp_forward, (enc, x, work.enc_act, True), False)
    W1, b1, dW1, db1 = layer(enc, 1, False)
    add("enc L1 forward 30->10", cpu.dense_forward, (h_enc, W1, b1, zeros(10)))
    W2, b2, dW2, db2 = layer(dec, 0, True)
    add("dec L0 forward 10->30 (transposed)", cpu._dense_forward_t, (code, W2, b2, zeros(30)))
    W3, b3, dW3, db3 = layer(dec, 1, True)
    add(
        f"dec L1 forward 30->{n_dim} (transposed)",
        cpu._dense_forward_t,
        (h_dec, W3, b3, zeros(n_dim)),
    )
    add(f"sigmoid (B, {n_dim})", cpu.activate, (np.log(y / (1 - y)), np.int64(2)))
    add(f"l1_loss (B, {n_dim})", cpu.l1_loss, (y, x, d_y))
    add(f"sigmoid backward (B, {n_dim})", cpu.activation_backward, (y, d_y.copy(), np.int64(2)))
    add("dec L1 backward input (transposed)", cpu._dense_backward_input_t, (W3, d_z, zeros(30)))
    add("dec L1 backward params (transposed)", cpu._dense_backward_params_t, (h_dec, d_z, dW3, db3))
    d = relu_delta(30)
    add("dec L0 backward input (transposed)", cpu._dense_backward_input_t, (W2, d, zeros(10)))
    add("dec L0 backward params (transposed)", cpu._dense_backward_params_t, (code, d, dW2, db2))
    d = relu_delta(10)
    add("enc L1 backward input", cpu.dense_backward_input, (W1, d, zeros(30)))
    add("enc L1 backward params", cpu.dense_backward_params, (h_enc, d, dW1, db1))
    add(
        f"enc L0 backward params {n_dim}->30",
        cpu.dense_backward_params,
        (x, relu_delta(30), dW, db),
    )
    adam = Adam(1e-5, 0.5, 0.999, 1e-8, False)
    for name, net in (("enc", enc), ("dec", dec)):
        P = net.params.shape[0]
        m, v = np.zeros(P, f32), np.zeros(P, f32)
        add(
            f"adam persistent {name} ({P} params)",
            cpu.adam_update,
            (net.params.copy(), net.grad.copy(), net.mask, m, v, np.int64(1000), adam),
        )
        add(
            f"adam fresh {name} ({P} params)",
            cpu.adam_fresh_update,
            (net.params.copy(), net.grad.copy(), net.mask, adam._replace(fresh=True)),
            False,
        )
    # the row-major public kernels on the short-row layer, for comparison
    W3r, _, dW3r, _ = layer(dec, 1, False)
    add(
        f"[row-major] dec L1 forward 30->{n_dim}",
        cpu.dense_forward,
        (h_dec, W3r, b3, zeros(n_dim)),
        False,
    )
    add("[row-major] dec L1 backward input", cpu.dense_backward_input, (W3r, d_z, zeros(30)), False)
    add(
        "[row-major] dec L1 backward params",
        cpu.dense_backward_params,
        (h_dec, d_z, dW3r, db3),
        False,
    )
    add(
        "pair_loss_and_gradients (row-major)",
        cpu.pair_loss_and_gradients,
        (enc, dec, x, x, work.no_dx, np.int64(ref.PLAIN), work, False),
        False,
    )
    add(
        "evaluate_pair, record",
        cpu.evaluate_pair,
        (enc, dec, x, np.int64(ref.PLAIN), work, True),
        False,
    )
    return pair, data, rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-dim", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=5)
    parser.add_argument("-n", type=int, default=2000, help="calls per repeat")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    B, n_dim = args.batch, args.n_dim
    pair, data, rows = pieces(B, n_dim, rng)
    print(f"pieces of one step (B={B}, n_dim={n_dim}), us per call, median of {args.repeats}")
    total = 0.0
    for name, loop, fargs, in_step in rows:
        us = median_us(lambda n: loop(n, fargs), args.n, args.repeats)
        total += us if in_step else 0.0
        print(f"  {name:42s} {us:8.2f}{'' if in_step else '   (not summed)'}")
    print(f"  {'sum of the pieces (persistent, no records)':42s} {total:8.2f}")

    order = rng.permutation(data.shape[0]).astype(np.int64)
    n_batches = data.shape[0] // B
    for backend in ("numba", "numpy"):
        engine = Engine(pair, B, backend)
        for fresh in (False, True):
            for record in (False, True):
                p = pair.copy()

                def epochs(n):
                    for _ in range(n):
                        engine.train_epoch(p, data, order, B, 1e-5, fresh=fresh, record=record)

                repeats = args.repeats if backend == "numba" else 3
                us = median_us(epochs, 1, repeats) / n_batches
                print(
                    f"  step in train_epoch, {backend:5s} fresh={fresh!s:5s} "
                    f"record={record!s:5s} {us:8.2f}"
                )
    mask_skip(pair, data, order, B, args.repeats)


def mask_skip(pair, data, order, B, repeats):
    """A step with masks of all ones (regrow mode: Adam skips the mask) against the same
    pair with one masked weight, already zero (Adam reads the mask), rounds alternated."""
    engine = Engine(pair, B)
    ones = pair.copy()
    for net in (ones.encoder, ones.decoder):
        net.mask[:] = 1.0  # the pruned weights stay 0, as after regrow-mode pruning
    one_masked = ones.copy()
    one_masked.encoder.mask[np.flatnonzero(one_masked.encoder.params == 0)[0]] = 0.0
    n_batches = data.shape[0] // B
    for fresh in (True, False):
        pairs = {"mask of all ones (skipped)": ones.copy(), "one masked weight": one_masked.copy()}
        times = {name: [] for name in pairs}
        for p in pairs.values():  # warm up
            engine.train_epoch(p, data, order, B, 1e-5, fresh=fresh, record=False)
        for _ in range(repeats):
            for name, p in pairs.items():
                t0 = time.perf_counter()
                engine.train_epoch(p, data, order, B, 1e-5, fresh=fresh, record=False)
                times[name].append((time.perf_counter() - t0) / n_batches * 1e6)
        a, b = (np.array(t) for t in times.values())
        print(
            f"  step, fresh={fresh!s:5s}: mask of all ones {np.median(a):.2f} us, "
            f"one masked weight {np.median(b):.2f} us, ratio {np.median(b / a):.3f}"
        )


if __name__ == "__main__":
    main()
